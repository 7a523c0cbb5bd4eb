#pragma once
// The encodings by name: the one place that makes an encoding from a choice, names it, and decodes
// a genome file saved by a run (genomes/class_<k>.json) back into its encoding and genome.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"

namespace fool {

enum class EncodingKind { Direct, Cppn };
const std::string& encoding_name(EncodingKind kind);  // "direct" | "cppn"
EncodingKind parse_encoding(const std::string& name);
const std::vector<std::string>& encoding_names();

// The encoding of `kind` for images of `shape`, with the options of that kind (the other is ignored).
std::unique_ptr<Encoding> make_encoding(EncodingKind kind, const ImageShape& shape, DirectOptions direct,
                                        CppnOptions cppn);

// A saved genome with the encoding that renders it at the size it was evolved at.
struct SavedGenome {
  EncodingKind kind = EncodingKind::Direct;
  std::unique_ptr<Encoding> encoding;
  GenomePtr genome;
};
// Decodes a genome file's JSON; throws fool::Error (one line) if it is not a genome fool wrote.
SavedGenome decode_genome(const nlohmann::json& j);

}  // namespace fool
