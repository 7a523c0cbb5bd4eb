#pragma once
// Classifier: the one batched scoring interface of fool. A batch of images (C x H x W floats in
// [0,1]) goes in, an N x K matrix of softmax probabilities comes out, rows in input order. The
// model is loaded once; its preprocessing (input size, channel order, scale, mean/std, whether the
// graph ends in softmax or in logits) is part of its ModelSpec, never of the caller's code.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fool/core/image.h"
#include "fool/core/names.h"

namespace fool {

// The order of a three-channel model's input planes (fool's images are RGB).
enum class ChannelOrder { Rgb, Bgr };
const NameTable<ChannelOrder>& channel_order_names();  // rgb, bgr
std::string channel_order_name(ChannelOrder order);
ChannelOrder parse_channel_order(const std::string& name);  // throws fool::Error naming `name`

// How an image in [0,1] becomes the model's input tensor: x' = (x * scale - mean[c]) / std[c],
// channels reordered to BGR first if channel_order is Bgr.
struct Preprocessing {
  ChannelOrder channel_order = ChannelOrder::Rgb;  // three-channel models only
  float scale = 1.0f;
  std::vector<float> mean;              // one per channel, or empty for 0
  std::vector<float> std;               // one per channel, or empty for 1
  bool output_is_probabilities = true;  // false: the graph ends in logits and fool applies softmax
  std::string preset;                   // the named preprocessing these values start from ("" if none was named)
};

// Named preprocessing (--preprocess): how a model was trained to see its pixels.
//   none         RGB (or gray), [0, 1]
//   torchvision  RGB, [0, 1], mean 0.485,0.456,0.406, std 0.229,0.224,0.225 (ImageNet)
//   caffe        BGR, [0, 255], minus 104,117,123 (the paper's CaffeNet)
//   tf           RGB, [-1, 1]: x * 255 / 127.5 - 1 (Keras' "tf" mode)
//   mnist        gray, [0, 1], mean 0.1307, std 0.3081 (PyTorch's MNIST examples)
enum class PreprocessPreset { None, Torchvision, Caffe, Tf, Mnist };
const NameTable<PreprocessPreset>& preprocess_preset_names();
std::string preprocess_preset_name(PreprocessPreset p);
PreprocessPreset parse_preprocess_preset(const std::string& name);  // throws fool::Error listing the names
// The preset's pixel settings for a model with `channels` input channels (output form left as in
// `base`); throws fool::Error if the preset does not fit (torchvision and caffe are for colour
// models, mnist for gray ones).
Preprocessing apply_preset(PreprocessPreset p, int channels, Preprocessing base = {});

// Where each preprocessing setting of a ModelSpec came from, in words for fool info and the
// warning: "default", "model metadata", "--preprocess torchvision", "--mean", "input type uint8",
// "graph (ends in Softmax)", ...
struct PreprocessingOrigin {
  std::string channel_order = "default", scale = "default", mean = "default", std = "default", output;
  // True when no pixel setting came from the model's metadata, a flag or its input type: fool
  // assumed `none`.
  bool guessed() const;
};

// How a model's input is laid out in the file: N x C x H x W or N x H x W x C.
enum class InputLayout { Nchw, Nhwc };
const NameTable<InputLayout>& input_layout_names();  // nchw, nhwc
std::string input_layout_name(InputLayout layout);
InputLayout parse_input_layout(const std::string& name);

// "HxW" (e.g. "224x224") -> {H, W}; throws fool::Error naming `what` unless both are 1..65536.
std::pair<int, int> parse_input_size(const std::string& text, const std::string& what);

// What the model file itself had before fool turned it into one float32 NCHW image input and one
// output (model/onnx/onnx_forms.h).
struct ModelForms {
  InputLayout layout = InputLayout::Nchw;
  std::string layout_origin = "input shape";  // "input shape", "--layout", "metadata fool.layout"
  bool layout_ambiguous = false;              // the shape fits both layouts (e.g. [?,3,3,3] or all dynamic)
  std::string input_type = "float32";         // the file's input element type: float32, float16, bfloat16, uint8
  std::string weights_type = "float32";       // float16 or bfloat16 when the file's weights were
  std::string input_size_origin = "model";    // "model" (fixed in the file), "--input-size", "metadata fool.input_size"
  std::vector<std::string> outputs;           // every output the file has
  std::string format = "onnx";                // "onnx" or "torchscript"
};

// What a model file says about itself, after any user overrides.
struct ModelSpec {
  std::string path;
  std::string sha256;
  std::string input_name;
  std::string output_name;
  ImageShape input;     // C x H x W the model expects
  int fixed_batch = 0;  // 0: the batch axis is free; else the graph takes exactly this many images a call
  int num_classes = 0;
  std::vector<std::string> labels;  // num_classes names
  int background_class = -1;        // a class that is "not a real class" (fooling images); -1: none
  Preprocessing preprocessing;
  PreprocessingOrigin origin;
  ModelForms forms;
  // Lines fool says about what it assumed of the model (no preprocessing anywhere, an ambiguous
  // layout); the CLI prints them as warnings (ClassifierOptions::on_warning).
  std::vector<std::string> warnings;
  std::int64_t opset = 0;
  std::string producer;
  std::vector<std::string> operators;  // distinct operator types in the graph, sorted
};

// User overrides of what the model file says (flags of the CLI).
struct SpecOverrides {
  std::optional<PreprocessPreset> preset;  // the starting point; the fields below refine it
  std::optional<ChannelOrder> channel_order;
  std::optional<float> scale;
  std::optional<std::vector<float>> mean;
  std::optional<std::vector<float>> std;
  std::optional<bool> output_is_probabilities;
  std::optional<std::vector<std::string>> labels;
  std::optional<InputLayout> layout;
  std::optional<std::pair<int, int>> input_size;  // height, width
  std::string output;                             // the output to use ("": the only one)
  // True when nothing is overridden (labels aside): the model's own description holds.
  bool feeds_as_model_says() const;
};

// A backend by the name it is registered under (fool/model/registry.h: "opencv", "torch", ...), or
// Auto: probe every registered backend and choose (compare_backends in fool/model/factory.h). The
// name is what the command line, summaries, checkpoints and MPI broadcasts carry; this type lists no
// backend, so adding one touches only the registry.
class Backend {
 public:
  static const Backend Auto;
  Backend() = default;  // Auto
  explicit Backend(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  bool operator==(const Backend& other) const { return name_ == other.name_; }
  bool operator!=(const Backend& other) const { return name_ != other.name_; }

 private:
  std::string name_ = "auto";
};
inline const Backend Backend::Auto{};
const NameTable<Backend>& backend_names();  // "auto", then the registered names: opencv, torch[, onednn]
std::string backend_name(const Backend& b);
Backend parse_backend(const std::string& name);  // throws fool::Error naming `name` and the known ones

class Classifier {
 public:
  virtual ~Classifier() = default;
  virtual const ModelSpec& spec() const = 0;
  virtual Backend backend() const = 0;
  // N x K softmax probabilities for N images of shape spec().input.
  virtual Matrix probabilities(const ImageBatch& images) = 0;
};

// A classifier that can also give the gradient of a class probability with respect to its
// input pixels (in the [0,1] image space, through the preprocessing).
class DifferentiableClassifier : public Classifier {
 public:
  // Probabilities as probabilities(), and in *gradients (N x C x H x W) the gradient of
  // p[i][targets[i]] with respect to image i.
  virtual Matrix probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                             ImageBatch* gradients) = 0;
  // N x K log-probabilities, and in *gradients the gradient of log p[i][targets[i]]: a backend that
  // has the logits takes both from their log-softmax, so they stay finite and useful where p
  // underflows to 0 in float. This default takes the log of probabilities_and_gradients' p and
  // divides its gradient by p (-inf and 0 where p is 0).
  virtual Matrix log_probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                                 ImageBatch* gradients);
};

