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
#include "fool/model/onnx/graph_builder.h"
#include "fool/model/onnx/onnx_forms.h"
#include "fool/model/onnx/onnx_validate.h"

namespace fool {

using onnx_build::inferred_shape;

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
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::UINT32:
      return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::UINT64:
      return 8;
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
      return 2;
    default:
      return 1;
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
  if (std::any_of(rel.begin(), rel.end(), [](const fs::path& part) { return part == ".."; }))
    throw Error(model_path + ": external-data file '" + location + "' lies outside the model's directory");
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
  if (!in)
    throw Error(file.string() + ": external-data file of " + model_path + " is missing (tensor '" + t->name() + "')");
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
      if (a.has_t() && a.t().data_location() == onnx::TensorProto::EXTERNAL)
        inline_external_data(model_path, a.mutable_t());
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
    if (to > from) madvise(data_ + (from - reinterpret_cast<std::uintptr_t>(data_)), to - from, MADV_DONTNEED);
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
      !m.proto_->ParseFromZeroCopyStream(&input) || !m.proto_->has_graph() || m.proto_->graph().node_size() == 0 ||
      m.proto_->ir_version() <= 0) {
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
  for (std::size_t i = 0; i < dims.size(); ++i)
    s += (i ? "," : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
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
  if (g.output_size() != 1)
    throw Error(path + ": model has " + std::to_string(g.output_size()) + " outputs; fool needs one");
  const auto& out = g.output(0);
  s->output_name = out.name();
  auto odims = static_dims(out);
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
void OnnxModel::read_classes(const std::vector<std::int64_t>& output_dims, const SpecOverrides& overrides,
                             ModelSpec* s) const {
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
  if (output_dims.size() >= 2 && output_dims[1] > 0) {
    s->num_classes = static_cast<int>(output_dims[1]);
  } else if (!labels.empty()) {
    s->num_classes = static_cast<int>(labels.size());
  } else {
    throw Error(path_ + ": output '" + s->output_name + "' has shape " + dims_str(output_dims) +
                "; expected N x K class scores");
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
  std::map<std::string, std::string> keys = {{"fool.channel_order", channel_order_name(pre.channel_order)},
                                             {"fool.scale", nlohmann::json(pre.scale).dump()},
                                             {"fool.output", pre.output_is_probabilities ? "probabilities" : "logits"}};
  if (!pre.preset.empty()) keys["fool.preprocess"] = pre.preset;
  if (!pre.mean.empty()) keys["fool.mean"] = nlohmann::json(pre.mean).dump();
  if (!pre.std.empty()) keys["fool.std"] = nlohmann::json(pre.std).dump();
  if (overrides.labels) keys["fool.labels"] = nlohmann::json(*overrides.labels).dump();
  if (overrides.layout) keys["fool.layout"] = input_layout_name(*overrides.layout);
  if (overrides.input_size) {
    keys["fool.input_size"] =
        std::to_string(overrides.input_size->first) + "x" + std::to_string(overrides.input_size->second);
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
  for (const auto& [k, v] : keys) onnx_build::add_metadata(&m, k, v);
  std::string data;
  if (!m.SerializeToString(&data)) throw Error(out + ": cannot serialise the annotated model");
  write_file_atomic(out, data);
  return OnnxModel::load(out).spec();
}

namespace {

// A copy of the model for shape inference: its weights' shapes, not their large float data (made
// field by field, so that the weights are never held twice, even for a moment), a free batch axis
// set to 1, and no shapes of intermediate values or outputs to contradict.
onnx::ModelProto shapes_only_copy(const onnx::ModelProto& m) {
  onnx::ModelProto copy;
  copy.set_ir_version(m.ir_version());
  *copy.mutable_opset_import() = m.opset_import();
  *copy.mutable_functions() = m.functions();
  auto* g = copy.mutable_graph();
  const onnx::GraphProto& src = m.graph();
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
  return copy;
}

// The shapes shape inference found, by value name.
class InferredValues {
 public:
  explicit InferredValues(const onnx::GraphProto& g) {
    for (const auto& v : g.input()) info_[v.name()] = &v;
    for (const auto& v : g.value_info()) info_[v.name()] = &v;
    for (const auto& v : g.output()) info_[v.name()] = &v;
  }
  // The elements of value `name`; 0: unknown.
  std::uint64_t elements(const std::string& name) const {
    const auto it = info_.find(name);
    std::vector<std::int64_t> dims;
    std::vector<std::string> params;
    if (it == info_.end() || !inferred_shape(*it->second, &dims, &params)) return 0;
    std::uint64_t n = 1;
    for (auto d : dims) n = d < 0 ? 0 : mul_saturated(n, static_cast<std::uint64_t>(d));
    return n;
  }
  // The bytes and static dims of tensor value `name`, if its every dimension is known.
  bool tensor_bytes(const std::string& name, std::uint64_t* bytes, std::vector<std::int64_t>* dims) const {
    const auto it = info_.find(name);
    if (it == info_.end() || !it->second->type().has_tensor_type()) return false;
    std::vector<std::string> params;
    if (!inferred_shape(*it->second, dims, &params)) return false;
    *bytes = std::max<std::size_t>(element_size(it->second->type().tensor_type().elem_type()), 1);
    bool known = true;
    for (auto d : *dims) {
      known = known && d >= 0;
      *bytes = mul_saturated(*bytes, static_cast<std::uint64_t>(std::max<std::int64_t>(d, 0)));
    }
    return known;
  }

 private:
  std::map<std::string, const onnx::ValueInfoProto*> info_;
};

// An Expand node (index i) counted in e's largest repeats.
void note_expand(const onnx::NodeProto& n, int i, const InferredValues& values, ActivationEstimate* e) {
  if (n.op_type() != "Expand" || n.input_size() != 2 || n.output_size() != 1) return;
  const std::uint64_t in = values.elements(n.input(0)), out = values.elements(n.output(0));
  if (in > 0 && out / in > e->largest_expand_repeats) {
    e->largest_expand_repeats = out / in;
    e->largest_expand_node = json_check::printable(n.name().empty() ? "Expand #" + std::to_string(i) : n.name());
  }
}

// A node's (index i) outputs of known size added to e's total and largest output.
void note_outputs(const onnx::NodeProto& n, int i, const InferredValues& values, ActivationEstimate* e) {
  for (const auto& name : n.output()) {
    std::uint64_t bytes = 0;
    std::vector<std::int64_t> dims;
    if (!values.tensor_bytes(name, &bytes, &dims)) continue;
    e->total_bytes = e->total_bytes + bytes < e->total_bytes ? ~std::uint64_t{0} : e->total_bytes + bytes;
    if (bytes > e->largest_bytes) {
      e->largest_bytes = bytes;
      e->largest_node = json_check::printable(n.name().empty() ? n.op_type() + " #" + std::to_string(i) : n.name()) +
                        " (" + json_check::printable(n.op_type()) + ")";
      e->largest_dims = dims;
    }
  }
}

}  // namespace

ActivationEstimate OnnxModel::activation_estimate() const {
  ActivationEstimate e;
  onnx::ModelProto inferred = shapes_only_copy(*proto_);
  try {
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    return e;  // shapes unknown: nothing to estimate from
  }
  e.inferred = true;
  const InferredValues values(inferred.graph());
  const auto& nodes = inferred.graph().node();
  for (int i = 0; i < nodes.size(); ++i) {
    note_expand(nodes[i], i, values, &e);
    note_outputs(nodes[i], i, values, &e);
  }
  return e;
}

}  // namespace fool
