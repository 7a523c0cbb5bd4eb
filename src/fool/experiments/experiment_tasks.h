#pragma once
// What the experiments share (internal to fool/experiments): the task runner every process of an
// experiment uses, its task kinds, and the steps that train a network or evolve a run inside an
// experiment directory.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/distribution/distribution.h"
#include "fool/experiments/evolve.h"
#include "fool/io/dataset.h"
#include "fool/output/experiment_file.h"
#include "fool/train/train.h"

namespace fool {

// The kinds of task an experiment hands out (Task::params["kind"]), in one name table.
enum class TaskKind { Train, Evolve, Fooling };
const std::string& task_kind_name(TaskKind kind);  // "train" | "evolve" | "fooling"
TaskKind parse_task_kind(const std::string& name);

// What experiment.json records of a trained network, wherever it was trained.
nlohmann::json train_record(const std::string& model, const TrainOptions& opt, const TrainResult& r);
// Trains `model` (a path inside the experiment) unless `step` is done; returns the step's record.
nlohmann::json train_step(ExperimentDir& x, const std::string& step, const DatasetSplits& data, const TrainOptions& opt,
                          const std::string& model, const RunEvents& events);

// The settings of an evolution run inside an experiment (the same backend on any process).
EvolveRunConfig evolve_config(const std::string& model, const std::string& out, const std::string& encoding,
                              int generations, int offspring, int init, std::uint64_t seed, int threads,
                              const std::string& command_line);

// One evolution run of an experiment, its results in memory (with generation 0's champions when asked).
struct ExperimentRun {
  RunSummary summary;
  std::vector<ClassResult> first_generation;
};
ExperimentRun evolve_run(const EvolveRunConfig& cfg, bool keep_first_generation = false);

// Every file under `dir`, keyed by `prefix` + its path below dir.
FileMap collect_files(const std::filesystem::path& dir, const std::string& prefix);
// Writes a task's files into the experiment directory (rank 0 only), atomically each.
void write_files(const ExperimentDir& x, const FileMap& files);

// The experiments report each network's held-out accuracy: a dataset without test images is refused
// before anything is trained (an accuracy of 0 would be reported otherwise).
void check_test_split(const DatasetSplits& data, const DatasetSource& source);

}  // namespace fool
