#include "fool/model/onnx/onnx_model.h"

#include <google/protobuf/io/zero_copy_stream.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fool/core/bytes.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/core/limits.h"
#include "fool/io/files.h"
#include "fool/model/onnx/onnx_forms.h"
#include "fool/model/onnx/onnx_validate.h"
#include "fool/model/onnx/onnx_writer.h"

namespace fool {

OnnxModel::~OnnxModel() = default;
OnnxModel::OnnxModel(OnnxModel&&) noexcept = default;
OnnxModel& OnnxModel::operator=(OnnxModel&&) noexcept = default;

OnnxModel OnnxModel::copy() const {
  OnnxModel m;
  m.path_ = path_;
  m.sha256_ = sha256_;
  m.forms_ = forms_;
  m.proto_ = std::make_unique<onnx::ModelProto>(*proto_);
  return m;
}

std::optional<OnnxModel> OnnxModel::with_free_batch() const {
  OnnxModel m = copy();
  if (!free_batch_axis(m.proto_.get())) return std::nullopt;
  return m;
}

namespace {

std::size_t element_size(int data_type) {
  switch (data_type) {
    case onnx::TensorProto::FLOAT: case onnx::TensorProto::INT32: case onnx::TensorProto::UINT32: return 4;
    case onnx::TensorProto::DOUBLE: case onnx::TensorProto::INT64: case onnx::TensorProto::UINT64: return 8;
    case onnx::TensorProto::FLOAT16: case onnx::TensorProto::BFLOAT16: case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16: return 2;
    default: return 1;
  }
}

// Reads a tensor whose data lives in an ONNX external-data file (keys location, offset, length;
// location relative to the model's directory) into raw_data, so that both backends see an ordinary
// initializer. PyTorch writes models over 2 GB this way.
void inline_external_data(const std::string& model_path, onnx::TensorProto* t) {
  namespace fs = std::filesystem;
  std::string location;
  std::uint64_t offset = 0, length = 0;
  bool has_length = false;
  for (const auto& kv : t->external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      if (kv.key() == "offset") offset = std::stoull(kv.value());
      if (kv.key() == "length") length = std::stoull(kv.value()), has_length = true;
    } catch (const std::exception&) {
      throw Error(model_path + ": tensor '" + t->name() + "' has an unreadable external-data " + kv.key() + " '" +
                  kv.value() + "'");
    }
  }
  if (location.empty()) throw Error(model_path + ": tensor '" + t->name() + "' is external but names no file");
  const fs::path rel(location);
  for (const auto& part : rel)
    if (part == "..") throw Error(model_path + ": external-data file '" + location + "' lies outside the model's directory");
  if (rel.is_absolute()) throw Error(model_path + ": external-data file '" + location + "' is an absolute path");
  const fs::path file = fs::path(model_path).parent_path() / rel;
  if (!has_length) {
    std::uint64_t n = 1;
    for (auto d : t->dims()) n *= static_cast<std::uint64_t>(d);
    length = n * element_size(t->data_type());
  }
  std::error_code exists_ec;
  if (!fs::exists(file, exists_ec)) {
    throw Error(file.string() + ": external-data file of " + model_path + " is missing (tensor '" + t->name() + "')");
  }
  check_regular_file(file.string());  // a FIFO or device would hang or never end
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": external-data file of " + model_path + " is missing (tensor '" + t->name() + "')");
  std::string data(length, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(data.data(), static_cast<std::streamsize>(length));
  if (!in || static_cast<std::uint64_t>(in.gcount()) != length) {
    throw Error(file.string() + ": external-data file of " + model_path + " is too short for tensor '" + t->name() +
                "' (" + std::to_string(length) + " bytes at offset " + std::to_string(offset) + ")");
  }
  t->set_raw_data(std::move(data));
  t->clear_external_data();
  t->set_data_location(onnx::TensorProto::DEFAULT);
}

void inline_external_data(const std::string& model_path, onnx::GraphProto* g) {
  for (auto& t : *g->mutable_initializer())
    if (t.data_location() == onnx::TensorProto::EXTERNAL) inline_external_data(model_path, &t);
  for (auto& n : *g->mutable_node())
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t() && a.t().data_location() == onnx::TensorProto::EXTERNAL) inline_external_data(model_path, a.mutable_t());
      if (a.has_g()) inline_external_data(model_path, a.mutable_g());
      for (auto& sub : *a.mutable_graphs()) inline_external_data(model_path, &sub);
    }
}

// The model's text that fool writes into JSON (fool info, run summaries, model_input): producer,
// metadata, input and output names, operator types. Anything but UTF-8 is refused at load.
void check_text_is_utf8(const onnx::ModelProto& m, const std::string& path) {
  namespace jc = json_check;
  jc::check_utf8(m.producer_name(), path + ": producer name");
  jc::check_utf8(m.producer_version(), path + ": producer version");
  for (const auto& p : m.metadata_props()) {
    jc::check_utf8(p.key(), path + ": a metadata key");
    jc::check_utf8(p.value(), path + ": metadata '" + jc::printable(p.key()) + "'");
  }
  for (const auto& v : m.graph().input())
    jc::check_utf8(v.name(), path + ": input name '" + jc::printable(v.name()) + "'");
  for (const auto& v : m.graph().output()) {
    jc::check_utf8(v.name(), path + ": output name '" + jc::printable(v.name()) + "'");
  }
  for (const auto& n : m.graph().node()) {
    jc::check_utf8(n.op_type(), path + ": operator type '" + jc::printable(n.op_type()) + "'");
    jc::check_utf8(n.domain(), path + ": operator domain '" + jc::printable(n.domain()) + "'");
  }
}

