// Element-wise operators (with ONNX multidirectional broadcasting, which ATen's broadcasting is).
#include <onnx/onnx_pb.h>

#include <cmath>

#include "fool/model/torch/torch_ops.h"

namespace fool::torch_ops {
namespace {

Tensors op_add(const Node& n, const Tensors& x) { return {in(n, x, 0) + in(n, x, 1)}; }
Tensors op_sub(const Node& n, const Tensors& x) { return {in(n, x, 0) - in(n, x, 1)}; }
Tensors op_mul(const Node& n, const Tensors& x) { return {in(n, x, 0) * in(n, x, 1)}; }

Tensors op_div(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  if (at::isIntegralType(a.scalar_type(), false)) return {at::div(a, in(n, x, 1), "trunc")};
  return {a / in(n, x, 1)};
}

// The result has the base's type (ONNX Pow), whatever the exponent's.
Tensors op_pow(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  const auto& b = in(n, x, 1);
  // x^2 (LayerNorm's variance in exports before opset 17) as a product: ATen's tensor-exponent
  // kernel calls pow per element.
  if (b.dim() == 0 && at::isFloatingType(a.scalar_type()) && b.item<double>() == 2.0) return {a * a};
  at::Tensor y = at::pow(a, b);
  return {y.scalar_type() == a.scalar_type() ? y : y.to(a.scalar_type())};
}

// fmod=0: the remainder takes the divisor's sign (integers); fmod=1: C's fmod (the dividend's sign).
Tensors op_mod(const Node& n, const Tensors& x) {
  if (n.i("fmod", 0) != 0) return {at::fmod(in(n, x, 0), in(n, x, 1))};
  return {at::remainder(in(n, x, 0), in(n, x, 1))};
}

template <at::Tensor (*F)(const at::Tensor&, const at::Tensor&)>
Tensors variadic(const Node& n, const Tensors& x) {
  at::Tensor y = in(n, x, 0);
  for (std::size_t k = 1; k < x.size(); ++k) y = F(y, in(n, x, k));
  return {y};
}
at::Tensor add2(const at::Tensor& a, const at::Tensor& b) { return a + b; }
Tensors op_max(const Node& n, const Tensors& x) { return variadic<at::maximum>(n, x); }
Tensors op_min(const Node& n, const Tensors& x) { return variadic<at::minimum>(n, x); }
Tensors op_sum(const Node& n, const Tensors& x) { return variadic<add2>(n, x); }
Tensors op_mean(const Node& n, const Tensors& x) { return {variadic<add2>(n, x)[0] / static_cast<double>(x.size())}; }

Tensors op_equal(const Node& n, const Tensors& x) { return {at::eq(in(n, x, 0), in(n, x, 1))}; }
Tensors op_less(const Node& n, const Tensors& x) { return {at::lt(in(n, x, 0), in(n, x, 1))}; }
Tensors op_less_equal(const Node& n, const Tensors& x) { return {at::le(in(n, x, 0), in(n, x, 1))}; }
Tensors op_greater(const Node& n, const Tensors& x) { return {at::gt(in(n, x, 0), in(n, x, 1))}; }
Tensors op_greater_equal(const Node& n, const Tensors& x) { return {at::ge(in(n, x, 0), in(n, x, 1))}; }
Tensors op_and(const Node& n, const Tensors& x) { return {at::logical_and(in(n, x, 0), in(n, x, 1))}; }
Tensors op_or(const Node& n, const Tensors& x) { return {at::logical_or(in(n, x, 0), in(n, x, 1))}; }
Tensors op_xor(const Node& n, const Tensors& x) { return {at::logical_xor(in(n, x, 0), in(n, x, 1))}; }
Tensors op_not(const Node& n, const Tensors& x) { return {at::logical_not(in(n, x, 0))}; }

Tensors op_where(const Node& n, const Tensors& x) {
  const auto& c = in(n, x, 0);
  return {at::where(c.scalar_type() == at::kBool ? c : c.to(at::kBool), in(n, x, 1), in(n, x, 2))};
}

template <at::Tensor (*F)(const at::Tensor&)>
Tensors unary(const Node& n, const Tensors& x) {
  return {F(in(n, x, 0))};
}

Tensors op_leaky_relu(const Node& n, const Tensors& x) { return {at::leaky_relu(in(n, x, 0), n.f("alpha", 0.01f))}; }

Tensors op_prelu(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  return {at::where(a < 0, a * in(n, x, 1), a)};
}

// max(0, min(1, alpha * x + beta)); PyTorch's own form (alpha 1/6, beta 1/2) runs as its kernel.
Tensors op_hard_sigmoid(const Node& n, const Tensors& x) {
  const float alpha = n.f("alpha", 0.2f), beta = n.f("beta", 0.5f);
  const auto& a = in(n, x, 0);
  if (alpha == static_cast<float>(1.0 / 6.0) && beta == 0.5f) return {at::hardsigmoid(a)};
  return {at::clamp(a * static_cast<double>(alpha) + static_cast<double>(beta), 0.0, 1.0)};
}

// x * max(0, min(1, x / 6 + 1/2)).
Tensors op_hard_swish(const Node& n, const Tensors& x) { return {at::hardswish(in(n, x, 0))}; }

// log(exp(x) + 1), computed without overflow.
Tensors op_softplus(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  return {at::clamp_min(a, 0) + at::log1p(at::exp(-at::abs(a)))};
}
Tensors op_softsign(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  return {a / (at::abs(a) + 1)};
}
Tensors op_elu(const Node& n, const Tensors& x) { return {at::elu(in(n, x, 0), n.f("alpha", 1.0f))}; }
Tensors op_selu(const Node& n, const Tensors& x) {
  const double alpha = n.f("alpha", 1.67326319217681884765625f), gamma = n.f("gamma", 1.05070102214813232421875f);
  const auto& a = in(n, x, 0);
  return {gamma * at::where(a > 0, a, alpha * at::expm1(a))};
}
Tensors op_celu(const Node& n, const Tensors& x) { return {at::celu(in(n, x, 0), n.f("alpha", 1.0f))}; }

Tensors op_clip(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  // Each bound with whether it is given (plain Scalars: clang's analyzer misreads an empty
  // c10::optional<Scalar>'s destructor as reading an uninitialised tag).
  at::Scalar lo, hi;
  const bool has_lo = n.opset < 11 ? n.has("min") : present(x, 1);
  const bool has_hi = n.opset < 11 ? n.has("max") : present(x, 2);
  if (has_lo) lo = n.opset < 11 ? at::Scalar(n.f("min", 0.0f)) : x[1].item();
  if (has_hi) hi = n.opset < 11 ? at::Scalar(n.f("max", 0.0f)) : x[2].item();
  if (has_lo && has_hi) return {at::clamp(a, lo, hi)};
  if (has_lo) return {at::clamp_min(a, lo)};
  if (has_hi) return {at::clamp_max(a, hi)};
  return {a};
}

Tensors op_cast(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  const at::ScalarType t = scalar_type_of(n, n.i("to", onnx::TensorProto::FLOAT));
  // Float to integer casts truncate toward zero in ONNX, as in ATen.
  return {a.scalar_type() == t ? a : a.to(t)};
}

Tensors op_identity(const Node& n, const Tensors& x) { return {in(n, x, 0)}; }

// Inference: Dropout passes its input through; its optional mask output is all true.
Tensors op_dropout(const Node& n, const Tensors& x) {
  const auto& a = in(n, x, 0);
  if (n.num_outputs() > 1) return {a, at::ones_like(a, at::kBool)};
  return {a};
}

}  // namespace

void add_elementwise_ops(std::vector<OpInfo>& t) {
  const char* g = "elementwise";
  t.push_back({"Abs", g, unary<at::abs>, ""});
  t.push_back({"Add", g, op_add, "broadcasting"});
  t.push_back({"And", g, op_and, ""});
  t.push_back({"Cast", g, op_cast, "to float, double (as float32), int32 (as int64), int64, bool"});
  t.push_back({"Ceil", g, unary<at::ceil>, ""});
  t.push_back({"Celu", g, op_celu, ""});
  t.push_back({"Clip", g, op_clip, "min/max as attributes (opset < 11) or optional inputs"});
  t.push_back({"Div", g, op_div, "integer division truncates"});
  t.push_back({"Dropout", g, op_dropout, "inference: identity; optional mask output all true"});
  t.push_back({"Elu", g, op_elu, ""});
  t.push_back({"Equal", g, op_equal, ""});
  t.push_back({"Erf", g, unary<at::erf>, ""});
  t.push_back({"Exp", g, unary<at::exp>, ""});
  t.push_back({"Floor", g, unary<at::floor>, ""});
  t.push_back({"Greater", g, op_greater, ""});
  t.push_back({"GreaterOrEqual", g, op_greater_equal, ""});
  t.push_back({"HardSigmoid", g, op_hard_sigmoid, "alpha, beta"});
  t.push_back({"HardSwish", g, op_hard_swish, ""});
  t.push_back({"Identity", g, op_identity, ""});
  t.push_back({"LeakyRelu", g, op_leaky_relu, ""});
  t.push_back({"Less", g, op_less, ""});
  t.push_back({"LessOrEqual", g, op_less_equal, ""});
  t.push_back({"Log", g, unary<at::log>, ""});
  t.push_back({"Max", g, op_max, "variadic"});
  t.push_back({"Mean", g, op_mean, "variadic"});
  t.push_back({"Min", g, op_min, "variadic"});
  t.push_back({"Mod", g, op_mod, "fmod 0 (divisor's sign) and 1 (dividend's sign)"});
  t.push_back({"Mul", g, op_mul, "broadcasting"});
  t.push_back({"Neg", g, unary<at::neg>, ""});
  t.push_back({"Not", g, op_not, ""});
  t.push_back({"Or", g, op_or, ""});
  t.push_back({"PRelu", g, op_prelu, "slope broadcast to the input"});
  t.push_back({"Pow", g, op_pow, "result has the base's type"});
  t.push_back({"Reciprocal", g, unary<at::reciprocal>, ""});
  t.push_back({"Relu", g, unary<at::relu>, ""});
  t.push_back({"Round", g, unary<at::round>, "halves to even"});
  t.push_back({"Selu", g, op_selu, ""});
  t.push_back({"Sigmoid", g, unary<at::sigmoid>, ""});
  t.push_back({"Sign", g, unary<at::sign>, ""});
  t.push_back({"Softplus", g, op_softplus, ""});
  t.push_back({"Softsign", g, op_softsign, ""});
  t.push_back({"Sqrt", g, unary<at::sqrt>, ""});
  t.push_back({"Sub", g, op_sub, "broadcasting"});
  t.push_back({"Sum", g, op_sum, "variadic"});
  t.push_back({"Tanh", g, unary<at::tanh>, ""});
  t.push_back({"Where", g, op_where, ""});
  t.push_back({"Xor", g, op_xor, ""});
}

}  // namespace fool::torch_ops
