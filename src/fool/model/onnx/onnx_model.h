#pragma once
// OnnxModel: one ONNX file read into memory, with what fool needs from it: its ModelSpec and the
// graph the backends read (OpenCV's copy is rewritten in model/opencv/opencv_rewrites.h).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fool/model/classifier.h"

namespace onnx {
class ModelProto;
}

namespace fool {

// What one forward pass of one image needs for the values the graph computes, from ONNX shape
// inference (the batch axis set to 1): every node output whose shape inference can tell, in bytes.
struct ActivationEstimate {
  std::uint64_t total_bytes = 0;    // all node outputs of one image (saturating)
  std::uint64_t largest_bytes = 0;  // the largest of them
  std::string largest_node;         // its node: name (or op type and index) and op type, printable
  std::vector<std::int64_t> largest_dims;
  // The Expand node whose output holds the most copies of its input (output / input elements):
  // OpenCV 4.6's importer takes time that grows faster than linearly in it.
  std::uint64_t largest_expand_repeats = 0;
  std::string largest_expand_node;
  bool inferred = false;  // false: shape inference failed on the graph; nothing was counted
};

class OnnxModel {
 public:
  // Reads and parses the file and turns the forms people export (several outputs, float16 weights,
  // NHWC or uint8 input, dynamic height/width) into one float32 N x C x H x W input and one output,
  // as `overrides` (layout, input_size, output) or the file's metadata say (onnx_forms.h). Throws
  // fool::Error naming the file if it is missing, not ONNX, or its forms need a choice not given.
  static OnnxModel load(const std::string& path, const SpecOverrides& overrides = {});
  ~OnnxModel();
  // A deep copy (each backend owns its model).
  OnnxModel copy() const;
  OnnxModel(OnnxModel&&) noexcept;
  OnnxModel& operator=(OnnxModel&&) noexcept;

  const std::string& path() const { return path_; }
  const onnx::ModelProto& proto() const { return *proto_; }
  // The model's description after overrides. Throws fool::Error if the input is not an image.
  ModelSpec spec(const SpecOverrides& overrides = {}) const;
  // The activation memory of one image (ActivationEstimate); never throws.
  ActivationEstimate activation_estimate() const;
  // A copy that takes any batch (free_batch_axis in onnx_forms.h), or nothing when the batch axis is
  // already free. Unchecked: the caller compares both on a probe batch before it uses the copy.
  std::optional<OnnxModel> with_free_batch() const;
  // Metadata value for key, or "" if absent.
  std::string metadata(const std::string& key) const;

 private:
  void read_classes(const std::vector<std::int64_t>& output_dims, const SpecOverrides& overrides, ModelSpec* s) const;
  Preprocessing read_preprocessing(const SpecOverrides& overrides, int channels, PreprocessingOrigin* origin) const;
  OnnxModel() = default;
  ModelForms forms_;
  std::string path_;
  std::string sha256_;
  std::unique_ptr<onnx::ModelProto> proto_;
};

// Writes a copy of the ONNX file at `path` to `out` (atomically) with fool's metadata set so that
// later commands need no flags: the effective preprocessing (fool.preprocess, fool.channel_order,
// fool.scale, fool.mean, fool.std), fool.output, and, where `overrides` name them, fool.labels,
// fool.layout, fool.input_size and fool.output_name; other metadata and the graph are copied as they
// are. The settings are checked on the model first (as any command would load it). Returns the spec
// the copy loads with. Throws fool::Error naming the file; writes nothing then.
ModelSpec write_annotated_model(const std::string& path, const SpecOverrides& overrides, const std::string& out);

}  // namespace fool