// The file's bytes handed to the parser in blocks; the pages of blocks it has finished with are
// given back to the system as it goes (the bytes are not read again), so that a large model's file
// and its parsed copy are not held in full at once (AlexNet: 244 MB each).
class ReleasingInput : public google::protobuf::io::ZeroCopyInputStream {
 public:
  ReleasingInput(std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool Next(const void** data, int* size) override {
    // Everything before the previous block is behind the parser (it copies what it keeps).
    if (pos_ > released_ + 2 * kBlock) release(pos_ - kBlock);
    if (pos_ >= size_) return false;
    const std::size_t n = std::min(kBlock, size_ - pos_);
    *data = data_ + pos_;
    *size = static_cast<int>(n);
    pos_ += n;
    return true;
  }
  void BackUp(int count) override { pos_ -= static_cast<std::size_t>(count); }
  bool Skip(int count) override {
    pos_ = std::min(size_, pos_ + static_cast<std::size_t>(count));
    return pos_ < size_;
  }
  std::int64_t ByteCount() const override { return static_cast<std::int64_t>(pos_); }

 private:
  static constexpr std::size_t kBlock = std::size_t{1} << 20;
  // Gives back the whole pages of [released_, end).
  void release(std::size_t end) {
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto from = (reinterpret_cast<std::uintptr_t>(data_ + released_) + page - 1) / page * page;
    const auto to = reinterpret_cast<std::uintptr_t>(data_ + end) / page * page;
    if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    released_ = end;
  }
  std::uint8_t* data_;
  std::size_t size_, pos_ = 0, released_ = 0;
};

}  // namespace

OnnxModel OnnxModel::load(const std::string& path, const SpecOverrides& overrides) {
  auto bytes = read_file(path);
  OnnxModel m;
  m.path_ = path;
  m.sha256_ = sha256_hex(bytes.data(), bytes.size());
  m.proto_ = std::make_unique<onnx::ModelProto>();
  ReleasingInput input(bytes.data(), bytes.size());
  if (bytes.empty() || bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      !m.proto_->ParseFromZeroCopyStream(&input) ||
      !m.proto_->has_graph() || m.proto_->graph().node_size() == 0 || m.proto_->ir_version() <= 0) {
    throw Error(path + ": not an ONNX model (cannot parse it as an ONNX ModelProto)");
  }
  validate_onnx_model(*m.proto_, path);  // external-data locations checked before they are read
  check_text_is_utf8(*m.proto_, path);
  inline_external_data(path, m.proto_->mutable_graph());
  FormChoices choices;
  choices.output = overrides.output.empty() ? m.metadata("fool.output_name") : overrides.output;
  if (overrides.layout) {
    choices.layout = overrides.layout;
    choices.layout_source = "--layout";
  } else if (const std::string v = m.metadata("fool.layout"); !v.empty()) {
    choices.layout = parse_input_layout(v);
    choices.layout_source = "metadata fool.layout";
  }
  if (overrides.input_size) {
    choices.input_size = overrides.input_size;
    choices.input_size_source = "--input-size";
  } else if (const std::string v = m.metadata("fool.input_size"); !v.empty()) {
    choices.input_size = parse_input_size(v, path + ": metadata 'fool.input_size'");
    choices.input_size_source = "metadata fool.input_size";
  }
  m.forms_ = normalise_forms(m.proto_.get(), path, choices);
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
    check_json_depth(text, path, 2);  // a list of numbers; deeper nesting would recurse in the parser
    return nlohmann::json::parse(text).get<std::vector<float>>();
  } catch (const std::exception&) {
    throw Error(path + ": metadata '" + key + "' is not a JSON list of numbers");
  }
}

}  // namespace

