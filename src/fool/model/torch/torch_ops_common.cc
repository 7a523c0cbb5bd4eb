// The operator table of the libtorch interpreter, and the helpers its operator files share.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <sstream>

#include "fool/model/torch/torch_ops.h"

namespace fool::torch_ops {

std::int64_t Node::i(const std::string& k, std::int64_t def) const { return has(k) ? attrs.at(k)->i() : def; }
float Node::f(const std::string& k, float def) const { return has(k) ? attrs.at(k)->f() : def; }
std::string Node::s(const std::string& k, const std::string& def) const { return has(k) ? attrs.at(k)->s() : def; }
std::vector<std::int64_t> Node::ints(const std::string& k, std::vector<std::int64_t> def) const {
  if (!has(k)) return def;
  return {attrs.at(k)->ints().begin(), attrs.at(k)->ints().end()};
}
int Node::num_outputs() const { return proto->output_size(); }

at::Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& where) {
  std::vector<std::int64_t> dims(t.dims().begin(), t.dims().end());
  std::int64_t count = 1;
  for (auto d : dims) count *= d;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    throw Error(where + ": tensor '" + t.name() + "' keeps its data in an external file, which fool does not read");
  }
  const bool raw = t.has_raw_data();
  auto from_raw = [&](at::ScalarType type, std::size_t elem) {
    if (t.raw_data().size() != static_cast<std::size_t>(count) * elem) {
      throw Error(where + ": tensor '" + t.name() + "' has " + std::to_string(t.raw_data().size()) +
                  " bytes of data for its shape");
    }
    // The model's bytes, not a copy: the classifier keeps the ModelProto alive as long as its
    // tensors, and no operator writes into its inputs. (ATen needs elements aligned to their size.)
    char* data = const_cast<char*>(t.raw_data().data());
    const at::Tensor view = at::from_blob(data, dims, at::TensorOptions().dtype(type));
    return reinterpret_cast<std::uintptr_t>(data) % elem == 0 ? view : view.clone();
  };
  auto check_count = [&](int have) {
    if (have != count)
      throw Error(where + ": tensor '" + t.name() + "' has " + std::to_string(have) + " values for its shape");
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (raw) return from_raw(at::kFloat, 4);
      check_count(t.float_data_size());
      return at::from_blob(const_cast<float*>(t.float_data().data()), dims, at::kFloat).clone();
    case onnx::TensorProto::DOUBLE:  // computed in float32, like everything else
      if (raw) return from_raw(at::kDouble, 8).to(at::kFloat);
      check_count(t.double_data_size());
      return at::from_blob(const_cast<double*>(t.double_data().data()), dims, at::kDouble).to(at::kFloat);
    case onnx::TensorProto::INT64:
      if (raw) return from_raw(at::kLong, 8);
      check_count(t.int64_data_size());
      return at::from_blob(const_cast<std::int64_t*>(t.int64_data().data()), dims, at::kLong).clone();
    case onnx::TensorProto::INT32:  // integers are int64 inside the interpreter
      if (raw) return from_raw(at::kInt, 4).to(at::kLong);
      check_count(t.int32_data_size());
      return at::from_blob(const_cast<std::int32_t*>(t.int32_data().data()), dims, at::kInt).to(at::kLong);
    case onnx::TensorProto::BOOL:
      if (raw) return from_raw(at::kBool, 1);
      check_count(t.int32_data_size());
      return at::from_blob(const_cast<std::int32_t*>(t.int32_data().data()), dims, at::kInt).to(at::kBool);
    default:
      throw Error(where + ": tensor '" + t.name() + "' has ONNX data type " + std::to_string(t.data_type()) +
                  ", which fool does not support");
  }
}

const at::Tensor& in(const Node& n, const Tensors& x, std::size_t k) {
  if (k >= x.size() || !x[k].defined()) throw n.error("missing input " + std::to_string(k));
  return x[k];
}

std::vector<std::int64_t> to_ints(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

at::ScalarType scalar_type_of(const Node& n, std::int64_t onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::DOUBLE:  // float32 inside the interpreter
      return at::kFloat;
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::INT32:  // int64 inside the interpreter
      return at::kLong;
    case onnx::TensorProto::BOOL:
      return at::kBool;
    default:
      throw n.error("ONNX data type " + std::to_string(onnx_type) + " is not supported");
  }
}

const std::vector<OpInfo>& operator_table() {
  static const std::vector<OpInfo> table = [] {
    std::vector<OpInfo> t;
    add_elementwise_ops(t);
    add_nn_ops(t);
    add_shape_ops(t);
    add_reduce_ops(t);
    std::sort(t.begin(), t.end(), [](const OpInfo& a, const OpInfo& b) { return std::string(a.name) < b.name; });
    return t;
  }();
  return table;
}

const OpInfo* find_operator(const std::string& op_type) {
  const auto& t = operator_table();
  auto it = std::lower_bound(t.begin(), t.end(), op_type,
                             [](const OpInfo& a, const std::string& name) { return a.name < name; });
  return it != t.end() && op_type == it->name ? &*it : nullptr;
}

std::string operators_markdown() {
  std::ostringstream s;
  s << "# Operators of the torch backend\n\n"
    << "<!-- Generated from the operator table in src/fool/model/torch/torch_ops_*.cc by `fool_operators_doc`;\n"
    << "     a unit test fails when this file and the table disagree. Do not edit by hand. -->\n\n"
    << "The libtorch interpreter (`--backend torch`) runs these " << operator_table().size()
    << " operators of the default ONNX domain, at opsets 7 to 17, in the forms the ONNX operator definitions give for "
       "each opset (for example Slice, Split, Squeeze, Unsqueeze and ReduceSum take their axes from inputs from "
       "opset 13 on, and from attributes before). A model with any other operator fails to load with one line naming "
       "the operator, the node and the opset.\n\n"
    << "Tensors are float32, int64 or bool inside the interpreter: double inputs compute in float32, int32 in "
       "int64.\n\n"
    << "| operator | group | notes |\n|---|---|---|\n";
  for (const auto& op : operator_table()) s << "| " << op.name << " | " << op.group << " | " << op.notes << " |\n";
  return s.str();
}

}  // namespace fool::torch_ops
