#include "fool/model/caffe/caffe_convert.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "caffe_subset.pb.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/model/onnx/onnx_writer.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool {

namespace {

namespace cp = ::fool::caffe;
using Dims = std::vector<std::int64_t>;

// Files larger than these are refused before they are read: the largest public Caffe ImageNet
// models (VGG-16) are about 550 MB; a prototxt is text of a few kB.
constexpr std::uintmax_t kMiB = std::uintmax_t{1024} * 1024;
constexpr std::uintmax_t kMaxWeightsBytes = 2000 * kMiB;
constexpr std::uintmax_t kMaxPrototxtBytes = 16 * kMiB;
constexpr std::uintmax_t kMaxMeanBytes = 256 * kMiB;
// Any tensor the converter makes (mean image, one weight blob) stays below this many elements.
constexpr std::int64_t kMaxElements = std::int64_t{1} << 29;

std::string printable(const std::string& s) { return json_check::printable(s, 60); }

std::string dims_str(const Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

std::int64_t count_of(const Dims& d) {
  std::int64_t n = 1;
  for (auto v : d) {
    if (v < 0 || (v > 0 && n > kMaxElements / v)) return -1;
    n *= v;
  }
  return n;
}

std::string read_limited(const std::string& path, std::uintmax_t limit, const char* what) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > limit) {
    throw Error(path + ": " + std::to_string(size) + " bytes is larger than any " + what + " fool reads (" +
                std::to_string(limit) + ")");
  }
  const auto bytes = read_file(path, limit);
  return std::string(bytes.begin(), bytes.end());
}

// Protobuf's text parser recurses once per nested message, known or skipped as unknown: a prototxt
// nesting deeper than any Caffe net (a handful of levels) is refused before it is parsed.
constexpr int kMaxPrototxtDepth = 64;
void check_prototxt_depth(const std::string& text, const std::string& path) {
  int depth = 0;
  char quote = 0;
  bool comment = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (comment) {
      comment = ch != '\n';
    } else if (quote != 0) {
      if (ch == '\\') {
        ++i;
      } else if (ch == quote || ch == '\n') {
        quote = 0;
      }
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '#') {
      comment = true;
    } else if (ch == '{' || ch == '<') {
      if (++depth > kMaxPrototxtDepth) {
        throw Error(path + ": messages nested deeper than " + std::to_string(kMaxPrototxtDepth) +
                    " levels; no Caffe net does that");
      }
    } else if (ch == '}' || ch == '>') {
      --depth;
    }
  }
}

// ---- blobs ---------------------------------------------------------------------------------------

// A blob's shape: `shape` if set, else the legacy num/channels/height/width.
Dims blob_dims(const cp::BlobProto& b) {
  if (b.has_shape()) return Dims(b.shape().dim().begin(), b.shape().dim().end());
  return {b.num(), b.channels(), b.height(), b.width()};
}

// Shapes compared as Caffe compares a stored blob with a layer's: leading 1s do not count (legacy
// blobs store an InnerProduct weight as 1 x 1 x out x in and a bias as 1 x 1 x 1 x out).
Dims squeeze_leading(Dims d) {
  while (d.size() > 1 && d.front() == 1) d.erase(d.begin());
  return d;
}

std::vector<float> blob_values(const cp::BlobProto& b, std::int64_t expected, const std::string& where) {
  std::vector<float> v;
  if (b.data_size() > 0) {
    v.assign(b.data().begin(), b.data().end());
  } else {
    v.reserve(static_cast<std::size_t>(b.double_data_size()));
    for (double x : b.double_data()) v.push_back(static_cast<float>(x));
  }
  if (static_cast<std::int64_t>(v.size()) != expected) {
    throw Error(where + " holds " + std::to_string(v.size()) + " values for its " + std::to_string(expected) +
                "-element shape");
  }
  for (float x : v)
    if (!std::isfinite(x)) throw Error(where + " holds a value that is not finite");
  return v;
}

// ---- one layer, V1 or V2 -------------------------------------------------------------------------

struct Layer {
  std::string name;
  std::string type;  // V2 spelling ("Convolution"); V1 enums are mapped
  std::vector<std::string> bottom, top;
  const cp::LayerParameter* v2 = nullptr;
  const cp::V1LayerParameter* v1 = nullptr;

  template <typename T>
  const T& param(const T& (cp::LayerParameter::*f2)() const, const T& (cp::V1LayerParameter::*f1)() const) const {
    return v2 ? (v2->*f2)() : (v1->*f1)();
  }
};

std::string v1_type_name(cp::V1LayerParameter::LayerType t) {
  using L = cp::V1LayerParameter;
  switch (t) {
    case L::CONCAT:
      return "Concat";
    case L::CONVOLUTION:
      return "Convolution";
    case L::DROPOUT:
      return "Dropout";
    case L::ELTWISE:
      return "Eltwise";
    case L::FLATTEN:
      return "Flatten";
    case L::INNER_PRODUCT:
      return "InnerProduct";
    case L::LRN:
      return "LRN";
    case L::POOLING:
      return "Pooling";
    case L::RELU:
      return "ReLU";
    case L::SIGMOID:
      return "Sigmoid";
    case L::SOFTMAX:
      return "Softmax";
    case L::TANH:
      return "TanH";
    default:
      return L::LayerType_Name(t).empty() ? "V1 type " + std::to_string(static_cast<int>(t)) : L::LayerType_Name(t);
  }
}

bool in_test_phase(const google::protobuf::RepeatedPtrField<cp::NetStateRule>& include,
                   const google::protobuf::RepeatedPtrField<cp::NetStateRule>& exclude) {
  // Caffe's rule: with include rules a layer runs if any matches; exclude rules drop it if any matches.
  auto matches_test = [](const cp::NetStateRule& r) { return !r.has_phase() || r.phase() == cp::TEST; };
  if (!include.empty() && std::none_of(include.begin(), include.end(), matches_test)) return false;
  return std::none_of(exclude.begin(), exclude.end(), matches_test);
}