struct ClassifierOptions {
  Backend backend = Backend::Auto;
  // Auto: of two backends that agree, take torch if its probe was clearly faster. false: take
  // OpenCV whenever both agree (a choice that does not depend on timing, e.g. for every process of
  // an MPI job).
  bool auto_compares_speed = true;
  int threads = 0;  // 0: leave the backend's default
  // The memory the activations of a probe batch may need, in bytes (--max-memory); 0: the memory
  // available when the model is loaded. A model needing more is refused at load (factory.h).
  std::uint64_t max_memory = 0;
  // The most images one call of the run will give the model, once its spec is known (evolve:
  // --eval-batch, times the crops; ascend: every class at once), and the flag that sets it, for
  // the refusal: the memory budget is checked for these (and at least the probe's). Empty: the
  // probe's batch alone.
  struct CallBatch {
    std::uint64_t images = 0;
    std::string why;  // e.g. "--eval-batch 50"
  };
  std::function<CallBatch(const ModelSpec&)> call_batch;
  SpecOverrides overrides;
  // Receives ModelSpec::warnings once per load (the CLI prints them); empty: they stay in the spec.
  std::function<void(const std::string&)> on_warning;
};

// Applies the user's preprocessing overrides (preset, then single settings) to `pre`, noting their
// origin, and checks the result against the channel count; throws fool::Error without a path.
void apply_overrides(const SpecOverrides& overrides, int channels, Preprocessing* pre, PreprocessingOrigin* origin);
// What fool says it assumed about a model (ModelSpec::warnings): no preprocessing named anywhere, an
// input shape that fits both layouts.
std::vector<std::string> assumption_warnings(const ModelSpec& spec);

// Passes spec.warnings to options.on_warning, if set.
void report_warnings(const ModelSpec& spec, const ClassifierOptions& options);

// Checks that a batch fits a model's input; throws fool::Error otherwise.
void check_batch_shape(const ModelSpec& spec, const ImageBatch& images);
// Checks a gradient request: the batch fits, one target per image, each a class of the model.
void check_gradient_request(const ModelSpec& spec, const ImageBatch& images, const std::vector<int>& targets);
// The preprocessing as one multiply-add per model-input channel: x' = x * scale[c] + shift[c]
// (scale = pre.scale / std, shift = -mean / std), channel c of the model's order.
struct ChannelAffine {
  std::vector<float> scale, shift;
};
ChannelAffine channel_affine(const Preprocessing& pre, int channels);
// Applies the preprocessing to one image: writes C x H x W model-input floats to `out`.
void preprocess_image(const Preprocessing& pre, const ImageShape& shape, const float* in, float* out);
// Scores a batch in chunks of at most `chunk` images (0: all at once); rows stay in input order.
Matrix score_in_chunks(Classifier& classifier, const ImageBatch& images, std::size_t chunk);
// Softmax of each row in place (numerically stable).
void softmax_rows(Matrix& m);

}  // namespace fool
