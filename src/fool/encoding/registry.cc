#include "fool/encoding/registry.h"

#include <cmath>

#include "fool/core/error.h"
#include "fool/core/json_check.h"

namespace fool {

// Each encoding's file describes it.
EncodingEntry direct_encoding_entry();  // direct_encoding.cc
EncodingEntry cppn_encoding_entry();    // cppn.cc

const std::vector<EncodingEntry>& encodings() {
  static const std::vector<EncodingEntry> all = {direct_encoding_entry(), cppn_encoding_entry()};
  return all;
}

const std::vector<std::string>& encoding_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const EncodingEntry& e : encodings()) n.push_back(e.name);
    return n;
  }();
  return names;
}

const EncodingEntry& find_encoding(const std::string& name) {
  for (const EncodingEntry& e : encodings()) {
    if (e.name == name) return e;
  }
  std::string known;
  for (const std::string& n : encoding_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown encoding '" + json_check::printable(name) + "' (known: " + known + ")");
}

const std::vector<EncodingOption>& encoding_options() {
  static const std::vector<EncodingOption> options = [] {
    std::vector<EncodingOption> all;
    for (const EncodingEntry& e : encodings()) {
      for (const EncodingOption& o : e.options) {
        bool seen = false;
        for (const EncodingOption& a : all) seen = seen || a.name == o.name;
        if (!seen) all.push_back(o);
      }
    }
    return all;
  }();
  return options;
}

std::unique_ptr<Encoding> make_encoding(const std::string& name, const ImageShape& shape,
                                        const EncodingParams& params) {
  if (!params.is_null() && !params.is_object()) throw Error("encoding options are not an object of name: value");
  return find_encoding(name).make(shape, params.is_null() ? nlohmann::json::object() : params);
}

namespace {
const nlohmann::json* param(const EncodingParams& params, const std::string& name) {
  if (!params.is_object()) return nullptr;
  const auto it = params.find(name);
  return it == params.end() || it->is_null() ? nullptr : &*it;
}
}  // namespace

double param_number(const EncodingParams& params, const std::string& name, double fallback) {
  const nlohmann::json* v = param(params, name);
  if (v == nullptr) return fallback;
  if (!v->is_number() || !std::isfinite(v->get<double>()))
    throw Error("encoding option " + name + ": not a finite number");
  return v->get<double>();
}

int param_integer(const EncodingParams& params, const std::string& name, int fallback) {
  const nlohmann::json* v = param(params, name);
  if (v == nullptr) return fallback;
  return static_cast<int>(json_check::integer_value(*v, "encoding option " + name, -2147483647 - 1, 2147483647));
}

std::string param_choice(const EncodingParams& params, const std::string& name, const std::vector<std::string>& choices,
                         const std::string& fallback) {
  const nlohmann::json* v = param(params, name);
  if (v == nullptr) return fallback;
  if (v->is_string()) {
    for (const std::string& c : choices) {
      if (*v == c) return c;
    }
  }
  std::string known;
  for (const std::string& c : choices) known += (known.empty() ? "" : ", ") + c;
  throw Error("encoding option " + name + ": not one of " + known);
}

SavedGenome decode_genome(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("encoding") || !j["encoding"].is_string()) {
    throw Error("not a genome (no \"encoding\": \"cppn\" or \"direct\")");
  }
  const EncodingEntry& entry = find_encoding(j["encoding"].get<std::string>());
  SavedGenome out;
  out.name = entry.name;
  out.encoding = entry.decode(j);
  out.genome = out.encoding->from_json(j);  // validates the genome itself
  return out;
}

Image8 render_saved_genome(const SavedGenome& saved, int side, Image8 (*resize)(const Image8&, int, int)) {
  if (saved.encoding->draws_at_any_size()) {
    const int s = side > 0 ? side : saved.encoding->shape().height;
    return saved.encoding->render_at(*saved.genome, s, s);
  }
  Image8 img = saved.encoding->render(*saved.genome);
  if (side > 0) img = resize(img, side, side);
  return img;
}

}  // namespace fool
