#pragma once
// The Caffe converter's parts (internal to model/caffe, not installed): limits on what it reads, the
// blobs and layers of a Caffe net (V1 or V2), the ONNX graph being built, and the Converter whose
// net-level steps live in caffe_convert.cc and whose one function per layer type lives in
// caffe_layers.cc (with the table of supported layer types).
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "caffe_subset.pb.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/io/files.h"
#include "fool/model/caffe/caffe_convert.h"
#include "fool/model/onnx/graph_builder.h"

namespace fool::caffe_internal {

namespace cp = ::fool::caffe;
using Dims = std::vector<std::int64_t>;

// Files larger than these are refused before they are read: the largest public Caffe ImageNet
// models (VGG-16) are about 550 MB; a prototxt is text of a few kB.
constexpr std::uintmax_t kMiB = std::uintmax_t{1024} * 1024;
constexpr std::uintmax_t kMaxWeightsBytes = 2000 * kMiB;
constexpr std::uintmax_t kMaxPrototxtBytes = 16 * kMiB;
constexpr std::uintmax_t kMaxMeanBytes = 256 * kMiB;
// Any tensor the converter makes (mean image, one weight blob) stays below this many elements.
constexpr std::int64_t kMaxElements = std::int64_t{1} << 29;

inline std::string printable(const std::string& s) { return json_check::printable(s, 60); }

inline std::string dims_str(const Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

inline std::int64_t count_of(const Dims& d) {
  std::int64_t n = 1;
  for (auto v : d) {
    if (v < 0 || (v > 0 && n > kMaxElements / v)) return -1;
    n *= v;
  }
  return n;
}

inline std::string read_limited(const std::string& path, std::uintmax_t limit, const char* what) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > limit) {
    throw Error(path + ": " + std::to_string(size) + " bytes is larger than any " + what + " fool reads (" +
                std::to_string(limit) + ")");
  }
  const auto bytes = read_file(path, limit);
  return std::string(bytes.begin(), bytes.end());
}

// Protobuf's text parser recurses once per nested message, known or skipped as unknown: a prototxt
// nesting deeper than any Caffe net (a handful of levels) is refused before it is parsed.
constexpr int kMaxPrototxtDepth = 64;
inline void check_prototxt_depth(const std::string& text, const std::string& path) {
  int depth = 0;
  char quote = 0;
  bool comment = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (comment) {
      comment = ch != '\n';
    } else if (quote != 0) {
      if (ch == '\\') {
        ++i;
      } else if (ch == quote || ch == '\n') {
        quote = 0;
      }
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '#') {
      comment = true;
    } else if (ch == '{' || ch == '<') {
      if (++depth > kMaxPrototxtDepth) {
        throw Error(path + ": messages nested deeper than " + std::to_string(kMaxPrototxtDepth) +
                    " levels; no Caffe net does that");
      }
    } else if (ch == '}' || ch == '>') {
      --depth;
    }
  }
}

// ---- blobs ---------------------------------------------------------------------------------------

// A blob's shape: `shape` if set, else the legacy num/channels/height/width.
inline Dims blob_dims(const cp::BlobProto& b) {
  if (b.has_shape()) return Dims(b.shape().dim().begin(), b.shape().dim().end());
  return {b.num(), b.channels(), b.height(), b.width()};
}

// Shapes compared as Caffe compares a stored blob with a layer's: leading 1s do not count (legacy
// blobs store an InnerProduct weight as 1 x 1 x out x in and a bias as 1 x 1 x 1 x out).
inline Dims squeeze_leading(Dims d) {
  while (d.size() > 1 && d.front() == 1) d.erase(d.begin());
  return d;
}

inline std::vector<float> blob_values(const cp::BlobProto& b, std::int64_t expected, const std::string& where) {
  std::vector<float> v;
  if (b.data_size() > 0) {
    v.assign(b.data().begin(), b.data().end());
  } else {
    v.reserve(static_cast<std::size_t>(b.double_data_size()));
    for (double x : b.double_data()) v.push_back(static_cast<float>(x));
  }
  if (static_cast<std::int64_t>(v.size()) != expected) {
    throw Error(where + " holds " + std::to_string(v.size()) + " values for its " + std::to_string(expected) +
                "-element shape");
  }
  for (float x : v)
    if (!std::isfinite(x)) throw Error(where + " holds a value that is not finite");
  return v;
}

// ---- one layer, V1 or V2 -------------------------------------------------------------------------