// Which ONNX rounding gives Caffe's pooled size oh x ow: 0 floor, 1 ceil_mode, -1 neither. ONNX
// (and PyTorch, OpenCV) round up with ceil_mode and drop a last window that starts in the (end)
// padding whether the layer pads or not; Caffe drops it only when it pads. None matches when a last
// window lies wholly outside an unpadded input (Caffe fills it with -FLT_MAX).
int onnx_pool_rounding(std::int64_t in_h, std::int64_t in_w, std::int64_t kh, std::int64_t kw, std::int64_t ph,
                       std::int64_t pw, std::int64_t sh, std::int64_t sw, std::int64_t oh, std::int64_t ow) {
  auto floor_size = [](std::int64_t in, std::int64_t k, std::int64_t pad, std::int64_t s) {
    return (in + 2 * pad - k) / s + 1;
  };
  auto ceil_size = [](std::int64_t in, std::int64_t k, std::int64_t pad, std::int64_t s) {
    std::int64_t o = (in + 2 * pad - k + s - 1) / s + 1;
    if ((o - 1) * s >= in + pad) --o;
    return o;
  };
  if (floor_size(in_h, kh, ph, sh) == oh && floor_size(in_w, kw, pw, sw) == ow) return 0;
  if (ceil_size(in_h, kh, ph, sh) == oh && ceil_size(in_w, kw, pw, sw) == ow) return 1;
  return -1;
}

const char* const kSupported =
    "Input, Convolution, Pooling, InnerProduct, ReLU, LRN, Dropout, Softmax, Concat, Eltwise, Flatten, Sigmoid, "
    "TanH, BatchNorm, Scale";

// ---- the ONNX graph being built ------------------------------------------------------------------

class Graph {
 public:
  explicit Graph(onnx::GraphProto* g) : g_(g) {}

  // `base`, or base_<k> with the next k not yet used for it: each base remembers where its suffixes
  // stand, so that 100,000 in-place layers on one blob take linear time, not quadratic.
  std::string unique(const std::string& base) {
    std::string name = base.empty() ? "v" : base;
    int& k = next_suffix_[name];
    while (used_.count(name)) name = base + "_" + std::to_string(++k);
    used_.insert(name);
    return name;
  }

  std::string constant(const std::string& base, const Dims& dims, const std::vector<float>& v) {
    auto* t = g_->add_initializer();
    std::string name = unique(base);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return name;
  }

  std::string int64_constant(const std::string& base, const std::vector<std::int64_t>& v) {
    auto* t = g_->add_initializer();
    std::string name = unique(base);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(v.size()));
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(std::int64_t)));
    return name;
  }

  onnx::NodeProto* node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                        const std::string& output) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(unique("node_" + name));
    for (const auto& i : inputs) {
      n->add_input(i);
      consumed_.insert(i);
    }
    n->add_output(output);
    return n;
  }

  bool consumed(const std::string& v) const { return consumed_.count(v) != 0; }

 private:
  onnx::GraphProto* g_;
  std::set<std::string> used_;
  std::map<std::string, int> next_suffix_;  // per base name: the last suffix unique() gave it
  std::set<std::string> consumed_;
};

using onnx_attr::set_float;
using onnx_attr::set_int;
using onnx_attr::set_ints;

// A graph input or output of `dims` (N x ...): the batch axis becomes the free "N".
void set_value_info(onnx::ValueInfoProto* v, const std::string& name, const Dims& dims) {
  onnx_attr::set_batched_float(v, name, Dims(dims.begin() + (dims.empty() ? 0 : 1), dims.end()));
}

// ---- the converter -------------------------------------------------------------------------------

class Converter {
 public:
  Converter(const CaffeSources& s, onnx::GraphProto* g) : src_(s), graph_(g), g_(g) {}

  void parse() {
    parse_files();
    if (net_.layer_size() > 0 && net_.layers_size() > 0) {
      throw Error(src_.prototxt_path + ": mixes 'layer' (current) and 'layers' (V1) entries");
    }
    format_ = net_.layers_size() > 0 ? "V1" : "V2";
    for (const auto& l : net_.layer()) {
      if (!in_test_phase(l.include(), l.exclude()) || (l.has_phase() && l.phase() == cp::TRAIN)) continue;
      layers_.push_back(
          {l.name(), l.type(), {l.bottom().begin(), l.bottom().end()}, {l.top().begin(), l.top().end()}, &l, nullptr});
    }
    for (const auto& l : net_.layers()) {
      if (!in_test_phase(l.include(), l.exclude())) continue;
      layers_.push_back({l.name(),
                         v1_type_name(l.type()),
                         {l.bottom().begin(), l.bottom().end()},
                         {l.top().begin(), l.top().end()},
                         nullptr,
                         &l});
    }
    if (layers_.empty()) throw Error(src_.prototxt_path + ": has no layers");
    // Names become ONNX names and JSON text (fool convert's output, fool info): UTF-8 only, refused
    // before anything is converted or written.
    json_check::check_utf8(net_.name(), src_.prototxt_path + ": the net's name '" + printable(net_.name()) + "'");
    for (const auto& in : net_.input())
      json_check::check_utf8(in, src_.prototxt_path + ": input '" + printable(in) + "'");
    for (const Layer& l : layers_) {
      json_check::check_utf8(l.name, src_.prototxt_path + ": layer name '" + printable(l.name) + "'");
      json_check::check_utf8(l.type, where(l) + ": its type");
      for (const auto& b : l.bottom) json_check::check_utf8(b, where(l) + ": bottom '" + printable(b) + "'");
      for (const auto& t : l.top) json_check::check_utf8(t, where(l) + ": top '" + printable(t) + "'");
    }
  }

