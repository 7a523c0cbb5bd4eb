// Training with libtorch (train_classifier in train.cc checks the options and calls it through
// torch_api()): the architectures as torch::nn modules, Adam with a cosine decay, and the export of
// the trained network as an ONNX file that every backend runs.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fool/core/bytes.h"
#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/model/onnx/graph_builder.h"
#include "fool/model/registry.h"
#include "fool/model/torch/torch_api.h"
#include "fool/train/train.h"

namespace fool {

namespace {

// One layer of a sequential network; drives both the libtorch module and the ONNX export.
struct Layer {
  enum Kind { Conv, MaxPool, BatchNorm, Relu, Flatten, Linear } kind;
  int out = 0;     // channels or units
  int kernel = 0;  // conv / pool size
  int pad = 0;
};

std::vector<Layer> layers_for(const std::string& name, int num_classes) {
  using L = Layer;
  const Architecture arch = parse_architecture(name);
  if (arch == Architecture::LeNet) {
    return {{L::Conv, 20, 5, 0}, {L::MaxPool, 0, 2, 0}, {L::Conv, 50, 5, 0}, {L::MaxPool, 0, 2, 0},
            {L::Flatten},        {L::Linear, 500},      {L::Relu},           {L::Linear, num_classes}};
  }
  if (arch == Architecture::Mlp) {
    return {{L::Flatten}, {L::Linear, 512}, {L::Relu}, {L::Linear, 256}, {L::Relu}, {L::Linear, num_classes}};
  }
  return {{L::Conv, 32, 3, 1}, {L::BatchNorm},   {L::Relu}, {L::MaxPool, 0, 2, 0},
          {L::Conv, 64, 3, 1}, {L::BatchNorm},   {L::Relu}, {L::MaxPool, 0, 2, 0},
          {L::Flatten},        {L::Linear, 128}, {L::Relu}, {L::Linear, num_classes}};
}

torch::nn::Sequential build(const std::vector<Layer>& layers, ImageShape in) {
  torch::nn::Sequential seq;
  int c = in.channels, h = in.height, w = in.width, flat = 0;
  for (const auto& l : layers) {
    switch (l.kind) {
      case Layer::Conv:
        seq->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(c, l.out, l.kernel).padding(l.pad)));
        c = l.out;
        h = h + 2 * l.pad - l.kernel + 1;
        w = w + 2 * l.pad - l.kernel + 1;
        break;
      case Layer::MaxPool:
        seq->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(l.kernel).stride(l.kernel)));
        h /= l.kernel;
        w /= l.kernel;
        break;
      case Layer::BatchNorm:
        seq->push_back(torch::nn::BatchNorm2d(c));
        break;
      case Layer::Relu:
        seq->push_back(torch::nn::ReLU());
        break;
      case Layer::Flatten:
        seq->push_back(torch::nn::Flatten());
        flat = c * h * w;
        break;
      case Layer::Linear:
        seq->push_back(torch::nn::Linear(flat, l.out));
        flat = l.out;
        break;
    }
    if (h <= 0 || w <= 0) throw Error("images of " + in.str() + " are too small for this architecture");
  }
  return seq;
}

// ---- ONNX export -------------------------------------------------------------------------------

using onnx_build::set_float;
using onnx_build::set_int;
using onnx_build::set_ints;

// A parameter or buffer of the network as a float32 initializer.
void add_initializer(onnx_build::GraphBuilder& b, const std::string& name, const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat).contiguous();
  b.float_initializer(name, std::vector<std::int64_t>(c.sizes().begin(), c.sizes().end()), c.data_ptr<float>(),
                      static_cast<std::size_t>(c.numel()));
}

// A node named after its operator and position, with one output.
onnx::NodeProto* add_node(onnx_build::GraphBuilder& b, const std::string& op, const std::vector<std::string>& inputs,
                          const std::string& output) {
  return b.node(op, op + "_" + std::to_string(b.graph().node_size()), inputs, {output});
}

