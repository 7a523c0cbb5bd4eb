#pragma once
// The experiments registry: every experiment of `fool experiment`, one entry each, in the CLI's
// order. The CLI's subcommands and their flags, the checks of experiment.json and the report's
// sections all read it; nothing outside an experiment's own files names one. Adding an experiment:
// its files <name>_experiment.{h,cc}, whose code defines `ExperimentEntry <name>_experiment_entry()`,
// and its name in the fool_experiments list of experiments/CMakeLists.txt, from which the build
// generates the list registry.cc reads (experiment_entries.inc).
#include <memory>
#include <string>
#include <vector>

#include "fool/experiments/experiments.h"
#include "fool/output/experiment_file.h"

namespace fool {

// One experiment as the registry knows it.
struct ExperimentEntry {
  // Its name, the checks of the keys it adds to experiment.json and its section of the report:
  // what fool/output reads experiment directories with.
  ExperimentDocument document;
  std::string help;        // one line for --help: what it does
  std::string result_key;  // the key of experiment.json the CLI prints when it is done
  // A config with the experiment's defaults, whose options() are its flags and run() runs it.
  std::unique_ptr<ExperimentConfig> (*make_config)() = nullptr;
};

// An entry's make_config: `Config` with its defaults.
template <typename Config>
std::unique_ptr<ExperimentConfig> default_config() {
  return std::make_unique<Config>();
}

// Every registered experiment, in the CLI's order.
const std::vector<ExperimentEntry>& experiment_registry();
// Their documents, in the same order: for read_experiment, ExperimentDir and the report's options.
const ExperimentDocuments& experiment_documents();

}  // namespace fool
