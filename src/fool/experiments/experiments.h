#pragma once
// The paper's follow-up experiments as compositions of training, evolution and scoring: what they
// share (ExperimentConfig, the task runner). Each experiment is a header and source of its own
// (transfer_experiment.h, retrain_experiment.h) and runs in a directory with experiment.json, which
// records its settings and every finished step: running the same command again continues where it
// stopped (a step that was cut short is redone).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/distribution/distribution.h"
#include "fool/encoding/registry.h"
#include "fool/io/dataset.h"
#include "fool/output/experiment_file.h"

namespace fool {

// What every experiment has, once: its data and directory, the trainings' epochs, the evolution
// runs' settings, the seed and how it shares its work. Each experiment's config adds its own fields
// and its defaults for the runs. Every experiment reports each step as a message to `events` (one
// line for people).
struct ExperimentConfig {
  DatasetSource data;  // where the dataset's IDX files are (the CLI fills in its default directory)
  std::string out_dir;
  int epochs = 5;                 // training epochs per network
  std::string encoding = "cppn";  // a registered encoding (encoding_names())
  int generations = 0;            // per evolution run (each experiment sets its default)
  int offspring = 0;
  int init = 0;
  std::uint64_t seed = 1;
  int threads = 0;
  Distribution* distribution = nullptr;  // processes that share the trainings and runs (nullptr: this one)
  std::string command_line;              // recorded in each run's summary (not a setting of the experiment)

  virtual ~ExperimentConfig() = default;
  virtual ExperimentKind kind() const = 0;
  // The settings experiment.json records (the fields above but distribution and command_line, and
  // the experiment's own); a session resumes only with the same ones.
  virtual nlohmann::json to_json() const;

 protected:
  ExperimentConfig(int generations_, int offspring_, int init_)
      : generations(generations_), offspring(offspring_), init(init_) {}
  ExperimentConfig(const ExperimentConfig&) = default;
  ExperimentConfig& operator=(const ExperimentConfig&) = default;
};

// Runs one task of an experiment (params.kind "train", "evolve" or "fooling") in a temporary
// directory of this process and returns its result and the files it made (paths relative to the
// experiment directory). The runner every process of an experiment uses.
TaskOutcome run_experiment_task(const Task& task);

}  // namespace fool