std::string export_onnx(torch::nn::Sequential& seq, const std::vector<Layer>& layers, ImageShape in,
                        const std::vector<std::string>& labels, const TrainOptions& opt) {
  onnx_build::GraphBuilder g("fool", 13);
  g.graph().set_name("fool_" + opt.arch);
  g.input("input", {in.channels, in.height, in.width});
  std::string x = "input";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const std::string p = "l" + std::to_string(i) + ".";
    const std::string y = p + "out";
    auto params = seq[i]->named_parameters(false);
    auto buffers = seq[i]->named_buffers(false);
    switch (l.kind) {
      case Layer::Conv: {
        add_initializer(g, p + "weight", params["weight"]);
        add_initializer(g, p + "bias", params["bias"]);
        auto* n = add_node(g, "Conv", {x, p + "weight", p + "bias"}, y);
        set_ints(n, "kernel_shape", {l.kernel, l.kernel});
        set_ints(n, "pads", {l.pad, l.pad, l.pad, l.pad});
        set_ints(n, "strides", {1, 1});
        break;
      }
      case Layer::MaxPool: {
        auto* n = add_node(g, "MaxPool", {x}, y);
        set_ints(n, "kernel_shape", {l.kernel, l.kernel});
        set_ints(n, "strides", {l.kernel, l.kernel});
        break;
      }
      case Layer::BatchNorm: {
        add_initializer(g, p + "weight", params["weight"]);
        add_initializer(g, p + "bias", params["bias"]);
        add_initializer(g, p + "running_mean", buffers["running_mean"]);
        add_initializer(g, p + "running_var", buffers["running_var"]);
        auto* n =
            add_node(g, "BatchNormalization", {x, p + "weight", p + "bias", p + "running_mean", p + "running_var"}, y);
        set_float(n, "epsilon", 1e-5f);
        break;
      }
      case Layer::Relu:
        add_node(g, "Relu", {x}, y);
        break;
      case Layer::Flatten:
        set_int(add_node(g, "Flatten", {x}, y), "axis", 1);
        break;
      case Layer::Linear: {
        add_initializer(g, p + "weight", params["weight"]);
        add_initializer(g, p + "bias", params["bias"]);
        set_int(add_node(g, "Gemm", {x, p + "weight", p + "bias"}, y), "transB", 1);
        break;
      }
    }
    x = y;
  }
  set_int(add_node(g, "Softmax", {x}, "probs"), "axis", 1);
  g.output("probs", {static_cast<std::int64_t>(labels.size())});
  g.metadata("fool.labels", nlohmann::json(labels).dump());
  g.metadata("fool.dataset", opt.dataset_name);
  g.metadata("fool.arch", opt.arch);
  g.metadata("fool.seed", std::to_string(opt.seed));
  g.metadata("fool.channel_order", "rgb");
  if (opt.background_class >= 0) g.metadata("fool.background_class", std::to_string(opt.background_class));
  g.metadata("fool.scale", "1");
  try {
    onnx::checker::check_model(g.model());
  } catch (const std::exception& e) {
    throw Error(std::string("exported ONNX model fails the ONNX checker: ") + e.what());
  }
  return g.serialize();
}

// Shifts each image by up to max_shift pixels in x and y (zero fill).
torch::Tensor random_shift(const torch::Tensor& batch, int max_shift, Rng& rng) {
  torch::Tensor out = torch::zeros_like(batch);
  const auto n = batch.size(0), h = batch.size(2), w = batch.size(3);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto span = static_cast<std::uint64_t>(2 * static_cast<std::int64_t>(max_shift) + 1);
    const auto dy = static_cast<std::int64_t>(rng.below(span)) - max_shift;
    const auto dx = static_cast<std::int64_t>(rng.below(span)) - max_shift;
    const auto y0 = std::max<std::int64_t>(0, dy), y1 = std::min(h, h + dy);
    const auto x0 = std::max<std::int64_t>(0, dx), x1 = std::min(w, w + dx);
    out[i].slice(1, y0, y1).slice(2, x0, x1).copy_(batch[i].slice(1, y0 - dy, y1 - dy).slice(2, x0 - dx, x1 - dx));
  }
  return out;
}

