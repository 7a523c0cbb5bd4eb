#pragma once
// The paper's follow-up experiments as compositions of training, evolution and scoring. Each runs
// in a directory with experiment.json, which records its settings and every finished step: running
// the same command again continues where it stopped (a step that was cut short is redone).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/encoding/registry.h"
#include "fool/experiments/distribution.h"
#include "fool/io/dataset.h"

namespace fool {

// Both report each step as a message to `events` (one line for people).

// Transfer (the paper's Section 3.3): networks of one architecture that differ only in their random
// initialisation, and networks of other architectures, all trained on the same data; several
// evolution runs against each; every champion scored by every network.
struct TransferExperimentConfig {
  DatasetSource data;  // where the dataset's IDX files are (the CLI fills in its default directory)
  std::string out_dir;
  std::vector<std::uint64_t> lenet_seeds = {1, 2};
  std::vector<std::string> other_archs = {"mlp", "bncnn"};
  int epochs = 5;
  int runs_per_network = 2;
  std::string encoding = "cppn";  // a registered encoding (encoding_names())
  int generations = 100;
  int offspring = 200;
  int init = 200;
  std::uint64_t seed = 1;
  int threads = 0;
  Distribution* distribution = nullptr;  // processes that share the trainings and runs (nullptr: this one)
  std::string command_line;              // recorded in each run's summary (not a setting of the experiment)
  nlohmann::json to_json() const;
};
nlohmann::json run_transfer_experiment(const TransferExperimentConfig& config, const RunEvents& events = {});

// Retraining with fooling images as an extra class (the paper's Section 3.4): train DNN_1; evolve
// CPPN fooling images against it; add them to the training data as class n+1; train DNN_2 from
// scratch; and so on. The first iteration adds as many images as one real class has, each later
// one a sixth of that, taken from the first and the last generation of independent runs.
struct RetrainExperimentConfig {
  DatasetSource data;  // where the dataset's IDX files are (the CLI fills in its default directory)
  std::string out_dir;
  std::string arch = "lenet";
  int iterations = 3;
  int epochs = 5;
  int shift = 1;                  // training augmentation: random shifts of up to this many pixels (the paper: none, 0)
  std::string encoding = "cppn";  // a registered encoding (encoding_names())
  int generations = 50;
  int offspring = 100;
  int init = 100;
  int eval_runs = 5;     // new runs per network, measuring how easily it is still fooled
  int first_images = 0;  // images added after DNN_1 (0: as many as one real class has)
  std::uint64_t seed = 1;
  int threads = 0;
  Distribution* distribution = nullptr;  // processes that share the trainings and runs (nullptr: this one)
  std::string command_line;              // recorded in each run's summary (not a setting of the experiment)
  nlohmann::json to_json() const;
};
nlohmann::json run_retrain_experiment(const RetrainExperimentConfig& config, const RunEvents& events = {});

// Runs one task of an experiment (params.kind "train", "evolve" or "fooling") in a temporary
// directory of this process and returns its result and the files it made (paths relative to the
// experiment directory). The runner every process of an experiment uses.
TaskOutcome run_experiment_task(const Task& task);

}  // namespace fool
