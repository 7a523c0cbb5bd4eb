#pragma once
// experiment.json, the file an experiment directory keeps its settings and finished steps in.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fool/output/run_directory.h"

namespace fool {

// What output/ knows of one kind of experiment: its name (experiment.json's "experiment", the run
// directory's kind), the checks of the keys it adds to experiment.json, and its section of the
// report. output/ names no kind: the experiments registry (fool/experiments/registry.h,
// experiment_documents()) holds one per experiment, in the CLI's order, and whoever reads or
// writes an experiment directory passes them in.
struct ExperimentDocument {
  std::string name;
  // Checks the keys this kind adds (e.g. its results), `x` being experiment.json with the keys
  // every kind has already checked; throws fool::Error (one line) naming the key.
  void (*check)(const nlohmann::json& x) = nullptr;
  // Its section of the HTML report, `x` its experiment.json (read and checked).
  std::string (*section)(const std::string& dir, const nlohmann::json& x) = nullptr;
};
using ExperimentDocuments = std::vector<ExperimentDocument>;

// The kind named `name` among `kinds`; nullptr for none.
const ExperimentDocument* find_experiment_kind(const ExperimentDocuments& kinds, const std::string& name);
std::string experiment_kind_list(const ExperimentDocuments& kinds);  // "transfer or retrain", for messages

// Reads dir/experiment.json, checked as one of `kinds`; throws fool::Error naming it if missing or
// not an experiment.
nlohmann::json read_experiment(const std::string& dir, const ExperimentDocuments& kinds);

// An experiment directory and its experiment.json: the kind, the settings, and each finished step
// with its result (saved atomically after each), so that a session run again skips what is done.
class ExperimentDir {
 public:
  // Opens (resuming: the same kind and settings, `threads` and `iterations` free to change) or
  // makes the experiment directory `dir` for the experiment `kind` (one of `kinds`, which an
  // existing experiment.json is checked against) and holds its lock; throws fool::Error (one line)
  // for a directory that holds something else.
  ExperimentDir(std::string dir, const std::string& kind, const ExperimentDocuments& kinds, nlohmann::json config);
  bool done(const std::string& step) const { return state_["steps"].contains(step); }
  const nlohmann::json& result(const std::string& step) const { return state_["steps"][step]; }
  void mark(const std::string& step, nlohmann::json result) {
    state_["steps"][step] = std::move(result);
    save();
  }
  void set(const std::string& key, nlohmann::json value) {
    state_[key] = std::move(value);
    save();
  }
  const nlohmann::json& state() const { return state_; }
  std::string path(const std::string& rel) const;

 private:
  void save();
  std::string dir_;
  RunLock lock_;  // held for the whole session
  nlohmann::json state_;
};

}  // namespace fool