struct Layer {
  std::string name;
  std::string type;  // V2 spelling ("Convolution"); V1 enums are mapped
  std::vector<std::string> bottom, top;
  const cp::LayerParameter* v2 = nullptr;
  const cp::V1LayerParameter* v1 = nullptr;

  template <typename T>
  const T& param(const T& (cp::LayerParameter::*f2)() const, const T& (cp::V1LayerParameter::*f1)() const) const {
    return v2 ? (v2->*f2)() : (v1->*f1)();
  }
};

inline std::string v1_type_name(cp::V1LayerParameter::LayerType t) {
  using L = cp::V1LayerParameter;
  switch (t) {
    case L::CONCAT:
      return "Concat";
    case L::CONVOLUTION:
      return "Convolution";
    case L::DROPOUT:
      return "Dropout";
    case L::ELTWISE:
      return "Eltwise";
    case L::FLATTEN:
      return "Flatten";
    case L::INNER_PRODUCT:
      return "InnerProduct";
    case L::LRN:
      return "LRN";
    case L::POOLING:
      return "Pooling";
    case L::RELU:
      return "ReLU";
    case L::SIGMOID:
      return "Sigmoid";
    case L::SOFTMAX:
      return "Softmax";
    case L::TANH:
      return "TanH";
    default:
      return L::LayerType_Name(t).empty() ? "V1 type " + std::to_string(static_cast<int>(t)) : L::LayerType_Name(t);
  }
}

inline bool in_test_phase(const google::protobuf::RepeatedPtrField<cp::NetStateRule>& include,
                          const google::protobuf::RepeatedPtrField<cp::NetStateRule>& exclude) {
  // Caffe's rule: with include rules a layer runs if any matches; exclude rules drop it if any matches.
  auto matches_test = [](const cp::NetStateRule& r) { return !r.has_phase() || r.phase() == cp::TEST; };
  if (!include.empty() && std::none_of(include.begin(), include.end(), matches_test)) return false;
  return std::none_of(exclude.begin(), exclude.end(), matches_test);
}

// Which ONNX rounding gives Caffe's pooled size oh x ow: 0 floor, 1 ceil_mode, -1 neither. ONNX
// (and PyTorch, OpenCV) round up with ceil_mode and drop a last window that starts in the (end)
// padding whether the layer pads or not; Caffe drops it only when it pads. None matches when a last
// window lies wholly outside an unpadded input (Caffe fills it with -FLT_MAX).
inline int onnx_pool_rounding(std::int64_t in_h, std::int64_t in_w, std::int64_t kh, std::int64_t kw, std::int64_t ph,
                              std::int64_t pw, std::int64_t sh, std::int64_t sw, std::int64_t oh, std::int64_t ow) {
  auto floor_size = [](std::int64_t in, std::int64_t k, std::int64_t pad, std::int64_t s) {
    return (in + 2 * pad - k) / s + 1;
  };
  auto ceil_size = [](std::int64_t in, std::int64_t k, std::int64_t pad, std::int64_t s) {
    std::int64_t o = (in + 2 * pad - k + s - 1) / s + 1;
    if ((o - 1) * s >= in + pad) --o;
    return o;
  };
  if (floor_size(in_h, kh, ph, sh) == oh && floor_size(in_w, kw, pw, sw) == ow) return 0;
  if (ceil_size(in_h, kh, ph, sh) == oh && ceil_size(in_w, kw, pw, sw) == ow) return 1;
  return -1;
}

// ---- the ONNX graph being built ------------------------------------------------------------------

class Graph {
 public:
  explicit Graph(onnx::GraphProto* g) : g_(g) {}

  // `base`, or base_<k> with the next k not yet used for it: each base remembers where its suffixes
  // stand, so that 100,000 in-place layers on one blob take linear time, not quadratic.
  std::string unique(const std::string& base) {
    std::string name = base.empty() ? "v" : base;
    int& k = next_suffix_[name];
    while (used_.count(name)) name = base + "_" + std::to_string(++k);
    used_.insert(name);
    return name;
  }

  std::string constant(const std::string& base, const Dims& dims, const std::vector<float>& v) {
    std::string name = unique(base);
    *g_->add_initializer() = onnx_build::float_tensor(name, dims, v.data(), v.size());
    return name;
  }

  std::string int64_constant(const std::string& base, const std::vector<std::int64_t>& v) {
    std::string name = unique(base);
    *g_->add_initializer() = onnx_build::int64_tensor(name, v);
    return name;
  }

