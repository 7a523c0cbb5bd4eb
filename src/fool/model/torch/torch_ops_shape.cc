// Shape and data-movement operators: what exporters emit around the network proper (ViT's class
// token, Swin's window shifts and masks, ShuffleNet's channel split).
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <limits>

#include "fool/model/torch/torch_ops.h"

namespace fool::torch_ops {
namespace {

at::Tensor int64_vector(const std::vector<std::int64_t>& v) { return at::tensor(v, at::kLong); }

Tensors op_constant(const Node& n, const Tensors&) {
  if (n.has("value")) return {tensor_from_proto(n.attrs.at("value")->t(), n.where)};
  if (n.has("value_float")) return {at::scalar_tensor(n.f("value_float", 0), at::kFloat)};
  if (n.has("value_int")) return {at::scalar_tensor(n.i("value_int", 0), at::kLong)};
  if (n.has("value_ints")) return {int64_vector(n.ints("value_ints"))};
  if (n.has("value_floats")) {
    const auto& a = n.attrs.at("value_floats")->floats();
    return {at::tensor(std::vector<float>(a.begin(), a.end()), at::kFloat)};
  }
  throw n.error("Constant without a supported value attribute");
}

// A tensor of the shape given by input 0, filled with the one value of the `value` attribute (float 0).
Tensors op_constant_of_shape(const Node& n, const Tensors& x) {
  const auto shape = to_ints(in(n, x, 0));
  if (!n.has("value")) return {at::zeros(shape, at::kFloat)};
  const at::Tensor v = tensor_from_proto(n.attrs.at("value")->t(), n.where);
  if (v.numel() != 1) throw n.error("value must hold one element");
  return {at::full(shape, v.reshape({}).item(), v.options())};
}

Tensors op_shape(const Node& n, const Tensors& x) {
  const auto s = in(n, x, 0).sizes();
  const auto rank = static_cast<std::int64_t>(s.size());
  std::int64_t start = n.i("start", 0), end = n.i("end", rank);  // start/end: opset 15
  start = std::clamp<std::int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<std::int64_t>(end < 0 ? end + rank : end, 0, rank);
  return {int64_vector(std::vector<std::int64_t>(s.begin() + start, s.begin() + std::max(start, end)))};
}

Tensors op_size(const Node& n, const Tensors& x) { return {at::scalar_tensor(in(n, x, 0).numel(), at::kLong)}; }

Tensors op_flatten(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto axis = norm_axis(n.i("axis", 1), X.dim());
  std::int64_t outer = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= X.size(d);
  return {X.reshape({outer, -1})};
}

Tensors op_reshape(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  auto shape = to_ints(in(n, x, 1));
  const bool allowzero = n.i("allowzero", 0) != 0;
  // Checked here, naming the node: libtorch's own checks of a shape with two -1 or a product
  // beyond 64 bits end in an exception without the node, or worse.
  int inferred = 0;
  std::uint64_t product = 1;
  bool overflow = false;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0 && !allowzero) {
      if (static_cast<std::int64_t>(d) >= X.dim())
        throw n.error("shape entry " + std::to_string(d) + " is 0 (copy the input's size), beyond the input's " +
                      std::to_string(X.dim()) + " axes");
      shape[d] = X.size(static_cast<std::int64_t>(d));
    }
    if (shape[d] < -1) throw n.error("shape entry " + std::to_string(d) + " is " + std::to_string(shape[d]));
    if (shape[d] == -1) {
      ++inferred;
      continue;
    }
    const auto v = static_cast<std::uint64_t>(shape[d]);
    if (v != 0 && product > std::numeric_limits<std::uint64_t>::max() / v) overflow = true;
    product *= v;
  }
  if (inferred > 1) throw n.error("shape has " + std::to_string(inferred) + " entries of -1; at most one is inferred");
  const auto numel = static_cast<std::uint64_t>(X.numel());
  const bool fits = !overflow && (inferred == 0 ? product == numel : product != 0 && numel % product == 0);
  if (!fits) {
    std::string text;
    for (std::size_t d = 0; d < shape.size(); ++d) text += (d ? "," : "") + std::to_string(shape[d]);
    throw n.error("cannot reshape " + std::to_string(numel) + " elements to [" + text + "]");
  }
  return {X.reshape(shape)};
}