  // The prototxt (text, unknown fields skipped) and the .caffemodel (binary), and the weight blobs
  // of each layer name in the latter.
  void parse_files() {
    if (src_.prototxt_text.size() > kMaxPrototxtBytes)
      throw Error(src_.prototxt_path + ": larger than any prototxt fool reads");
    check_prototxt_depth(src_.prototxt_text, src_.prototxt_path);
    google::protobuf::TextFormat::Parser parser;
    parser.SetRecursionLimit(kMaxPrototxtDepth);
    parser.AllowUnknownField(true);
    parser.AllowUnknownExtension(true);
    ErrorCollector errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(src_.prototxt_text, &net_)) {
      throw Error(src_.prototxt_path + ": not a Caffe prototxt (" +
                  (errors.first.empty() ? "cannot parse it" : errors.first) + ")");
    }
    if (src_.weights_bytes.empty())
      throw Error(src_.weights_path + ": empty; a .caffemodel holds the network's weights");
    if (src_.weights_bytes.size() > kMaxWeightsBytes || src_.weights_bytes.size() > static_cast<std::size_t>(INT_MAX)) {
      throw Error(src_.weights_path + ": larger than any .caffemodel fool reads");
    }
    if (!weights_.ParseFromArray(src_.weights_bytes.data(), static_cast<int>(src_.weights_bytes.size()))) {
      throw Error(src_.weights_path + ": not a Caffe .caffemodel (cannot parse it as a NetParameter)");
    }
    for (const auto& l : weights_.layer())
      if (!weight_blobs_.count(l.name())) weight_blobs_[l.name()] = &l.blobs();
    for (const auto& l : weights_.layers())
      if (!weight_blobs_.count(l.name())) weight_blobs_[l.name()] = &l.blobs();
    if (weight_blobs_.empty()) throw Error(src_.weights_path + ": holds no layers; is it a .caffemodel?");
  }

  CaffeConversion run() {
    parse();
    declare_net_inputs();
    for (const auto& l : layers_) convert(l);
    if (input_name_.empty())
      throw Error(src_.prototxt_path + ": declares no input (an Input layer, or input + input_dim)");
    // The output: the one blob no layer reads.
    std::vector<std::string> outputs;
    for (const auto& [caffe_name, value] : current_)
      if (value != input_value_ && !graph_.consumed(value) &&
          std::find(outputs.begin(), outputs.end(), value) == outputs.end())
        outputs.push_back(value);
    if (outputs.size() != 1) {
      std::string list;
      for (const auto& o : outputs) list += (list.empty() ? "" : ", ") + printable(o);
      throw Error(src_.prototxt_path + ": " + std::to_string(outputs.size()) + " blobs are read by no layer (" + list +
                  "); fool needs exactly one output");
    }
    const Dims& out_dims = shapes_.at(outputs[0]);
    if (out_dims.size() != 2) {
      throw Error(src_.prototxt_path + ": output blob '" + printable(outputs[0]) + "' has shape " + dims_str(out_dims) +
                  ", not N x K class scores");
    }
    set_value_info(g_->add_output(), outputs[0], out_dims);

    CaffeConversion c;
    c.net_name = net_.name();
    c.format = format_;
    c.layers = converted_;
    c.input = input_shape_;
    c.num_classes = static_cast<int>(out_dims[1]);
    std::set<std::string> ops;
    for (const auto& n : g_->node()) ops.insert(n.op_type());
    c.operators.assign(ops.begin(), ops.end());
    return c;
  }

 private:
  struct ErrorCollector : google::protobuf::io::ErrorCollector {
    std::string first;
    void AddError(int line, int column, const std::string& message) override {
      if (first.empty()) first = "line " + std::to_string(line + 1) + ": " + json_check::printable(message, 120);
    }
    void AddWarning(int, int, const std::string&) override {}
  };

  std::string where(const Layer& l) const {
    return src_.prototxt_path + ": layer '" + printable(l.name) + "' (" + printable(l.type) + ")";
  }

  // A parameter that would make the converted model compute NaN or infinity (a zero variance under
  // eps 0, a negative LRN base) is refused here, naming the layer, rather than found in the output.
  static std::string number_text(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    return buf;
  }
  void check_parameter(const Layer& l, const std::string& name, float value, bool ok, const std::string& need) const {
    if (!std::isfinite(value) || !ok) {
      throw Error(where(l) + ": " + name + " " + number_text(value) + " must be " + need +
                  " (else the model computes NaN or infinity)");
    }
  }

  const Dims& shape_of(const Layer& l, const std::string& caffe_blob) {
    auto it = current_.find(caffe_blob);
    if (it == current_.end())
      throw Error(where(l) + " reads blob '" + printable(caffe_blob) + "', which no earlier layer makes");
    return shapes_.at(it->second);
  }
  std::string value_of(const Layer& l, const std::string& caffe_blob) {
    shape_of(l, caffe_blob);
    return current_.at(caffe_blob);
  }

  void expect_io(const Layer& l, std::size_t bottoms, std::size_t tops) const {
    if ((bottoms > 0 && l.bottom.size() != bottoms) || (bottoms == 0 && l.bottom.empty()) || l.top.size() != tops) {
      throw Error(where(l) + " has " + std::to_string(l.bottom.size()) + " bottoms and " +
                  std::to_string(l.top.size()) + " tops; fool converts it with " +
                  (bottoms ? std::to_string(bottoms) : std::string("one or more")) + " bottom(s) and " +
                  std::to_string(tops) + " top");
    }
  }

  // Records `value` (made by layer l) as the new content of Caffe blob `top`.
  void produce(const std::string& top, const std::string& value, const Dims& dims) {
    current_[top] = value;
    shapes_[value] = dims;
  }
  std::string out_name(const Layer& l) { return graph_.unique(l.top.empty() ? l.name : l.top[0]); }

  // The weight blobs of layer l: exactly `count` of them (or count - 1 when the last is optional).
  const google::protobuf::RepeatedPtrField<cp::BlobProto>& blobs(const Layer& l, int count) {
    auto it = weight_blobs_.find(l.name);
    if (it == weight_blobs_.end()) {
      throw Error(src_.weights_path + ": has no layer named '" + printable(l.name) + "' (the prototxt's " +
                  printable(l.type) + " layer needs its weights); are these the weights of " + src_.prototxt_path +
                  "?");
    }
    if (it->second->size() != count) {
      throw Error(src_.weights_path + ": layer '" + printable(l.name) + "' has " + std::to_string(it->second->size()) +
                  " blobs; the prototxt's " + printable(l.type) + " layer needs " + std::to_string(count));
    }
    return *it->second;
  }

  std::vector<float> weight(const Layer& l, const cp::BlobProto& b, int index, const Dims& expected) {
    const std::string w = src_.weights_path + ": layer '" + printable(l.name) + "' blob " + std::to_string(index);
    const Dims got = blob_dims(b);
    if (squeeze_leading(got) != squeeze_leading(expected)) {
      throw Error(w + " has shape " + dims_str(got) + "; the prototxt's layer needs " + dims_str(expected));
    }
    const std::int64_t n = count_of(expected);
    if (n < 0) throw Error(w + " is larger than fool converts");
    return blob_values(b, n, w);
  }

  void declare_input(const std::string& name, Dims dims, const std::string& where_text) {
    if (!input_name_.empty())
      throw Error(where_text + ": a second input '" + printable(name) + "'; fool models take one image input");
    if (dims.size() != 4 || (dims[1] != 1 && dims[1] != 3) || dims[2] <= 0 || dims[3] <= 0 || dims[2] > 65535 ||
        dims[3] > 65535) {
      throw Error(where_text + ": input '" + printable(name) + "' has shape " + dims_str(dims) +
                  "; fool needs N x C x H x W images with C = 1 or 3");
    }
    dims[0] = 1;
    input_name_ = graph_.unique(name);
    set_value_info(g_->add_input(), input_name_, dims);
    input_value_ = input_name_;
    input_shape_ = {static_cast<int>(dims[1]), static_cast<int>(dims[2]), static_cast<int>(dims[3])};
    shapes_[input_name_] = dims;
    // Caffe's preprocessing, in the graph: fool's [0,1] pixels back to 0..255, minus the mean
    // image, times the scale.
    std::string x = graph_.unique("caffe_pixels");
    graph_.node("Mul", "caffe_pixels", {input_name_, graph_.constant("caffe_255", {}, {255.0f})}, x);
    shapes_[x] = dims;
    if (src_.mean) {
      const CaffeMean m = fit_caffe_mean(*src_.mean, input_shape_, src_.mean_path);
      const std::string y = graph_.unique("caffe_minus_mean");
      graph_.node("Sub", "caffe_mean",
                  {x, graph_.constant("caffe_mean_image", {1, dims[1], dims[2], dims[3]}, m.values)}, y);
      shapes_[y] = dims;
      x = y;
    }
    if (src_.scale != 1.0f) {
      const std::string y = graph_.unique("caffe_scaled");
      graph_.node("Mul", "caffe_scale", {x, graph_.constant("caffe_scale", {}, {src_.scale})}, y);
      shapes_[y] = dims;
      x = y;
    }
    current_[name] = x;
  }

  void declare_net_inputs() {
    if (net_.input_size() == 0) return;
    if (net_.input_size() > 1)
      throw Error(src_.prototxt_path + ": " + std::to_string(net_.input_size()) +
                  " inputs; fool models take one image input");
    Dims dims;
    if (net_.input_shape_size() > 0) {
      dims.assign(net_.input_shape(0).dim().begin(), net_.input_shape(0).dim().end());
    } else if (net_.input_dim_size() == 4) {
      dims.assign(net_.input_dim().begin(), net_.input_dim().end());
    } else {
      throw Error(src_.prototxt_path + ": input '" + printable(net_.input(0)) +
                  "' needs 4 input_dim values or an input_shape");
    }
    declare_input(net_.input(0), dims, src_.prototxt_path);
  }

  void convert(const Layer& l) {
    using Method = void (Converter::*)(const Layer&);
    static const std::map<std::string, Method> methods{
        {"Input", &Converter::input_layer}, {"Convolution", &Converter::convolution},
        {"Pooling", &Converter::pooling},   {"InnerProduct", &Converter::inner_product},
        {"ReLU", &Converter::relu},         {"Sigmoid", &Converter::activation},
        {"TanH", &Converter::activation},   {"Dropout", &Converter::dropout},
        {"LRN", &Converter::lrn},           {"Softmax", &Converter::softmax},
        {"Concat", &Converter::concat},     {"Eltwise", &Converter::eltwise},
        {"Flatten", &Converter::flatten},   {"BatchNorm", &Converter::batch_norm},
        {"Scale", &Converter::scale}};
    const auto it = methods.find(l.type);
    if (it == methods.end()) throw Error(where(l) + ": layer type not supported; fool converts " + kSupported);
    (this->*(it->second))(l);
    ++converted_;
  }

  void input_layer(const Layer& l) {
    if (!l.bottom.empty() || l.top.size() != 1)
      throw Error(where(l) + ": fool converts an Input layer with no bottom and one top");
    const auto& p = l.v2->input_param();
    if (p.shape_size() == 0) throw Error(where(l) + " gives no shape");
    declare_input(l.top[0], Dims(p.shape(0).dim().begin(), p.shape(0).dim().end()), where(l));
  }

  void relu(const Layer& l) {
    expect_io(l, 1, 1);
    const float slope = l.param(&cp::LayerParameter::relu_param, &cp::V1LayerParameter::relu_param).negative_slope();
    check_parameter(l, "negative_slope", slope, true, "a finite number");
    const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
    auto* n = graph_.node(slope == 0.0f ? "Relu" : "LeakyRelu", l.name, {x}, y);
    if (slope != 0.0f) set_float(n, "alpha", slope);
    produce(l.top[0], y, shapes_.at(x));
  }

  void activation(const Layer& l) {  // Sigmoid, TanH
    expect_io(l, 1, 1);
    const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
    graph_.node(l.type == "Sigmoid" ? "Sigmoid" : "Tanh", l.name, {x}, y);
    produce(l.top[0], y, shapes_.at(x));
  }

  void dropout(const Layer& l) {
    // At test time Caffe's dropout passes its input through (it scales during training).
    expect_io(l, 1, 1);
    current_[l.top[0]] = value_of(l, l.bottom[0]);
  }

  void softmax(const Layer& l) {
    expect_io(l, 1, 1);
    const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
    const Dims& d = shapes_.at(x);
    std::int64_t axis = l.param(&cp::LayerParameter::softmax_param, &cp::V1LayerParameter::softmax_param).axis();
    if (axis < 0) axis += static_cast<std::int64_t>(d.size());
    if (axis < 1 || axis >= static_cast<std::int64_t>(d.size()))
      throw Error(where(l) + ": axis out of range for shape " + dims_str(d));
    set_int(graph_.node("Softmax", l.name, {x}, y), "axis", axis);
    produce(l.top[0], y, d);
  }

  void flatten(const Layer& l) {
    expect_io(l, 1, 1);
    const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
    const Dims& d = shapes_.at(x);
    const auto& p = l.v2 ? l.v2->flatten_param() : cp::FlattenParameter::default_instance();
    const auto rank = static_cast<std::int64_t>(d.size());
    const std::int64_t end = p.end_axis() < 0 ? p.end_axis() + rank : p.end_axis();
    if (p.axis() != 1 || end != rank - 1)
      throw Error(where(l) + ": fool converts Flatten from axis 1 to the last axis only");
    const std::int64_t n = count_of(Dims(d.begin() + 1, d.end()));
    if (n <= 0) throw Error(where(l) + ": input " + dims_str(d) + " is larger than fool converts");
    set_int(graph_.node("Flatten", l.name, {x}, y), "axis", 1);
    produce(l.top[0], y, {d[0], n});
  }

  // Kernel, pad, stride and dilation of a Convolution (repeated fields or the _h/_w forms).
  static std::int64_t pick(const google::protobuf::RepeatedField<std::uint32_t>& r, bool has_hw, std::uint32_t hw,
                           int axis, std::int64_t def) {
    if (has_hw) return hw;
    if (r.empty()) return def;
    return r.size() == 1 ? r.Get(0) : r.Get(std::min(axis, r.size() - 1));
  }

  void convolution(const Layer& l) {
    expect_io(l, 1, 1);
    const auto& p = l.param(&cp::LayerParameter::convolution_param, &cp::V1LayerParameter::convolution_param);
    const std::string x = value_of(l, l.bottom[0]);
    const Dims d = shapes_.at(x);
    if (d.size() != 4) throw Error(where(l) + ": input shape " + dims_str(d) + " is not N x C x H x W");
    if (p.axis() != 1) throw Error(where(l) + ": fool converts convolutions over axis 1 only");
    if (p.kernel_size_size() > 2 || p.pad_size() > 2 || p.stride_size() > 2 || p.dilation_size() > 2) {
      throw Error(where(l) + ": fool converts 2-D convolutions only");
    }
    const std::int64_t kh = pick(p.kernel_size(), p.has_kernel_h(), p.kernel_h(), 0, 0);
    const std::int64_t kw = pick(p.kernel_size(), p.has_kernel_w(), p.kernel_w(), 1, 0);
    const std::int64_t ph = pick(p.pad(), p.has_pad_h(), p.pad_h(), 0, 0),
                       pw = pick(p.pad(), p.has_pad_w(), p.pad_w(), 1, 0);
    const std::int64_t sh = pick(p.stride(), p.has_stride_h(), p.stride_h(), 0, 1);
    const std::int64_t sw = pick(p.stride(), p.has_stride_w(), p.stride_w(), 1, 1);
    const std::int64_t dh = pick(p.dilation(), false, 0, 0, 1), dw = pick(p.dilation(), false, 0, 1, 1);
    const std::int64_t group = p.group(), out_c = p.num_output();
    if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || kh > 4096 || kw > 4096 || ph > 4096 ||
        pw > 4096 || sh > 4096 || sw > 4096 || dh > 4096 || dw > 4096) {
      throw Error(where(l) + ": kernel, stride and dilation must be positive (and at most 4096)");
    }
    if (out_c <= 0 || group <= 0 || d[1] % group != 0 || out_c % group != 0) {
      throw Error(where(l) + ": num_output " + std::to_string(out_c) + " and group " + std::to_string(group) +
                  " do not divide the input's " + std::to_string(d[1]) + " channels");
    }
    const std::int64_t oh = caffe_conv_size(d[2], kh, ph, sh, dh), ow = caffe_conv_size(d[3], kw, pw, sw, dw);
    if (oh <= 0 || ow <= 0) throw Error(where(l) + ": output would be empty for input " + dims_str(d));
    const auto& b = blobs(l, p.bias_term() ? 2 : 1);
    const Dims wdims{out_c, d[1] / group, kh, kw};
    std::vector<std::string> inputs{x, graph_.constant(l.name + "_weight", wdims, weight(l, b.Get(0), 0, wdims))};
    if (p.bias_term()) inputs.push_back(graph_.constant(l.name + "_bias", {out_c}, weight(l, b.Get(1), 1, {out_c})));
    const std::string y = out_name(l);
    auto* n = graph_.node("Conv", l.name, inputs, y);
    set_ints(n, "kernel_shape", {kh, kw});
    set_ints(n, "pads", {ph, pw, ph, pw});
    set_ints(n, "strides", {sh, sw});
    set_ints(n, "dilations", {dh, dw});
    set_int(n, "group", group);
    produce(l.top[0], y, {d[0], out_c, oh, ow});
  }

  void pooling(const Layer& l) {
    expect_io(l, 1, 1);
    const auto& p = l.param(&cp::LayerParameter::pooling_param, &cp::V1LayerParameter::pooling_param);
    const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
    const Dims d = shapes_.at(x);
    if (d.size() != 4) throw Error(where(l) + ": input shape " + dims_str(d) + " is not N x C x H x W");
    if (p.pool() == cp::PoolingParameter::STOCHASTIC)
      throw Error(where(l) + ": STOCHASTIC pooling is not supported (MAX, AVE)");
    const bool max = p.pool() == cp::PoolingParameter::MAX;
    if (p.global_pooling()) {
      graph_.node(max ? "GlobalMaxPool" : "GlobalAveragePool", l.name, {x}, y);
      produce(l.top[0], y, {d[0], d[1], 1, 1});
      return;
    }
    const std::int64_t kh = p.has_kernel_h() ? p.kernel_h() : p.kernel_size();
    const std::int64_t kw = p.has_kernel_w() ? p.kernel_w() : p.kernel_size();
    const std::int64_t ph = p.has_pad_h() ? p.pad_h() : p.pad(), pw = p.has_pad_w() ? p.pad_w() : p.pad();
    const std::int64_t sh = p.has_stride_h() ? p.stride_h() : p.stride(),
                       sw = p.has_stride_w() ? p.stride_w() : p.stride();
    if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || kh > 4096 || kw > 4096 || sh > 4096 || sw > 4096) {
      throw Error(where(l) + ": kernel and stride must be positive (and at most 4096)");
    }
    if (ph >= kh || pw >= kw) throw Error(where(l) + ": pad must be smaller than the kernel");
    const std::int64_t oh = caffe_pooled_size(d[2], kh, ph, sh), ow = caffe_pooled_size(d[3], kw, pw, sw);
    if (oh <= 0 || ow <= 0) throw Error(where(l) + ": output would be empty for input " + dims_str(d));
    // Caffe's average divides by the window clipped to the padded input (padding counts, the part
    // of a rounded-up last window beyond the padding does not): PyTorch's rule for an input padded
    // beforehand. So a padded AVE pooling becomes Pad (zeros) + AveragePool without pads; OpenCV
    // 4.6's ONNX importer also gets AveragePool with pads wrong (measured: max |diff| 130 on the
    // conformance net) and this form right. Max pooling ignores padding, as ONNX MaxPool's pads do.
    std::string pool_in = x;
    std::int64_t pool_ph = ph, pool_pw = pw, in_h = d[2], in_w = d[3];
    if (!max && (ph > 0 || pw > 0)) {
      pool_in = graph_.unique(l.name + "_padded");
      graph_.node("Pad", l.name + "_pad", {x, graph_.int64_constant(l.name + "_pads", {0, 0, ph, pw, 0, 0, ph, pw})},
                  pool_in);
      in_h += 2 * ph;
      in_w += 2 * pw;
      pool_ph = pool_pw = 0;
      shapes_[pool_in] = {d[0], d[1], in_h, in_w};
    }
    const int mode = onnx_pool_rounding(in_h, in_w, kh, kw, pool_ph, pool_pw, sh, sw, oh, ow);
    if (mode < 0) {
      throw Error(where(l) +
                  ": its last window lies outside the input (kernel smaller than stride, no pad); no ONNX pooling "
                  "matches Caffe here");
    }
    auto* n = graph_.node(max ? "MaxPool" : "AveragePool", l.name, {pool_in}, y);
    set_ints(n, "kernel_shape", {kh, kw});
    set_ints(n, "pads", {pool_ph, pool_pw, pool_ph, pool_pw});
    set_ints(n, "strides", {sh, sw});
    if (mode == 1) set_int(n, "ceil_mode", 1);
    produce(l.top[0], y, {d[0], d[1], oh, ow});
  }

  void inner_product(const Layer& l) {
    expect_io(l, 1, 1);
    const auto& p = l.param(&cp::LayerParameter::inner_product_param, &cp::V1LayerParameter::inner_product_param);
    std::string x = value_of(l, l.bottom[0]);
    const Dims d = shapes_.at(x);
    if (p.axis() != 1) throw Error(where(l) + ": fool converts InnerProduct over axis 1 only");
    const std::int64_t in = count_of(Dims(d.begin() + 1, d.end())), out = p.num_output();
    if (in <= 0) throw Error(where(l) + ": input " + dims_str(d) + " is larger than fool converts");
    if (out <= 0) throw Error(where(l) + ": num_output must be positive");
    if (d.size() != 2) {
      // Caffe flattens everything after the batch axis implicitly.
      const std::string f = graph_.unique(l.name + "_flat");
      set_int(graph_.node("Flatten", l.name + "_flatten", {x}, f), "axis", 1);
      shapes_[f] = {d[0], in};
      x = f;
    }
    const auto& b = blobs(l, p.bias_term() ? 2 : 1);
    const Dims wdims = p.transpose() ? Dims{in, out} : Dims{out, in};
    std::vector<std::string> inputs{x, graph_.constant(l.name + "_weight", wdims, weight(l, b.Get(0), 0, wdims))};
    if (p.bias_term()) inputs.push_back(graph_.constant(l.name + "_bias", {out}, weight(l, b.Get(1), 1, {out})));
    const std::string y = out_name(l);
    auto* n = graph_.node("Gemm", l.name, inputs, y);
    if (!p.transpose()) set_int(n, "transB", 1);
    produce(l.top[0], y, {d[0], out});
  }

  void lrn(const Layer& l) {
    expect_io(l, 1, 1);
    const auto& p = l.param(&cp::LayerParameter::lrn_param, &cp::V1LayerParameter::lrn_param);
    if (p.norm_region() != cp::LRNParameter::ACROSS_CHANNELS)
      throw Error(where(l) + ": WITHIN_CHANNEL LRN is not supported (ACROSS_CHANNELS)");
    if (p.local_size() % 2 == 0 || p.local_size() > 4095)
      throw Error(where(l) + ": local_size must be odd (as Caffe requires) and below 4096");
    check_parameter(l, "k", p.k(), p.k() > 0.0f, "positive");
    check_parameter(l, "alpha", p.alpha(), p.alpha() >= 0.0f, "a finite number not below 0");
    check_parameter(l, "beta", p.beta(), true, "a finite number");
    const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
    if (shapes_.at(x).size() != 4) throw Error(where(l) + ": input is not N x C x H x W");
    // Caffe: x / (k + alpha / n * sum of squares over n channels)^beta, the window centred on the
    // channel; ONNX LRN is the same formula (it too divides alpha by size).
    auto* n = graph_.node("LRN", l.name, {x}, y);
    set_int(n, "size", p.local_size());
    set_float(n, "alpha", p.alpha());
    set_float(n, "beta", p.beta());
    set_float(n, "bias", p.k());
    produce(l.top[0], y, shapes_.at(x));
  }

  void concat(const Layer& l) {
    expect_io(l, 0, 1);
    const auto& p = l.param(&cp::LayerParameter::concat_param, &cp::V1LayerParameter::concat_param);
    std::vector<std::string> inputs;
    Dims out;
    std::int64_t axis = p.has_axis() ? p.axis() : p.concat_dim();
    for (const auto& b : l.bottom) {
      inputs.push_back(value_of(l, b));
      const Dims& d = shapes_.at(inputs.back());
      if (out.empty()) {
        out = d;
        if (axis < 0) axis += static_cast<std::int64_t>(d.size());
        if (axis < 1 || axis >= static_cast<std::int64_t>(d.size()))
          throw Error(where(l) + ": axis out of range for shape " + dims_str(d));
        continue;
      }
      bool same = d.size() == out.size();
      for (std::size_t i = 0; same && i < d.size(); ++i) same = static_cast<std::int64_t>(i) == axis || d[i] == out[i];
      if (!same)
        throw Error(where(l) + ": bottom '" + printable(b) + "' has shape " + dims_str(d) +
                    ", which does not concatenate with " + dims_str(out));
      out[static_cast<std::size_t>(axis)] += d[static_cast<std::size_t>(axis)];
    }
    const std::string y = out_name(l);
    set_int(graph_.node("Concat", l.name, inputs, y), "axis", axis);
    produce(l.top[0], y, out);
  }

  void eltwise(const Layer& l) {
    expect_io(l, 0, 1);
    const auto& p = l.param(&cp::LayerParameter::eltwise_param, &cp::V1LayerParameter::eltwise_param);
    if (l.bottom.size() < 2) throw Error(where(l) + ": needs at least two bottoms");
    if (p.coeff_size() > 0 &&
        (p.operation() != cp::EltwiseParameter::SUM || p.coeff_size() != static_cast<int>(l.bottom.size()))) {
      throw Error(where(l) + ": coeff needs the SUM operation and one value per bottom");
    }
    for (int i = 0; i < p.coeff_size(); ++i) check_parameter(l, "coeff", p.coeff(i), true, "a finite number");
    std::vector<std::string> inputs;
    Dims shape;
    for (std::size_t i = 0; i < l.bottom.size(); ++i) {
      std::string v = value_of(l, l.bottom[i]);
      const Dims& d = shapes_.at(v);
      if (i == 0) shape = d;
      if (d != shape)
        throw Error(where(l) + ": bottom '" + printable(l.bottom[i]) + "' has shape " + dims_str(d) + ", not " +
                    dims_str(shape));
      if (p.coeff_size() > 0 && p.coeff(static_cast<int>(i)) != 1.0f) {
        const std::string s = graph_.unique(l.name + "_term" + std::to_string(i));
        graph_.node("Mul", l.name + "_coeff",
                    {v, graph_.constant(l.name + "_coeff", {}, {p.coeff(static_cast<int>(i))})}, s);
        shapes_[s] = d;
        v = s;
      }
      inputs.push_back(v);
    }
    const char* op = p.operation() == cp::EltwiseParameter::SUM    ? "Sum"
                     : p.operation() == cp::EltwiseParameter::PROD ? "Mul"
                                                                   : "Max";
    std::string acc = inputs[0];
    if (std::string(op) == "Mul") {
      // Mul takes two inputs; chain it.
      for (std::size_t i = 1; i < inputs.size(); ++i) {
        const std::string y =
            i + 1 == inputs.size() ? out_name(l) : graph_.unique(l.name + "_product" + std::to_string(i));
        graph_.node("Mul", l.name, {acc, inputs[i]}, y);
        shapes_[y] = shape;
        acc = y;
      }
    } else {
      acc = out_name(l);
      graph_.node(op, l.name, inputs, acc);
    }
    produce(l.top[0], acc, shape);
  }

  void batch_norm(const Layer& l) {
    expect_io(l, 1, 1);
    if (!l.v2) throw Error(where(l) + ": not a V1 layer type");
    const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
    const Dims d = shapes_.at(x);
    if (d.size() < 2) throw Error(where(l) + ": input has no channel axis");
    const std::int64_t c = d[1];
    const auto& b = blobs(l, 3);
    std::vector<float> mean = weight(l, b.Get(0), 0, {c}), var = weight(l, b.Get(1), 1, {c});
    const float factor = weight(l, b.Get(2), 2, {1})[0];
    const float eps = l.v2->batch_norm_param().eps();
    check_parameter(l, "eps", eps, eps > 0.0f, "positive");
    // Caffe stores running sums and their weight: the statistics are blob / factor (0 if factor is 0).
    const float inv = factor == 0.0f ? 0.0f : 1.0f / factor;
    for (auto& v : mean) v *= inv;
    for (auto& v : var) v *= inv;
    for (std::size_t i = 0; i < var.size(); ++i) {
      if (!std::isfinite(mean[i]) || !std::isfinite(var[i]) || var[i] < 0.0f) {
        throw Error(src_.weights_path + ": layer '" + printable(l.name) + "' channel " + std::to_string(i) +
                    " has mean " + number_text(mean[i]) + " and variance " + number_text(var[i]) +
                    " after the scale factor; a variance must be finite and not negative");
      }
    }
    const std::vector<float> ones(static_cast<std::size_t>(c), 1.0f), zeros(static_cast<std::size_t>(c), 0.0f);
    auto* n =
        graph_.node("BatchNormalization", l.name,
                    {x, graph_.constant(l.name + "_gamma", {c}, ones), graph_.constant(l.name + "_beta", {c}, zeros),
                     graph_.constant(l.name + "_mean", {c}, mean), graph_.constant(l.name + "_var", {c}, var)},
                    y);
    set_float(n, "epsilon", eps);
    produce(l.top[0], y, d);
  }

  void scale(const Layer& l) {
    expect_io(l, 1, 1);
    if (!l.v2) throw Error(where(l) + ": not a V1 layer type");
    const auto& p = l.v2->scale_param();
    if (p.axis() != 1 || p.num_axes() != 1)
      throw Error(where(l) + ": fool converts a per-channel Scale (axis 1, num_axes 1) only");
    const std::string x = value_of(l, l.bottom[0]);
    const Dims d = shapes_.at(x);
    if (d.size() < 2) throw Error(where(l) + ": input has no channel axis");
    const std::int64_t c = d[1];
    Dims cdims{c};
    for (std::size_t i = 2; i < d.size(); ++i) cdims.push_back(1);
    const auto& b = blobs(l, p.bias_term() ? 2 : 1);
    const std::string scaled = p.bias_term() ? graph_.unique(l.name + "_scaled") : out_name(l);
    graph_.node("Mul", l.name, {x, graph_.constant(l.name + "_gamma", cdims, weight(l, b.Get(0), 0, {c}))}, scaled);
    shapes_[scaled] = d;
    std::string y = scaled;
    if (p.bias_term()) {
      y = out_name(l);
      graph_.node("Add", l.name + "_bias",
                  {scaled, graph_.constant(l.name + "_beta", cdims, weight(l, b.Get(1), 1, {c}))}, y);
    }
    produce(l.top[0], y, d);
  }

  const CaffeSources& src_;
  Graph graph_;
  onnx::GraphProto* g_;
  cp::NetParameter net_, weights_;
  std::map<std::string, const google::protobuf::RepeatedPtrField<cp::BlobProto>*> weight_blobs_;
  std::vector<Layer> layers_;
  std::string format_;
  std::map<std::string, std::string> current_;  // Caffe blob -> the ONNX value that holds it now
  std::map<std::string, Dims> shapes_;          // ONNX value -> shape (batch axis 1)
  std::string input_name_, input_value_;
  ImageShape input_shape_;
  int converted_ = 0;
};

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

