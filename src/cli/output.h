#pragma once
// What a command writes: checked output paths and its JSON result.
#include <nlohmann/json.hpp>
#include <string>

namespace fool::cli {

// Checks before any work that `path` can be written as a file: not a directory, in a directory that
// exists and can be written now (a hidden temporary is made and removed there), and (if
// `extension` is given) with that extension. `flag` names it in the error.
void check_output_file(const std::string& path, const std::string& flag, const std::string& extension = "");

// Prints JSON to stdout (indented) and, if path is not empty, writes it there atomically.
void emit_json(const nlohmann::json& j, const std::string& path = "");

}  // namespace fool::cli