namespace {

// The graph's one image input: N x C x H x W float32, C = 1 or 3, fixed H and W.
void read_input(const std::string& path, const onnx::GraphProto& g, ModelSpec* s) {
  std::set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  const onnx::ValueInfoProto* input = nullptr;
  for (const auto& in : g.input()) {
    if (inits.count(in.name())) continue;
    if (input != nullptr) throw Error(path + ": model has more than one input; fool needs a single image input");
    input = &in;
  }
  if (input == nullptr) throw Error(path + ": model has no input");
  const auto dims = static_dims(*input);
  if (dims.size() != 4 || (dims[1] != 1 && dims[1] != 3) || dims[2] <= 0 || dims[3] <= 0) {
    throw Error(path + ": input '" + input->name() + "' has shape " + dims_str(dims) +
                ", not an image (expected N x C x H x W with C = 1 or 3 and fixed H, W)");
  }
  if (input->type().tensor_type().elem_type() != onnx::TensorProto::FLOAT) {
    throw Error(path + ": input '" + input->name() + "' is not float32");
  }
  s->input_name = input->name();
  s->fixed_batch = dims[0] > 0 ? static_cast<int>(dims[0]) : 0;
  s->input = {static_cast<int>(dims[1]), static_cast<int>(dims[2]), static_cast<int>(dims[3])};
}

// The graph's one output: N x K, or N x K x 1 x 1 (a convolutional head without its Flatten);
// anything else is not one row of class scores per image. Returns its static dimensions.
std::vector<std::int64_t> read_output(const std::string& path, const onnx::GraphProto& g, ModelSpec* s) {
  if (g.output_size() != 1) throw Error(path + ": model has " + std::to_string(g.output_size()) + " outputs; fool needs one");
  const auto& out = g.output(0);
  s->output_name = out.name();
  const auto odims = static_dims(out);
  bool scores_shape = odims.empty() || odims.size() >= 2;
  for (std::size_t i = 2; i < odims.size(); ++i) scores_shape = scores_shape && odims[i] == 1;
  if (!scores_shape) {
    throw Error(path + ": output '" + out.name() + "' has shape " + dims_str(odims) +
                ", not N x K class scores (one row per image)");
  }
  return odims;
}

// Whether the output comes from a Softmax, looking through pass-through nodes.
bool ends_in_softmax(const onnx::GraphProto& g) {
  std::map<std::string, const onnx::NodeProto*> producer;
  for (const auto& n : g.node())
    for (const auto& o : n.output()) producer[o] = &n;
  std::string name = g.output(0).name();
  while (producer.count(name)) {
    const auto* n = producer[name];
    if (n->op_type() != "Identity" && n->op_type() != "Dropout") return n->op_type() == "Softmax";
    name = n->input(0);
  }
  return false;
}

}  // namespace

// Labels: metadata "fool.labels" (a JSON list) fixes the class count when the shape does not.
void OnnxModel::read_classes(const std::vector<std::int64_t>& odims, const SpecOverrides& overrides, ModelSpec* s) const {
  std::vector<std::string> labels;
  if (const std::string l = metadata("fool.labels"); !l.empty()) {
    try {
      check_json_depth(l, path_, 2);
      labels = nlohmann::json::parse(l).get<std::vector<std::string>>();
    } catch (const std::exception&) {
      throw Error(path_ + ": metadata 'fool.labels' is not a JSON list of strings");
    }
  }
  if (overrides.labels) labels = *overrides.labels;
  if (odims.size() >= 2 && odims[1] > 0) {
    s->num_classes = static_cast<int>(odims[1]);
  } else if (!labels.empty()) {
    s->num_classes = static_cast<int>(labels.size());
  } else {
    throw Error(path_ + ": output '" + s->output_name + "' has shape " + dims_str(odims) + "; expected N x K class scores");
  }
  if (labels.empty()) {
    for (int k = 0; k < s->num_classes; ++k) labels.push_back(std::to_string(k));
  }
  if (static_cast<int>(labels.size()) != s->num_classes) {
    throw Error(path_ + ": " + std::to_string(labels.size()) + " labels for a model with " +
                std::to_string(s->num_classes) + " classes");
  }
  s->labels = labels;
  if (const std::string b = metadata("fool.background_class"); !b.empty()) {
    try {
      s->background_class = std::stoi(b);
    } catch (const std::exception&) {
      s->background_class = -2;
    }
    if (s->background_class < 0 || s->background_class >= s->num_classes) {
      throw Error(path_ + ": metadata 'fool.background_class' is not a class index");
    }
  }
}

// The graph's own form (softmax or logits) and input type, then the fool.* metadata (a named
// preprocessing, then single settings), then the user's flags in the same order.
Preprocessing OnnxModel::read_preprocessing(const SpecOverrides& overrides, int channels,
                                            PreprocessingOrigin* origin) const {
  Preprocessing pre;
  pre.output_is_probabilities = ends_in_softmax(proto_->graph());
  origin->output = pre.output_is_probabilities ? "graph (ends in Softmax)" : "graph (no Softmax at its end)";
  if (forms_.input_type == "uint8") {
    pre.scale = 255.0f;  // the 8-bit pixel values, as the model takes them
    origin->scale = "input type uint8";
    origin->channel_order = origin->mean = origin->std = "input type uint8";
  }
  auto all = [&](const std::string& from) {
    origin->channel_order = origin->scale = origin->mean = origin->std = from;
  };
  const std::string meta = "model metadata";
  if (const std::string v = metadata("fool.preprocess"); !v.empty()) {
    try {
      pre = apply_preset(parse_preprocess_preset(v), channels, pre);
    } catch (const Error& e) {
      throw Error(path_ + ": metadata 'fool.preprocess': " + e.what());
    }
    all(meta);
  }
  if (const std::string v = metadata("fool.output"); !v.empty()) {
    pre.output_is_probabilities = v == "probabilities";
    origin->output = meta;
  }
  if (const std::string v = metadata("fool.channel_order"); !v.empty()) {
    pre.channel_order = parse_channel_order(v);
    origin->channel_order = meta;
  }
  if (const std::string v = metadata("fool.scale"); !v.empty()) {
    try {
      pre.scale = std::stof(v);
    } catch (const std::exception&) {
      throw Error(path_ + ": metadata 'fool.scale' is not a number");
    }
    origin->scale = meta;
  }
  if (const std::string v = metadata("fool.mean"); !v.empty()) {
    pre.mean = parse_float_list(path_, "fool.mean", v);
    origin->mean = meta;
  }
  if (const std::string v = metadata("fool.std"); !v.empty()) {
    pre.std = parse_float_list(path_, "fool.std", v);
    origin->std = meta;
  }
  try {
    apply_overrides(overrides, channels, &pre, origin);
  } catch (const Error& e) {
    throw Error(path_ + ": " + e.what());
  }
  return pre;
}


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
  read_input(path_, g, &s);
  const auto odims = read_output(path_, g, &s);
  read_classes(odims, overrides, &s);
  s.forms = forms_;
  s.preprocessing = read_preprocessing(overrides, s.input.channels, &s.origin);
  s.warnings = assumption_warnings(s);
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