std::int64_t caffe_pooled_size(std::int64_t in, std::int64_t kernel, std::int64_t pad, std::int64_t stride) {
  // Caffe: ceil((in + 2 pad - kernel) / stride) + 1, then, with padding, make sure the last window
  // starts inside the image (or its left/top padding), not in the right/bottom padding.
  std::int64_t out =
      static_cast<std::int64_t>(std::ceil(static_cast<double>(in + 2 * pad - kernel) / static_cast<double>(stride))) +
      1;
  if (pad > 0 && (out - 1) * stride >= in + pad) --out;
  return out;
}

std::int64_t caffe_conv_size(std::int64_t in, std::int64_t kernel, std::int64_t pad, std::int64_t stride,
                             std::int64_t dilation) {
  const std::int64_t extent = dilation * (kernel - 1) + 1;
  if (in + 2 * pad < extent) return 0;
  return (in + 2 * pad - extent) / stride + 1;
}

CaffeMean parse_caffe_mean(const std::uint8_t* data, std::size_t size, const std::string& path) {
  cp::BlobProto b;
  if (size == 0 || size > kMaxMeanBytes || !b.ParseFromArray(data, static_cast<int>(size))) {
    throw Error(path + ": not a Caffe mean file (cannot parse it as a BlobProto .binaryproto)");
  }
  Dims d = blob_dims(b);
  while (d.size() > 3 && d.front() == 1) d.erase(d.begin());
  if (d.size() != 3 || d[0] <= 0 || d[1] <= 0 || d[2] <= 0) {
    throw Error(path + ": mean blob has shape " + dims_str(blob_dims(b)) + "; expected 1 x C x H x W");
  }
  const std::int64_t n = count_of(d);
  if (n < 0 || d[1] > 65535 || d[2] > 65535)
    throw Error(path + ": mean blob " + dims_str(d) + " is larger than fool reads");
  CaffeMean m;
  m.shape = {static_cast<int>(d[0]), static_cast<int>(d[1]), static_cast<int>(d[2])};
  m.values = blob_values(b, n, path + ": mean blob");
  return m;
}

