#pragma once
// The oneDNN backend: plans the whole ONNX graph once at load for Intel's oneDNN library (the
// library behind PyTorch's and OpenVINO's CPU convolutions): a memory layout per tensor chosen by
// the library (blocked channels where its kernels want them) with reorders only where a layer needs
// another one, weights reordered once into the layout their kernel reads, BatchNormalization
// folded into the convolution before it, and convolution + bias + activation (+ a residual add,
// oneDNN's "sum" post-op) run as one primitive. No gradients: ascent stays on the torch backend.
// Operators or attributes it does not cover make it decline the model at load with one line.
#include <memory>
#include <string>
#include <vector>

#include "fool/model/classifier.h"

namespace fool {

class OnnxModel;

// Operator types the planner takes, sorted (each with the forms docs/design.md lists).
const std::vector<std::string>& onednn_supported_operators();

// The planned layers, one line each, in execution order: the ONNX operators each runs, fused ones
// joined by '+' (e.g. "Conv+BatchNormalization+Relu", "Conv+Add+Relu", "Gemm+Tanh", "MaxPool").
// Throws fool::Error naming the file and the node for a model the backend declines.
std::vector<std::string> onednn_plan(const OnnxModel& model);

std::unique_ptr<Classifier> make_onednn_classifier(OnnxModel model, const ClassifierOptions& options);

}  // namespace fool
