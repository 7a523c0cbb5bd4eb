#include "fool/encoding/registry.h"

#include "fool/core/error.h"
#include "fool/core/names.h"

namespace fool {

namespace {

const NameTable<EncodingKind>& table() {
  static const NameTable<EncodingKind> t = {{EncodingKind::Direct, "direct"}, {EncodingKind::Cppn, "cppn"}};
  return t;
}

// Reads a field of a genome file, turning nlohmann's exceptions into one line naming the key.
template <typename T>
T genome_field(const nlohmann::json& j, const char* key) {
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string("malformed genome (\"") + key + "\" missing or of the wrong type)");
  }
}

}  // namespace

const std::string& encoding_name(EncodingKind kind) { return name_of(table(), kind); }
EncodingKind parse_encoding(const std::string& name) { return parse_name(table(), name, "encoding"); }
const std::vector<std::string>& encoding_names() {
  static const std::vector<std::string> names = names_of(table());
  return names;
}

std::unique_ptr<Encoding> make_encoding(EncodingKind kind, const ImageShape& shape, DirectOptions direct,
                                        CppnOptions cppn) {
  if (kind == EncodingKind::Direct) {
    direct.shape = shape;
    return std::make_unique<DirectEncoding>(direct);
  }
  cppn.shape = shape;
  return std::make_unique<CppnEncoding>(cppn);
}

SavedGenome decode_genome(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("encoding") || !j["encoding"].is_string()) {
    throw Error("not a genome (no \"encoding\": \"cppn\" or \"direct\")");
  }
  SavedGenome out;
  out.kind = parse_encoding(j["encoding"].get<std::string>());
  if (out.kind == EncodingKind::Cppn) {
    CppnOptions opt;
    const auto native = genome_field<std::vector<int>>(j, "native_size");
    if (native.size() != 2) throw Error("malformed genome (\"native_size\" is not [height, width])");
    opt.shape = {genome_field<int>(j, "channels"), native[0], native[1]};
    opt.raw_coordinates = genome_field<std::string>(j, "coordinates") == "raw";
    out.encoding = std::make_unique<CppnEncoding>(opt);
  } else {
    const auto shape = genome_field<std::vector<int>>(j, "shape");
    if (shape.size() != 3) throw Error("malformed genome (\"shape\" is not [channels, height, width])");
    DirectOptions opt;
    opt.shape = {shape[0], shape[1], shape[2]};
    out.encoding = std::make_unique<DirectEncoding>(opt);
  }
  try {
    out.genome = out.encoding->from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw Error("malformed genome (" + std::string(e.what()) + ")");
  }
  return out;
}

}  // namespace fool
