#pragma once
// experiment.json, the file an experiment directory keeps its settings and finished steps in.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fool/core/names.h"
#include "fool/output/run_directory.h"

namespace fool {

// The experiments an experiment directory can hold, in one name table: experiment.json's
// "experiment", the CLI's `fool experiment <name>`, the run directory's kind and the report's
// section all read it.
enum class ExperimentKind { Transfer, Retrain };
inline const NameTable<ExperimentKind>& experiment_kinds() {  // the table, in the CLI's order
  static const NameTable<ExperimentKind> table = {{ExperimentKind::Transfer, "transfer"},
                                                  {ExperimentKind::Retrain, "retrain"}};
  return table;
}
const std::string& experiment_kind_name(ExperimentKind kind);  // "transfer" | "retrain"
std::optional<ExperimentKind> find_experiment_kind(const std::string& name);
std::string experiment_kind_list();  // "transfer or retrain", for messages

// Reads dir/experiment.json; throws fool::Error naming it if missing or not an experiment.
nlohmann::json read_experiment(const std::string& dir);

// An experiment directory and its experiment.json: the kind, the settings, and each finished step
// with its result (saved atomically after each), so that a session run again skips what is done.
class ExperimentDir {
 public:
  // Opens (resuming: the same kind and settings, `threads` and `iterations` free to change) or
  // makes the experiment directory `dir` and holds its lock; throws fool::Error (one line) for a
  // directory that holds something else.
  ExperimentDir(std::string dir, ExperimentKind kind, nlohmann::json config);
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
