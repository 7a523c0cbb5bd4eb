#include "fool/model/onnx/onnx_validate.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/model/classifier.h"

namespace fool {

namespace {

namespace fs = std::filesystem;

// Throw "<model_path>: <where><what>" and "<model_path>: <what>" (the messages are joined here, outside
// the callers' loops).
[[noreturn]] void fail(const std::string& model_path, const std::string& where, const std::string& what) {
  throw Error(model_path + ": " + where + what);
}
[[noreturn]] void fail(const std::string& model_path, const std::string& what) {
  throw Error(model_path + ": " + what);
}

// Elements beyond this in one tensor are refused: 2^31 floats is 8 GiB, more than any model fool
// runs, and keeps every size computation below far from overflow.
constexpr std::uint64_t kMaxTensorElements = std::uint64_t{1} << 31;

// Bytes per element of a fixed-size type; 0 for STRING and unknown types.
std::size_t element_size(int type) {
  using T = onnx::TensorProto;
  switch (type) {
    case T::FLOAT:
    case T::INT32:
    case T::UINT32:
      return 4;
    case T::UINT8:
    case T::INT8:
    case T::BOOL:
      return 1;
    case T::UINT16:
    case T::INT16:
    case T::FLOAT16:
    case T::BFLOAT16:
      return 2;
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE:
    case T::COMPLEX64:
      return 8;
    case T::COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

// Number of values the typed repeated field of `t` holds for its type (complex types hold pairs).
std::uint64_t typed_values(const onnx::TensorProto& t) {
  using T = onnx::TensorProto;
  switch (t.data_type()) {
    case T::FLOAT:
      return static_cast<std::uint64_t>(t.float_data_size());
    case T::COMPLEX64:
      return static_cast<std::uint64_t>(t.float_data_size()) / 2;
    case T::INT32:
    case T::INT16:
    case T::INT8:
    case T::UINT16:
    case T::UINT8:
    case T::BOOL:
    case T::FLOAT16:
    case T::BFLOAT16:
      return static_cast<std::uint64_t>(t.int32_data_size());
    case T::INT64:
      return static_cast<std::uint64_t>(t.int64_data_size());
    case T::DOUBLE:
      return static_cast<std::uint64_t>(t.double_data_size());
    case T::COMPLEX128:
      return static_cast<std::uint64_t>(t.double_data_size()) / 2;
    case T::UINT32:
    case T::UINT64:
      return static_cast<std::uint64_t>(t.uint64_data_size());
    case T::STRING:
      return static_cast<std::uint64_t>(t.string_data_size());
    default:
      return 0;
  }
}

std::string shape_str(const onnx::TensorProto& t) {
  std::string s = "[";
  for (int i = 0; i < t.dims_size(); ++i) s += (i ? "," : "") + std::to_string(t.dims(i));
  return s + "]";
}

// An external-data location must stay inside the model's directory (no absolute paths, no "..").
fs::path external_file(const std::string& model_path, const std::string& where, const std::string& location) {
  const fs::path rel(location);
  if (location.empty() || rel.is_absolute() ||
      std::any_of(rel.begin(), rel.end(), [](const fs::path& part) { return part == ".."; })) {
    throw Error(model_path + ": " + where + " names external data '" + json_check::printable(location) +
                "' outside the model's directory");
  }
  const fs::path dir = fs::path(model_path).has_parent_path() ? fs::path(model_path).parent_path() : fs::path(".");
  return dir / rel;
}

std::uint64_t parse_uint(const std::string& model_path, const std::string& where, const std::string& key,
                         const std::string& text) {
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || text[0] == '-') {
    throw Error(model_path + ": " + where + " has external-data " + key + " '" + json_check::printable(text) +
                "', not a byte count");
  }
  return v;
}

void validate_external(const onnx::TensorProto& t, const std::string& model_path, const std::string& where,
                       std::uint64_t bytes) {
  std::string location;
  std::uint64_t offset = 0, length = bytes;
  bool has_length = false;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location")
      location = kv.value();
    else if (kv.key() == "offset")
      offset = parse_uint(model_path, where, "offset", kv.value());
    else if (kv.key() == "length") {
      length = parse_uint(model_path, where, "length", kv.value());
      has_length = true;
    }
  }
  const fs::path file = external_file(model_path, where, location);
  if (has_length && length != bytes) {
    throw Error(model_path + ": " + where + " declares " + std::to_string(length) +
                " bytes of external data; its shape " + shape_str(t) + " needs " + std::to_string(bytes));
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    throw Error(model_path + ": " + where + " keeps its data in '" + json_check::printable(file.string()) +
                "', which is missing");
  }
  const std::uint64_t size = fs::file_size(file, ec);
  if (ec || offset > size || size - offset < bytes) {
    throw Error(model_path + ": " + where + " needs " + std::to_string(bytes) + " bytes at offset " +
                std::to_string(offset) + " of '" + json_check::printable(file.string()) + "', which holds " +
                std::to_string(ec ? 0 : size));
  }
}

void validate_tensor(const onnx::TensorProto& t, const std::string& model_path, const std::string& where) {
  const std::size_t esize = element_size(t.data_type());
  if (esize == 0 && t.data_type() != onnx::TensorProto::STRING) {
    throw Error(model_path + ": " + where + " has unknown data type " + std::to_string(t.data_type()));
  }
  std::uint64_t n = 1;
  for (const auto d : t.dims()) {
    if (d < 0) fail(model_path, where, " has a negative dimension in shape " + shape_str(t));
    if (d == 0) fail(model_path, where, " has a zero dimension in shape " + shape_str(t));
    if (static_cast<std::uint64_t>(d) > kMaxTensorElements || n * static_cast<std::uint64_t>(d) > kMaxTensorElements) {
      fail(model_path, where, " has shape " + shape_str(t) + ", more than 2^31 elements");
    }
    n *= static_cast<std::uint64_t>(d);
  }
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    if (esize == 0) throw Error(model_path + ": " + where + " keeps strings in external data");
    validate_external(t, model_path, where, n * esize);
    return;
  }
  if (t.has_raw_data()) {
    if (esize == 0) throw Error(model_path + ": " + where + " holds strings as raw data");
    if (t.raw_data().size() != n * esize) {
      throw Error(model_path + ": " + where + " holds " + std::to_string(t.raw_data().size()) + " bytes; its shape " +
                  shape_str(t) + " needs " + std::to_string(n * esize));
    }
    return;
  }
  const std::uint64_t have = typed_values(t);
  if (have != n) {
    throw Error(model_path + ": " + where + " holds " + std::to_string(have) + " values; its shape " + shape_str(t) +
                " needs " + std::to_string(n));
  }
}

void validate_attribute(const onnx::AttributeProto& a, const std::string& model_path, const std::string& where) {
  using A = onnx::AttributeProto;
  const std::string what = model_path + ": " + where + " attribute '" + json_check::printable(a.name()) + "'";
  bool ok = true;
  switch (a.type()) {
    case A::FLOAT:
      ok = a.has_f();
      break;
    case A::INT:
      ok = a.has_i();
      break;
    case A::STRING:
      ok = a.has_s();
      break;
    case A::TENSOR:
      ok = a.has_t();
      break;
    case A::GRAPH:
      ok = a.has_g();
      break;
    case A::SPARSE_TENSOR:
      ok = a.has_sparse_tensor();
      break;
    case A::FLOATS:
      ok = !a.has_f() && a.ints_size() == 0;
      break;
    case A::INTS:
      ok = !a.has_i() && a.floats_size() == 0;
      break;
    case A::STRINGS:
    case A::TENSORS:
    case A::GRAPHS:
    case A::SPARSE_TENSORS:
      ok = true;
      break;
    default:
      throw Error(what + " has no valid type (" + std::to_string(a.type()) + ")");
  }
  // A value of another kind than the declared type means the file was damaged or mis-written.
  const int scalars = int(a.has_f()) + int(a.has_i()) + int(a.has_s()) + int(a.has_t()) + int(a.has_g());
  const int lists = int(a.floats_size() > 0) + int(a.ints_size() > 0) + int(a.strings_size() > 0) +
                    int(a.tensors_size() > 0) + int(a.graphs_size() > 0);
  if (!ok || scalars + lists > 1) throw Error(what + " does not hold a value of its declared type");
  if (a.has_t()) validate_tensor(a.t(), model_path, where + " attribute '" + json_check::printable(a.name()) + "'");
  for (const auto& t : a.tensors())
    validate_tensor(t, model_path, where + " attribute '" + json_check::printable(a.name()) + "'");
}

// LRN divides by (bias + alpha / size * sum of squares)^beta: a bias of 0 or less makes NaN or
// infinity on one backend and ordinary-looking numbers on another (issue 20), as Caffe's k does.
void validate_lrn(const onnx::NodeProto& n, const std::string& path, const std::string& where) {
  if (n.op_type() != "LRN" || !(n.domain().empty() || n.domain() == "ai.onnx")) return;
  for (const auto& a : n.attribute()) {
    if (a.type() != onnx::AttributeProto::FLOAT) continue;
    const float v = a.f();
    const bool bad = a.name() == "bias" ? !(v > 0.0f && std::isfinite(v))
                                        : (a.name() == "alpha" || a.name() == "beta") && !std::isfinite(v);
    if (bad) {
      char value[32];
      std::snprintf(value, sizeof value, "%g", static_cast<double>(v));
      fail(path, where,
           ": LRN " + a.name() + " " + value +
               (a.name() == "bias" ? " must be positive and finite" : " must be finite") +
               " (the output would be NaN or infinite)");
    }
  }
}

std::string strict_number_error(const std::string& text, bool integer) {
  std::size_t used = 0;
  try {
    if (integer) {
      (void)std::stoi(text, &used);
    } else {
      const float v = std::stof(text, &used);
      if (!std::isfinite(v)) return "not a finite number";
    }
  } catch (const std::exception&) {
    return "not a number";
  }
  if (used != text.size()) return "not a number";
  return "";
}

// Why a fool.* metadata value is not one fool reads: "" if it is (or the key is not checked here).
std::string metadata_value_error(const std::string& key, const std::string& v) {
  if (key == "fool.scale") {
    const std::string why = strict_number_error(v, false);
    return why.empty() && !(std::stof(v) > 0.0f) ? "not positive" : why;
  }
  if (key == "fool.background_class") return strict_number_error(v, true);
  // The keys whose value is one of two words.
  static const std::map<std::string, std::pair<std::string, std::string>> kWords = {
      {"fool.output", {"probabilities", "logits"}},
      {"fool.channel_order", {"rgb", "bgr"}},
      {"fool.layout", {"nchw", "nhwc"}}};
  if (const auto it = kWords.find(key); it != kWords.end()) {
    const auto& [a, b] = it->second;
    return v == a || v == b ? "" : "not '" + a + "' or '" + b + "'";
  }
  if (key == "fool.preprocess") {
    const auto names = names_of(preprocess_preset_names());
    if (std::find(names.begin(), names.end(), v) == names.end()) return "not a preprocessing name";
  }
  return "";
}

void validate_versions(const onnx::ModelProto& m, const std::string& path) {
  if (m.ir_version() < kMinOnnxIrVersion || m.ir_version() > kMaxOnnxIrVersion) {
    throw Error(path + ": ONNX IR version " + std::to_string(m.ir_version()) + " is not one fool reads (" +
                std::to_string(kMinOnnxIrVersion) + " to " + std::to_string(kMaxOnnxIrVersion) + ")");
  }
  long opset = -1;
  for (const auto& op : m.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = static_cast<long>(op.version());
  if (opset < 0) throw Error(path + ": model imports no ONNX operator set");
  if (opset < kMinOnnxOpset || opset > kMaxOnnxOpset) {
    throw Error(path + ": ONNX opset " + std::to_string(opset) + " is not one fool runs (" +
                std::to_string(kMinOnnxOpset) + " to " + std::to_string(kMaxOnnxOpset) + ")");
  }
}

// The initializers and the graph inputs: named, each name once; their names added to *defined.
void validate_graph_sources(const onnx::GraphProto& g, const std::string& path, std::set<std::string>* defined) {
  for (const auto& t : g.initializer()) {
    if (t.name().empty()) fail(path, "an initializer has no name");
    if (!defined->insert(t.name()).second)
      fail(path, "two initializers are named '" + json_check::printable(t.name()) + "'");
    validate_tensor(t, path, "initializer '" + json_check::printable(t.name()) + "'");
  }
  std::set<std::string> input_names;
  for (const auto& in : g.input()) {
    if (in.name().empty()) fail(path, "a graph input has no name");
    if (!input_names.insert(in.name()).second)
      fail(path, "two graph inputs are named '" + json_check::printable(in.name()) + "'");
    defined->insert(in.name());
  }
}

// A node's inputs (each defined before it), attributes (named once each, each valid) and LRN settings.
void validate_node_reads(const onnx::NodeProto& n, const std::string& path, const std::string& where,
                         const std::set<std::string>& defined) {
  if (n.op_type().empty()) fail(path, where, " has no operator type");
  for (const auto& in : n.input())
    if (!in.empty() && !defined.count(in)) {
      fail(path, where,
           " reads '" + json_check::printable(in) + "', which no input, initializer or earlier node provides");
    }
  std::set<std::string> attr_names;
  for (const auto& a : n.attribute()) {
    if (a.name().empty() || !attr_names.insert(a.name()).second) {
      fail(path, where, " has an unnamed or repeated attribute '" + json_check::printable(a.name()) + "'");
    }
    validate_attribute(a, path, where);
  }
  validate_lrn(n, path, where);
}

// The nodes in order: what each reads is defined before it, each output name is new.
void validate_nodes(const onnx::GraphProto& g, const std::string& path, std::set<std::string>* defined,
                    std::set<std::string>* produced) {
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    const std::string where =
        "node " + std::to_string(i) + " (" + json_check::printable(n.name().empty() ? n.op_type() : n.name()) + ")";
    validate_node_reads(n, path, where, *defined);
    for (const auto& out : n.output()) {
      if (out.empty()) continue;
      if (defined->count(out) || !produced->insert(out).second) {
        fail(path, where, " writes '" + json_check::printable(out) + "', a name that is already taken");
      }
      defined->insert(out);
    }
  }
}

}  // namespace

void validate_onnx_model(const onnx::ModelProto& m, const std::string& path) {
  validate_versions(m, path);
  const auto& g = m.graph();
  std::set<std::string> defined;  // names a node may read: inputs, initializers, earlier outputs
  validate_graph_sources(g, path, &defined);
  std::set<std::string> produced;
  validate_nodes(g, path, &defined, &produced);
  std::set<std::string> outputs;
  for (const auto& o : g.output()) {
    if (!outputs.insert(o.name()).second)
      fail(path, "two graph outputs are named '" + json_check::printable(o.name()) + "'");
    if (!produced.count(o.name()))
      fail(path, "graph output '" + json_check::printable(o.name()) + "' is produced by no node");
  }
  for (const auto& p : m.metadata_props()) {
    const std::string why = metadata_value_error(p.key(), p.value());
    if (!why.empty())
      fail(path, "metadata '" + json_check::printable(p.key()) + "' value '" + json_check::printable(p.value(), 40) +
                     "' is " + why);
  }
}

}  // namespace fool