using onnx_attr::set_float;

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
        set_float(&n, attr, 1.0f);
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
        set_float(&n, "min", lo);
        set_float(&n, "max", hi);
      }
    }
  }
}

}  // namespace

namespace {

// The values of a float tensor broadcast to shape (1, c, h, w), or false if it does not broadcast.
bool broadcast_chw(const onnx::TensorProto& t, int c, int h, int w, std::vector<float>* out) {
  if (t.data_type() != onnx::TensorProto::FLOAT || t.dims_size() > 4) return false;
  std::vector<std::int64_t> d(4, 1);
  for (int i = 0; i < t.dims_size(); ++i) d[static_cast<std::size_t>(4 - t.dims_size() + i)] = t.dims(i);
  const std::int64_t full[4] = {1, c, h, w};
  for (int i = 0; i < 4; ++i)
    if (d[static_cast<std::size_t>(i)] != 1 && d[static_cast<std::size_t>(i)] != full[i]) return false;
  std::vector<float> v;
  if (t.has_raw_data()) {
    v.resize(t.raw_data().size() / sizeof(float));
    std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(float));
  } else {
    v.assign(t.float_data().begin(), t.float_data().end());
  }
  if (static_cast<std::int64_t>(v.size()) != d[1] * d[2] * d[3]) return false;
  out->assign(static_cast<std::size_t>(c) * static_cast<std::size_t>(h) * static_cast<std::size_t>(w), 0.0f);
  for (int ci = 0; ci < c; ++ci)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const std::int64_t src = (d[1] == 1 ? 0 : ci) * d[2] * d[3] + (d[2] == 1 ? 0 : y) * d[3] + (d[3] == 1 ? 0 : x);
        (*out)[(static_cast<std::size_t>(ci) * h + y) * w + x] = v[static_cast<std::size_t>(src)];
      }
  return true;
}

// Folds leading "input <op> constant" nodes out of the graph (see simplified_for_opencv).
void fold_input_ops(onnx::GraphProto* g, const std::string& input, const ImageShape& shape, std::vector<InputOp>* ops) {
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const auto& t : g->initializer()) constants[t.name()] = &t;
  for (const auto& n : g->node())
    if (n.op_type() == "Constant" && n.output_size() == 1)
      for (const auto& a : n.attribute())
        if (a.name() == "value") constants[n.output(0)] = &a.t();
  std::string current = input;
  for (;;) {
    // The one node that reads `current`; stop unless it is an elementwise op with a constant.
    int reader = -1, readers = 0;
    for (int i = 0; i < g->node_size(); ++i)
      for (const auto& in : g->node(i).input())
        if (in == current) reader = i, ++readers;
    if (readers != 1) return;
    const auto& n = g->node(reader);
    const std::string& t = n.op_type();
    if ((t != "Sub" && t != "Div" && t != "Add" && t != "Mul") || n.input_size() != 2 || n.input(0) != current) return;
    auto it = constants.find(n.input(1));
    InputOp op;
    if (it == constants.end() || !broadcast_chw(*it->second, shape.channels, shape.height, shape.width, &op.value)) return;
    op.op = t == "Sub" ? '-' : t == "Div" ? '/' : t == "Add" ? '+' : '*';
    ops->push_back(std::move(op));
    const std::string out = n.output(0);
    g->mutable_node()->DeleteSubrange(reader, 1);
    // Later nodes read the graph input where they read the folded node's output.
    for (auto& m : *g->mutable_node())
      for (int i = 0; i < m.input_size(); ++i)
        if (m.input(i) == out) m.set_input(i, current);
    for (auto& o : *g->mutable_output())
      if (o.name() == out) return;  // the graph is only preprocessing; leave the rest alone
  }
}

}  // namespace

