#pragma once
// The encodings by name: the one place that lists them. Each encoding's own file describes it in an
// EncodingEntry (its options as flags and keywords name them, how it is made from them, how a preset
// sizes its population, how a genome file it saved is decoded); registry.cc lists the entries.
// Adding an encoding: its file plus one line in registry.cc. Nothing outside encoding/ branches on
// which encoding a run uses.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/encoding/encoding.h"

namespace fool {

// Options given by name: a JSON object, option name -> value (command-line flags, Python keywords,
// an experiment's settings). Each encoding reads the names it takes, its defaults fill in the rest,
// and names it does not take are ignored (one flag may serve several encodings, e.g. eta).
using EncodingParams = nlohmann::json;

// One option an encoding takes: the CLI's flag is "--" + name with '_' as '-', Python's keyword is
// the name itself.
struct EncodingOption {
  std::string name;                  // e.g. "mutation_rate"
  std::string help;                  // one line for --help
  nlohmann::json default_value;      // a number, an integer or a string
  std::vector<std::string> choices;  // the values a string option takes
  double min = 0.0, max = 0.0;       // the range of a number or integer (inclusive)
};

// An encoding as the registry knows it.
struct EncodingEntry {
  std::string name;  // "direct", "cppn": --encoding, genome files, summary.json
  std::string help;  // one line for --help
  std::vector<EncodingOption> options;
  // The encoding for images of `shape`; throws fool::Error (one line) on an option out of range.
  std::unique_ptr<Encoding> (*make)(const ImageShape& shape, const EncodingParams& params);
  // The encoding a genome file this encoding saved (Encoding::to_json) was evolved with; throws
  // fool::Error (one line) if the file does not say it.
  std::unique_ptr<Encoding> (*decode)(const nlohmann::json& genome_file);
  // Offspring and initial genomes per generation under a preset where they differ from the preset's
  // own (the paper's ImageNet CPPN runs had 400, its direct ones 200).
  std::map<std::string, int> preset_population;
  // Bytes a generation's rendering holds beyond its images and genomes, for images of `shape` and
  // `threads` workers, checked before the encoding is made (nullptr: none).
  std::uint64_t (*render_bytes)(const ImageShape& shape, int threads) = nullptr;
};

// Every registered encoding, in the order --help lists them.
const std::vector<EncodingEntry>& encodings();
const std::vector<std::string>& encoding_names();
// Throws fool::Error "unknown encoding 'x' (known: direct, cppn)".
const EncodingEntry& find_encoding(const std::string& name);
// The options of every encoding, each name once (the first encoding's description), in entry order.
const std::vector<EncodingOption>& encoding_options();
// The encoding `name` for images of `shape` with `params`.
std::unique_ptr<Encoding> make_encoding(const std::string& name, const ImageShape& shape,
                                        const EncodingParams& params = nlohmann::json::object());

// A value of `params` as an encoding reads it: absent (or null), `fallback`; present, it must be of
// the option's kind. Throw fool::Error "encoding option <name>: ..." otherwise.
double param_number(const EncodingParams& params, const std::string& name, double fallback);
int param_integer(const EncodingParams& params, const std::string& name, int fallback);
std::string param_choice(const EncodingParams& params, const std::string& name, const std::vector<std::string>& choices,
                         const std::string& fallback);

// A saved genome with the encoding that renders it at the size it was evolved at.
struct SavedGenome {
  std::string name;  // the encoding's
  std::unique_ptr<Encoding> encoding;
  GenomePtr genome;
};
// Decodes a genome file's JSON; throws fool::Error (one line) if it is not a genome fool wrote.
SavedGenome decode_genome(const nlohmann::json& j);
// A saved genome's image at side x side pixels (0: the size it was evolved at): drawn there by an
// encoding that draws at any size, else rendered and resized.
Image8 render_saved_genome(const SavedGenome& saved, int side, Image8 (*resize)(const Image8&, int, int));

}  // namespace fool
