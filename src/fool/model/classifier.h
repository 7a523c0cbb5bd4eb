#pragma once
// Classifier: the one batched scoring interface of fool. A batch of images (C x H x W floats in
// [0,1]) goes in, an N x K matrix of softmax probabilities comes out, rows in input order. The
// model is loaded once; its preprocessing (input size, channel order, scale, mean/std, whether the
// graph ends in softmax or in logits) is part of its ModelSpec, never of the caller's code.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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
  std::vector<float> mean;  // one per channel, or empty for 0
  std::vector<float> std;   // one per channel, or empty for 1
  bool output_is_probabilities = true;  // false: the graph ends in logits and fool applies softmax
};

// What a model file says about itself, after any user overrides.
struct ModelSpec {
  std::string path;
  std::string sha256;
  std::string input_name;
  std::string output_name;
  ImageShape input;  // C x H x W the model expects
  int fixed_batch = 0;  // 0: the batch axis is free; else the graph takes exactly this many images a call
  int num_classes = 0;
  std::vector<std::string> labels;  // num_classes names
  int background_class = -1;  // a class that is "not a real class" (fooling images); -1: none
  Preprocessing preprocessing;
  std::int64_t opset = 0;
  std::string producer;
  std::vector<std::string> operators;  // distinct operator types in the graph, sorted
};

// User overrides of what the model file says (flags of the CLI).
struct SpecOverrides {
  std::optional<ChannelOrder> channel_order;
  std::optional<float> scale;
  std::optional<std::vector<float>> mean;
  std::optional<std::vector<float>> std;
  std::optional<bool> output_is_probabilities;
  std::optional<std::vector<std::string>> labels;
};

// A registered backend (fool/model/registry.h), or Auto: probe every registered backend and choose
// (compare_backends in fool/model/factory.h). Names come from the registry (defined in registry.cc).
enum class Backend { OpenCv, Torch, Auto };
const NameTable<Backend>& backend_names();  // "auto", then the registered names: opencv, torch
std::string backend_name(Backend b);
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
};

struct ClassifierOptions {
  Backend backend = Backend::Auto;
  // Auto: of two backends that agree, take torch if its probe was clearly faster. false: take
  // OpenCV whenever both agree (a choice that does not depend on timing, e.g. for every process of
  // an MPI job).
  bool auto_compares_speed = true;
  int threads = 0;  // 0: leave the backend's default
  SpecOverrides overrides;
};

// Checks that a batch fits a model's input; throws fool::Error otherwise.
void check_batch_shape(const ModelSpec& spec, const ImageBatch& images);
// Applies the preprocessing to one image: writes C x H x W model-input floats to `out`.
void preprocess_image(const Preprocessing& pre, const ImageShape& shape, const float* in, float* out);
// Scores a batch in chunks of at most `chunk` images (0: all at once); rows stay in input order.
Matrix score_in_chunks(Classifier& classifier, const ImageBatch& images, std::size_t chunk);
// Softmax of each row in place (numerically stable).
void softmax_rows(Matrix& m);

}  // namespace fool
