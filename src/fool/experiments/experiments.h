#pragma once
// The paper's follow-up experiments as compositions of training, evolution and scoring: what they
// share (ExperimentConfig, its options as data, the task runner). Each experiment is a header and
// source of its own (transfer_experiment.h, retrain_experiment.h), listed in the registry
// (registry.h), and runs in a directory with experiment.json, which records its settings and every
// finished step: running the same command again continues where it stopped (a step that was cut
// short is redone).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/distribution/distribution.h"
#include "fool/encoding/registry.h"
#include "fool/io/dataset.h"
#include "fool/output/experiment_file.h"

namespace fool {

// One flag of an experiment's own, described as data: the CLI makes the flag from it (the library
// never sees CLI11), bound to the field of the config it sets, whose value --help shows as the
// default.
struct ExperimentOption {
  using Field = std::variant<int*, std::string*, std::vector<std::uint64_t>*, std::vector<std::string>*>;
  ExperimentOption(std::string flag_, std::string help_, Field field_, std::optional<int> min_ = std::nullopt,
                   std::optional<int> max_ = std::nullopt, std::vector<std::string> choices_ = {})
      : flag(std::move(flag_)),
        help(std::move(help_)),
        field(field_),
        min(min_),
        max(max_),
        choices(std::move(choices_)) {}
  std::string flag;  // "--runs-per-network"
  std::string help;  // one line for --help
  Field field;
  std::optional<int> min, max;       // an integer's range, inclusive (none: no bound)
  std::vector<std::string> choices;  // the values a string takes (empty: any)
};

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
  // Its name in the registry (registry.h): experiment.json's "experiment", the subcommand.
  virtual std::string kind() const = 0;
  // Its own flags (not the fields above, which every experiment has), bound to this config's
  // fields, in --help's order.
  virtual std::vector<ExperimentOption> options() = 0;
  // Runs the experiment (rank 0's part under MPI: `distribution` hands out the tasks) and returns
  // experiment.json's state; throws fool::Error (one line) on bad settings.
  virtual nlohmann::json run(const RunEvents& events) const = 0;
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
