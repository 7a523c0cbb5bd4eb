#include "fool/model/caffe/caffe_convert.h"

#include <onnx/checker.h>

#include <cstdio>

#include "fool/io/image_io.h"
#include "fool/model/caffe/caffe_converter.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool {

namespace caffe_internal {

void Converter::parse() {
  parse_files();
  if (net_.layer_size() > 0 && net_.layers_size() > 0) {
    throw Error(src_.prototxt_path + ": mixes 'layer' (current) and 'layers' (V1) entries");
  }
  format_ = net_.layers_size() > 0 ? "V1" : "V2";
  for (const auto& l : net_.layer()) {
    if (!in_test_phase(l.include(), l.exclude()) || (l.has_phase() && l.phase() == cp::TRAIN)) continue;
    layers_.push_back(
        {l.name(), l.type(), {l.bottom().begin(), l.bottom().end()}, {l.top().begin(), l.top().end()}, &l, nullptr});
  }
  for (const auto& l : net_.layers()) {
    if (!in_test_phase(l.include(), l.exclude())) continue;
    layers_.push_back({l.name(),
                       v1_type_name(l.type()),
                       {l.bottom().begin(), l.bottom().end()},
                       {l.top().begin(), l.top().end()},
                       nullptr,
                       &l});
  }
  if (layers_.empty()) throw Error(src_.prototxt_path + ": has no layers");
  // Names become ONNX names and JSON text (fool convert's output, fool info): UTF-8 only, refused
  // before anything is converted or written.
  json_check::check_utf8(net_.name(), src_.prototxt_path + ": the net's name '" + printable(net_.name()) + "'");
  for (const auto& in : net_.input())
    json_check::check_utf8(in, src_.prototxt_path + ": input '" + printable(in) + "'");
  for (const Layer& l : layers_) {
    json_check::check_utf8(l.name, src_.prototxt_path + ": layer name '" + printable(l.name) + "'");
    json_check::check_utf8(l.type, where(l) + ": its type");
    for (const auto& b : l.bottom) json_check::check_utf8(b, where(l) + ": bottom '" + printable(b) + "'");
    for (const auto& t : l.top) json_check::check_utf8(t, where(l) + ": top '" + printable(t) + "'");
  }
}

void Converter::parse_files() {
  if (src_.prototxt_text.size() > kMaxPrototxtBytes)
    throw Error(src_.prototxt_path + ": larger than any prototxt fool reads");
  check_prototxt_depth(src_.prototxt_text, src_.prototxt_path);
  google::protobuf::TextFormat::Parser parser;
  parser.SetRecursionLimit(kMaxPrototxtDepth);
  parser.AllowUnknownField(true);
  parser.AllowUnknownExtension(true);
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(src_.prototxt_text, &net_)) {
    throw Error(src_.prototxt_path + ": not a Caffe prototxt (" +
                (errors.first.empty() ? "cannot parse it" : errors.first) + ")");
  }
  if (src_.weights_bytes.empty()) throw Error(src_.weights_path + ": empty; a .caffemodel holds the network's weights");
  if (src_.weights_bytes.size() > kMaxWeightsBytes || src_.weights_bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    throw Error(src_.weights_path + ": larger than any .caffemodel fool reads");
  }
  if (!weights_.ParseFromArray(src_.weights_bytes.data(), static_cast<int>(src_.weights_bytes.size()))) {
    throw Error(src_.weights_path + ": not a Caffe .caffemodel (cannot parse it as a NetParameter)");
  }
  for (const auto& l : weights_.layer())
    if (!weight_blobs_.count(l.name())) weight_blobs_[l.name()] = &l.blobs();
  for (const auto& l : weights_.layers())
    if (!weight_blobs_.count(l.name())) weight_blobs_[l.name()] = &l.blobs();
  if (weight_blobs_.empty()) throw Error(src_.weights_path + ": holds no layers; is it a .caffemodel?");
}

CaffeConversion Converter::run() {
  parse();
  declare_net_inputs();
  for (const auto& l : layers_) convert(l);
  if (input_name_.empty())
    throw Error(src_.prototxt_path + ": declares no input (an Input layer, or input + input_dim)");
  // The output: the one blob no layer reads.
  std::vector<std::string> outputs;
  for (const auto& [caffe_name, value] : current_)
    if (value != input_value_ && !graph_.consumed(value) &&
        std::find(outputs.begin(), outputs.end(), value) == outputs.end())
      outputs.push_back(value);
  if (outputs.size() != 1) {
    std::string list;
    for (const auto& o : outputs) list += (list.empty() ? "" : ", ") + printable(o);
    throw Error(src_.prototxt_path + ": " + std::to_string(outputs.size()) + " blobs are read by no layer (" + list +
                "); fool needs exactly one output");
  }
  const Dims& out_dims = shapes_.at(outputs[0]);
  if (out_dims.size() != 2) {
    throw Error(src_.prototxt_path + ": output blob '" + printable(outputs[0]) + "' has shape " + dims_str(out_dims) +
                ", not N x K class scores");
  }
  set_value_info(g_->add_output(), outputs[0], out_dims);

  CaffeConversion c;
  c.net_name = net_.name();
  c.format = format_;
  c.layers = converted_;
  c.input = input_shape_;
  c.num_classes = static_cast<int>(out_dims[1]);
  std::set<std::string> ops;
  for (const auto& n : g_->node()) ops.insert(n.op_type());
  c.operators.assign(ops.begin(), ops.end());
  return c;
}

