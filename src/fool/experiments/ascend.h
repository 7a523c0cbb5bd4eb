#pragma once
// run_ascend: the paper's white-box experiment as one composition: load the model into the
// differentiable backend, ascend, and write the run directory in the layout `fool evolve` writes.
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/model/classifier.h"
#include "fool/output/run_summary.h"
#include "fool/search/ascent.h"

namespace fool {

// Gradient ascent needs gradients: run_ascend loads the model into this backend, whatever
// AscendRunConfig::classifier.backend says.
inline const Backend kAscendBackend{"torch"};

struct AscendRunConfig {
  std::string model;
  ClassifierOptions classifier;  // its backend is replaced by kAscendBackend
  AscentConfig ascent;
  // Target classes as the user wrote them, label names allowed (parse_class_list); set, it replaces
  // ascent.classes once the model's labels are known.
  std::string class_list;
  std::string out_dir;
  bool overwrite = false;
  std::string command_line;
  // The live view (LiveView): the current images, grid.png and live.html in out_dir at most every
  // live_every seconds (0: at the end only).
  bool live = true;
  double live_every = 10.0;
};
struct AscendRunResult {
  RunSummary summary;
  std::vector<std::string> errors;
  std::vector<std::string> stalled;  // classes that stalled below the target (the run is then not complete)
  bool complete = true;
  bool interrupted = false;
};
// Loads config.model into kAscendBackend and hands it to run_ascend_with.
AscendRunResult run_ascend(const AscendRunConfig& config, const RunEvents& events = {},
                           const std::atomic<bool>* stop = nullptr);
// run_ascend with the differentiable classifier given (a loaded model, or one a library user
// implements, e.g. the Python package's callables); `backend` is the name summary.json records.
// config.model names the model in summary.json; config.classifier is not read.
AscendRunResult run_ascend_with(DifferentiableClassifier& classifier, const std::string& backend,
                                const AscendRunConfig& config, const RunEvents& events = {},
                                const std::atomic<bool>* stop = nullptr);

}  // namespace fool
