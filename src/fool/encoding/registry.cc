#include "fool/encoding/registry.h"

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/core/names.h"

namespace fool {

namespace {

const NameTable<EncodingKind>& table() {
  static const NameTable<EncodingKind> t = {{EncodingKind::Direct, "direct"}, {EncodingKind::Cppn, "cppn"}};
  return t;
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
  namespace jc = json_check;
  SavedGenome out;
  out.kind = parse_encoding(j["encoding"].get<std::string>());
  if (out.kind == EncodingKind::Cppn) {
    CppnOptions opt;
    opt.shape.channels = static_cast<int>(jc::integer(j, "", "channels", 1, 3));
    const auto& size = jc::array(j, "", "native_size");
    if (size.size() != 2) throw Error("native_size is not [height, width]");
    opt.shape.height = static_cast<int>(jc::integer_value(size[0], "native_size[0]", 1, kMaxCppnNativeSize));
    opt.shape.width = static_cast<int>(jc::integer_value(size[1], "native_size[1]", 1, kMaxCppnNativeSize));
    opt.raw_coordinates = jc::string(j, "", "coordinates") == "raw";
    out.encoding = std::make_unique<CppnEncoding>(opt);
  } else {
    const auto& shape = jc::array(j, "", "shape");
    if (shape.size() != 3) throw Error("shape is not [channels, height, width]");
    DirectOptions opt;
    opt.shape = {static_cast<int>(jc::integer_value(shape[0], "shape[0]", 1, 3)),
                 static_cast<int>(jc::integer_value(shape[1], "shape[1]", 1, 8192)),
                 static_cast<int>(jc::integer_value(shape[2], "shape[2]", 1, 8192))};
    out.encoding = std::make_unique<DirectEncoding>(opt);
  }
  out.genome = out.encoding->from_json(j);  // validates the genome itself
  return out;
}

}  // namespace fool