namespace {

// A value's static shape from shape inference: one entry per axis, a dim_value, or -1 for an
// unknown or symbolic dim (whose name, if any, is in *params).
bool inferred_shape(const onnx::ValueInfoProto& v, std::vector<std::int64_t>* dims, std::vector<std::string>* params) {
  if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return false;
  dims->clear();
  params->clear();
  for (const auto& d : v.type().tensor_type().shape().dim()) {
    dims->push_back(d.has_dim_value() ? d.dim_value() : -1);
    params->push_back(d.has_dim_param() ? d.dim_param() : "");
  }
  return true;
}

onnx::TensorProto int64_tensor(const std::string& name, const std::vector<std::int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(static_cast<std::int64_t>(values.size()));
  for (auto v : values) t.add_int64_data(v);
  return t;
}

// Squeeze-and-excitation (EfficientNet, MobileNetV3, RegNetY): Mul of a per-image channel scale
// [N,C,1,1] by a feature map [N,C,H,W]. OpenCV 4.6 imports it as a Scale layer whose broadcast axis
// it fixes at import time for a batch of one, so a batch of more than one image fails (N*C weights
// against C channels). Rewritten as: both operands reshaped to one image of N*C channels
// ([1,-1,0,0] and [1,-1,1,1]), the Mul (now a Scale over N*C channels, right for any N), and the
// product reshaped back to [-1,C,0,0]. Shapes come from ONNX shape inference on a copy.
void rewrite_channel_scales(onnx::ModelProto* m) {
  auto* g = m->mutable_graph();
  std::set<std::string> constants;
  for (const auto& t : g->initializer()) constants.insert(t.name());
  bool candidate = false;
  for (const auto& n : g->node()) {
    if (n.op_type() == "Constant") constants.insert(n.output(0));
    candidate = candidate || (n.op_type() == "Mul" && n.input_size() == 2);
  }
  if (!candidate) return;
  onnx::ModelProto inferred = *m;
  try {
    // Data propagation: shapes computed by Shape/Gather/Concat (dynamic reshapes) are inferred too.
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(), onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    return;  // shapes unknown: leave the graph as it is
  }
  std::map<std::string, const onnx::ValueInfoProto*> info;
  for (const auto& v : inferred.graph().input()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().value_info()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().output()) info[v.name()] = &v;

  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  int rewritten = 0;
  for (const auto& n : g->node()) {
    std::vector<std::int64_t> d[2];
    std::vector<std::string> p[2];
    bool ok = n.op_type() == "Mul" && n.input_size() == 2 && n.output_size() == 1;
    for (int i = 0; ok && i < 2; ++i) {
      const auto it = info.find(n.input(i));
      ok = !constants.count(n.input(i)) && it != info.end() && inferred_shape(*it->second, &d[i], &p[i]) &&
           d[i].size() == 4;
    }
    // s: the [N,C,1,1] operand, x: the [N,C,H,W] one, with C, H, W known and H*W > 1.
    const int si = ok && d[0][2] == 1 && d[0][3] == 1 ? 0 : 1;
    const int xi = 1 - si;
    ok = ok && d[si][2] == 1 && d[si][3] == 1 && d[xi][2] > 0 && d[xi][3] > 0 && d[xi][2] * d[xi][3] > 1 &&
         d[si][1] > 0 && d[si][1] == d[xi][1] &&
         ((d[si][0] > 0 && d[si][0] == d[xi][0]) || (!p[si][0].empty() && p[si][0] == p[xi][0]));
    if (!ok) {
      *nodes.Add() = n;
      continue;
    }
    const std::string base = n.output(0) + "_fool_se";
    *g->add_initializer() = int64_tensor(base + "_shape_s", {1, -1, 1, 1});
    *g->add_initializer() = int64_tensor(base + "_shape_x", {1, -1, 0, 0});
    *g->add_initializer() = int64_tensor(base + "_shape_y", {-1, d[xi][1], 0, 0});
    std::string flat[2];
    for (int i = 0; i < 2; ++i) {
      flat[i] = base + "_in" + std::to_string(i);
      auto* r = nodes.Add();
      r->set_op_type("Reshape");
      r->set_name(base + "_reshape" + std::to_string(i));
      r->add_input(n.input(i));
      r->add_input(base + (i == si ? "_shape_s" : "_shape_x"));
      r->add_output(flat[i]);
    }
    auto* mul = nodes.Add();
    *mul = n;
    mul->set_input(0, flat[0]);
    mul->set_input(1, flat[1]);
    mul->set_output(0, base + "_product");
    auto* back = nodes.Add();
    back->set_op_type("Reshape");
    back->set_name(base + "_reshape_back");
    back->add_input(base + "_product");
    back->add_input(base + "_shape_y");
    back->add_output(n.output(0));
    ++rewritten;
  }
  if (rewritten > 0) g->mutable_node()->Swap(&nodes);
}

// Shape arithmetic (ShuffleNet's channel split and shuffle: Shape -> Gather -> Add/Div/Mul ->
// Slice or Concat -> Reshape) computed here from ONNX shape inference and replaced by constants:
// OpenCV 4.6 folds such integer subgraphs itself but mixes up scalars and one-element tensors, and
// cannot know a dynamic batch. A value that holds the batch size is kept as a marker and allowed only
// at position 0 of a Reshape's target shape, where it becomes 0 ("copy the input's first axis").
// Nodes left without readers are removed.
bool fold_shape_arithmetic_once(onnx::ModelProto* m) {
  constexpr std::int64_t kBatch = std::numeric_limits<std::int64_t>::min();
  struct Known {
    std::vector<std::int64_t> v;
    bool scalar = false;
  };
  auto* g = m->mutable_graph();
  bool candidate = false;
  for (const auto& n : g->node()) candidate = candidate || n.op_type() == "Shape";
  if (!candidate) return false;
  // Inference needs the weights' shapes, not their values: a copy without large float data.
  onnx::ModelProto inferred = *m;
  for (auto& t : *inferred.mutable_graph()->mutable_initializer())
    if (t.data_type() == onnx::TensorProto::FLOAT && t.raw_data().size() > 4096) t.clear_raw_data();
  try {
    // Data propagation: shapes computed by Shape/Gather/Concat (dynamic reshapes) are inferred too.
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(), onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    return false;
  }
  std::map<std::string, const onnx::ValueInfoProto*> info;
  for (const auto& v : inferred.graph().input()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().value_info()) info[v.name()] = &v;

  std::map<std::string, Known> known;
  auto int_tensor = [](const onnx::TensorProto& t, Known* k) {
    if (t.data_type() != onnx::TensorProto::INT64 || t.dims_size() > 1) return false;
    k->scalar = t.dims_size() == 0;
    if (t.has_raw_data()) {
      k->v.resize(t.raw_data().size() / sizeof(std::int64_t));
      if (!k->v.empty()) std::memcpy(k->v.data(), t.raw_data().data(), k->v.size() * sizeof(std::int64_t));
    } else {
      k->v.assign(t.int64_data().begin(), t.int64_data().end());
    }
    return true;
  };
  for (const auto& t : g->initializer()) {
    Known k;
    if (int_tensor(t, &k)) known[t.name()] = k;
  }
  auto get = [&](const onnx::NodeProto& n, int i) -> const Known* {
    if (i >= n.input_size()) return nullptr;
    const auto it = known.find(n.input(i));
    return it == known.end() ? nullptr : &it->second;
  };
  auto int_attr = [](const onnx::NodeProto& n, const std::string& name, std::int64_t def) {
    for (const auto& a : n.attribute())
      if (a.name() == name) return a.i();
    return def;
  };
  for (const auto& n : g->node()) {
    if (n.output_size() != 1) continue;
    const std::string& op = n.op_type();
    Known out;
    bool ok = false;
    if (op == "Constant") {
      for (const auto& a : n.attribute())
        if (a.name() == "value") ok = int_tensor(a.t(), &out);
    } else if (op == "Shape" && n.attribute_size() == 0) {
      std::vector<std::int64_t> dims;
      std::vector<std::string> params;
      const auto it = info.find(n.input(0));
      ok = it != info.end() && inferred_shape(*it->second, &dims, &params);
      for (std::size_t i = 0; ok && i < dims.size(); ++i) {
        if (dims[i] < 0 && i != 0) ok = false;
        out.v.push_back(dims[i] < 0 ? kBatch : dims[i]);
      }
    } else if (op == "Gather" && get(n, 0) && get(n, 1) && int_attr(n, "axis", 0) == 0 && !get(n, 0)->scalar) {
      const Known& d = *get(n, 0);
      out.scalar = get(n, 1)->scalar;
      ok = true;
      for (std::int64_t i : get(n, 1)->v) {
        if (i < 0) i += static_cast<std::int64_t>(d.v.size());
        if (i < 0 || i >= static_cast<std::int64_t>(d.v.size())) ok = false;
        else out.v.push_back(d.v[static_cast<std::size_t>(i)]);
      }
    } else if ((op == "Unsqueeze" || op == "Squeeze" || op == "Cast") && get(n, 0)) {
      out = *get(n, 0);
      // Unsqueeze of a scalar is a one-element list; Squeeze of one is a scalar; Cast to int64 keeps it.
      ok = op == "Cast" ? int_attr(n, "to", 0) == onnx::TensorProto::INT64
                        : (op == "Unsqueeze" ? out.scalar : (!out.scalar && out.v.size() == 1));
      out.scalar = op == "Squeeze" || (op == "Cast" && out.scalar);
    } else if (op == "Concat" && int_attr(n, "axis", 0) == 0) {
      ok = true;
      for (int i = 0; ok && i < n.input_size(); ++i) {
        const Known* k = get(n, i);
        ok = k && !k->scalar;
        if (ok) out.v.insert(out.v.end(), k->v.begin(), k->v.end());
      }
    } else if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && get(n, 0) && get(n, 1)) {
      const Known &a = *get(n, 0), &b = *get(n, 1);
      const std::size_t len = std::max(a.v.size(), b.v.size());
      ok = (a.v.size() == len || a.v.size() == 1) && (b.v.size() == len || b.v.size() == 1);
      out.scalar = a.scalar && b.scalar;
      for (std::size_t i = 0; ok && i < len; ++i) {
        const std::int64_t x = a.v[a.v.size() == 1 ? 0 : i], y = b.v[b.v.size() == 1 ? 0 : i];
        if (x == kBatch || y == kBatch || (op == "Div" && y == 0)) {
          ok = false;
          break;
        }
        out.v.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y);
      }
    }
    if (ok) known[n.output(0)] = out;
  }

  // Readers of each value, to see where a batch-marked shape goes.
  std::map<std::string, std::vector<std::pair<const onnx::NodeProto*, int>>> readers;
  for (const auto& n : g->node())
    for (int i = 0; i < n.input_size(); ++i) readers[n.input(i)].push_back({&n, i});
  std::set<std::string> graph_outputs;
  for (const auto& o : g->output()) graph_outputs.insert(o.name());

  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  bool changed = false;
  for (const auto& n : g->node()) {
    const auto it = n.output_size() == 1 ? known.find(n.output(0)) : known.end();
    if (it == known.end() || n.op_type() == "Constant" || graph_outputs.count(n.output(0))) {
      *nodes.Add() = n;
      continue;
    }
    std::vector<std::int64_t> v = it->second.v;
    bool batch_ok = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] != kBatch) continue;
      // Only as a Reshape's target shape, first axis, for an input whose first axis is the batch.
      for (const auto& [reader, slot] : readers[n.output(0)]) {
        std::vector<std::int64_t> dims;
        std::vector<std::string> params;
        const auto in = info.find(reader->input(0));
        batch_ok = batch_ok && i == 0 && reader->op_type() == "Reshape" && slot == 1 &&
                   int_attr(*reader, "allowzero", 0) == 0 && in != info.end() &&
                   inferred_shape(*in->second, &dims, &params) && !dims.empty() && dims[0] < 0;
      }
      v[i] = 0;
    }
    if (!batch_ok || readers[n.output(0)].empty()) {
      *nodes.Add() = n;
      continue;
    }
    auto* c = nodes.Add();
    c->set_op_type("Constant");
    c->set_name(n.name().empty() ? n.output(0) + "_fool_folded" : n.name());
    c->add_output(n.output(0));
    auto* a = c->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    *a->mutable_t() = int64_tensor(n.output(0) + "_value", v);
    if (it->second.scalar) a->mutable_t()->clear_dims();
    changed = true;
  }
  if (!changed) return false;
  // Remove what no longer has a reader (the Shape nodes and their arithmetic).
  for (bool removed = true; removed;) {
    removed = false;
    std::set<std::string> used(graph_outputs);
    for (const auto& n : nodes)
      for (const auto& in : n.input()) used.insert(in);
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    for (const auto& n : nodes) {
      bool live = false;
      for (const auto& o : n.output()) live = live || used.count(o);
      if (live) *kept.Add() = n;
      else removed = true;
    }
    nodes.Swap(&kept);
  }
  g->mutable_node()->Swap(&nodes);
  return true;
}

