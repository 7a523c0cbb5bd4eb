#pragma once
// Lowering: the state of lower_graph (onednn_graph.h) while it walks the ONNX nodes in order: the
// values and layers made so far, the constants and initializers, who reads what (for fusions and
// for releasing weights). Internal to the oneDNN backend: the graph bookkeeping is in
// onednn_lowering.cc, each operator's lowering in onednn_lower_ops.cc.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fool/model/classifier.h"
#include "fool/model/onednn/onednn_graph.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool::onednn {

// A constant: an initializer, a Constant node's value, or an Identity of one.
struct Const {
  std::vector<std::int64_t> dims;
  std::vector<float> f;         // float tensors
  std::vector<std::int64_t> i;  // int64 tensors
  bool is_int = false;
  std::size_t numel() const { return is_int ? i.size() : f.size(); }
};

// Node n's attribute `name`, or null.
const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name);

// Lowers one model's nodes into a Graph (run), declining with one line naming the node for anything
// it does not cover.
class Lowering {
 public:
  Lowering(const OnnxModel& model, const ModelSpec& spec) : model_(model), fixed_batch_(spec.fixed_batch) {
    g_.path = model.path();
  }

  // Lets constant() take an initializer's bytes out of the model once its last reader has them.
  void consume(onnx::ModelProto* proto) {
    for (auto& t : *proto->mutable_graph()->mutable_initializer()) owned_[t.name()] = &t;
  }

  Graph run(const ModelSpec& spec);

 private:
  [[noreturn]] void decline(const std::string& why) const;

  // `consumed`: the same tensor, whose float bytes are given back as they are copied and then freed.
  Const read_tensor(const onnx::TensorProto& t, const std::string& what, onnx::TensorProto* consumed = nullptr) const;

  // Appends the floats in `from` to `to` in blocks (into reserved, untouched memory), giving the
  // pages of `from` already copied back to the system (the string is freed after), so that a large
  // weight is not held twice while it is copied.
  static void copy_releasing(std::string* from, std::vector<float>* to);

  // Mul(x, Sigmoid(x)) and Mul(x, HardSigmoid(x) with alpha 1/6, beta 1/2), the Sigmoid read by the
  // Mul alone: one swish / hard swish of x; the Sigmoid node is skipped.
  void find_swish(const onnx::GraphProto& graph);

  int new_value(std::vector<std::int64_t> dims);
  const std::vector<std::int64_t>& dims(int v) const { return g_.values[static_cast<std::size_t>(v)].dims; }

  bool is_const(const std::string& name) const { return consts_.count(name) > 0 || inits_.count(name) > 0; }
  Const constant(int input) const;
  int value(int input) const;
  std::int64_t attr_i(const std::string& name, std::int64_t def) const;
  float attr_f(const std::string& name, float def) const;
  std::vector<std::int64_t> attr_ints(const std::string& name, std::vector<std::int64_t> def) const;
  std::string attr_s(const std::string& name, const std::string& def) const;
  // Only the attributes in `known` may appear (anything else could change the result).
  void only_attrs(std::initializer_list<const char*> known) const;
  void one_output() const;

  int add_layer(Layer l, std::vector<std::int64_t> out_dims);
  // The layer that produced value v if the current node is v's only reader and the layer can take
  // one more fused operation; the current node's output then names the same value.
  Layer* fusable(int v, std::initializer_list<Kind> kinds);
  // Names value v `name`; its readers are those of every name it has.
  void bind(const std::string& name, int v);
  // The current node's output is value v, which the node (its only reader) fused into v's layer.
  void rename(int v, const std::string& what);

  void eltwise(int v, std::vector<Eltwise> ops, const std::string& what);

  // Conv and pooling windows over H x W: kernel, strides, dilations, pads, auto_pad.
  struct Window {
    dnnl::memory::dims kernel, strides, dilates, pad_l, pad_r;
  };
  Window window(const std::vector<std::int64_t>& kernel, const std::vector<std::int64_t>& extra_pads) const;
  std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t dil, std::int64_t pl,
                        std::int64_t pr) const;

  // A Pad of zeros in front of the current node's input 0: returns {source name, pads}.
  std::pair<std::string, std::vector<std::int64_t>> take_pad();

  void lower(const onnx::NodeProto& n);
  // The lowerings of lower's own cases: a Constant node, an Identity or Dropout, a swish found by
  // find_swish, a Clip.
  void constant_node(const onnx::NodeProto& n);
  void pass_through(const onnx::NodeProto& n);
  void swish();
  void clip(const onnx::NodeProto& n);

  static std::string list();

  void conv();

  void batch_norm();

  void binary(const std::string& op);
  // An Add, Mul, Sub or Div with a constant operand (the first one if `constant_first`).
  void binary_with_constant(const std::string& op, bool constant_first);
  // MatMul + Add of a constant bias: the fully connected layer's bias. Whether it was fused into v's layer.
  bool fuse_bias(const std::string& op, int v, const Const& c);
  // Constant c's dims broadcast over a tensor of dims vd (a leading batch axis of 1 dropped, 1s put
  // in front), or declines.
  std::vector<std::int64_t> broadcast_dims(const Const& c, const std::vector<std::int64_t>& vd) const;
  // An Add or Mul of two tensors.
  void binary_of_tensors(const std::string& op);
  // A residual Add of va and vb: the sum post-op of the convolution computed later of the two,
  // reading the other (already computed) tensor. Whether it was fused.
  bool fuse_residual(int va, int vb);
  // Whether value `small` broadcasts over value `big` (each axis the same or 1).
  bool fits(int big, int small) const;

  void pool(const std::string& op);

  void global_pool(const std::string& op);

  // ReduceMean over H and W (MnasNet's head): a global average pooling, then N x C unless keepdims.
  void reduce_mean();

  void flatten(int v, const std::string& what);

  void reshape();

  void inner_product(int v, Const w, bool transposed, float alpha, const std::vector<float>* bias,
                     const std::string& what);

  void gemm();

  void matmul();

  void concat();

  void softmax();

  // Pad of zeros over H and W: folded into the Conv or AveragePool that reads it (take_pad).
  void pad();

  std::int64_t model_opset() const;

  const OnnxModel& model_;
  std::int64_t fixed_batch_ = 0;  // the file's fixed batch size, 0 if the batch axis is free
  Graph g_;
  const onnx::NodeProto* node_ = nullptr;
  int k_ = 0;                           // index of node_
  std::unordered_map<int, int> vuses_;  // value id -> its readers
  std::string where_;
  std::unordered_map<std::string, Const> consts_;  // Constant nodes' values
  std::unordered_map<std::string, const onnx::TensorProto*> inits_;
  std::unordered_map<std::string, onnx::TensorProto*> owned_;       // consume(): the model's initializers
  mutable std::unordered_map<std::string, std::set<int>> readers_;  // initializer -> nodes that read it
  std::unordered_map<std::string, int> ids_;                        // value name -> value id
  std::unordered_map<std::string, int> uses_;                       // readers of each name (graph output: one)
  std::unordered_map<std::string, int> producer_;                   // name -> node index
  std::unordered_map<int, int> layer_of_;                           // value id -> the layer that writes it
  std::map<int, std::pair<std::string, Eltwise>> swish_;            // Mul node index -> (x, the eltwise)
  std::set<int> skipped_;
  std::unordered_map<std::string, std::pair<std::string, std::vector<std::int64_t>>> pads_;
};

}  // namespace fool::onednn