std::string Converter::where(const Layer& l) const {
  return src_.prototxt_path + ": layer '" + printable(l.name) + "' (" + printable(l.type) + ")";
}

std::string Converter::number_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  return buf;
}

void Converter::check_parameter(const Layer& l, const std::string& name, float value, bool ok,
                                const std::string& need) const {
  if (!std::isfinite(value) || !ok) {
    throw Error(where(l) + ": " + name + " " + number_text(value) + " must be " + need +
                " (else the model computes NaN or infinity)");
  }
}

const Dims& Converter::shape_of(const Layer& l, const std::string& caffe_blob) {
  auto it = current_.find(caffe_blob);
  if (it == current_.end())
    throw Error(where(l) + " reads blob '" + printable(caffe_blob) + "', which no earlier layer makes");
  return shapes_.at(it->second);
}

std::string Converter::value_of(const Layer& l, const std::string& caffe_blob) {
  shape_of(l, caffe_blob);
  return current_.at(caffe_blob);
}

void Converter::expect_io(const Layer& l, std::size_t bottoms, std::size_t tops) const {
  if ((bottoms > 0 && l.bottom.size() != bottoms) || (bottoms == 0 && l.bottom.empty()) || l.top.size() != tops) {
    throw Error(where(l) + " has " + std::to_string(l.bottom.size()) + " bottoms and " + std::to_string(l.top.size()) +
                " tops; fool converts it with " + (bottoms ? std::to_string(bottoms) : std::string("one or more")) +
                " bottom(s) and " + std::to_string(tops) + " top");
  }
}

void Converter::produce(const std::string& top, const std::string& value, const Dims& dims) {
  current_[top] = value;
  shapes_[value] = dims;
}

const google::protobuf::RepeatedPtrField<cp::BlobProto>& Converter::blobs(const Layer& l, int count) {
  auto it = weight_blobs_.find(l.name);
  if (it == weight_blobs_.end()) {
    throw Error(src_.weights_path + ": has no layer named '" + printable(l.name) + "' (the prototxt's " +
                printable(l.type) + " layer needs its weights); are these the weights of " + src_.prototxt_path + "?");
  }
  if (it->second->size() != count) {
    throw Error(src_.weights_path + ": layer '" + printable(l.name) + "' has " + std::to_string(it->second->size()) +
                " blobs; the prototxt's " + printable(l.type) + " layer needs " + std::to_string(count));
  }
  return *it->second;
}

std::vector<float> Converter::weight(const Layer& l, const cp::BlobProto& b, int index, const Dims& expected) {
  const std::string w = src_.weights_path + ": layer '" + printable(l.name) + "' blob " + std::to_string(index);
  const Dims got = blob_dims(b);
  if (squeeze_leading(got) != squeeze_leading(expected)) {
    throw Error(w + " has shape " + dims_str(got) + "; the prototxt's layer needs " + dims_str(expected));
  }
  const std::int64_t n = count_of(expected);
  if (n < 0) throw Error(w + " is larger than fool converts");
  return blob_values(b, n, w);
}