// Each round's constants give shape inference more to work with (a reshape whose target is now
// known has a known output shape): fold until nothing changes.
void fold_shape_arithmetic(onnx::ModelProto* m) {
  for (int round = 0; round < 64 && fold_shape_arithmetic_once(m); ++round) {
  }
}

}  // namespace

std::string OnnxModel::simplified_for_opencv(std::vector<InputOp>* input_ops) const {
  onnx::ModelProto m = *proto_;
  auto* g = m.mutable_graph();
  if (input_ops) {
    const ModelSpec s = spec();
    fold_input_ops(g, s.input_name, s.input, input_ops);
  }
  rewrite_for_opencv(g);
  rewrite_channel_scales(&m);
  fold_shape_arithmetic(&m);
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

ModelSpec write_annotated_model(const std::string& path, const SpecOverrides& overrides, const std::string& out) {
  const ModelSpec spec = OnnxModel::load(path, overrides).spec(overrides);  // the settings fit the model
  const auto bytes = read_file(path);
  onnx::ModelProto m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) throw Error(path + ": not an ONNX model");
  for (const auto& t : m.graph().initializer()) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      throw Error(path + ": its weights live in external-data files; fool annotate copies single-file models only");
    }
  }
  const Preprocessing& pre = spec.preprocessing;
  std::map<std::string, std::string> keys = {
      {"fool.channel_order", channel_order_name(pre.channel_order)},
      {"fool.scale", nlohmann::json(pre.scale).dump()},
      {"fool.output", pre.output_is_probabilities ? "probabilities" : "logits"}};
  if (!pre.preset.empty()) keys["fool.preprocess"] = pre.preset;
  if (!pre.mean.empty()) keys["fool.mean"] = nlohmann::json(pre.mean).dump();
  if (!pre.std.empty()) keys["fool.std"] = nlohmann::json(pre.std).dump();
  if (overrides.labels) keys["fool.labels"] = nlohmann::json(*overrides.labels).dump();
  if (overrides.layout) keys["fool.layout"] = input_layout_name(*overrides.layout);
  if (overrides.input_size) {
    keys["fool.input_size"] = std::to_string(overrides.input_size->first) + "x" + std::to_string(overrides.input_size->second);
  }
  if (!overrides.output.empty()) keys["fool.output_name"] = overrides.output;
  // Keys this call sets replace the file's; a preprocessing key it does not set is dropped, so the
  // copy's preprocessing is exactly the one checked above.
  static const char* const kPreprocessingKeys[] = {"fool.preprocess", "fool.channel_order", "fool.scale", "fool.mean",
                                                    "fool.std"};
  google::protobuf::RepeatedPtrField<onnx::StringStringEntryProto> kept;
  for (const auto& p : m.metadata_props()) {
    const bool preprocessing = std::find(std::begin(kPreprocessingKeys), std::end(kPreprocessingKeys), p.key()) !=
                               std::end(kPreprocessingKeys);
    if (!keys.count(p.key()) && !preprocessing) *kept.Add() = p;
  }
  m.mutable_metadata_props()->Swap(&kept);
  for (const auto& [k, v] : keys) onnx_attr::add_metadata(&m, k, v);
  std::string data;
  if (!m.SerializeToString(&data)) throw Error(out + ": cannot serialise the annotated model");
  write_file_atomic(out, data);
  return OnnxModel::load(out).spec();
}

