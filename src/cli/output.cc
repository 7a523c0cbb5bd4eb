#include "cli/output.h"

#include <filesystem>
#include <iostream>

#include "fool/core/error.h"
#include "fool/io/files.h"

namespace fool::cli {

void check_output_file(const std::string& path, const std::string& flag, const std::string& extension) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) throw Error(flag + ": no file given");
  if (fs::is_directory(path, ec)) throw Error(flag + " " + path + ": is a directory, not a file");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    throw Error(flag + " " + path + ": directory " + parent.string() + " does not exist");
  }
  if (!extension.empty() && fs::path(path).extension() != extension) {
    throw Error(flag + " " + path + ": fool writes " + extension + " files here; name it *" + extension);
  }
  check_writable_directory(parent.empty() ? "." : parent.string(), flag, path);  // a read-only or full disk: now
}

void emit_json(const nlohmann::json& j, const std::string& path) {
  const std::string text = j.dump(2) + "\n";
  if (!path.empty()) write_file_atomic(path, text);
  std::cout << text << std::flush;
}

}  // namespace fool::cli