Tensors op_transpose(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  std::vector<std::int64_t> perm = n.ints("perm");
  if (perm.empty())
    for (std::int64_t d = X.dim() - 1; d >= 0; --d) perm.push_back(d);
  return {X.permute(perm)};
}

// Axes from the attribute before `input_from`, from the optional input k from then on.
std::vector<std::int64_t> axes_of(const Node& n, const Tensors& x, std::size_t k, std::int64_t input_from) {
  if (n.opset >= input_from) return present(x, k) ? to_ints(x[k]) : std::vector<std::int64_t>{};
  return n.ints("axes");
}

Tensors op_squeeze(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  auto axes = axes_of(n, x, 1, 13);
  if (axes.empty()) return {X.squeeze()};
  for (auto& a : axes) {
    a = norm_axis(a, X.dim());
    if (a < 0 || a >= X.dim() || X.size(a) != 1) throw n.error("cannot squeeze axis " + std::to_string(a));
  }
  std::sort(axes.rbegin(), axes.rend());
  at::Tensor y = X;
  for (auto a : axes) y = y.squeeze(a);
  return {y};
}

Tensors op_unsqueeze(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  auto axes = axes_of(n, x, 1, 13);
  const auto rank = X.dim() + static_cast<std::int64_t>(axes.size());
  for (auto& a : axes) a = norm_axis(a, rank);
  std::sort(axes.begin(), axes.end());
  at::Tensor y = X;
  for (auto a : axes) y = y.unsqueeze(a);
  return {y};
}

Tensors op_concat(const Node& n, const Tensors& x) {
  Tensors parts;
  for (const auto& t : x)
    if (t.defined()) parts.push_back(t);
  if (parts.empty()) throw n.error("no inputs");
  return {at::cat(parts, norm_axis(n.i("axis", 0), parts[0].dim()))};
}

// Sizes from the `split` attribute (opset < 13) or input 1; otherwise equal parts, one per output
// (the last smaller when the axis does not divide evenly, opset 18).
Tensors op_split(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto axis = norm_axis(n.i("axis", 0), X.dim());
  std::vector<std::int64_t> sizes =
      n.opset >= 13 ? (present(x, 1) ? to_ints(x[1]) : std::vector<std::int64_t>{}) : n.ints("split");
  if (sizes.empty()) {
    const std::int64_t parts = n.i("num_outputs", n.num_outputs());
    const std::int64_t len = X.size(axis), each = (len + parts - 1) / parts;
    for (std::int64_t p = 0; p < parts; ++p) sizes.push_back(std::max<std::int64_t>(0, std::min(each, len - p * each)));
  }
  auto parts = at::split_with_sizes(X, sizes, axis);
  return {parts.begin(), parts.end()};
}

// ONNX Slice: starts/ends/axes/steps from inputs (opset >= 10) or attributes; indices clamped
// as the definition says; negative steps walk backwards.
Tensors op_slice(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (n.opset >= 10) {
    starts = to_ints(in(n, x, 1));
    ends = to_ints(in(n, x, 2));
    if (present(x, 3)) axes = to_ints(x[3]);
    if (present(x, 4)) steps = to_ints(x[4]);
  } else {
    starts = n.ints("starts");
    ends = n.ints("ends");
    axes = n.ints("axes");
  }
  if (starts.size() != ends.size()) throw n.error("starts and ends differ in length");
  if (axes.empty())
    for (std::size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<std::int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) throw n.error("axes or steps differ in length");
  at::Tensor y = X;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const auto axis = norm_axis(axes[k], X.dim());
    if (axis < 0 || axis >= X.dim()) throw n.error("axis " + std::to_string(axes[k]) + " out of range");
    const std::int64_t dim = X.size(axis), step = steps[k];
    if (step == 0) throw n.error("step 0");
    std::int64_t s = starts[k], e = ends[k];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = std::clamp<std::int64_t>(s, 0, dim);
      e = std::clamp<std::int64_t>(e, 0, dim);
      y = y.slice(axis, s, std::max(s, e), step);
    } else {
      s = std::clamp<std::int64_t>(s, 0, dim - 1);
      e = std::clamp<std::int64_t>(e, -1, dim - 1);
      y = y.index_select(axis, at::arange(s, e, step, at::kLong));
    }
  }
  return {y};
}