ActivationEstimate OnnxModel::activation_estimate() const {
  ActivationEstimate e;
  // Inference needs the weights' shapes, not their values: a copy without large float data (made
  // field by field, so that the weights are never held twice, even for a moment).
  onnx::ModelProto inferred;
  inferred.set_ir_version(proto_->ir_version());
  *inferred.mutable_opset_import() = proto_->opset_import();
  *inferred.mutable_functions() = proto_->functions();
  auto* g = inferred.mutable_graph();
  const onnx::GraphProto& src = proto_->graph();
  g->set_name(src.name());
  *g->mutable_node() = src.node();
  *g->mutable_input() = src.input();
  *g->mutable_output() = src.output();
  *g->mutable_sparse_initializer() = src.sparse_initializer();
  for (const auto& t : src.initializer()) {
    auto* c = g->add_initializer();
    if (t.data_type() == onnx::TensorProto::FLOAT && t.raw_data().size() > 4096) {
      c->set_name(t.name());
      c->set_data_type(t.data_type());
      *c->mutable_dims() = t.dims();
    } else {
      *c = t;
    }
  }
  for (auto& in : *g->mutable_input()) {
    if (!in.type().has_tensor_type() || !in.type().tensor_type().has_shape()) continue;
    auto* shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() > 0 && !shape->dim(0).has_dim_value()) shape->mutable_dim(0)->set_dim_value(1);
  }
  g->clear_value_info();
  for (auto& out : *g->mutable_output()) out.mutable_type()->mutable_tensor_type()->clear_shape();
  try {
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    return e;  // shapes unknown: nothing to estimate from
  }
  e.inferred = true;
  std::map<std::string, const onnx::ValueInfoProto*> info;
  for (const auto& v : inferred.graph().input()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().value_info()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().output()) info[v.name()] = &v;
  auto elements = [&](const std::string& name) -> std::uint64_t {  // 0: unknown
    const auto it = info.find(name);
    std::vector<std::int64_t> dims;
    std::vector<std::string> params;
    if (it == info.end() || !inferred_shape(*it->second, &dims, &params)) return 0;
    std::uint64_t n = 1;
    for (auto d : dims) n = d < 0 ? 0 : mul_saturated(n, static_cast<std::uint64_t>(d));
    return n;
  };
  const auto& nodes = inferred.graph().node();
  for (int i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    if (n.op_type() == "Expand" && n.input_size() == 2 && n.output_size() == 1) {
      const std::uint64_t in = elements(n.input(0)), out = elements(n.output(0));
      if (in > 0 && out / in > e.largest_expand_repeats) {
        e.largest_expand_repeats = out / in;
        e.largest_expand_node = json_check::printable(n.name().empty() ? "Expand #" + std::to_string(i) : n.name());
      }
    }
    for (const auto& name : n.output()) {
      const auto it = info.find(name);
      if (it == info.end() || !it->second->type().has_tensor_type()) continue;
      std::vector<std::int64_t> dims;
      std::vector<std::string> params;
      if (!inferred_shape(*it->second, &dims, &params)) continue;
      std::uint64_t bytes = std::max<std::size_t>(element_size(it->second->type().tensor_type().elem_type()), 1);
      bool known = true;
      for (auto d : dims) {
        known = known && d >= 0;
        bytes = mul_saturated(bytes, static_cast<std::uint64_t>(std::max<std::int64_t>(d, 0)));
      }
      if (!known) continue;
      e.total_bytes = e.total_bytes + bytes < e.total_bytes ? ~std::uint64_t{0} : e.total_bytes + bytes;
      if (bytes > e.largest_bytes) {
        e.largest_bytes = bytes;
        e.largest_node = json_check::printable(n.name().empty() ? n.op_type() + " #" + std::to_string(i) : n.name()) +
                         " (" + json_check::printable(n.op_type()) + ")";
        e.largest_dims = dims;
      }
    }
  }
  return e;
}

}  // namespace fool
