#pragma once
// The graph rewrites fool applies before OpenCV 4.6's importer reads an ONNX model: forms it gets
// wrong or cannot import, rewritten into forms it gets right. The ONNX loader knows nothing of them.
#include <string>
#include <vector>

#include "fool/model/onnx/onnx_model.h"

namespace fool {

// One elementwise operation on the model input, x = x <op> value, value C x H x W (broadcast out).
struct InputOp {
  char op = '-';  // '+', '-', '*', '/'
  std::vector<float> value;
};

// The graph as OpenCV 4.6's importer needs it, serialised: pass-through nodes (Identity, Dropout)
// removed, initializers dropped from the inputs, Gemm's alpha and beta folded into constant B and C, Clip's
// constant min/max inputs turned into attributes, squeeze-and-excitation products of [N,C,1,1] by
// [N,C,H,W] reshaped to one image of N*C channels, shape arithmetic (Shape -> Gather -> ... ->
// Reshape/Slice, ShuffleNet's channel split and shuffle) replaced by constants from ONNX shape
// inference, a dynamic batch kept as Reshape's 0 (forms that importer otherwise gets wrong or
// cannot import, some only for batches of more than one image).
//
// With `input_ops`, also folds the graph's leading Sub/Div/Add/Mul of the input by a constant
// (baked-in preprocessing: a mean, a std, a per-pixel mean image) out of the graph into
// *input_ops, which the caller applies to the C x H x W input itself: OpenCV 4.6 mis-handles
// those constants for batches of more than one image.
std::string simplified_for_opencv(const OnnxModel& model, std::vector<InputOp>* input_ops = nullptr);

}  // namespace fool