Tensors op_gather(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto axis = norm_axis(n.i("axis", 0), X.dim());
  at::Tensor idx = in(n, x, 1).to(at::kLong);
  idx = at::where(idx < 0, idx + X.size(axis), idx);
  if (idx.dim() == 0) return {X.select(axis, idx.item<std::int64_t>())};
  at::Tensor flat = X.index_select(axis, idx.flatten());
  std::vector<std::int64_t> shape(X.sizes().begin(), X.sizes().begin() + axis);
  for (auto d : idx.sizes()) shape.push_back(d);
  for (auto d = axis + 1; d < X.dim(); ++d) shape.push_back(X.size(d));
  return {flat.reshape(shape)};
}

Tensors op_gather_elements(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto axis = norm_axis(n.i("axis", 0), X.dim());
  at::Tensor idx = in(n, x, 1).to(at::kLong);
  idx = at::where(idx < 0, idx + X.size(axis), idx);
  return {at::gather(X, axis, idx)};
}

// Broadcasts the input to the given shape (ONNX: bidirectionally, so the result may be larger than `shape`).
Tensors op_expand(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto shape = to_ints(in(n, x, 1));
  return {X.expand(at::infer_size(X.sizes(), shape))};
}

Tensors op_tile(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto repeats = to_ints(in(n, x, 1));
  if (static_cast<std::int64_t>(repeats.size()) != X.dim()) throw n.error("repeats must have one value per axis");
  return {X.repeat(repeats)};
}

// start, start + delta, ... up to but excluding limit: max(ceil((limit - start) / delta), 0) values.
Tensors op_range(const Node& n, const Tensors& x) {
  const auto& start = in(n, x, 0);
  const auto& limit = in(n, x, 1);
  const auto& delta = in(n, x, 2);
  if (at::isIntegralType(start.scalar_type(), false)) {
    const auto s = start.item<std::int64_t>(), l = limit.item<std::int64_t>(), d = delta.item<std::int64_t>();
    if (d == 0) throw n.error("delta 0");
    return {at::arange(s, l, d, at::kLong)};
  }
  const double s = start.item<double>(), l = limit.item<double>(), d = delta.item<double>();
  if (d == 0) throw n.error("delta 0");
  const auto count = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil((l - s) / d)));
  return {at::arange(count, start.options()) * d + s};
}

// A copy of data with slices at `indices` (last axis: a position in data's leading axes) replaced
// by (or combined with, per `reduction`) the matching slices of updates.
Tensors op_scatter_nd(const Node& n, const Tensors& x) {
  const auto& data = in(n, x, 0);
  at::Tensor idx = in(n, x, 1).to(at::kLong);
  const auto& updates = in(n, x, 2);
  const std::string reduction = n.s("reduction", "none");
  const std::int64_t k = idx.size(-1);
  if (k > data.dim()) throw n.error("indices address more axes than data has");
  std::vector<std::int64_t> lead(data.sizes().begin(), data.sizes().begin() + k);
  std::int64_t positions = 1;
  for (auto d : lead) positions *= d;
  // Linear position of each index tuple within the leading k axes.
  at::Tensor flat_idx = idx.reshape({-1, k});
  flat_idx = at::where(flat_idx < 0, flat_idx + at::tensor(lead, at::kLong), flat_idx);
  std::vector<std::int64_t> strides(static_cast<std::size_t>(k), 1);
  for (std::int64_t d = k - 2; d >= 0; --d) strides[d] = strides[d + 1] * lead[d + 1];
  const at::Tensor linear = (flat_idx * at::tensor(strides, at::kLong)).sum(1);
  std::vector<std::int64_t> rows_shape{positions};
  std::vector<std::int64_t> upd_shape{linear.size(0)};
  for (auto d = k; d < data.dim(); ++d) {
    rows_shape.push_back(data.size(d));
    upd_shape.push_back(data.size(d));
  }
  const at::Tensor rows = data.reshape(rows_shape);
  const at::Tensor upd = updates.reshape(upd_shape);
  at::Tensor out;
  if (reduction == "none") {
    out = rows.index_put({linear}, upd);
  } else if (reduction == "add") {
    out = rows.index_put({linear}, upd, true);
  } else if (reduction == "mul" || reduction == "max" || reduction == "min") {
    out = rows.clone();
    for (std::int64_t r = 0; r < linear.size(0); ++r) {
      const auto row = linear[r].item<std::int64_t>();
      at::Tensor cur = out[row];
      at::Tensor u = upd[r];
      out.select(0, row).copy_(reduction == "mul"   ? cur * u
                               : reduction == "max" ? at::maximum(cur, u)
                                                    : at::minimum(cur, u));
    }
  } else {
    throw n.error("reduction '" + reduction + "' is not an ONNX value");
  }
  return {out.reshape(data.sizes())};
}

