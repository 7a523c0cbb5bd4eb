// The Caffe converter's one function per layer type, and the table of supported types.
#include "fool/model/caffe/caffe_converter.h"

namespace fool::caffe_internal {

namespace {

using Method = void (Converter::*)(const Layer&);
// The one list of supported layer types: the dispatch and the error message both read it.
const std::vector<std::pair<std::string, Method>>& layer_table() {
  static const std::vector<std::pair<std::string, Method>> table = {
      {"Input", &Converter::input_layer}, {"Convolution", &Converter::convolution},
      {"Pooling", &Converter::pooling},   {"InnerProduct", &Converter::inner_product},
      {"ReLU", &Converter::relu},         {"LRN", &Converter::lrn},
      {"Dropout", &Converter::dropout},   {"Softmax", &Converter::softmax},
      {"Concat", &Converter::concat},     {"Eltwise", &Converter::eltwise},
      {"Flatten", &Converter::flatten},   {"Sigmoid", &Converter::activation},
      {"TanH", &Converter::activation},   {"BatchNorm", &Converter::batch_norm},
      {"Scale", &Converter::scale}};
  return table;
}

}  // namespace

const std::vector<std::string>& supported_layer_types() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, method] : layer_table()) n.push_back(name);
    return n;
  }();
  return names;
}

void Converter::convert(const Layer& l) {
  for (const auto& [name, method] : layer_table()) {
    if (name != l.type) continue;
    (this->*method)(l);
    ++converted_;
    return;
  }
  std::string list;
  for (const std::string& n : supported_layer_types()) list += (list.empty() ? "" : ", ") + n;
  throw Error(where(l) + ": layer type not supported; fool converts " + list);
}

void Converter::input_layer(const Layer& l) {
  if (!l.bottom.empty() || l.top.size() != 1)
    throw Error(where(l) + ": fool converts an Input layer with no bottom and one top");
  const auto& p = l.v2->input_param();
  if (p.shape_size() == 0) throw Error(where(l) + " gives no shape");
  declare_input(l.top[0], Dims(p.shape(0).dim().begin(), p.shape(0).dim().end()), where(l));
}

void Converter::relu(const Layer& l) {
  expect_io(l, 1, 1);
  const float slope = l.param(&cp::LayerParameter::relu_param, &cp::V1LayerParameter::relu_param).negative_slope();
  check_parameter(l, "negative_slope", slope, true, "a finite number");
  const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
  auto* n = graph_.node(slope == 0.0f ? "Relu" : "LeakyRelu", l.name, {x}, y);
  if (slope != 0.0f) set_float(n, "alpha", slope);
  produce(l.top[0], y, shapes_.at(x));
}

void Converter::activation(const Layer& l) {  // Sigmoid, TanH
  expect_io(l, 1, 1);
  const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
  graph_.node(l.type == "Sigmoid" ? "Sigmoid" : "Tanh", l.name, {x}, y);
  produce(l.top[0], y, shapes_.at(x));
}

void Converter::dropout(const Layer& l) {
  // At test time Caffe's dropout passes its input through (it scales during training).
  expect_io(l, 1, 1);
  current_[l.top[0]] = value_of(l, l.bottom[0]);
}

void Converter::softmax(const Layer& l) {
  expect_io(l, 1, 1);
  const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
  const Dims& d = shapes_.at(x);
  std::int64_t axis = l.param(&cp::LayerParameter::softmax_param, &cp::V1LayerParameter::softmax_param).axis();
  if (axis < 0) axis += static_cast<std::int64_t>(d.size());
  if (axis < 1 || axis >= static_cast<std::int64_t>(d.size()))
    throw Error(where(l) + ": axis out of range for shape " + dims_str(d));
  set_int(graph_.node("Softmax", l.name, {x}, y), "axis", axis);
  produce(l.top[0], y, d);
}

void Converter::flatten(const Layer& l) {
  expect_io(l, 1, 1);
  const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
  const Dims& d = shapes_.at(x);
  const auto& p = l.v2 ? l.v2->flatten_param() : cp::FlattenParameter::default_instance();
  const auto rank = static_cast<std::int64_t>(d.size());
  const std::int64_t end = p.end_axis() < 0 ? p.end_axis() + rank : p.end_axis();
  if (p.axis() != 1 || end != rank - 1)
    throw Error(where(l) + ": fool converts Flatten from axis 1 to the last axis only");
  const std::int64_t n = count_of(Dims(d.begin() + 1, d.end()));
  if (n <= 0) throw Error(where(l) + ": input " + dims_str(d) + " is larger than fool converts");
  set_int(graph_.node("Flatten", l.name, {x}, y), "axis", 1);
  produce(l.top[0], y, {d[0], n});
}

