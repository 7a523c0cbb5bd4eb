#pragma once
// The encodings' flags, read from the encoding registry: --encoding's choices and one flag per
// encoding option (--mutation-rate, --coordinates, ...), so that a new encoding needs no CLI change.
#include <CLI/CLI.hpp>
#include <string>

#include "fool/encoding/registry.h"

namespace fool::cli {

// --encoding: one of encoding_names(), its default shown in --help the name in `target`.
CLI::Option* add_encoding_choice(CLI::App* app, std::string& target, const std::string& help);
// A flag per EncodingOption of every encoding ("--" + its name with '_' as '-'), range-checked at
// parse time; a flag given sets params[name].
void add_encoding_options(CLI::App* app, EncodingParams& params);
// The default of an option as --help shows it ("0.1", "1000", "raw").
std::string option_default_text(const EncodingOption& option);

}  // namespace fool::cli
