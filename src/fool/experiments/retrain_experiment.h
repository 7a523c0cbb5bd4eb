#pragma once
// The retraining experiment: its config, entry point and registry entry (registry.h, defined in its .cc).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/experiments/experiments.h"

namespace fool {

// Retraining with fooling images as an extra class (the paper's Section 3.4): train DNN_1; evolve
// CPPN fooling images against it; add them to the training data as class n+1; train DNN_2 from
// scratch; and so on. The first iteration adds as many images as one real class has, each later
// one a sixth of that, taken from the first and the last generation of independent runs.
struct RetrainExperimentConfig : ExperimentConfig {
  RetrainExperimentConfig() : ExperimentConfig(50, 100, 100) {}
  std::string arch = "lenet";
  int iterations = 3;
  int shift = 1;         // training augmentation: random shifts of up to this many pixels (the paper: none, 0)
  int eval_runs = 5;     // new runs per network, measuring how easily it is still fooled
  int first_images = 0;  // images added after DNN_1 (0: as many as one real class has)
  std::string kind() const override;
  std::vector<ExperimentOption> options() override;
  nlohmann::json run(const RunEvents& events) const override;
  nlohmann::json to_json() const override;
};
nlohmann::json run_retrain_experiment(const RetrainExperimentConfig& config, const RunEvents& events = {});

}  // namespace fool
