// lower_graph: ONNX nodes -> the oneDNN backend's layers, fusions decided once (by Lowering,
// onednn_lowering.h).
#include "fool/model/onednn/onednn_graph.h"

#include "fool/model/onednn/onednn_lowering.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool::onednn {

Graph lower_graph(const OnnxModel& model, const ModelSpec& spec) { return Lowering(model, spec).run(spec); }

Graph lower_graph_consuming(OnnxModel& model, const ModelSpec& spec) {
  Lowering l(model, spec);
  l.consume(&model.mutable_proto());
  return l.run(spec);
}

const std::vector<std::string>& supported_operators() {
  static const std::vector<std::string> ops = {"Add",           "AveragePool", "BatchNormalization",
                                               "Clip",          "Concat",      "Constant",
                                               "Conv",          "Div",         "Dropout",
                                               "Flatten",       "Gemm",        "GlobalAveragePool",
                                               "GlobalMaxPool", "HardSigmoid", "HardSwish",
                                               "Identity",      "LeakyRelu",   "MatMul",
                                               "MaxPool",       "Mul",         "Pad",
                                               "ReduceMean",    "Relu",        "Reshape",
                                               "Sigmoid",       "Softmax",     "Sub",
                                               "Tanh"};
  return ops;
}

}  // namespace fool::onednn
