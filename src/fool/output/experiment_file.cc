#include "fool/output/experiment_file.h"

#include <filesystem>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/output/document_checks.h"

namespace fool {

namespace fs = std::filesystem;

const ExperimentDocument* find_experiment_kind(const ExperimentDocuments& kinds, const std::string& name) {
  for (const ExperimentDocument& k : kinds)
    if (k.name == name) return &k;
  return nullptr;
}

std::string experiment_kind_list(const ExperimentDocuments& kinds) {
  std::string list;
  for (std::size_t i = 0; i < kinds.size(); ++i)
    list += (i == 0 ? "" : (i + 1 == kinds.size() ? " or " : ", ")) + kinds[i].name;
  return list;
}

nlohmann::json read_experiment(const std::string& dir, const ExperimentDocuments& kinds) {
  const std::string path = (fs::path(dir) / "experiment.json").string();
  nlohmann::json j = read_json_file(path);
  validate_experiment(j, path, kinds);
  return j;
}

ExperimentDir::ExperimentDir(std::string dir, const std::string& kind, const ExperimentDocuments& kinds,
                             nlohmann::json config)
    : dir_(std::move(dir)) {
  const fs::path file = fs::path(dir_) / "experiment.json";
  std::error_code ec;
  // A session killed mid-write leaves hidden temporaries (of experiment.json, a model, a run's
  // files); they hold nothing to keep, and must not make the directory look foreign.
  if (fs::exists(file, ec)) {
    // An experiment directory made before the marker existed is recognised by its experiment.json.
    const bool marked = has_run_marker(dir_);
    if (!marked) state_ = read_experiment(dir_, kinds);
    lock_ = open_run_directory(dir_, kind, true);
    remove_atomic_temporaries(dir_, true);
    state_ = read_experiment(dir_, kinds);
    const std::string had = state_["experiment"].get<std::string>();
    if (had != kind)
      throw Error(file.string() + ": holds a " + had + " experiment, not " + kind + "; choose another --out");
    for (const auto& [key, value] : config.items()) {
      if (key == "threads" || key == "iterations") continue;  // free to change between sessions
      if (state_["config"].value(key, nlohmann::json()) != value) {
        throw Error(file.string() + ": the experiment there has another " + key + " (" +
                    state_["config"].value(key, nlohmann::json()).dump() + ", now " + value.dump() +
                    "); choose another --out");
      }
    }
    state_["config"] = config;
  } else {
    // A marked directory without experiment.json: a session killed before its first save. A
    // directory that is not empty and not fool's is refused there, one holding only the lock of
    // a process that is starting it too is "being written by another fool process".
    lock_ = prepare_run_directory(dir_, false, kind);
    state_ = {
        {"format", "fool-experiment/1"}, {"experiment", kind}, {"config", config}, {"steps", nlohmann::json::object()}};
  }
  save();
}

std::string ExperimentDir::path(const std::string& rel) const { return (std::filesystem::path(dir_) / rel).string(); }

void ExperimentDir::save() { write_file_atomic(path("experiment.json"), state_.dump(2) + "\n"); }

}  // namespace fool