torch::Tensor images_tensor(const Dataset& d) {
  const ImageBatch b = d.batch(0, d.size());
  return torch::from_blob(const_cast<float*>(b.data()),
                          {static_cast<std::int64_t>(d.size()), d.shape.channels, d.shape.height, d.shape.width},
                          torch::kFloat)
      .clone();
}

}  // namespace

TrainResult train_torch_classifier(const DatasetSplits& data, const TrainOptions& opt, const std::string& out_path,
                                   const RunEvents& events) {
  const Dataset& train = data.train;
  if (opt.threads > 0) torch::set_num_threads(opt.threads);
  torch::manual_seed(opt.seed);
  Rng rng = Rng::derive(opt.seed, 0x7472616e);
  const auto start = std::chrono::steady_clock::now();

  const auto layers = layers_for(opt.arch, train.num_classes());
  torch::nn::Sequential net = build(layers, train.shape);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(opt.learning_rate));
  const torch::Tensor images = images_tensor(train);
  const torch::Tensor labels = torch::from_blob(const_cast<std::uint8_t*>(train.labels.data()),
                                                {static_cast<std::int64_t>(train.size())}, torch::kUInt8)
                                   .to(torch::kLong);

  TrainResult result;
  result.train_examples = train.size();
  result.test_examples = data.test.size();
  const std::size_t n = train.size();
  const std::size_t steps =
      (n + static_cast<std::size_t>(opt.batch_size) - 1) / static_cast<std::size_t>(opt.batch_size);
  std::vector<std::int64_t> order(n);
  for (int epoch = 0; epoch < opt.epochs; ++epoch) {
    net->train();
    // Cosine decay of the learning rate over the epochs.
    const double lr = opt.learning_rate * 0.5 * (1.0 + std::cos(M_PI * epoch / opt.epochs));
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::int64_t>(i);
    for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    const torch::Tensor perm = torch::tensor(order, torch::kLong);
    double loss_sum = 0.0;
    for (std::size_t s = 0; s < steps; ++s) {
      const auto b0 = static_cast<std::int64_t>(s * static_cast<std::size_t>(opt.batch_size));
      const auto b1 = std::min<std::int64_t>(b0 + opt.batch_size, static_cast<std::int64_t>(n));
      const torch::Tensor idx = perm.slice(0, b0, b1);
      torch::Tensor x = images.index_select(0, idx);
      if (opt.max_shift > 0) x = random_shift(x, opt.max_shift, rng);
      const torch::Tensor y = labels.index_select(0, idx);
      optimizer.zero_grad();
      const torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      char status[64];
      std::snprintf(status, sizeof status, "epoch %d loss %.4f", epoch + 1, loss_sum / static_cast<double>(s + 1));
      events.progress({"train " + opt.arch, static_cast<std::size_t>(epoch) * steps + s + 1,
                       static_cast<std::size_t>(opt.epochs) * steps, status, nullptr});
    }
    result.epoch_loss.push_back(loss_sum / static_cast<double>(steps));
  }
  net->eval();
  result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::string bytes = export_onnx(net, layers, train.shape, train.class_names, opt);
  write_file_atomic(out_path, bytes.data(), bytes.size());
  result.model_sha256 = sha256_hex(bytes.data(), bytes.size());

  if (data.test.size() > 0) {
    ClassifierOptions copt;
    // fool's own architectures: every backend runs them; the most preferred (opencv where built).
    copt.backend = backend_registry().front().backend();
    copt.threads = opt.threads;
    auto clf = load_classifier(out_path, copt);
    std::size_t correct = 0;
    for (std::size_t b = 0; b < data.test.size(); b += 500) {
      const std::size_t e = std::min(data.test.size(), b + 500);
      const Matrix p = clf->probabilities(data.test.batch(b, e));
      for (std::size_t i = b; i < e; ++i)
        if (top_k(p.row(i - b), p.cols(), 1)[0] == data.test.labels[i]) ++correct;
    }
    result.test_accuracy = static_cast<double>(correct) / static_cast<double>(data.test.size());
  }
  return result;
}

}  // namespace fool