  onnx::NodeProto* node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                        const std::string& output) {
    for (const auto& i : inputs) consumed_.insert(i);
    return onnx_build::append_node(g_->mutable_node(), op, unique("node_" + name), inputs, {output});
  }

  bool consumed(const std::string& v) const { return consumed_.count(v) != 0; }

 private:
  onnx::GraphProto* g_;
  std::set<std::string> used_;
  std::map<std::string, int> next_suffix_;  // per base name: the last suffix unique() gave it
  std::set<std::string> consumed_;
};

using onnx_build::set_float;
using onnx_build::set_int;
using onnx_build::set_ints;

// A graph input or output of `dims` (N x ...): the batch axis becomes the free "N".
inline void set_value_info(onnx::ValueInfoProto* v, const std::string& name, const Dims& dims) {
  onnx_build::set_batched_float(v, name, Dims(dims.begin() + (dims.empty() ? 0 : 1), dims.end()));
}

// ---- the converter -------------------------------------------------------------------------------

class Converter {
 public:
  Converter(const CaffeSources& s, onnx::GraphProto* g) : src_(s), graph_(g), g_(g) {}

  void parse();

  // The prototxt (text, unknown fields skipped) and the .caffemodel (binary), and the weight blobs
  // of each layer name in the latter.
  void parse_files();

  CaffeConversion run();

  // Steps of run() and one function per layer type (public for caffe_layers.cc's table).
  struct ErrorCollector : google::protobuf::io::ErrorCollector {
    std::string first;
    void AddError(int line, int column, const std::string& message) override {
      if (first.empty()) first = "line " + std::to_string(line + 1) + ": " + json_check::printable(message, 120);
    }
    void AddWarning(int, int, const std::string&) override {}
  };

  std::string where(const Layer& l) const;

  // A parameter that would make the converted model compute NaN or infinity (a zero variance under
  // eps 0, a negative LRN base) is refused here, naming the layer, rather than found in the output.
  static std::string number_text(float v);
  void check_parameter(const Layer& l, const std::string& name, float value, bool ok, const std::string& need) const;

  const Dims& shape_of(const Layer& l, const std::string& caffe_blob);
  std::string value_of(const Layer& l, const std::string& caffe_blob);

  void expect_io(const Layer& l, std::size_t bottoms, std::size_t tops) const;

  // Records `value` (made by layer l) as the new content of Caffe blob `top`.
  void produce(const std::string& top, const std::string& value, const Dims& dims);
  std::string out_name(const Layer& l) { return graph_.unique(l.top.empty() ? l.name : l.top[0]); }

  // The weight blobs of layer l: exactly `count` of them (or count - 1 when the last is optional).
  const google::protobuf::RepeatedPtrField<cp::BlobProto>& blobs(const Layer& l, int count);

  std::vector<float> weight(const Layer& l, const cp::BlobProto& b, int index, const Dims& expected);

  void declare_input(const std::string& name, Dims dims, const std::string& where_text);

  void declare_net_inputs();

  void convert(const Layer& l);

  void input_layer(const Layer& l);

  void relu(const Layer& l);

  void activation(const Layer& l);  // Sigmoid, TanH

  void dropout(const Layer& l);

  void softmax(const Layer& l);

  void flatten(const Layer& l);

  // Kernel, pad, stride and dilation of a Convolution (repeated fields or the _h/_w forms).
  static std::int64_t pick(const google::protobuf::RepeatedField<std::uint32_t>& r, bool has_hw, std::uint32_t hw,
                           int axis, std::int64_t def);

  void convolution(const Layer& l);

  void pooling(const Layer& l);

  void inner_product(const Layer& l);

  void lrn(const Layer& l);

  void concat(const Layer& l);

  void eltwise(const Layer& l);

  void batch_norm(const Layer& l);

  void scale(const Layer& l);

 private:
  const CaffeSources& src_;
  Graph graph_;
  onnx::GraphProto* g_;
  cp::NetParameter net_, weights_;
  std::map<std::string, const google::protobuf::RepeatedPtrField<cp::BlobProto>*> weight_blobs_;
  std::vector<Layer> layers_;
  std::string format_;
  std::map<std::string, std::string> current_;  // Caffe blob -> the ONNX value that holds it now
  std::map<std::string, Dims> shapes_;          // ONNX value -> shape (batch axis 1)
  std::string input_name_, input_value_;
  ImageShape input_shape_;
  int converted_ = 0;
};

// The layer types the converter supports, in the order its error message lists them.
const std::vector<std::string>& supported_layer_types();

}  // namespace fool::caffe_internal
