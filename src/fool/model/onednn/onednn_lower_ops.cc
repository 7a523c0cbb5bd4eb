// Lowering, one operator at a time: Conv, BatchNormalization, the binary operators, pooling,
// ReduceMean, Flatten and Reshape, Gemm and MatMul, Concat, Softmax and Pad, with the fusions each
// decides (onednn_graph.h).
#include "fool/model/onednn/onednn_lowering.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "fool/core/error.h"
#include "fool/core/json_check.h"

namespace fool::onednn {

using dnnl::algorithm;

void Lowering::conv() {
  only_attrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  auto [src_name, extra] = take_pad();
  auto it = ids_.find(src_name);
  if (it == ids_.end()) value(0);  // declines with the reason
  const int v = it->second;
  const auto& in = dims(v);
  if (in.size() != 3) decline("only 2-D convolutions of N x C x H x W tensors are supported");
  Const w = constant(1);
  if (w.is_int || w.dims.size() != 4) decline("the weights must be a float O x C/g x kh x kw constant");
  const std::int64_t groups = attr_i("group", 1);
  if (groups < 1 || in[0] % groups != 0 || w.dims[0] % groups != 0 || w.dims[1] * groups != in[0])
    decline("the weights do not fit the input's channels and the groups");
  const auto ks = attr_ints("kernel_shape", {w.dims[2], w.dims[3]});
  if (ks.size() != 2 || ks[0] != w.dims[2] || ks[1] != w.dims[3]) decline("kernel_shape differs from the weights");
  Window win = window(ks, extra);
  Layer l;
  l.kind = Kind::Conv;
  l.what = extra != std::vector<std::int64_t>(4, 0) ? "Pad+Conv" : "Conv";
  l.inputs = {v};
  l.weights = std::move(w.f);
  l.weight_dims = w.dims;
  l.groups = groups;
  l.bias.assign(static_cast<std::size_t>(w.dims[0]), 0.0f);
  if (node_->input_size() > 2 && !node_->input(2).empty()) {
    const Const& b = constant(2);
    if (b.is_int || b.f.size() != static_cast<std::size_t>(w.dims[0])) decline("the bias does not fit the weights");
    l.bias = b.f;
  }
  l.kernel = win.kernel;
  l.strides = win.strides;
  l.dilates = win.dilates;
  l.pad_l = win.pad_l;
  l.pad_r = win.pad_r;
  const std::int64_t oh = out_size(in[1], ks[0], win.strides[0], win.dilates[0], win.pad_l[0], win.pad_r[0]);
  const std::int64_t ow = out_size(in[2], ks[1], win.strides[1], win.dilates[1], win.pad_l[1], win.pad_r[1]);
  add_layer(std::move(l), {w.dims[0], oh, ow});
}

void Lowering::batch_norm() {
  only_attrs({"epsilon", "momentum", "training_mode"});
  if (attr_i("training_mode", 0) != 0) decline("training mode");
  one_output();
  const int v = value(0);
  const std::int64_t c = dims(v).empty() ? 0 : dims(v)[0];
  std::vector<float> p[4];
  for (int i = 0; i < 4; ++i) {
    const Const& k = constant(i + 1);
    if (k.is_int || k.f.size() != static_cast<std::size_t>(c)) decline("its parameters do not fit the channels");
    p[i] = k.f;
  }
  const float eps = attr_f("epsilon", 1e-5f);
  Layer* conv = fusable(v, {Kind::Conv});
  if (conv && conv->post.empty()) {
    // w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps): per output channel.
    const std::size_t per = conv->weights.size() / static_cast<std::size_t>(c);
    for (std::size_t o = 0; o < static_cast<std::size_t>(c); ++o) {
      const float s = p[0][o] / std::sqrt(p[3][o] + eps);
      for (std::size_t j = 0; j < per; ++j) conv->weights[o * per + j] *= s;
      conv->bias[o] = (conv->bias[o] - p[2][o]) * s + p[1][o];
    }
    rename(v, "BatchNormalization");
    return;
  }
  if (dims(v).size() != 3 && dims(v).size() != 1) decline("only N x C x H x W or N x C inputs are supported");
  Layer l;
  l.kind = Kind::BatchNorm;
  l.what = "BatchNormalization";
  l.inputs = {v};
  l.scale = p[0];
  l.shift = p[1];
  l.mean = p[2];
  l.variance = p[3];
  l.epsilon = eps;
  add_layer(std::move(l), dims(v));
}

namespace {

algorithm binary_algorithm(const std::string& op) {
  return op == "Add"   ? algorithm::binary_add
         : op == "Sub" ? algorithm::binary_sub
         : op == "Mul" ? algorithm::binary_mul
                       : algorithm::binary_div;
}

}  // namespace

void Lowering::binary(const std::string& op) {
  only_attrs({});
  const bool constant_first = is_const(node_->input(0));
  if (constant_first || is_const(node_->input(1))) return binary_with_constant(op, constant_first);
  binary_of_tensors(op);
}

bool Lowering::fuse_bias(const std::string& op, int v, const Const& c) {
  Layer* ip = op == "Add" ? fusable(v, {Kind::InnerProduct}) : nullptr;
  const std::int64_t k = dims(v).empty() ? 0 : dims(v)[0];
  if (!ip || !ip->post.empty() || c.is_int || c.f.size() != static_cast<std::size_t>(k) ||
      (c.dims != std::vector<std::int64_t>{k} && c.dims != std::vector<std::int64_t>{1, k}))
    return false;
  for (std::size_t i = 0; i < c.f.size(); ++i) ip->bias[i] += c.f[i];
  rename(v, "Add");
  return true;
}

std::vector<std::int64_t> Lowering::broadcast_dims(const Const& c, const std::vector<std::int64_t>& vd) const {
  std::vector<std::int64_t> cd = c.dims;
  while (cd.size() > vd.size() + 1 && cd.front() == 1) cd.erase(cd.begin());
  if (cd.size() == vd.size() + 1) {
    if (cd.front() != 1) decline("a constant operand with a batch axis is not supported");
    cd.erase(cd.begin());
  }
  if (cd.size() > vd.size()) decline("the constant operand has more axes than the tensor");
  cd.insert(cd.begin(), vd.size() - cd.size(), 1);
  for (std::size_t i = 0; i < vd.size(); ++i)
    if (cd[i] != vd[i] && cd[i] != 1) decline("the constant operand does not broadcast over the tensor");
  return cd;
}

void Lowering::binary_with_constant(const std::string& op, bool constant_first) {
  const int v = value(constant_first ? 1 : 0);
  const Const& c = constant(constant_first ? 0 : 1);
  if (fuse_bias(op, v, c)) return;
  // A constant broadcast over the tensor (a mean image or per-channel mean subtracted from the
  // input, a scale): x op c, or c op x for the commutative Add and Mul.
  if ((op == "Sub" || op == "Div") && constant_first) decline(op + " of a tensor from a constant is not supported");
  if (c.is_int) decline("an int64 operand is not supported");
  const auto& vd = dims(v);
  const std::vector<std::int64_t> cd = broadcast_dims(c, vd);
  Layer l;
  l.kind = Kind::Binary;
  l.what = op;
  l.alg = binary_algorithm(op);
  l.inputs = {v};
  l.constant = c.f;
  l.constant_dims = cd;
  l.constant_dims.insert(l.constant_dims.begin(), 1);
  add_layer(std::move(l), vd);
}

bool Lowering::fuse_residual(int va, int vb) {
  for (int side = 0; side < 2; ++side) {
    const int x = side == 0 ? va : vb, other = side == 0 ? vb : va;
    Layer* conv = fusable(x, {Kind::Conv});
    if (!conv || !conv->post.empty()) continue;
    auto o = layer_of_.find(other);
    const int conv_index = layer_of_.at(x);
    if (other != g_.input && (o == layer_of_.end() || o->second >= conv_index)) continue;
    conv->post.push_back({true, {}});
    conv->inputs.push_back(other);
    rename(x, "Add");
    return true;
  }
  return false;
}

bool Lowering::fits(int big, int small) const {
  if (dims(big).size() != dims(small).size()) return false;
  for (std::size_t i = 0; i < dims(big).size(); ++i)
    if (dims(small)[i] != dims(big)[i] && dims(small)[i] != 1) return false;
  return true;
}

void Lowering::binary_of_tensors(const std::string& op) {
  if (op == "Sub" || op == "Div") decline(op + " of two tensors is not supported");
  int va = value(0), vb = value(1);
  if (op == "Add" && dims(va) == dims(vb) && fuse_residual(va, vb)) return;
  // Broadcast only of the second operand over the first's shape (SE blocks: N x C x 1 x 1).
  if (dims(vb) != dims(va)) {
    if (fits(vb, va))
      std::swap(va, vb);
    else if (!fits(va, vb))
      decline("the operands' shapes do not broadcast as supported");
  }
  Layer l;
  l.kind = Kind::Binary;
  l.what = op;
  l.alg = op == "Add" ? algorithm::binary_add : algorithm::binary_mul;
  l.inputs = {va, vb};
  add_layer(std::move(l), dims(va));
}

void Lowering::pool(const std::string& op) {
  const bool max = op == "MaxPool";
  if (max)
    only_attrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  else
    only_attrs({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  one_output();
  if (attr_i("storage_order", 0) != 0) decline("storage_order 1 is not supported");
  auto [src_name, extra] = take_pad();
  const bool padded = extra != std::vector<std::int64_t>(4, 0);
  if (padded && max) decline("a Pad of zeros before MaxPool is not supported");
  auto it = ids_.find(src_name);
  if (it == ids_.end()) value(0);
  const int v = it->second;
  const auto& in = dims(v);
  if (in.size() != 3) decline("only N x C x H x W inputs are supported");
  const auto ks = attr_ints("kernel_shape", {});
  Window win = window(ks, extra);
  if (win.dilates != dnnl::memory::dims{0, 0}) decline("dilated pooling is not supported");
  bool include_pad = attr_i("count_include_pad", 0) != 0;
  if (padded) {
    const auto own = attr_ints("pads", {0, 0, 0, 0});
    if (!include_pad && own != std::vector<std::int64_t>(4, 0))
      decline("a Pad before an AveragePool with its own pads and count_include_pad 0");
    include_pad = true;  // the Pad's zeros are counted
  }
  std::int64_t oh = out_size(in[1], ks[0], win.strides[0], 0, win.pad_l[0], win.pad_r[0]);
  std::int64_t ow = out_size(in[2], ks[1], win.strides[1], 0, win.pad_l[1], win.pad_r[1]);
  if (attr_i("ceil_mode", 0) != 0) {
    // Output sizes rounded up (the last window may start in the right padding only as PyTorch's
    // rule allows); the windows past the input get extra right padding, which MaxPool ignores.
    auto ceil_out = [&](std::int64_t n, std::int64_t k, std::int64_t s, std::int64_t pl, std::int64_t pr) {
      std::int64_t o = (n + pl + pr - k + s - 1) / s + 1;
      if ((o - 1) * s >= n + pl) --o;
      return o;
    };
    const std::int64_t ch = ceil_out(in[1], ks[0], win.strides[0], win.pad_l[0], win.pad_r[0]);
    const std::int64_t cw = ceil_out(in[2], ks[1], win.strides[1], win.pad_l[1], win.pad_r[1]);
    if ((ch != oh || cw != ow) && !max) decline("ceil_mode that changes the output size of an AveragePool");
    win.pad_r[0] += (ch - oh) * win.strides[0];
    win.pad_r[1] += (cw - ow) * win.strides[1];
    oh = ch;
    ow = cw;
  }
  Layer l;
  l.kind = Kind::Pool;
  l.what = padded ? "Pad+" + op : op;
  l.alg = max           ? algorithm::pooling_max
          : include_pad ? algorithm::pooling_avg_include_padding
                        : algorithm::pooling_avg_exclude_padding;
  l.inputs = {v};
  l.kernel = win.kernel;
  l.strides = win.strides;
  l.pad_l = win.pad_l;
  l.pad_r = win.pad_r;
  add_layer(std::move(l), {in[0], oh, ow});
}

void Lowering::global_pool(const std::string& op) {
  only_attrs({});
  const int v = value(0);
  const auto& in = dims(v);
  if (in.size() != 3) decline("only N x C x H x W inputs are supported");
  Layer l;
  l.kind = Kind::Pool;
  l.what = op;
  l.alg = op == "GlobalMaxPool" ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
  l.inputs = {v};
  l.kernel = {in[1], in[2]};
  l.strides = {1, 1};
  l.pad_l = {0, 0};
  l.pad_r = {0, 0};
  add_layer(std::move(l), {in[0], 1, 1});
}

void Lowering::reduce_mean() {
  only_attrs({"axes", "keepdims", "noop_with_empty_axes"});
  std::vector<std::int64_t> axes = attr_ints("axes", {});
  if (node_->input_size() > 1 && !node_->input(1).empty()) axes = constant(1).i;
  const int v = value(0);
  const auto& in = dims(v);
  if (in.size() != 3) decline("only N x C x H x W inputs are supported");
  for (auto& a : axes)
    if (a < 0) a += 4;
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<std::int64_t>{2, 3}) decline("only the mean over H and W is supported");
  Layer l;
  l.kind = Kind::Pool;
  l.what = "ReduceMean";
  l.alg = algorithm::pooling_avg_exclude_padding;
  l.inputs = {v};
  l.kernel = {in[1], in[2]};
  l.strides = {1, 1};
  l.pad_l = {0, 0};
  l.pad_r = {0, 0};
  const int pooled = add_layer(std::move(l), {in[0], 1, 1});
  if (attr_i("keepdims", 1) == 0) flatten(pooled, "ReduceMean");
}

void Lowering::flatten(int v, const std::string& what) {
  std::int64_t k = 1;
  for (auto d : dims(v)) k *= d;
  if (dims(v).size() == 1) {  // already N x K
    bind(node_->output(0), v);
    --vuses_[v];
    return;
  }
  Layer l;
  l.kind = Kind::Flatten;
  l.what = what;
  l.inputs = {v};
  add_layer(std::move(l), {k});
}

void Lowering::reshape() {
  only_attrs({"allowzero"});
  const int v = value(0);
  const Const& s = constant(1);
  if (!s.is_int || s.i.size() != 2) decline("only a reshape to N x K is supported");
  std::int64_t k = 1;
  for (auto d : dims(v)) k *= d;
  // The batch axis kept: 0, -1, or the file's fixed batch (every call then holds that many images).
  const bool batch_kept = s.i[0] == 0 || s.i[0] == -1 || (fixed_batch_ > 0 && s.i[0] == fixed_batch_);
  const bool rest = s.i[1] == k || (s.i[1] == -1 && s.i[0] != -1);
  if (!batch_kept || !rest) decline("only a reshape to N x K is supported");
  flatten(v, "Reshape");
}

void Lowering::inner_product(int v, Const w, bool transposed, float alpha, const std::vector<float>* bias,
                             const std::string& what) {
  if (dims(v).size() != 1) decline("the input must be N x K");
  const std::int64_t in = dims(v)[0];
  if (w.is_int || w.dims.size() != 2) decline("the weights must be a 2-D float constant");
  const std::int64_t k = transposed ? w.dims[0] : w.dims[1];
  if ((transposed ? w.dims[1] : w.dims[0]) != in) decline("the weights do not fit the input");
  Layer l;
  l.kind = Kind::InnerProduct;
  l.what = what;
  l.inputs = {v};
  l.weights = std::move(w.f);
  if (alpha != 1.0f)
    for (auto& x : l.weights) x *= alpha;
  l.weight_dims = {k, in};
  l.weights_io = !transposed;
  l.bias.assign(static_cast<std::size_t>(k), 0.0f);
  if (bias) {
    if (bias->size() != static_cast<std::size_t>(k)) decline("the bias does not fit the weights");
    l.bias = *bias;
  }
  add_layer(std::move(l), {k});
}

void Lowering::gemm() {
  only_attrs({"alpha", "beta", "transA", "transB"});
  if (attr_i("transA", 0) != 0) decline("transA is not supported");
  const float alpha = attr_f("alpha", 1.0f), beta = attr_f("beta", 1.0f);
  std::vector<float> bias;
  if (node_->input_size() > 2 && !node_->input(2).empty()) {
    const Const& c = constant(2);
    if (c.is_int || c.dims.size() > 2 || (c.dims.size() == 2 && c.dims[0] != 1))
      decline("C must be a constant of K or 1 x K values");
    for (float x : c.f) bias.push_back(beta * x);
  }
  Const w = constant(1);
  inner_product(value(0), std::move(w), attr_i("transB", 0) != 0, alpha, bias.empty() ? nullptr : &bias, "Gemm");
}

void Lowering::matmul() {
  only_attrs({});
  inner_product(value(0), constant(1), false, 1.0f, nullptr, "MatMul");
}

void Lowering::concat() {
  only_attrs({"axis"});
  std::vector<int> in;
  in.reserve(static_cast<std::size_t>(node_->input_size()));
  for (int i = 0; i < node_->input_size(); ++i) in.push_back(value(i));
  const auto& d0 = dims(in[0]);
  std::int64_t axis = attr_i("axis", 1);
  if (axis < 0) axis += static_cast<std::int64_t>(d0.size()) + 1;
  if (axis != 1) decline("only concatenation along the channels is supported");
  std::vector<std::int64_t> out = d0;
  out[0] = 0;
  for (int v : in) {
    const auto& d = dims(v);
    if (d.size() != d0.size() || !std::equal(d.begin() + 1, d.end(), d0.begin() + 1))
      decline("the inputs' shapes differ");
    out[0] += d[0];
  }
  Layer l;
  l.kind = Kind::Concat;
  l.what = "Concat";
  l.inputs = in;
  add_layer(std::move(l), out);
}

void Lowering::softmax() {
  only_attrs({"axis"});
  const int v = value(0);
  if (dims(v).size() != 1) decline("only a softmax over N x K is supported");
  const std::int64_t axis = attr_i("axis", model_opset() >= 13 ? -1 : 1);
  if (axis != 1 && axis != -1) decline("only a softmax over the class axis is supported");
  Layer l;
  l.kind = Kind::Softmax;
  l.what = "Softmax";
  l.inputs = {v};
  add_layer(std::move(l), dims(v));
}

void Lowering::pad() {
  only_attrs({"mode", "pads", "value"});
  if (attr_s("mode", "constant") != "constant") decline("only constant padding is supported");
  std::vector<std::int64_t> p = attr_ints("pads", {});
  float fill = attr_f("value", 0.0f);
  if (node_->input_size() > 1 && !node_->input(1).empty()) p = constant(1).i;
  if (node_->input_size() > 2 && !node_->input(2).empty()) {
    const Const& c = constant(2);
    if (c.is_int || c.f.size() != 1) decline("the pad value must be a float scalar");
    fill = c.f[0];
  }
  if (node_->input_size() > 3) decline("the axes input is not supported");
  if (fill != 0.0f) decline("only padding with zeros is supported");
  const int v = value(0);
  if (dims(v).size() != 3 || p.size() != 8 || p[0] || p[1] || p[4] || p[5])
    decline("only padding of H and W of N x C x H x W is supported");
  for (auto x : p)
    if (x < 0) decline("negative pads are not supported");
  pads_[node_->output(0)] = {node_->input(0), {p[2], p[3], p[6], p[7]}};
}

std::int64_t Lowering::model_opset() const {
  std::int64_t opset = 0;
  for (const auto& o : model_.proto().opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  return opset;
}

}  // namespace fool::onednn