std::int64_t Converter::pick(const google::protobuf::RepeatedField<std::uint32_t>& r, bool has_hw, std::uint32_t hw,
                             int axis, std::int64_t def) {
  if (has_hw) return hw;
  if (r.empty()) return def;
  return r.size() == 1 ? r.Get(0) : r.Get(std::min(axis, r.size() - 1));
}

void Converter::convolution(const Layer& l) {
  expect_io(l, 1, 1);
  const auto& p = l.param(&cp::LayerParameter::convolution_param, &cp::V1LayerParameter::convolution_param);
  const std::string x = value_of(l, l.bottom[0]);
  const Dims d = shapes_.at(x);
  if (d.size() != 4) throw Error(where(l) + ": input shape " + dims_str(d) + " is not N x C x H x W");
  if (p.axis() != 1) throw Error(where(l) + ": fool converts convolutions over axis 1 only");
  if (p.kernel_size_size() > 2 || p.pad_size() > 2 || p.stride_size() > 2 || p.dilation_size() > 2) {
    throw Error(where(l) + ": fool converts 2-D convolutions only");
  }
  const std::int64_t kh = pick(p.kernel_size(), p.has_kernel_h(), p.kernel_h(), 0, 0);
  const std::int64_t kw = pick(p.kernel_size(), p.has_kernel_w(), p.kernel_w(), 1, 0);
  const std::int64_t ph = pick(p.pad(), p.has_pad_h(), p.pad_h(), 0, 0),
                     pw = pick(p.pad(), p.has_pad_w(), p.pad_w(), 1, 0);
  const std::int64_t sh = pick(p.stride(), p.has_stride_h(), p.stride_h(), 0, 1);
  const std::int64_t sw = pick(p.stride(), p.has_stride_w(), p.stride_w(), 1, 1);
  const std::int64_t dh = pick(p.dilation(), false, 0, 0, 1), dw = pick(p.dilation(), false, 0, 1, 1);
  const std::int64_t group = p.group(), out_c = p.num_output();
  if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || kh > 4096 || kw > 4096 || ph > 4096 ||
      pw > 4096 || sh > 4096 || sw > 4096 || dh > 4096 || dw > 4096) {
    throw Error(where(l) + ": kernel, stride and dilation must be positive (and at most 4096)");
  }
  if (out_c <= 0 || group <= 0 || d[1] % group != 0 || out_c % group != 0) {
    throw Error(where(l) + ": num_output " + std::to_string(out_c) + " and group " + std::to_string(group) +
                " do not divide the input's " + std::to_string(d[1]) + " channels");
  }
  const std::int64_t oh = caffe_conv_size(d[2], kh, ph, sh, dh), ow = caffe_conv_size(d[3], kw, pw, sw, dw);
  if (oh <= 0 || ow <= 0) throw Error(where(l) + ": output would be empty for input " + dims_str(d));
  const auto& b = blobs(l, p.bias_term() ? 2 : 1);
  const Dims wdims{out_c, d[1] / group, kh, kw};
  std::vector<std::string> inputs{x, graph_.constant(l.name + "_weight", wdims, weight(l, b.Get(0), 0, wdims))};
  if (p.bias_term()) inputs.push_back(graph_.constant(l.name + "_bias", {out_c}, weight(l, b.Get(1), 1, {out_c})));
  const std::string y = out_name(l);
  auto* n = graph_.node("Conv", l.name, inputs, y);
  set_ints(n, "kernel_shape", {kh, kw});
  set_ints(n, "pads", {ph, pw, ph, pw});
  set_ints(n, "strides", {sh, sw});
  set_ints(n, "dilations", {dh, dw});
  set_int(n, "group", group);
  produce(l.top[0], y, {d[0], out_c, oh, ow});
}

