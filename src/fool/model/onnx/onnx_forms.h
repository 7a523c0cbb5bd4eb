#pragma once
// The forms people export, turned into the one form both backends run: a single float32 image input
// N x C x H x W of fixed C, H, W and a single float32 output. Runs once at load, before either
// backend sees the graph:
//   - several outputs: the one named by --output (or metadata fool.output_name) is kept and the
//     nodes only the others need are removed; without a choice the error lists the names;
//   - float16 / bfloat16 initializers, constants, casts, inputs and outputs become float32 (the
//     computation runs in float32 on the float16-rounded weights);
//   - NHWC inputs (N x H x W x C, Keras/TF exports) get a Transpose from a new NCHW input;
//   - uint8 inputs get a float input (the 8-bit pixel values 0-255): a Cast to float after the input
//     becomes a pass-through, anything else gets Round + Cast to uint8;
//   - dynamic or non-square height/width: --input-size HxW (or metadata fool.input_size) fixes them,
//     and must agree with a fixed size.
// Include inside .cc files only (protobuf headers).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fool/model/classifier.h"

namespace onnx {
class ModelProto;
}

namespace fool {

// What the user (flags) or the file's metadata says about the forms; unset: detect.
struct FormChoices {
  std::optional<InputLayout> layout;
  std::string layout_source;                      // "--layout" or "metadata fool.layout"
  std::optional<std::pair<int, int>> input_size;  // height, width
  std::string input_size_source;
  std::string output;  // the output to keep; "" keeps the only one
};

// Rewrites `model` in place into fool's form; `path` names the file in errors. Returns what the file
// had (ModelForms: layout, element types, outputs) for the ModelSpec.
ModelForms normalise_forms(onnx::ModelProto* model, const std::string& path, const FormChoices& choices);

// A graph exported with a fixed batch axis (B images a call), rewritten to take any batch: the input's
// and output's first axis become symbolic, inferred shapes are dropped, and constant Reshape targets
// that start with B (`x.view(B, -1)` exported) start with 0 (copy the input's axis) instead. Returns
// false, leaving `model` as it was, when the batch axis is not fixed. The result is a guess that only
// running both forms can confirm (the caller compares them on a probe batch): a graph may also
// build tensors of B rows in other ways.
bool free_batch_axis(onnx::ModelProto* model);

}  // namespace fool
