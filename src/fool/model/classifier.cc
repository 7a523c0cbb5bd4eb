#include "fool/model/classifier.h"

#include <algorithm>
#include <cmath>

#include "fool/core/error.h"

namespace fool {

const NameTable<ChannelOrder>& channel_order_names() {
  static const NameTable<ChannelOrder> table = {{ChannelOrder::Rgb, "rgb"}, {ChannelOrder::Bgr, "bgr"}};
  return table;
}
std::string channel_order_name(ChannelOrder order) { return name_of(channel_order_names(), order); }
ChannelOrder parse_channel_order(const std::string& name) {
  return parse_name(channel_order_names(), name, "channel order");
}

const NameTable<PreprocessPreset>& preprocess_preset_names() {
  static const NameTable<PreprocessPreset> table = {{PreprocessPreset::None, "none"},
                                                    {PreprocessPreset::Torchvision, "torchvision"},
                                                    {PreprocessPreset::Caffe, "caffe"},
                                                    {PreprocessPreset::Tf, "tf"},
                                                    {PreprocessPreset::Mnist, "mnist"}};
  return table;
}
std::string preprocess_preset_name(PreprocessPreset p) { return name_of(preprocess_preset_names(), p); }
PreprocessPreset parse_preprocess_preset(const std::string& name) {
  return parse_name(preprocess_preset_names(), name, "preprocessing");
}

Preprocessing apply_preset(PreprocessPreset p, int channels, Preprocessing base) {
  const auto c = static_cast<std::size_t>(channels);
  const std::string name = preprocess_preset_name(p);
  auto needs = [&](int wanted, const char* what) {
    if (channels != wanted) {
      throw Error("--preprocess " + name + " is for " + what + " models; this model takes " + std::to_string(channels) +
                  " channel" + (channels == 1 ? "" : "s"));
    }
  };
  base.channel_order = ChannelOrder::Rgb;
  base.scale = 1.0f;
  base.mean.clear();
  base.std.clear();
  base.preset = name;
  switch (p) {
    case PreprocessPreset::None:
      break;
    case PreprocessPreset::Torchvision:
      needs(3, "colour (3-channel)");
      base.mean = {0.485f, 0.456f, 0.406f};
      base.std = {0.229f, 0.224f, 0.225f};
      break;
    case PreprocessPreset::Caffe:
      needs(3, "colour (3-channel)");
      base.channel_order = ChannelOrder::Bgr;
      base.scale = 255.0f;
      base.mean = {104.0f, 117.0f, 123.0f};
      break;
    case PreprocessPreset::Tf:
      base.scale = 255.0f;
      base.mean.assign(c, 127.5f);
      base.std.assign(c, 127.5f);
      break;
    case PreprocessPreset::Mnist:
      needs(1, "gray (1-channel)");
      base.mean = {0.1307f};
      base.std = {0.3081f};
      break;
  }
  return base;
}

bool SpecOverrides::feeds_as_model_says() const {
  return !preset && !channel_order && !scale && !mean && !std && !output_is_probabilities && !layout && !input_size &&
         output.empty();
}

bool PreprocessingOrigin::guessed() const {
  const auto fields = {&channel_order, &scale, &mean, &std};
  return std::all_of(fields.begin(), fields.end(), [](const std::string* s) { return *s == "default"; });
}

const NameTable<InputLayout>& input_layout_names() {
  static const NameTable<InputLayout> table = {{InputLayout::Nchw, "nchw"}, {InputLayout::Nhwc, "nhwc"}};
  return table;
}
std::string input_layout_name(InputLayout layout) { return name_of(input_layout_names(), layout); }
InputLayout parse_input_layout(const std::string& name) { return parse_name(input_layout_names(), name, "layout"); }

std::pair<int, int> parse_input_size(const std::string& text, const std::string& what) {
  const auto x = text.find_first_of("xX");
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(s);
  };
  const int h = x == std::string::npos ? -1 : number(text.substr(0, x));
  const int w = x == std::string::npos ? -1 : number(text.substr(x + 1));
  if (h < 1 || w < 1 || h > 65536 || w > 65536) {
    throw Error(what + ": '" + text + "' is not a size HxW (e.g. 224x224, each 1 to 65536)");
  }
  return {h, w};
}

void apply_overrides(const SpecOverrides& overrides, int channels, Preprocessing* pre, PreprocessingOrigin* origin) {
  if (overrides.preset) {
    *pre = apply_preset(*overrides.preset, channels, *pre);
    origin->channel_order = origin->scale = origin->mean = origin->std = "--preprocess " + pre->preset;
  }
  if (overrides.channel_order) {
    pre->channel_order = *overrides.channel_order;
    origin->channel_order = "--channel-order";
  }
  if (overrides.scale) {
    pre->scale = *overrides.scale;
    origin->scale = "--scale";
  }
  if (overrides.mean) {
    pre->mean = *overrides.mean;
    origin->mean = "--mean";
  }
  if (overrides.std) {
    pre->std = *overrides.std;
    origin->std = "--std";
  }
  if (overrides.output_is_probabilities) {
    pre->output_is_probabilities = *overrides.output_is_probabilities;
    origin->output = *overrides.output_is_probabilities ? "--probabilities" : "--logits";
  }
  const auto c = static_cast<std::size_t>(channels);
  if (!pre->mean.empty() && pre->mean.size() != c) {
    throw Error("mean has " + std::to_string(pre->mean.size()) + " values; the model has " + std::to_string(c) +
                " channels");
  }
  if (!pre->std.empty() && pre->std.size() != c) {
    throw Error("std has " + std::to_string(pre->std.size()) + " values; the model has " + std::to_string(c) +
                " channels");
  }
  for (float v : pre->std)
    if (!(v > 0.0f)) throw Error("std values must be positive");
  if (!(pre->scale > 0.0f)) throw Error("scale must be positive");
}

