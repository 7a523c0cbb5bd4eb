// Neural-network operators: convolution, pooling, normalisation, matrix products, softmax.
#include <onnx/onnx_pb.h>

#include <cmath>

#include "fool/model/torch/torch_ops.h"

namespace fool::torch_ops {
namespace {

// Pads [begin_0..begin_k, end_0..end_k] over the spatial axes of x (N x C x spatial...), from the
// explicit pads attribute or auto_pad (SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the start).
std::vector<std::int64_t> spatial_pads(const Node& n, const at::Tensor& x, const std::vector<std::int64_t>& kernel,
                                       const std::vector<std::int64_t>& strides, const std::vector<std::int64_t>& dil) {
  const std::size_t k = kernel.size();
  const std::string ap = n.s("auto_pad", "NOTSET");
  if (ap == "NOTSET") {
    auto p = n.ints("pads", std::vector<std::int64_t>(2 * k, 0));
    if (p.size() != 2 * k)
      throw n.error("expected " + std::to_string(2 * k) + " pads, got " + std::to_string(p.size()));
    return p;
  }
  std::vector<std::int64_t> p(2 * k, 0);
  if (ap == "VALID") return p;
  if (ap != "SAME_UPPER" && ap != "SAME_LOWER") throw n.error("auto_pad '" + ap + "' is not an ONNX value");
  for (std::size_t d = 0; d < k; ++d) {
    const std::int64_t in = x.size(static_cast<std::int64_t>(d) + 2);
    const std::int64_t out = (in + strides[d] - 1) / strides[d];
    const std::int64_t total = std::max<std::int64_t>(0, (out - 1) * strides[d] + (kernel[d] - 1) * dil[d] + 1 - in);
    p[d] = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
    p[d + k] = total - p[d];
  }
  return p;
}

bool symmetric(const std::vector<std::int64_t>& p) {
  const std::size_t k = p.size() / 2;
  for (std::size_t d = 0; d < k; ++d)
    if (p[d] != p[d + k]) return false;
  return true;
}

// ONNX pads [begins..., ends...] over the trailing spatial axes -> ATen constant_pad_nd order.
at::Tensor pad_spatial(const at::Tensor& x, const std::vector<std::int64_t>& p, double value) {
  const std::size_t k = p.size() / 2;
  std::vector<std::int64_t> tp;
  for (std::size_t d = k; d-- > 0;) {
    tp.push_back(p[d]);
    tp.push_back(p[d + k]);
  }
  return at::constant_pad_nd(x, tp, value);
}

void need_spatial(const Node& n, const at::Tensor& x, std::size_t k) {
  if (x.dim() != static_cast<std::int64_t>(k) + 2 || k < 1 || k > 3) {
    throw n.error("expected an N x C input with 1 to 3 spatial axes matching the kernel, got rank " +
                  std::to_string(x.dim()));
  }
}

Tensors op_conv(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto& W = in(n, x, 1);
  const std::size_t k = static_cast<std::size_t>(W.dim()) - 2;
  need_spatial(n, X, k);
  std::vector<std::int64_t> kernel(W.sizes().begin() + 2, W.sizes().end());
  const auto strides = n.ints("strides", std::vector<std::int64_t>(k, 1));
  const auto dil = n.ints("dilations", std::vector<std::int64_t>(k, 1));
  if (strides.size() != k || dil.size() != k)
    throw n.error("strides and dilations must have one value per spatial axis");
  const auto pads = spatial_pads(n, X, kernel, strides, dil);
  const at::Tensor b = present(x, 2) ? x[2] : at::Tensor();
  const std::vector<std::int64_t> zero(k, 0);
  if (symmetric(pads)) {
    const std::vector<std::int64_t> sym(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(k));
    return {at::convolution(X, W, b, strides, sym, dil, false, zero, n.i("group", 1))};
  }
  return {at::convolution(pad_spatial(X, pads, 0.0), W, b, strides, zero, dil, false, zero, n.i("group", 1))};
}

Tensors op_max_pool(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto kernel = n.ints("kernel_shape");
  const std::size_t k = kernel.size();
  need_spatial(n, X, k);
  if (n.num_outputs() > 1) throw n.error("MaxPool with an Indices output is not supported");
  const auto s = n.ints("strides", std::vector<std::int64_t>(k, 1));
  const auto d = n.ints("dilations", std::vector<std::int64_t>(k, 1));
  const auto pads = spatial_pads(n, X, kernel, s, d);
  const bool ceil = n.i("ceil_mode", 0) != 0;
  at::Tensor in_x = X;
  std::vector<std::int64_t> p(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(k));
  if (!symmetric(pads)) {
    in_x = pad_spatial(X, pads, -INFINITY);
    p.assign(k, 0);
  }
  if (k == 1) return {at::max_pool1d(in_x, kernel, s, p, d, ceil)};
  if (k == 2) return {at::max_pool2d(in_x, kernel, s, p, d, ceil)};
  return {at::max_pool3d(in_x, kernel, s, p, d, ceil)};
}

at::Tensor avg_pool(const at::Tensor& x, const std::vector<std::int64_t>& kernel, const std::vector<std::int64_t>& s,
                    const std::vector<std::int64_t>& p, bool ceil, bool include) {
  switch (kernel.size()) {
    case 1:
      return at::avg_pool1d(x, kernel, s, p, ceil, include);
    case 2:
      return at::avg_pool2d(x, kernel, s, p, ceil, include);
    default:
      return at::avg_pool3d(x, kernel, s, p, ceil, include);
  }
}

Tensors op_average_pool(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto kernel = n.ints("kernel_shape");
  const std::size_t k = kernel.size();
  need_spatial(n, X, k);
  const auto s = n.ints("strides", std::vector<std::int64_t>(k, 1));
  const auto d = n.ints("dilations", std::vector<std::int64_t>(k, 1));
  for (auto v : d)
    if (v != 1) throw n.error("AveragePool with dilations is not supported");
  const auto pads = spatial_pads(n, X, kernel, s, d);
  const bool include = n.i("count_include_pad", 0) != 0, ceil = n.i("ceil_mode", 0) != 0;
  if (symmetric(pads)) {
    return {avg_pool(X, kernel, s,
                     std::vector<std::int64_t>(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(k)), ceil,
                     include)};
  }
  const std::vector<std::int64_t> zero(k, 0);
  const at::Tensor sum = avg_pool(pad_spatial(X, pads, 0.0), kernel, s, zero, ceil, true);
  if (include) return {sum};
  // Divide by the number of real (unpadded) pixels under each window instead.
  std::vector<std::int64_t> one_shape(static_cast<std::size_t>(X.dim()), 1);
  for (std::size_t a = 2; a < one_shape.size(); ++a) one_shape[a] = X.size(static_cast<std::int64_t>(a));
  const at::Tensor count =
      avg_pool(pad_spatial(at::ones(one_shape, X.options()), pads, 0.0), kernel, s, zero, ceil, true);
  return {sum / count};
}

std::vector<std::int64_t> spatial_axes(const Node& n, const at::Tensor& x) {
  if (x.dim() < 3) throw n.error("expected an N x C x spatial input, got rank " + std::to_string(x.dim()));
  std::vector<std::int64_t> axes;
  for (std::int64_t d = 2; d < x.dim(); ++d) axes.push_back(d);
  return axes;
}
Tensors op_global_average_pool(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  return {X.mean(spatial_axes(n, X), true)};
}
Tensors op_global_max_pool(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  return {X.amax(spatial_axes(n, X), true)};
}

Tensors op_batch_norm(const Node& n, const Tensors& x) {
  if (n.i("training_mode", 0) != 0) throw n.error("BatchNormalization in training mode is not supported");
  return {at::batch_norm(in(n, x, 0), in(n, x, 1), in(n, x, 2), in(n, x, 3), in(n, x, 4), false, 0.0,
                         n.f("epsilon", 1e-5f), false)};
}

Tensors op_instance_norm(const Node& n, const Tensors& x) {
  return {at::instance_norm(in(n, x, 0), in(n, x, 1), in(n, x, 2), {}, {}, true, 0.0, n.f("epsilon", 1e-5f), false)};
}

// Normalises over the axes from `axis` on; the optional Mean and InvStdDev outputs keep those axes as 1s.
Tensors op_layer_norm(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto axis = norm_axis(n.i("axis", -1), X.dim());
  if (axis < 0 || axis >= X.dim()) throw n.error("axis out of range");
  const double eps = n.f("epsilon", 1e-5f);
  std::vector<std::int64_t> shape(X.sizes().begin() + axis, X.sizes().end());
  const at::Tensor& scale = in(n, x, 1);
  const at::Tensor bias = present(x, 2) ? x[2] : at::Tensor();
  if (n.num_outputs() == 1 && scale.sizes().vec() == shape && (!bias.defined() || bias.sizes().vec() == shape)) {
    return {at::layer_norm(X, shape, scale, bias, eps)};
  }
  std::vector<std::int64_t> axes;
  for (auto d = axis; d < X.dim(); ++d) axes.push_back(d);
  const at::Tensor mean = X.mean(axes, true);
  const at::Tensor centred = X - mean;
  const at::Tensor inv_std = at::rsqrt((centred * centred).mean(axes, true) + eps);
  at::Tensor y = centred * inv_std * scale;
  if (bias.defined()) y = y + bias;
  return {y, mean, inv_std};
}

// Sums the squares over `size` neighbouring channels, centred (ONNX: floor((size-1)/2) before).
Tensors op_lrn(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  if (X.dim() != 4) throw n.error("LRN needs an N x C x H x W input, got rank " + std::to_string(X.dim()));
  const std::int64_t size = n.i("size", 1);
  const double alpha = n.f("alpha", 1e-4f), beta = n.f("beta", 0.75f), bias = n.f("bias", 1.0f);
  const std::int64_t front = (size - 1) / 2, back = size - 1 - front;
  auto sq = at::constant_pad_nd((X * X).unsqueeze(1), {0, 0, 0, 0, front, back}, 0.0);
  auto sum = at::avg_pool3d(sq, {size, 1, 1}, {1, 1, 1}).squeeze(1) * static_cast<double>(size);
  return {X / at::pow(sum * (alpha / static_cast<double>(size)) + bias, beta)};
}

Tensors op_gemm(const Node& n, const Tensors& x) {
  at::Tensor a = in(n, x, 0), b = in(n, x, 1);
  if (n.i("transA", 0)) a = a.t();
  if (n.i("transB", 0)) b = b.t();
  const double alpha = n.f("alpha", 1.0f), beta = n.f("beta", 1.0f);
  if (present(x, 2) && x[2].dim() <= 2) return {at::addmm(x[2], a, b, beta, alpha)};
  at::Tensor y = at::mm(a, b);
  if (alpha != 1.0) y = y * alpha;
  if (present(x, 2)) y = y + (beta == 1.0 ? x[2] : x[2] * beta);
  return {y};
}

Tensors op_matmul(const Node& n, const Tensors& x) { return {at::matmul(in(n, x, 0), in(n, x, 1))}; }

Tensors op_einsum(const Node& n, const Tensors& x) {
  Tensors operands;
  for (std::size_t k = 0; k < x.size(); ++k) operands.push_back(in(n, x, k));
  return {at::einsum(n.s("equation", ""), operands)};
}

// Opset >= 13: along one axis. Before: over the input coerced to 2-D at axis (default 1).
template <at::Tensor (*F)(const at::Tensor&, std::int64_t, c10::optional<at::ScalarType>)>
Tensors softmax_like(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  if (n.opset >= 13) return {F(X, norm_axis(n.i("axis", -1), X.dim()), c10::nullopt)};
  const auto axis = norm_axis(n.i("axis", 1), X.dim());
  std::int64_t outer = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= X.size(d);
  return {F(X.reshape({outer, -1}), 1, c10::nullopt).reshape(X.sizes())};
}

Tensors op_fused_gelu(const Node& n, const Tensors& x) { return {at::gelu(in(n, x, 0))}; }

Tensors op_fused_layer_norm(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto k = static_cast<std::int64_t>(n.fused.at(0));
  const double eps = n.fused.at(1);
  if (k < 1 || k > X.dim())
    throw n.error("layer norm over " + std::to_string(k) + " axes of a rank-" + std::to_string(X.dim()) + " tensor");
  const std::vector<std::int64_t> shape(X.sizes().end() - k, X.sizes().end());
  const at::Tensor scale = present(x, 1) ? x[1] : at::Tensor(), bias = present(x, 2) ? x[2] : at::Tensor();
  const bool fits =
      (!scale.defined() || scale.sizes().vec() == shape) && (!bias.defined() || bias.sizes().vec() == shape);
  if (fits) return {at::layer_norm(X, shape, scale, bias, eps)};
  at::Tensor y = at::layer_norm(X, shape, {}, {}, eps);
  if (scale.defined()) y = y * scale;
  if (bias.defined()) y = y + bias;
  return {y};
}

}  // namespace

const OpInfo fused_gelu{"Gelu (fused Div-Erf-Add-Mul-Mul)", "fused", op_fused_gelu, ""};
const OpInfo fused_layer_norm{"LayerNormalization (fused ReduceMean-Sub-Pow-ReduceMean-Add-Sqrt-Div)", "fused",
                              op_fused_layer_norm, ""};

void add_nn_ops(std::vector<OpInfo>& t) {
  const char* g = "nn";
  t.push_back({"AveragePool", g, op_average_pool, "1-3 spatial axes; pads or auto_pad; ceil_mode; count_include_pad"});
  t.push_back({"BatchNormalization", g, op_batch_norm, "inference form (folded into a preceding Conv at load)"});
  t.push_back({"Conv", g, op_conv, "1-3 spatial axes; pads or auto_pad; strides, dilations, group"});
  t.push_back({"Einsum", g, op_einsum, ""});
  t.push_back({"Gemm", g, op_gemm, "alpha, beta, transA, transB"});
  t.push_back({"GlobalAveragePool", g, op_global_average_pool, ""});
  t.push_back({"GlobalMaxPool", g, op_global_max_pool, ""});
  t.push_back({"InstanceNormalization", g, op_instance_norm, ""});
  t.push_back({"LayerNormalization", g, op_layer_norm, "opset 17; optional Mean and InvStdDev outputs"});
  t.push_back({"LogSoftmax", g, softmax_like<at::log_softmax>, "2-D coercion before opset 13"});
  t.push_back({"LRN", g, op_lrn, "N x C x H x W"});
  t.push_back({"MatMul", g, op_matmul, "batched, broadcasting"});
  t.push_back(
      {"MaxPool", g, op_max_pool, "1-3 spatial axes; pads or auto_pad; dilations; ceil_mode; no Indices output"});
  t.push_back({"Softmax", g, softmax_like<at::softmax>, "2-D coercion before opset 13"});
}

}  // namespace fool::torch_ops