CaffeMean read_caffe_mean(const std::string& path) {
  const std::string bytes = read_limited(path, kMaxMeanBytes, "mean file");
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (is_png(data, bytes.size())) {
    const Image8 img = decode_png(data, bytes.size(), path);
    CaffeMean m;
    m.shape = img.shape;
    m.values.assign(img.pixels.begin(), img.pixels.end());
    if (img.shape.channels == 3) {
      // PNG is RGB; Caffe's colour models take BGR.
      const std::size_t plane = static_cast<std::size_t>(img.shape.height) * static_cast<std::size_t>(img.shape.width);
      std::swap_ranges(m.values.begin(), m.values.begin() + static_cast<std::ptrdiff_t>(plane),
                       m.values.begin() + static_cast<std::ptrdiff_t>(2 * plane));
    }
    return m;
  }
  return parse_caffe_mean(data, bytes.size(), path);
}

CaffeMean fit_caffe_mean(const CaffeMean& mean, const ImageShape& shape, const std::string& path) {
  if (mean.shape.channels != shape.channels) {
    throw Error(path + ": mean has " + std::to_string(mean.shape.channels) + " channels; the network's input has " +
                std::to_string(shape.channels));
  }
  if (mean.shape.height < shape.height || mean.shape.width < shape.width) {
    throw Error(path + ": mean is " + std::to_string(mean.shape.height) + "x" + std::to_string(mean.shape.width) +
                ", smaller than the network's " + std::to_string(shape.height) + "x" + std::to_string(shape.width) +
                " input");
  }
  if (mean.shape.height == shape.height && mean.shape.width == shape.width) return mean;
  // Caffe's test-time crop of a larger mean (e.g. 256x256 for a 227x227 input): the centre.
  const int y0 = (mean.shape.height - shape.height) / 2, x0 = (mean.shape.width - shape.width) / 2;
  CaffeMean out;
  out.shape = shape;
  out.values.resize(shape.size());
  std::size_t k = 0;
  for (int c = 0; c < shape.channels; ++c)
    for (int y = 0; y < shape.height; ++y)
      for (int x = 0; x < shape.width; ++x)
        out.values[k++] = mean.values[(static_cast<std::size_t>(c) * static_cast<std::size_t>(mean.shape.height) +
                                       static_cast<std::size_t>(y0 + y)) *
                                          static_cast<std::size_t>(mean.shape.width) +
                                      static_cast<std::size_t>(x0 + x)];
  return out;
}

