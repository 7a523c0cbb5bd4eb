#include "fool/output/experiment_file.h"

#include <filesystem>

#include "fool/core/error.h"
#include "fool/output/document_checks.h"
#include "fool/io/files.h"

namespace fool {

namespace fs = std::filesystem;

nlohmann::json read_experiment(const std::string& dir) {
  const std::string path = (fs::path(dir) / "experiment.json").string();
  const nlohmann::json j = read_json_file(path);
  validate_experiment(j, path);
  return j;
}

}  // namespace fool
