#pragma once
// Structural validation of an untrusted ONNX model before either backend sees it: every tensor's
// data matches its declared shape and type, every name a node or the graph refers to exists, each
// attribute holds the type it declares, the IR and opset versions are ones fool knows, and fool's
// metadata values parse completely. Neither OpenCV's importer nor the libtorch interpreter checks all
// of this (OpenCV reads past short buffers and divides by zero dimensions).
#include <string>

namespace onnx {
class ModelProto;
}

namespace fool {

// The IR and default-domain opset versions fool accepts.
constexpr long kMinOnnxIrVersion = 3, kMaxOnnxIrVersion = 10;
constexpr long kMinOnnxOpset = 7, kMaxOnnxOpset = 22;

// Throws fool::Error "<path>: <what is wrong, naming the tensor/node/key>" on the first problem.
// External-data files are looked up relative to the directory of `path`.
void validate_onnx_model(const onnx::ModelProto& model, const std::string& path);

}  // namespace fool
