#pragma once
// The libtorch interpreter's operators: one named function per ONNX operator, all registered in
// one table (operator_table()) that the interpreter dispatches through, that names the supported
// operators in the unsupported-operator error, and that generates docs/operators.md.
// Internal to the torch backend: includes ATen, so only the backend's .cc files include it.
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fool/core/error.h"

namespace onnx {
class NodeProto;
class AttributeProto;
class TensorProto;
}  // namespace onnx

namespace fool::torch_ops {

using Tensors = std::vector<at::Tensor>;

// One ONNX node as an operator sees it: its attributes by name, the model's default-domain opset,
// and where it is for error messages ("model.onnx: node 'name' (Op)").
struct Node {
  const onnx::NodeProto* proto = nullptr;
  std::map<std::string, const onnx::AttributeProto*> attrs;
  std::int64_t opset = 0;
  std::string where;
  // Parameters of a fused step the interpreter made from several nodes (see fused_gelu, fused_layer_norm).
  std::vector<double> fused;

  bool has(const std::string& k) const { return attrs.count(k) != 0; }
  std::int64_t i(const std::string& k, std::int64_t def) const;
  float f(const std::string& k, float def) const;
  std::string s(const std::string& k, const std::string& def) const;
  std::vector<std::int64_t> ints(const std::string& k, std::vector<std::int64_t> def = {}) const;
  int num_outputs() const;
  // A one-line fool::Error that names the node.
  Error error(const std::string& what) const { return Error(where + ": " + what); }
};

// Runs one node: its inputs (an undefined tensor for an omitted optional input) -> its outputs.
using OpFn = Tensors (*)(const Node&, const Tensors&);

// One supported operator: its ONNX name, its group (the file it lives in), the function that runs
// it, and what the docs say about the forms it accepts.
struct OpInfo {
  const char* name;
  const char* group;
  OpFn run;
  const char* notes;
};

// Every supported operator, sorted by name.
const std::vector<OpInfo>& operator_table();
// The entry for an operator type, or nullptr.
const OpInfo* find_operator(const std::string& op_type);
// The table as the Markdown of docs/operators.md.
std::string operators_markdown();

// The groups, each in its own file (torch_ops_<group>.cc).
void add_elementwise_ops(std::vector<OpInfo>& table);
void add_nn_ops(std::vector<OpInfo>& table);
void add_shape_ops(std::vector<OpInfo>& table);
void add_reduce_ops(std::vector<OpInfo>& table);

// Steps the interpreter substitutes for node chains that exporters write out in full, so that they
// run as PyTorch's own fused kernels: x * 0.5 * (1 + erf(x / sqrt 2)) (Node::fused empty), and
// LayerNorm before opset 17, (x - mean) / sqrt(var + eps) [* scale] [+ bias] over the last
// Node::fused[0] axes with eps = Node::fused[1]; inputs x, scale or undefined, bias or undefined.
extern const OpInfo fused_gelu;
extern const OpInfo fused_layer_norm;

// Shared helpers for the operator files.
// The tensor an ONNX TensorProto holds; may share the proto's bytes, so the proto must outlive it.
at::Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& where);
const at::Tensor& in(const Node& n, const Tensors& x, std::size_t k);
inline bool present(const Tensors& x, std::size_t k) { return k < x.size() && x[k].defined(); }
inline std::int64_t norm_axis(std::int64_t axis, std::int64_t rank) { return axis < 0 ? axis + rank : axis; }
std::vector<std::int64_t> to_ints(const at::Tensor& t);
// The ONNX element type code -> ATen scalar type, throwing n.error for types fool does not run.
at::ScalarType scalar_type_of(const Node& n, std::int64_t onnx_type);

}  // namespace fool::torch_ops