// Pads from input 1 (opset >= 11; optional axes input 3 from opset 18) or the `pads` attribute.
Tensors op_pad(const Node& n, const Tensors& x) {
  const auto& X = in(n, x, 0);
  const auto rank = X.dim();
  std::vector<std::int64_t> pads = n.opset >= 11 ? to_ints(in(n, x, 1)) : n.ints("pads");
  double value = 0.0;
  if (n.opset >= 11) {
    if (present(x, 2) && x[2].numel() > 0) value = x[2].item<double>();
  } else {
    value = n.f("value", 0.0f);
  }
  std::vector<std::int64_t> axes;
  if (present(x, 3)) axes = to_ints(x[3]);
  if (axes.empty())
    for (std::int64_t d = 0; d < rank; ++d) axes.push_back(d);
  if (pads.size() != 2 * axes.size()) throw n.error("pads must have 2 values per padded axis");
  std::vector<std::int64_t> full(static_cast<std::size_t>(2 * rank), 0);
  for (std::size_t a = 0; a < axes.size(); ++a) {
    const auto d = norm_axis(axes[a], rank);
    full[static_cast<std::size_t>(d)] = pads[a];
    full[static_cast<std::size_t>(d + rank)] = pads[a + axes.size()];
  }
  std::vector<std::int64_t> tp;  // ATen order: last axis first, (begin, end)
  for (std::int64_t d = rank - 1; d >= 0; --d) {
    tp.push_back(full[static_cast<std::size_t>(d)]);
    tp.push_back(full[static_cast<std::size_t>(d + rank)]);
  }
  const std::string mode = n.s("mode", "constant");
  if (mode == "constant") return {at::constant_pad_nd(X, tp, value)};
  if (rank != 4 || tp[4] || tp[5] || tp[6] || tp[7]) throw n.error(mode + " padding only over H and W of a 4-D input");
  std::vector<std::int64_t> sp(tp.begin(), tp.begin() + 4);
  if (mode == "reflect") return {at::reflection_pad2d(X, sp)};
  if (mode == "edge") return {at::replication_pad2d(X, sp)};
  throw n.error("pad mode '" + mode + "' is not supported");
}

}  // namespace

void add_shape_ops(std::vector<OpInfo>& t) {
  const char* g = "shape";
  t.push_back({"Concat", g, op_concat, ""});
  t.push_back({"Constant", g, op_constant, "value, value_float(s), value_int(s)"});
  t.push_back({"ConstantOfShape", g, op_constant_of_shape, ""});
  t.push_back({"Expand", g, op_expand, "bidirectional broadcast"});
  t.push_back({"Flatten", g, op_flatten, ""});
  t.push_back({"Gather", g, op_gather, "negative indices"});
  t.push_back({"GatherElements", g, op_gather_elements, ""});
  t.push_back({"Pad", g, op_pad,
               "constant, reflect and edge (reflect/edge over H, W of 4-D); pads as attribute "
               "(opset < 11) or input; axes input (opset 18)"});
  t.push_back({"Range", g, op_range, ""});
  t.push_back({"Reshape", g, op_reshape, "0 copies the input's size unless allowzero; -1 inferred"});
  t.push_back({"ScatterND", g, op_scatter_nd, "reduction none, add, mul, max, min"});
  t.push_back({"Shape", g, op_shape, "start, end (opset 15)"});
  t.push_back({"Size", g, op_size, ""});
  t.push_back({"Slice", g, op_slice, "attributes (opset < 10) or inputs; negative steps; clamped indices"});
  t.push_back({"Split", g, op_split, "split as attribute (opset < 13) or input; equal parts per output"});
  t.push_back({"Squeeze", g, op_squeeze, "axes as attribute (opset < 13) or input"});
  t.push_back({"Tile", g, op_tile, ""});
  t.push_back({"Transpose", g, op_transpose, ""});
  t.push_back({"Unsqueeze", g, op_unsqueeze, "axes as attribute (opset < 13) or input"});
}

}  // namespace fool::torch_ops