void Converter::declare_input(const std::string& name, Dims dims, const std::string& where_text) {
  if (!input_name_.empty())
    throw Error(where_text + ": a second input '" + printable(name) + "'; fool models take one image input");
  if (dims.size() != 4 || (dims[1] != 1 && dims[1] != 3) || dims[2] <= 0 || dims[3] <= 0 || dims[2] > 65535 ||
      dims[3] > 65535) {
    throw Error(where_text + ": input '" + printable(name) + "' has shape " + dims_str(dims) +
                "; fool needs N x C x H x W images with C = 1 or 3");
  }
  dims[0] = 1;
  input_name_ = graph_.unique(name);
  set_value_info(g_->add_input(), input_name_, dims);
  input_value_ = input_name_;
  input_shape_ = {static_cast<int>(dims[1]), static_cast<int>(dims[2]), static_cast<int>(dims[3])};
  shapes_[input_name_] = dims;
  // Caffe's preprocessing, in the graph: fool's [0,1] pixels back to 0..255, minus the mean
  // image, times the scale.
  std::string x = graph_.unique("caffe_pixels");
  graph_.node("Mul", "caffe_pixels", {input_name_, graph_.constant("caffe_255", {}, {255.0f})}, x);
  shapes_[x] = dims;
  if (src_.mean) {
    const CaffeMean m = fit_caffe_mean(*src_.mean, input_shape_, src_.mean_path);
    const std::string y = graph_.unique("caffe_minus_mean");
    graph_.node("Sub", "caffe_mean", {x, graph_.constant("caffe_mean_image", {1, dims[1], dims[2], dims[3]}, m.values)},
                y);
    shapes_[y] = dims;
    x = y;
  }
  if (src_.scale != 1.0f) {
    const std::string y = graph_.unique("caffe_scaled");
    graph_.node("Mul", "caffe_scale", {x, graph_.constant("caffe_scale", {}, {src_.scale})}, y);
    shapes_[y] = dims;
    x = y;
  }
  current_[name] = x;
}

void Converter::declare_net_inputs() {
  if (net_.input_size() == 0) return;
  if (net_.input_size() > 1)
    throw Error(src_.prototxt_path + ": " + std::to_string(net_.input_size()) +
                " inputs; fool models take one image input");
  Dims dims;
  if (net_.input_shape_size() > 0) {
    dims.assign(net_.input_shape(0).dim().begin(), net_.input_shape(0).dim().end());
  } else if (net_.input_dim_size() == 4) {
    dims.assign(net_.input_dim().begin(), net_.input_dim().end());
  } else {
    throw Error(src_.prototxt_path + ": input '" + printable(net_.input(0)) +
                "' needs 4 input_dim values or an input_shape");
  }
  declare_input(net_.input(0), dims, src_.prototxt_path);
}

}  // namespace caffe_internal

using namespace caffe_internal;  // NOLINT: the converter's parts, internal to this folder