void Converter::pooling(const Layer& l) {
  expect_io(l, 1, 1);
  const auto& p = l.param(&cp::LayerParameter::pooling_param, &cp::V1LayerParameter::pooling_param);
  const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
  const Dims d = shapes_.at(x);
  if (d.size() != 4) throw Error(where(l) + ": input shape " + dims_str(d) + " is not N x C x H x W");
  if (p.pool() == cp::PoolingParameter::STOCHASTIC)
    throw Error(where(l) + ": STOCHASTIC pooling is not supported (MAX, AVE)");
  const bool max = p.pool() == cp::PoolingParameter::MAX;
  if (p.global_pooling()) {
    graph_.node(max ? "GlobalMaxPool" : "GlobalAveragePool", l.name, {x}, y);
    produce(l.top[0], y, {d[0], d[1], 1, 1});
    return;
  }
  const std::int64_t kh = p.has_kernel_h() ? p.kernel_h() : p.kernel_size();
  const std::int64_t kw = p.has_kernel_w() ? p.kernel_w() : p.kernel_size();
  const std::int64_t ph = p.has_pad_h() ? p.pad_h() : p.pad(), pw = p.has_pad_w() ? p.pad_w() : p.pad();
  const std::int64_t sh = p.has_stride_h() ? p.stride_h() : p.stride(),
                     sw = p.has_stride_w() ? p.stride_w() : p.stride();
  if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || kh > 4096 || kw > 4096 || sh > 4096 || sw > 4096) {
    throw Error(where(l) + ": kernel and stride must be positive (and at most 4096)");
  }
  if (ph >= kh || pw >= kw) throw Error(where(l) + ": pad must be smaller than the kernel");
  const std::int64_t oh = caffe_pooled_size(d[2], kh, ph, sh), ow = caffe_pooled_size(d[3], kw, pw, sw);
  if (oh <= 0 || ow <= 0) throw Error(where(l) + ": output would be empty for input " + dims_str(d));
  // Caffe's average divides by the window clipped to the padded input (padding counts, the part
  // of a rounded-up last window beyond the padding does not): PyTorch's rule for an input padded
  // beforehand. So a padded AVE pooling becomes Pad (zeros) + AveragePool without pads; OpenCV
  // 4.6's ONNX importer also gets AveragePool with pads wrong (measured: max |diff| 130 on the
  // conformance net) and this form right. Max pooling ignores padding, as ONNX MaxPool's pads do.
  std::string pool_in = x;
  std::int64_t pool_ph = ph, pool_pw = pw, in_h = d[2], in_w = d[3];
  if (!max && (ph > 0 || pw > 0)) {
    pool_in = graph_.unique(l.name + "_padded");
    graph_.node("Pad", l.name + "_pad", {x, graph_.int64_constant(l.name + "_pads", {0, 0, ph, pw, 0, 0, ph, pw})},
                pool_in);
    in_h += 2 * ph;
    in_w += 2 * pw;
    pool_ph = pool_pw = 0;
    shapes_[pool_in] = {d[0], d[1], in_h, in_w};
  }
  const int mode = onnx_pool_rounding(in_h, in_w, kh, kw, pool_ph, pool_pw, sh, sw, oh, ow);
  if (mode < 0) {
    throw Error(where(l) +
                ": its last window lies outside the input (kernel smaller than stride, no pad); no ONNX pooling "
                "matches Caffe here");
  }
  auto* n = graph_.node(max ? "MaxPool" : "AveragePool", l.name, {pool_in}, y);
  set_ints(n, "kernel_shape", {kh, kw});
  set_ints(n, "pads", {pool_ph, pool_pw, pool_ph, pool_pw});
  set_ints(n, "strides", {sh, sw});
  if (mode == 1) set_int(n, "ceil_mode", 1);
  produce(l.top[0], y, {d[0], d[1], oh, ow});
}

void Converter::inner_product(const Layer& l) {
  expect_io(l, 1, 1);
  const auto& p = l.param(&cp::LayerParameter::inner_product_param, &cp::V1LayerParameter::inner_product_param);
  std::string x = value_of(l, l.bottom[0]);
  const Dims d = shapes_.at(x);
  if (p.axis() != 1) throw Error(where(l) + ": fool converts InnerProduct over axis 1 only");
  const std::int64_t in = count_of(Dims(d.begin() + 1, d.end())), out = p.num_output();
  if (in <= 0) throw Error(where(l) + ": input " + dims_str(d) + " is larger than fool converts");
  if (out <= 0) throw Error(where(l) + ": num_output must be positive");
  if (d.size() != 2) {
    // Caffe flattens everything after the batch axis implicitly.
    const std::string f = graph_.unique(l.name + "_flat");
    set_int(graph_.node("Flatten", l.name + "_flatten", {x}, f), "axis", 1);
    shapes_[f] = {d[0], in};
    x = f;
  }
  const auto& b = blobs(l, p.bias_term() ? 2 : 1);
  const Dims wdims = p.transpose() ? Dims{in, out} : Dims{out, in};
  std::vector<std::string> inputs{x, graph_.constant(l.name + "_weight", wdims, weight(l, b.Get(0), 0, wdims))};
  if (p.bias_term()) inputs.push_back(graph_.constant(l.name + "_bias", {out}, weight(l, b.Get(1), 1, {out})));
  const std::string y = out_name(l);
  auto* n = graph_.node("Gemm", l.name, inputs, y);
  if (!p.transpose()) set_int(n, "transB", 1);
  produce(l.top[0], y, {d[0], out});
}

