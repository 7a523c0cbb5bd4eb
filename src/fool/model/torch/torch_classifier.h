#pragma once
// The libtorch backend: runs an ONNX graph as ATen operations, so it can also differentiate a
// class probability with respect to the input pixels.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fool/model/classifier.h"

namespace fool {

class OnnxModel;

// Operator types the libtorch interpreter can run, sorted.
const std::vector<std::string>& torch_supported_operators();
// Throws fool::Error naming the first node whose operator the interpreter cannot run (with its
// opset and the supported list).
void check_torch_supports(const OnnxModel& model);
// docs/operators.md: the supported operators with the forms each accepts, from the operator table.
std::string torch_operators_markdown();

// For ONNX's node tests: runs a graph whose inputs are all initializers with the interpreter and
// returns its first output converted to doubles (row-major), its shape in *shape.
std::vector<double> run_torch_graph(const OnnxModel& model, std::vector<std::int64_t>* shape);

std::unique_ptr<DifferentiableClassifier> make_torch_classifier(OnnxModel model, const ClassifierOptions& options);

}  // namespace fool
