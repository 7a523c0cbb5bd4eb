#pragma once
// Test helper: builds small ONNX graphs node by node (seeded random weights), for tests that need
// models with particular operators.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/model/onnx/graph_builder.h"

namespace fool::testing {

// Builds ONNX graphs node by node with seeded random weights, on the library's one graph builder
// (model/onnx/graph_builder.h): values are named w<k> (weights), i<k> (int64 tensors), t<k> (node
// outputs); the input is "x", N x input_dims.
class GraphBuilder {
 public:
  GraphBuilder(std::int64_t opset, std::vector<std::int64_t> input_dims) : b_("", opset), rng_(11) {
    b_.model().clear_producer_name();
    b_.model().clear_producer_version();
    b_.input("x", input_dims);
  }
  std::string weight(std::vector<std::int64_t> dims, float lo = -0.5f, float hi = 0.5f) {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<float> v;
    for (std::int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>(rng_.uniform(lo, hi)));
    return b_.float_initializer("w" + std::to_string(count_++), dims, v);
  }
  // An int64 initializer of the given shape (default: 1-D).
  std::string ints(std::vector<std::int64_t> values, std::vector<std::int64_t> dims = {}) {
    return b_.int64_initializer("i" + std::to_string(count_++), values, dims);
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> inputs) {
    const std::string name = op + std::to_string(count_);
    return b_.node(op, name, inputs, {"t" + std::to_string(count_++)});
  }
  // A node with several outputs.
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> inputs, int outputs) {
    auto* n = node(op, std::move(inputs));
    for (int o = 1; o < outputs; ++o) n->add_output("t" + std::to_string(count_++));
    return n;
  }
  static void attr(onnx::NodeProto* n, const std::string& k, std::vector<std::int64_t> v) {
    onnx_build::set_ints(n, k, v);
  }
  static void attr(onnx::NodeProto* n, const std::string& k, std::int64_t v) { onnx_build::set_int(n, k, v); }
  static void attr(onnx::NodeProto* n, const std::string& k, float v) { onnx_build::set_float(n, k, v); }
  static void attr(onnx::NodeProto* n, const std::string& k, const char* v) { onnx_build::set_string(n, k, v); }
  // A one-element float tensor attribute (ConstantOfShape's value).
  static void attr_tensor(onnx::NodeProto* n, const std::string& k, float v) {
    onnx_build::set_tensor(n, k, onnx_build::float_tensor("", {1}, &v, 1));
  }
  void metadata(const std::string& key, const std::string& value) { b_.metadata(key, value); }
  // Declares `output` as the graph's N x classes output and writes the model to `path`. Unless the
  // test named one, the model's metadata names its preprocessing `none` (pixels in [0, 1] as they
  // are), so loading it prints no warning about an assumed preprocessing.
  std::string write(const std::filesystem::path& path, const std::string& output, std::int64_t classes) {
    if (!b_.has_metadata("fool.preprocess")) metadata("fool.preprocess", "none");
    b_.output(output, {classes});
    write_file_atomic(path.string(), b_.serialize());
    return path.string();
  }

 private:
  onnx_build::GraphBuilder b_;
  Rng rng_;
  int count_ = 0;
};

inline std::string out_of(onnx::NodeProto* n) { return n->output(0); }

}  // namespace fool::testing