std::vector<std::string> assumption_warnings(const ModelSpec& s) {
  std::vector<std::string> w;
  if (s.origin.guessed()) {
    const bool gray = s.input.channels == 1;
    w.push_back(
        s.path + " names no preprocessing (no fool metadata, no flag): assuming " + (gray ? "gray" : "RGB") +
        " pixels in [0, 1] with no mean/std (--preprocess none); " +
        (gray ? "PyTorch's MNIST examples need --preprocess mnist"
              : "a torchvision/timm model needs --preprocess torchvision, a Keras one --preprocess tf or caffe") +
        " (fool annotate writes it into the model)");
  }
  if (s.forms.layout_ambiguous && s.forms.layout_origin == "input shape") {
    w.push_back(s.path + ": the input shape fits both NCHW and NHWC; reading it as " +
                input_layout_name(s.forms.layout) + " (--layout nchw|nhwc to choose)");
  }
  return w;
}

void report_warnings(const ModelSpec& spec, const ClassifierOptions& options) {
  if (!options.on_warning) return;
  for (const auto& w : spec.warnings) options.on_warning(w);
}

Matrix DifferentiableClassifier::log_probabilities_and_gradients(const ImageBatch& images,
                                                                 const std::vector<int>& targets,
                                                                 ImageBatch* gradients) {
  Matrix p = probabilities_and_gradients(images, targets, gradients);
  const std::size_t per = images.shape().size();
  for (std::size_t i = 0; i < images.size(); ++i) {
    const float pi = p(i, static_cast<std::size_t>(targets[i]));
    float* g = gradients->image(i);
    for (std::size_t q = 0; q < per; ++q) g[q] = pi > 0.0f ? g[q] / pi : 0.0f;
  }
  for (std::size_t i = 0; i < p.rows() * p.cols(); ++i) p.data()[i] = std::log(p.data()[i]);
  return p;
}

void check_batch_shape(const ModelSpec& spec, const ImageBatch& images) {
  if (images.shape() != spec.input) {
    throw Error(spec.path + ": model takes " + spec.input.str() + " images, got " + images.shape().str());
  }
}

void check_gradient_request(const ModelSpec& spec, const ImageBatch& images, const std::vector<int>& targets) {
  check_batch_shape(spec, images);
  if (targets.size() != images.size()) throw Error("one target class is needed per image");
  for (int t : targets)
    if (t < 0 || t >= spec.num_classes) throw Error("target class " + std::to_string(t) + " is out of range");
}

ChannelAffine channel_affine(const Preprocessing& pre, int channels) {
  ChannelAffine out;
  for (std::size_t ch = 0; ch < static_cast<std::size_t>(channels); ++ch) {
    const float mean = pre.mean.empty() ? 0.0f : pre.mean[ch];
    const float inv_std = pre.std.empty() ? 1.0f : 1.0f / pre.std[ch];
    out.scale.push_back(pre.scale * inv_std);
    out.shift.push_back(-mean * inv_std);
  }
  return out;
}

void preprocess_image(const Preprocessing& pre, const ImageShape& shape, const float* in, float* out) {
  const int c = shape.channels;
  const std::size_t plane = static_cast<std::size_t>(shape.height) * static_cast<std::size_t>(shape.width);
  const bool swap = c == 3 && pre.channel_order == ChannelOrder::Bgr;
  const ChannelAffine affine = channel_affine(pre, c);
  for (int ch = 0; ch < c; ++ch) {
    const int src = swap ? c - 1 - ch : ch;
    const float a = affine.scale[static_cast<std::size_t>(ch)];
    const float b = affine.shift[static_cast<std::size_t>(ch)];
    const float* p = in + static_cast<std::size_t>(src) * plane;
    float* q = out + static_cast<std::size_t>(ch) * plane;
    for (std::size_t i = 0; i < plane; ++i) q[i] = p[i] * a + b;
  }
}

Matrix score_in_chunks(Classifier& classifier, const ImageBatch& images, std::size_t chunk) {
  if (chunk == 0 || images.size() <= chunk) return classifier.probabilities(images);
  Matrix out;
  for (std::size_t b = 0; b < images.size(); b += chunk) {
    out.append_rows(classifier.probabilities(images.slice(b, std::min(images.size(), b + chunk))));
  }
  return out;
}

void softmax_rows(Matrix& m) {
  for (std::size_t r = 0; r < m.rows(); ++r) {
    float* row = m.row(r);
    const float mx = *std::max_element(row, row + m.cols());
    double sum = 0.0;
    for (std::size_t c = 0; c < m.cols(); ++c) {
      row[c] = std::exp(row[c] - mx);
      sum += row[c];
    }
    const auto inv = static_cast<float>(1.0 / sum);
    for (std::size_t c = 0; c < m.cols(); ++c) row[c] *= inv;
  }
}

}  // namespace fool
