#pragma once
// The flags that load a model, shared by every command that reads one.
#include <CLI/CLI.hpp>
#include <string>

#include "fool/model/classifier.h"

namespace fool::cli {

// The flags that load a model: --model, --backend and --threads (bound to `classifier`, whose
// defaults are ClassifierOptions' unless a command starts it from its own config), and the
// preprocessing overrides.
struct ModelFlags {
  std::string model;
  ClassifierOptions classifier;
  bool backend_given = false;  // --backend was on the command line
  std::string channel_order;
  std::string scale;
  std::string mean;
  std::string std;
  std::string labels_file;
  std::string preprocess;
  std::string layout;
  std::string input_size;
  std::string output;
  std::string max_memory;  // --max-memory, parsed by options()
  bool logits = false;
  bool probabilities = false;

  // Adds --model (required if `required`) and the override flags to a subcommand.
  void add_to(CLI::App* app, bool required = true);
  // `classifier` with the overrides parsed into it, and warnings about the model printed on stderr
  // (by rank 0 of an MPI job).
  ClassifierOptions options() const;
  // Whether any flag that sets how the model is fed (preprocessing, layout, size, output, labels) was given.
  bool any_model_override() const;
};

// Prints "fool: warning: <line>" on stderr (only on rank 0 of an MPI job).
void print_warning(const std::string& line);

// Adds --backend, bound to `target` (its value is the default shown); the names come from
// backend_names(). Sets *given when the flag is used.
CLI::Option* add_backend_option(CLI::App* app, Backend& target, const std::string& help, bool* given = nullptr);

}  // namespace fool::cli
