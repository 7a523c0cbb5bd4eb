#include "fool/output/experiment_file.h"

#include <filesystem>

#include "fool/core/error.h"
#include "fool/io/files.h"

namespace fool {

namespace fs = std::filesystem;

nlohmann::json read_experiment(const std::string& dir) {
  const std::string path = (fs::path(dir) / "experiment.json").string();
  const nlohmann::json j = read_json_file(path);
  if (!j.is_object() || j.value("format", "") != "fool-experiment/1" || !j.contains("experiment")) {
    throw Error(path + ": not a fool experiment (format fool-experiment/1)");
  }
  return j;
}

}  // namespace fool
