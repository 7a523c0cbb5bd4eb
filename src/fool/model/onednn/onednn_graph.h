#pragma once
// The oneDNN backend's view of an ONNX graph: the nodes lowered once, at load, into layers of
// oneDNN primitives with their fusions decided (BatchNormalization folded into the convolution
// before it; an activation, a residual Add, Sigmoid * x (swish) and HardSigmoid * x (hard swish)
// folded into the convolution or fully connected layer that feeds them). Batch-size free: the
// planner (onednn_classifier.cc) turns it into primitives for one batch size.
#include <dnnl.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fool/model/classifier.h"

namespace fool {

class OnnxModel;

namespace onednn {

// One elementwise operation (oneDNN's eltwise algorithm with its alpha and beta).
struct Eltwise {
  dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
  float alpha = 0.0f, beta = 0.0f;
};

// A post-op of a convolution or fully connected layer: an activation, or the sum of another tensor
// (a residual Add), in order.
struct PostOp {
  bool sum = false;  // true: dst += the layer's inputs[1] (read before the layer runs)
  Eltwise eltwise;
};

enum class Kind { Conv, InnerProduct, Pool, Eltwise, Binary, Concat, Softmax, Flatten, BatchNorm };

struct Layer {
  Kind kind = Kind::Eltwise;
  std::string what;         // the ONNX operators it runs, '+'-joined
  std::string where;        // "node 'name' (Op)" of the node that made it, for errors
  std::vector<int> inputs;  // value ids; a Conv with a sum post-op reads inputs[1]
  int output = -1;
  // Conv: weights O x C/g x kh x kw; InnerProduct: K x In (weights_io: stored In x K).
  std::vector<float> weights, bias;
  std::vector<std::int64_t> weight_dims;
  bool weights_io = false;
  std::int64_t groups = 1;
  dnnl::memory::dims strides, dilates, pad_l, pad_r, kernel;
  std::vector<PostOp> post;
  dnnl::algorithm alg = dnnl::algorithm::undef;     // Pool, Binary
  std::vector<Eltwise> chain;                       // Eltwise: applied in order
  int axis = 1;                                     // Concat, Softmax
  std::vector<float> mean, variance, scale, shift;  // BatchNorm
  // Binary with a constant second operand (inputs has one value): its values and dimensions,
  // batch axis included (1), broadcast over the input.
  std::vector<float> constant;
  std::vector<std::int64_t> constant_dims;
  float epsilon = 1e-5f;
};

// A tensor of the graph: its dimensions without the batch axis.
struct Value {
  std::vector<std::int64_t> dims;
};

struct Graph {
  std::string path;
  std::vector<Value> values;
  std::vector<Layer> layers;
  int input = 0;    // value id of the model input (N x C x H x W, preprocessed)
  int output = -1;  // value id of the graph output (N x K)
};

// Lowers the model's graph (input `spec.input_name`, output `spec.output_name`); throws fool::Error
// naming the file and the node for anything it does not cover.
Graph lower_graph(const OnnxModel& model, const ModelSpec& spec);
// The same, taking each initializer's bytes out of `model` once its last reader has them (so that
// the weights are held about once while lowering); `model` must not be used afterwards.
Graph lower_graph_consuming(OnnxModel& model, const ModelSpec& spec);

// Operator types lower_graph takes, sorted.
const std::vector<std::string>& supported_operators();

}  // namespace onednn
}  // namespace fool