void Converter::lrn(const Layer& l) {
  expect_io(l, 1, 1);
  const auto& p = l.param(&cp::LayerParameter::lrn_param, &cp::V1LayerParameter::lrn_param);
  if (p.norm_region() != cp::LRNParameter::ACROSS_CHANNELS)
    throw Error(where(l) + ": WITHIN_CHANNEL LRN is not supported (ACROSS_CHANNELS)");
  if (p.local_size() % 2 == 0 || p.local_size() > 4095)
    throw Error(where(l) + ": local_size must be odd (as Caffe requires) and below 4096");
  check_parameter(l, "k", p.k(), p.k() > 0.0f, "positive");
  check_parameter(l, "alpha", p.alpha(), p.alpha() >= 0.0f, "a finite number not below 0");
  check_parameter(l, "beta", p.beta(), true, "a finite number");
  const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
  if (shapes_.at(x).size() != 4) throw Error(where(l) + ": input is not N x C x H x W");
  // Caffe: x / (k + alpha / n * sum of squares over n channels)^beta, the window centred on the
  // channel; ONNX LRN is the same formula (it too divides alpha by size).
  auto* n = graph_.node("LRN", l.name, {x}, y);
  set_int(n, "size", p.local_size());
  set_float(n, "alpha", p.alpha());
  set_float(n, "beta", p.beta());
  set_float(n, "bias", p.k());
  produce(l.top[0], y, shapes_.at(x));
}

void Converter::concat(const Layer& l) {
  expect_io(l, 0, 1);
  const auto& p = l.param(&cp::LayerParameter::concat_param, &cp::V1LayerParameter::concat_param);
  std::vector<std::string> inputs;
  Dims out;
  std::int64_t axis = p.has_axis() ? p.axis() : p.concat_dim();
  for (const auto& b : l.bottom) {
    inputs.push_back(value_of(l, b));
    const Dims& d = shapes_.at(inputs.back());
    if (out.empty()) {
      out = d;
      if (axis < 0) axis += static_cast<std::int64_t>(d.size());
      if (axis < 1 || axis >= static_cast<std::int64_t>(d.size()))
        throw Error(where(l) + ": axis out of range for shape " + dims_str(d));
      continue;
    }
    bool same = d.size() == out.size();
    for (std::size_t i = 0; same && i < d.size(); ++i) same = static_cast<std::int64_t>(i) == axis || d[i] == out[i];
    if (!same)
      throw Error(where(l) + ": bottom '" + printable(b) + "' has shape " + dims_str(d) +
                  ", which does not concatenate with " + dims_str(out));
    out[static_cast<std::size_t>(axis)] += d[static_cast<std::size_t>(axis)];
  }
  const std::string y = out_name(l);
  set_int(graph_.node("Concat", l.name, inputs, y), "axis", axis);
  produce(l.top[0], y, out);
}

void Converter::eltwise(const Layer& l) {
  expect_io(l, 0, 1);
  const auto& p = l.param(&cp::LayerParameter::eltwise_param, &cp::V1LayerParameter::eltwise_param);
  if (l.bottom.size() < 2) throw Error(where(l) + ": needs at least two bottoms");
  if (p.coeff_size() > 0 &&
      (p.operation() != cp::EltwiseParameter::SUM || p.coeff_size() != static_cast<int>(l.bottom.size()))) {
    throw Error(where(l) + ": coeff needs the SUM operation and one value per bottom");
  }
  for (int i = 0; i < p.coeff_size(); ++i) check_parameter(l, "coeff", p.coeff(i), true, "a finite number");
  std::vector<std::string> inputs;
  Dims shape;
  for (std::size_t i = 0; i < l.bottom.size(); ++i) {
    std::string v = value_of(l, l.bottom[i]);
    const Dims& d = shapes_.at(v);
    if (i == 0) shape = d;
    if (d != shape)
      throw Error(where(l) + ": bottom '" + printable(l.bottom[i]) + "' has shape " + dims_str(d) + ", not " +
                  dims_str(shape));
    if (p.coeff_size() > 0 && p.coeff(static_cast<int>(i)) != 1.0f) {
      const std::string s = graph_.unique(l.name + "_term" + std::to_string(i));
      graph_.node("Mul", l.name + "_coeff", {v, graph_.constant(l.name + "_coeff", {}, {p.coeff(static_cast<int>(i))})},
                  s);
      shapes_[s] = d;
      v = s;
    }
    inputs.push_back(v);
  }
  const char* op = p.operation() == cp::EltwiseParameter::SUM    ? "Sum"
                   : p.operation() == cp::EltwiseParameter::PROD ? "Mul"
                                                                 : "Max";
  std::string acc = inputs[0];
  if (std::string(op) == "Mul") {
    // Mul takes two inputs; chain it.
    for (std::size_t i = 1; i < inputs.size(); ++i) {
      const std::string y =
          i + 1 == inputs.size() ? out_name(l) : graph_.unique(l.name + "_product" + std::to_string(i));
      graph_.node("Mul", l.name, {acc, inputs[i]}, y);
      shapes_[y] = shape;
      acc = y;
    }
  } else {
    acc = out_name(l);
    graph_.node(op, l.name, inputs, acc);
  }
  produce(l.top[0], acc, shape);
}

