#include "fool/model/onnx/onnx_model.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fool/core/bytes.h"
#include "fool/core/error.h"
#include "fool/model/onnx/onnx_validate.h"
#include "fool/io/files.h"

namespace fool {

OnnxModel::~OnnxModel() = default;
OnnxModel::OnnxModel(OnnxModel&&) noexcept = default;
OnnxModel& OnnxModel::operator=(OnnxModel&&) noexcept = default;

OnnxModel OnnxModel::load(const std::string& path) {
  const auto bytes = read_file(path);
  OnnxModel m;
  m.path_ = path;
  m.sha256_ = sha256_hex(bytes.data(), bytes.size());
  m.proto_ = std::make_unique<onnx::ModelProto>();
  if (bytes.empty() || !m.proto_->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      !m.proto_->has_graph() || m.proto_->graph().node_size() == 0 || m.proto_->ir_version() <= 0) {
    throw Error(path + ": not an ONNX model (cannot parse it as an ONNX ModelProto)");
  }
  validate_onnx_model(*m.proto_, path);
  return m;
}

std::string OnnxModel::metadata(const std::string& key) const {
  for (const auto& p : proto_->metadata_props())
    if (p.key() == key) return p.value();
  return "";
}

namespace {

std::vector<std::int64_t> static_dims(const onnx::ValueInfoProto& v) {
  std::vector<std::int64_t> dims;
  if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return dims;
  for (const auto& d : v.type().tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
  return s + "]";
}

std::vector<float> parse_float_list(const std::string& path, const std::string& key, const std::string& text) {
  try {
    return nlohmann::json::parse(text).get<std::vector<float>>();
  } catch (const std::exception&) {
    throw Error(path + ": metadata '" + key + "' is not a JSON list of numbers");
  }
}

}  // namespace

ModelSpec OnnxModel::spec(const SpecOverrides& overrides) const {
  const auto& g = proto_->graph();
  ModelSpec s;
  s.path = path_;
  s.sha256 = sha256_;
  s.producer = proto_->producer_name();
  for (const auto& op : proto_->opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") s.opset = op.version();
  std::set<std::string> ops;
  for (const auto& n : g.node()) ops.insert(n.op_type());
  s.operators.assign(ops.begin(), ops.end());

  std::set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  const onnx::ValueInfoProto* input = nullptr;
  for (const auto& in : g.input())
    if (!inits.count(in.name())) {
      if (input != nullptr) throw Error(path_ + ": model has more than one input; fool needs a single image input");
      input = &in;
    }
  if (input == nullptr) throw Error(path_ + ": model has no input");
  const auto dims = static_dims(*input);
  if (dims.size() != 4 || (dims[1] != 1 && dims[1] != 3) || dims[2] <= 0 || dims[3] <= 0) {
    throw Error(path_ + ": input '" + input->name() + "' has shape " + dims_str(dims) +
                ", not an image (expected N x C x H x W with C = 1 or 3 and fixed H, W)");
  }
  if (input->type().tensor_type().elem_type() != onnx::TensorProto::FLOAT) {
    throw Error(path_ + ": input '" + input->name() + "' is not float32");
  }
  s.input_name = input->name();
  s.input = {static_cast<int>(dims[1]), static_cast<int>(dims[2]), static_cast<int>(dims[3])};

  if (g.output_size() != 1) throw Error(path_ + ": model has " + std::to_string(g.output_size()) + " outputs; fool needs one");
  const auto& out = g.output(0);
  s.output_name = out.name();
  const auto odims = static_dims(out);

  // Labels: metadata "fool.labels" (a JSON list) fixes the class count when the shape does not.
  std::vector<std::string> labels;
  if (const std::string l = metadata("fool.labels"); !l.empty()) {
    try {
      labels = nlohmann::json::parse(l).get<std::vector<std::string>>();
    } catch (const std::exception&) {
      throw Error(path_ + ": metadata 'fool.labels' is not a JSON list of strings");
    }
  }
  if (overrides.labels) labels = *overrides.labels;
  if (odims.size() == 2 && odims[1] > 0) {
    s.num_classes = static_cast<int>(odims[1]);
  } else if (!labels.empty()) {
    s.num_classes = static_cast<int>(labels.size());
  } else {
    throw Error(path_ + ": output '" + out.name() + "' has shape " + dims_str(odims) +
                "; expected N x K class scores");
  }
  if (labels.empty()) {
    for (int k = 0; k < s.num_classes; ++k) labels.push_back(std::to_string(k));
  }
  if (static_cast<int>(labels.size()) != s.num_classes) {
    throw Error(path_ + ": " + std::to_string(labels.size()) + " labels for a model with " +
                std::to_string(s.num_classes) + " classes");
  }
  s.labels = labels;
  if (const std::string b = metadata("fool.background_class"); !b.empty()) {
    try {
      s.background_class = std::stoi(b);
    } catch (const std::exception&) {
      s.background_class = -2;
    }
    if (s.background_class < 0 || s.background_class >= s.num_classes) {
      throw Error(path_ + ": metadata 'fool.background_class' is not a class index");
    }
  }

  // Softmax or logits: the node that produces the output, looking through pass-through nodes.
  std::map<std::string, const onnx::NodeProto*> producer;
  for (const auto& n : g.node())
    for (const auto& o : n.output()) producer[o] = &n;
  std::string name = out.name();
  bool softmax = false;
  while (producer.count(name)) {
    const auto* n = producer[name];
    if (n->op_type() == "Identity" || n->op_type() == "Dropout") {
      name = n->input(0);
      continue;
    }
    softmax = n->op_type() == "Softmax";
    break;
  }
  auto& pre = s.preprocessing;
  pre.output_is_probabilities = softmax;
  if (const std::string v = metadata("fool.output"); !v.empty()) pre.output_is_probabilities = v == "probabilities";
  if (const std::string v = metadata("fool.channel_order"); !v.empty()) pre.channel_order = v;
  if (const std::string v = metadata("fool.scale"); !v.empty()) {
    try {
      pre.scale = std::stof(v);
    } catch (const std::exception&) {
      throw Error(path_ + ": metadata 'fool.scale' is not a number");
    }
  }
  if (const std::string v = metadata("fool.mean"); !v.empty()) pre.mean = parse_float_list(path_, "fool.mean", v);
  if (const std::string v = metadata("fool.std"); !v.empty()) pre.std = parse_float_list(path_, "fool.std", v);
  if (overrides.channel_order) pre.channel_order = *overrides.channel_order;
  if (overrides.scale) pre.scale = *overrides.scale;
  if (overrides.mean) pre.mean = *overrides.mean;
  if (overrides.std) pre.std = *overrides.std;
  if (overrides.output_is_probabilities) pre.output_is_probabilities = *overrides.output_is_probabilities;

  if (pre.channel_order != "rgb" && pre.channel_order != "bgr") {
    throw Error("channel order '" + pre.channel_order + "' is not rgb or bgr");
  }
  const auto c = static_cast<std::size_t>(s.input.channels);
  if (!pre.mean.empty() && pre.mean.size() != c) {
    throw Error("mean has " + std::to_string(pre.mean.size()) + " values; the model has " + std::to_string(c) + " channels");
  }
  if (!pre.std.empty() && pre.std.size() != c) {
    throw Error("std has " + std::to_string(pre.std.size()) + " values; the model has " + std::to_string(c) + " channels");
  }
  for (float v : pre.std)
    if (!(v > 0.0f)) throw Error("std values must be positive");
  if (!(pre.scale > 0.0f)) throw Error("scale must be positive");
  return s;
}

namespace {

// The value of a one-element float tensor, if `t` is one.
bool scalar_value(const onnx::TensorProto& t, float* out) {
  if (t.data_type() != onnx::TensorProto::FLOAT) return false;
  std::int64_t n = 1;
  for (auto d : t.dims()) n *= d;
  if (n != 1) return false;
  if (t.float_data_size() == 1) {
    *out = t.float_data(0);
    return true;
  }
  if (t.raw_data().size() == sizeof(float)) {
    std::memcpy(out, t.raw_data().data(), sizeof(float));
    return true;
  }
  return false;
}

float float_attr(const onnx::NodeProto& n, const std::string& name, float def) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.f();
  return def;
}

void set_float_attr(onnx::NodeProto* n, const std::string& name, float v) {
  for (auto& a : *n->mutable_attribute())
    if (a.name() == name) {
      a.set_f(v);
      return;
    }
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

// Rewrites forms OpenCV 4.6's importer gets wrong into forms it gets right: Gemm's alpha and beta
// (it drops C when beta != 1, and alpha when beta == 1) are folded into constant B and C; Clip's
// constant min/max inputs (opset >= 11, e.g. ReLU6) become the attributes it reads.
void rewrite_for_opencv(onnx::GraphProto* g) {
  std::map<std::string, onnx::TensorProto*> inits;
  for (auto& t : *g->mutable_initializer()) inits[t.name()] = &t;
  std::map<std::string, const onnx::TensorProto*> constants(inits.begin(), inits.end());
  for (const auto& n : g->node())
    if (n.op_type() == "Constant" && n.output_size() == 1)
      for (const auto& a : n.attribute())
        if (a.name() == "value") constants[n.output(0)] = &a.t();
  for (auto& n : *g->mutable_node()) {
    if (n.op_type() == "Gemm") {
      // Fold alpha into a constant B and beta into a constant C: OpenCV honours neither reliably.
      for (const auto& [input, attr] : {std::pair<int, const char*>{1, "alpha"}, {2, "beta"}}) {
        const float factor = float_attr(n, attr, 1.0f);
        if (factor == 1.0f || n.input_size() <= input) continue;
        auto it = inits.find(n.input(input));
        if (it == inits.end() || it->second->data_type() != onnx::TensorProto::FLOAT) continue;
        onnx::TensorProto scaled = *it->second;
        scaled.set_name(it->first + "_times_" + attr + "_" + n.output(0));
        std::vector<float> v;
        if (scaled.has_raw_data()) {
          v.resize(scaled.raw_data().size() / sizeof(float));
          std::memcpy(v.data(), scaled.raw_data().data(), v.size() * sizeof(float));
        } else {
          v.assign(scaled.float_data().begin(), scaled.float_data().end());
        }
        for (auto& x : v) x *= factor;
        scaled.clear_float_data();
        scaled.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
        *g->add_initializer() = scaled;
        n.set_input(input, scaled.name());
        set_float_attr(&n, attr, 1.0f);
      }
    }
    if (n.op_type() == "Clip" && n.input_size() > 1) {
      float lo = -3.4e38f, hi = 3.4e38f;
      bool ok = true;
      for (int k = 1; k < n.input_size() && k <= 2; ++k) {
        if (n.input(k).empty()) continue;
        auto it = constants.find(n.input(k));
        float v = 0.0f;
        if (it == constants.end() || !scalar_value(*it->second, &v)) {
          ok = false;
          break;
        }
        (k == 1 ? lo : hi) = v;
      }
      if (ok) {
        while (n.input_size() > 1) n.mutable_input()->RemoveLast();
        set_float_attr(&n, "min", lo);
        set_float_attr(&n, "max", hi);
      }
    }
  }
}

}  // namespace

std::string OnnxModel::simplified_for_opencv() const {
  onnx::ModelProto m = *proto_;
  auto* g = m.mutable_graph();
  rewrite_for_opencv(g);
  // Map each pass-through node's output to its input, following chains.
  std::map<std::string, std::string> alias;
  for (const auto& n : g->node())
    if ((n.op_type() == "Identity" || n.op_type() == "Dropout") && n.input_size() >= 1) alias[n.output(0)] = n.input(0);
  auto resolve = [&](std::string name) {
    for (auto it = alias.find(name); it != alias.end(); it = alias.find(name)) name = it->second;
    return name;
  };
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (const auto& n : g->node()) {
    if (alias.count(n.output_size() ? n.output(0) : "")) continue;
    onnx::NodeProto copy = n;
    for (int i = 0; i < copy.input_size(); ++i) copy.set_input(i, resolve(copy.input(i)));
    *kept.Add() = copy;
  }
  g->mutable_node()->Swap(&kept);
  for (auto& o : *g->mutable_output()) o.set_name(resolve(o.name()));
  std::set<std::string> inits;
  for (const auto& t : g->initializer()) inits.insert(t.name());
  google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> inputs;
  for (const auto& in : g->input())
    if (!inits.count(in.name())) *inputs.Add() = in;
  g->mutable_input()->Swap(&inputs);
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

}  // namespace fool