CaffeConversion caffe_to_onnx(const CaffeSources& sources) {
  if (!(sources.scale > 0.0f) || !std::isfinite(sources.scale)) throw Error("--scale must be a positive number");
  onnx::ModelProto m;
  onnx_attr::start_model(&m, "fool convert caffe", 13);
  auto* g = m.mutable_graph();
  Converter converter(sources, g);
  CaffeConversion c = converter.run();
  g->set_name(c.net_name.empty() ? "caffe" : c.net_name);
  auto meta = [&](const std::string& k, const std::string& v) { onnx_attr::add_metadata(&m, k, v); };
  // The graph takes fool's [0,1] pixels; Caffe's colour nets take BGR.
  meta("fool.channel_order", c.input.channels == 3 ? "bgr" : "rgb");
  meta("fool.scale", "1");
  meta("caffe.prototxt", base_name(sources.prototxt_path));
  meta("caffe.weights", base_name(sources.weights_path));
  meta("caffe.format", c.format);
  if (sources.mean) meta("caffe.mean_image", base_name(sources.mean_path));
  char scale_text[32];
  std::snprintf(scale_text, sizeof scale_text, "%.9g", static_cast<double>(sources.scale));
  meta("caffe.scale", scale_text);
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw Error(sources.prototxt_path + ": the converted graph fails the ONNX checker (" +
                json_check::printable(e.what(), 160) + ")");
  }
  m.SerializeToString(&c.onnx_bytes);
  return c;
}