void Converter::batch_norm(const Layer& l) {
  expect_io(l, 1, 1);
  if (!l.v2) throw Error(where(l) + ": not a V1 layer type");
  const std::string x = value_of(l, l.bottom[0]), y = out_name(l);
  const Dims d = shapes_.at(x);
  if (d.size() < 2) throw Error(where(l) + ": input has no channel axis");
  const std::int64_t c = d[1];
  const auto& b = blobs(l, 3);
  std::vector<float> mean = weight(l, b.Get(0), 0, {c}), var = weight(l, b.Get(1), 1, {c});
  const float factor = weight(l, b.Get(2), 2, {1})[0];
  const float eps = l.v2->batch_norm_param().eps();
  check_parameter(l, "eps", eps, eps > 0.0f, "positive");
  // Caffe stores running sums and their weight: the statistics are blob / factor (0 if factor is 0).
  const float inv = factor == 0.0f ? 0.0f : 1.0f / factor;
  for (auto& v : mean) v *= inv;
  for (auto& v : var) v *= inv;
  for (std::size_t i = 0; i < var.size(); ++i) {
    if (!std::isfinite(mean[i]) || !std::isfinite(var[i]) || var[i] < 0.0f) {
      throw Error(src_.weights_path + ": layer '" + printable(l.name) + "' channel " + std::to_string(i) +
                  " has mean " + number_text(mean[i]) + " and variance " + number_text(var[i]) +
                  " after the scale factor; a variance must be finite and not negative");
    }
  }
  const std::vector<float> ones(static_cast<std::size_t>(c), 1.0f), zeros(static_cast<std::size_t>(c), 0.0f);
  auto* n =
      graph_.node("BatchNormalization", l.name,
                  {x, graph_.constant(l.name + "_gamma", {c}, ones), graph_.constant(l.name + "_beta", {c}, zeros),
                   graph_.constant(l.name + "_mean", {c}, mean), graph_.constant(l.name + "_var", {c}, var)},
                  y);
  set_float(n, "epsilon", eps);
  produce(l.top[0], y, d);
}

void Converter::scale(const Layer& l) {
  expect_io(l, 1, 1);
  if (!l.v2) throw Error(where(l) + ": not a V1 layer type");
  const auto& p = l.v2->scale_param();
  if (p.axis() != 1 || p.num_axes() != 1)
    throw Error(where(l) + ": fool converts a per-channel Scale (axis 1, num_axes 1) only");
  const std::string x = value_of(l, l.bottom[0]);
  const Dims d = shapes_.at(x);
  if (d.size() < 2) throw Error(where(l) + ": input has no channel axis");
  const std::int64_t c = d[1];
  Dims cdims{c};
  for (std::size_t i = 2; i < d.size(); ++i) cdims.push_back(1);
  const auto& b = blobs(l, p.bias_term() ? 2 : 1);
  const std::string scaled = p.bias_term() ? graph_.unique(l.name + "_scaled") : out_name(l);
  graph_.node("Mul", l.name, {x, graph_.constant(l.name + "_gamma", cdims, weight(l, b.Get(0), 0, {c}))}, scaled);
  shapes_[scaled] = d;
  std::string y = scaled;
  if (p.bias_term()) {
    y = out_name(l);
    graph_.node("Add", l.name + "_bias",
                {scaled, graph_.constant(l.name + "_beta", cdims, weight(l, b.Get(1), 1, {c}))}, y);
  }
  produce(l.top[0], y, d);
}

}  // namespace fool::caffe_internal
