#pragma once
// OnnxModel: one ONNX file read into memory, with what fool needs from it: its ModelSpec, a
// copy simplified for OpenCV's importer, and the raw graph for the libtorch interpreter.
#include <memory>
#include <string>

#include "fool/model/classifier.h"

namespace onnx {
class ModelProto;
}

namespace fool {

class OnnxModel {
 public:
  // Reads and parses the file; throws fool::Error naming it if it is missing or not ONNX.
  static OnnxModel load(const std::string& path);
  ~OnnxModel();
  OnnxModel(OnnxModel&&) noexcept;
  OnnxModel& operator=(OnnxModel&&) noexcept;

  const std::string& path() const { return path_; }
  const onnx::ModelProto& proto() const { return *proto_; }
  // The model's description after overrides. Throws fool::Error if the input is not an image.
  ModelSpec spec(const SpecOverrides& overrides = {}) const;
  // The graph as OpenCV 4.6's importer needs it, serialised: pass-through nodes (Identity, Dropout)
  // removed, initializers dropped from the inputs, Gemm's alpha and beta folded into constant B and C, Clip's
  // constant min/max inputs turned into attributes (forms that importer otherwise gets wrong).
  std::string simplified_for_opencv() const;
  // Metadata value for key, or "" if absent.
  std::string metadata(const std::string& key) const;

 private:
  OnnxModel() = default;
  std::string path_;
  std::string sha256_;
  std::unique_ptr<onnx::ModelProto> proto_;
};

}  // namespace fool
