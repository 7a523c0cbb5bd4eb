#pragma once
// The libtorch backend's interpreter (internal to model/torch, not installed): an ONNX graph resolved
// once into steps over the operator table of torch_ops.h. At load it resolves every value name to a
// slot, folds the nodes whose inputs are all constants, folds inference BatchNormalization into the
// Conv before it, runs the exporter's GELU and LayerNorm chains as fused kernels, and computes when
// each intermediate tensor is last needed, so that a forward pass holds only the tensors later
// nodes still read.
#include <ATen/ATen.h>
#include <onnx/onnx_pb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "fool/model/onnx/onnx_model.h"
#include "fool/model/torch/torch_ops.h"

namespace fool::torch_internal {

using torch_ops::Node;
using torch_ops::OpInfo;
using torch_ops::Tensors;

// The opset of the default domain the model imports (0 if none).
std::int64_t default_opset(const onnx::ModelProto& proto);
// The runner for a node's operator, or a one-line error naming the operator, the node, the opset and the list.
const OpInfo& operator_for(const std::string& path, const onnx::NodeProto& np, std::int64_t opset);

// One node ready to run: its operator, attributes, and the slots it reads, writes and frees.
struct Step {
  const OpInfo* op = nullptr;
  Node node;
  std::vector<int> inputs;   // -1: omitted optional input
  std::vector<int> outputs;  // -1: omitted output
  std::vector<int> release;  // slots no later step reads: freed right after this one
};

// A graph ready to run: constants folded, chains fused, each intermediate freed after its last reader.
class Interpreter {
 public:
  Interpreter(const OnnxModel& model, const std::string& input_name);

  // Input (model-input values, N x C x H x W) -> the graph's first output.
  at::Tensor run(const at::Tensor& input) const;

  std::size_t steps() const { return steps_.size(); }

  // Whether the graph's output is a Softmax over the class axis of N x K scores, as its last step.
  bool ends_in_softmax() const;

  // The logits: the input of the final Softmax (ends_in_softmax() must hold).
  at::Tensor run_logits(const at::Tensor& input) const;

 private:
  static Tensors run_step(const Step& st, const std::vector<at::Tensor>& v);
  // The slot of a value name, made (empty, not constant) on first use.
  int slot_of(const std::string& name);
  // Resolves one node into a step; a node whose inputs are all constant is run now instead.
  void add_node(const onnx::NodeProto& np, const std::string& path, std::int64_t opset);

  int reads(int slot) const;
  bool is_constant(int slot) const { return slot >= 0 && constant_[static_cast<std::size_t>(slot)]; }
  int add_constant(at::Tensor t);

  // Conv -> BatchNormalization (inference, constant parameters, the Conv's output read only by it)
  // becomes one Conv with scaled weights and a shifted bias: what PyTorch's exporter does for
  // torchvision models, done here for the graphs that keep the pair.
  void fold_batch_norms();
  // The Conv step whose output only BatchNormalization step `bn` reads, if the pair can be folded.
  Step* conv_before_batch_norm(const Step& bn, const std::unordered_map<int, std::size_t>& producer,
                               const std::vector<bool>& removed);
  // Folds `bn` into `conv` (new constant weights and bias; conv takes over bn's output); false if
  // the shapes do not allow it.
  bool fold_batch_norm(const Step& bn, Step* conv);

  // The single step that writes `slot`, if it runs `op` and no one but one step reads the slot.
  Step* only_feeder(int slot, const char* op, const std::unordered_map<int, std::size_t>& producer, int readers = 1);
  // The other input of a two-input step, when one of them is the constant scalar `value`.
  int with_scalar(const Step& st, double value, double tolerance = 1e-6) const;
  std::size_t index_of(const Step* st) const { return static_cast<std::size_t>(st - steps_.data()); }

  // Replaces the chains PyTorch's exporter writes for GELU and (before opset 17) LayerNorm by one
  // step each that runs ATen's fused kernel, as PyTorch eager does.
  void fuse_chains();
  // The chain ending in Mul `st` (x * 0.5 * (1 + erf(x / sqrt 2))) becomes one GELU step.
  void fuse_gelu(Step& st, const std::unordered_map<int, std::size_t>& producer);
  // The chain ending in Div `st` (LayerNorm before opset 17, with its scale and bias when they
  // follow) becomes one LayerNorm step.
  void fuse_layer_norm(Step& st, const std::unordered_map<int, std::size_t>& producer);

  // The step running `op` that reads `slot` (not yet removed), or nullptr.
  Step* feeder_of_reader(int slot, const char* op);

  // Each non-constant slot is freed after the last step that reads it (outputs nobody reads: at once).
  void plan_releases();

  std::unordered_map<std::string, int> slots_;
  std::vector<at::Tensor> values_;  // per slot: the constant, or undefined for values computed per call
  std::vector<bool> constant_;
  std::vector<bool> removed_;  // per step, while fusing
  std::vector<Step> steps_;    // Step::node points into the ModelProto, which the owning classifier keeps alive
  int input_ = -1, output_ = -1;
};

}  // namespace fool::torch_internal