ModelSpec convert_caffe(const CaffeConvertOptions& o, CaffeConversion* conversion) {
  CaffeSources s;
  s.prototxt_path = o.prototxt;
  s.prototxt_text = read_limited(o.prototxt, kMaxPrototxtBytes, "prototxt");
  s.weights_path = o.weights;
  s.weights_bytes = read_limited(o.weights, kMaxWeightsBytes, ".caffemodel");
  if (!o.mean_image.empty()) {
    s.mean = read_caffe_mean(o.mean_image);
    s.mean_path = o.mean_image;
  }
  s.scale = o.scale;
  CaffeConversion c = caffe_to_onnx(s);
  // Load the result with fool's own loader before it takes the name `out`: written to a hidden
  // temporary beside it, loaded, then renamed (atomic), so a file named `out` is always one fool runs.
  const std::filesystem::path out(o.out);
  const std::string tmp = (out.parent_path() / ("." + out.filename().string() + ".caffe-check")).string();
  write_file_atomic(tmp, c.onnx_bytes.data(), c.onnx_bytes.size());
  ModelSpec spec;
  try {
    spec = OnnxModel::load(tmp).spec();
  } catch (const Error& e) {
    std::remove(tmp.c_str());
    throw Error(o.out + ": the converted model does not load (" + std::string(e.what()) + ")");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(o.out + ": cannot write it (" + ec.message() + ")");
  }
  spec.path = o.out;
  if (conversion) *conversion = std::move(c);
  return spec;
}

}  // namespace fool
