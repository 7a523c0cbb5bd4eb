// Reductions over axes, and the arg-reductions.
#include <onnx/onnx_pb.h>

#include <algorithm>

#include "fool/model/torch/torch_ops.h"

namespace fool::torch_ops {
namespace {

// The axes to reduce: from the `axes` attribute, or from input 1 from `input_from` on (ReduceSum:
// opset 13, the others: 18). None given: all axes, or none (the input unchanged) when
// noop_with_empty_axes is set. Returns false for that no-op.
bool reduce_axes(const Node& n, const Tensors& x, std::int64_t input_from, std::vector<std::int64_t>* axes) {
  const auto& X = in(n, x, 0);
  *axes = n.opset >= input_from ? (present(x, 1) ? to_ints(x[1]) : std::vector<std::int64_t>{}) : n.ints("axes");
  if (axes->empty()) {
    if (n.i("noop_with_empty_axes", 0) != 0) return false;
    for (std::int64_t d = 0; d < X.dim(); ++d) axes->push_back(d);
  }
  for (auto& a : *axes) {
    a = norm_axis(a, X.dim());
    if (a < 0 || a >= std::max<std::int64_t>(X.dim(), 1)) throw n.error("axis out of range");
  }
  std::sort(axes->begin(), axes->end());
  axes->erase(std::unique(axes->begin(), axes->end()), axes->end());
  return true;
}

bool keepdims(const Node& n) { return n.i("keepdims", 1) != 0; }

template <std::int64_t InputFrom, at::Tensor (*F)(const at::Tensor&, at::IntArrayRef, bool)>
Tensors reduce(const Node& n, const Tensors& x) {
  std::vector<std::int64_t> axes;
  if (!reduce_axes(n, x, InputFrom, &axes)) return {in(n, x, 0)};
  if (in(n, x, 0).dim() == 0) return {in(n, x, 0)};
  return {F(in(n, x, 0), axes, keepdims(n))};
}

at::Tensor mean(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return x.mean(axes, keep); }
at::Tensor sum(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return x.sum(axes, keep); }
at::Tensor amax(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return x.amax(axes, keep); }
at::Tensor amin(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return x.amin(axes, keep); }
at::Tensor sum_square(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return (x * x).sum(axes, keep); }
at::Tensor l1(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return x.abs().sum(axes, keep); }
at::Tensor l2(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return (x * x).sum(axes, keep).sqrt(); }
at::Tensor log_sum(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return x.sum(axes, keep).log(); }
at::Tensor log_sum_exp(const at::Tensor& x, at::IntArrayRef axes, bool keep) { return at::logsumexp(x, axes, keep); }
at::Tensor prod(const at::Tensor& x, at::IntArrayRef axes, bool keep) {
  at::Tensor y = x;
  for (auto it = axes.rbegin(); it != axes.rend(); ++it) y = y.prod(*it, keep);
  return y;
}

// Index of the first (or with select_last_index, the last) extreme value along `axis`.
template <bool Max>
Tensors arg_reduce(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto axis = norm_axis(n.i("axis", 0), X.dim());
  const bool keep = keepdims(n);
  if (n.i("select_last_index", 0) == 0) return {Max ? X.argmax(axis, keep) : X.argmin(axis, keep)};
  const at::Tensor flipped = X.flip({axis});
  const at::Tensor i = Max ? flipped.argmax(axis, keep) : flipped.argmin(axis, keep);
  return {(X.size(axis) - 1) - i};
}

}  // namespace

void add_reduce_ops(std::vector<OpInfo>& t) {
  const char* g = "reduce";
  const char* axes18 = "axes as attribute (input from opset 18); keepdims; noop_with_empty_axes";
  t.push_back({"ArgMax", g, arg_reduce<true>, "keepdims, select_last_index"});
  t.push_back({"ArgMin", g, arg_reduce<false>, "keepdims, select_last_index"});
  t.push_back({"ReduceL1", g, reduce<18, l1>, axes18});
  t.push_back({"ReduceL2", g, reduce<18, l2>, axes18});
  t.push_back({"ReduceLogSum", g, reduce<18, log_sum>, axes18});
  t.push_back({"ReduceLogSumExp", g, reduce<18, log_sum_exp>, axes18});
  t.push_back({"ReduceMax", g, reduce<18, amax>, axes18});
  t.push_back({"ReduceMean", g, reduce<18, mean>, axes18});
  t.push_back({"ReduceMin", g, reduce<18, amin>, axes18});
  t.push_back({"ReduceProd", g, reduce<18, prod>, axes18});
  t.push_back(
      {"ReduceSum", g, reduce<13, sum>, "axes as attribute (input from opset 13); keepdims; noop_with_empty_axes"});
  t.push_back({"ReduceSumSquare", g, reduce<18, sum_square>, axes18});
}

}  // namespace fool::torch_ops