namespace {

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

std::int64_t caffe_pooled_size(std::int64_t in, std::int64_t kernel, std::int64_t pad, std::int64_t stride) {
  // Caffe: ceil((in + 2 pad - kernel) / stride) + 1, then, with padding, make sure the last window
  // starts inside the image (or its left/top padding), not in the right/bottom padding.
  std::int64_t out =
      static_cast<std::int64_t>(std::ceil(static_cast<double>(in + 2 * pad - kernel) / static_cast<double>(stride))) +
      1;
  if (pad > 0 && (out - 1) * stride >= in + pad) --out;
  return out;
}

std::int64_t caffe_conv_size(std::int64_t in, std::int64_t kernel, std::int64_t pad, std::int64_t stride,
                             std::int64_t dilation) {
  const std::int64_t extent = dilation * (kernel - 1) + 1;
  if (in + 2 * pad < extent) return 0;
  return (in + 2 * pad - extent) / stride + 1;
}

CaffeMean parse_caffe_mean(const std::uint8_t* data, std::size_t size, const std::string& path) {
  cp::BlobProto b;
  if (size == 0 || size > kMaxMeanBytes || !b.ParseFromArray(data, static_cast<int>(size))) {
    throw Error(path + ": not a Caffe mean file (cannot parse it as a BlobProto .binaryproto)");
  }
  Dims d = blob_dims(b);
  while (d.size() > 3 && d.front() == 1) d.erase(d.begin());
  if (d.size() != 3 || d[0] <= 0 || d[1] <= 0 || d[2] <= 0) {
    throw Error(path + ": mean blob has shape " + dims_str(blob_dims(b)) + "; expected 1 x C x H x W");
  }
  const std::int64_t n = count_of(d);
  if (n < 0 || d[1] > 65535 || d[2] > 65535)
    throw Error(path + ": mean blob " + dims_str(d) + " is larger than fool reads");
  CaffeMean m;
  m.shape = {static_cast<int>(d[0]), static_cast<int>(d[1]), static_cast<int>(d[2])};
  m.values = blob_values(b, n, path + ": mean blob");
  return m;
}

CaffeMean read_caffe_mean(const std::string& path) {
  const std::string bytes = read_limited(path, kMaxMeanBytes, "mean file");
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (is_png(data, bytes.size())) {
    const Image8 img = decode_png(data, bytes.size(), path);
    CaffeMean m;
    m.shape = img.shape;
    m.values.assign(img.pixels.begin(), img.pixels.end());
    if (img.shape.channels == 3) {
      // PNG is RGB; Caffe's colour models take BGR.
      const std::size_t plane = static_cast<std::size_t>(img.shape.height) * static_cast<std::size_t>(img.shape.width);
      std::swap_ranges(m.values.begin(), m.values.begin() + static_cast<std::ptrdiff_t>(plane),
                       m.values.begin() + static_cast<std::ptrdiff_t>(2 * plane));
    }
    return m;
  }
  return parse_caffe_mean(data, bytes.size(), path);
}

CaffeMean fit_caffe_mean(const CaffeMean& mean, const ImageShape& shape, const std::string& path) {
  if (mean.shape.channels != shape.channels) {
    throw Error(path + ": mean has " + std::to_string(mean.shape.channels) + " channels; the network's input has " +
                std::to_string(shape.channels));
  }
  if (mean.shape.height < shape.height || mean.shape.width < shape.width) {
    throw Error(path + ": mean is " + std::to_string(mean.shape.height) + "x" + std::to_string(mean.shape.width) +
                ", smaller than the network's " + std::to_string(shape.height) + "x" + std::to_string(shape.width) +
                " input");
  }
  if (mean.shape.height == shape.height && mean.shape.width == shape.width) return mean;
  // Caffe's test-time crop of a larger mean (e.g. 256x256 for a 227x227 input): the centre.
  const int y0 = (mean.shape.height - shape.height) / 2, x0 = (mean.shape.width - shape.width) / 2;
  CaffeMean out;
  out.shape = shape;
  out.values.resize(shape.size());
  std::size_t k = 0;
  for (int c = 0; c < shape.channels; ++c)
    for (int y = 0; y < shape.height; ++y)
      for (int x = 0; x < shape.width; ++x)
        out.values[k++] = mean.values[(static_cast<std::size_t>(c) * static_cast<std::size_t>(mean.shape.height) +
                                       static_cast<std::size_t>(y0 + y)) *
                                          static_cast<std::size_t>(mean.shape.width) +
                                      static_cast<std::size_t>(x0 + x)];
  return out;
}

CaffeConversion caffe_to_onnx(const CaffeSources& sources) {
  if (!(sources.scale > 0.0f) || !std::isfinite(sources.scale)) throw Error("--scale must be a positive number");
  onnx_build::GraphBuilder b("fool convert caffe", 13);
  Converter converter(sources, &b.graph());
  CaffeConversion c = converter.run();
  b.graph().set_name(c.net_name.empty() ? "caffe" : c.net_name);
  auto meta = [&](const std::string& k, const std::string& v) { b.metadata(k, v); };
  // The graph takes fool's [0,1] pixels; Caffe's colour nets take BGR.
  meta("fool.channel_order", c.input.channels == 3 ? "bgr" : "rgb");
  meta("fool.scale", "1");
  meta("caffe.prototxt", base_name(sources.prototxt_path));
  meta("caffe.weights", base_name(sources.weights_path));
  meta("caffe.format", c.format);
  if (sources.mean) meta("caffe.mean_image", base_name(sources.mean_path));
  char scale_text[32];
  std::snprintf(scale_text, sizeof scale_text, "%.9g", static_cast<double>(sources.scale));
  meta("caffe.scale", scale_text);
  try {
    onnx::checker::check_model(b.model());
  } catch (const std::exception& e) {
    throw Error(sources.prototxt_path + ": the converted graph fails the ONNX checker (" +
                json_check::printable(e.what(), 160) + ")");
  }
  c.onnx_bytes = b.serialize();
  return c;
}

ModelSpec convert_caffe(const CaffeConvertOptions& o, CaffeConversion* conversion) {
  CaffeSources s;
  s.prototxt_path = o.prototxt;
  s.prototxt_text = read_limited(o.prototxt, kMaxPrototxtBytes, "prototxt");
  s.weights_path = o.weights;
  s.weights_bytes = read_limited(o.weights, kMaxWeightsBytes, ".caffemodel");
  if (!o.mean_image.empty()) {
    s.mean = read_caffe_mean(o.mean_image);
    s.mean_path = o.mean_image;
  }
  s.scale = o.scale;
  CaffeConversion c = caffe_to_onnx(s);
  // Load the result with fool's own loader before it takes the name `out`: written to a hidden
  // temporary beside it, loaded, then renamed (atomic), so a file named `out` is always one fool runs.
  const std::filesystem::path out(o.out);
  const std::string tmp = (out.parent_path() / ("." + out.filename().string() + ".caffe-check")).string();
  write_file_atomic(tmp, c.onnx_bytes.data(), c.onnx_bytes.size());
  ModelSpec spec;
  try {
    spec = OnnxModel::load(tmp).spec();
  } catch (const Error& e) {
    std::remove(tmp.c_str());
    throw Error(o.out + ": the converted model does not load (" + std::string(e.what()) + ")");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(o.out + ": cannot write it (" + ec.message() + ")");
  }
  spec.path = o.out;
  if (conversion) *conversion = std::move(c);
  return spec;
}

}  // namespace fool
