#pragma once
// Pieces every command shares: the model flags (backend, threads, preprocessing overrides), the
// default data directories, and JSON output.
#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fool/io/dataset.h"
#include "fool/model/classifier.h"

namespace fool::cli {

// What a subcommand registers: its action runs after a successful parse.
using Action = std::function<int()>;

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

// The data directory for a dataset when --data-dir is not given: $FOOL_DATA_DIR/<name> or
// data/<name> for MNIST (made by scripts/setup.sh), Debian's dataset-fashion-mnist for Fashion-MNIST.
std::string default_data_dir(const std::string& dataset);

// Adds the dataset flags every command that reads a dataset shares: --dataset (mnist, fashion-mnist,
// idx), --data-dir, --train-images/--train-labels/--test-images/--test-labels (each replaces one
// file of the data directory) and --class-names.
void add_dataset_options(CLI::App* app, DatasetSource& source);
// The source with its data directory filled in: --data-dir, or the default directory of mnist and
// fashion-mnist (none for idx, whose files come from --data-dir or the four file flags).
DatasetSource with_default_dir(DatasetSource source);

// While alive, Ctrl-C sets stop() instead of ending the process (a second Ctrl-C still does), so a
// long command can finish its generation or step, save, and exit with 130.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  const std::atomic<bool>* stop() const;

 private:
  void (*previous_)(int);
};

// Flag validators with short messages (CLI11's PositiveNumber prints DBL_MAX in full, and an
// unsigned option silently wraps "-1" to 2^64-1).
CLI::Validator positive();
CLI::Validator non_negative();
// A finite number in [lo, hi].
CLI::Validator in_range(double lo, double hi);
// An integer seed from 0 to 2^64 - 1 (larger values are refused, not saturated).
CLI::Validator seed_number();
// 0 (the default) up to fool::max_threads().
CLI::Validator thread_count();

// Checks before any work that `path` can be written as a file: not a directory, in a directory that
// exists and can be written now (a hidden temporary is made and removed there), and (if
// `extension` is given) with that extension. `flag` names it in the error.
void check_output_file(const std::string& path, const std::string& flag, const std::string& extension = "");

// Prints JSON to stdout (indented) and, if path is not empty, writes it there atomically.
void emit_json(const nlohmann::json& j, const std::string& path = "");

// The command line as the user typed it (recorded in run summaries); set once by main.
void set_command_line(int argc, char** argv);
const std::string& command_line();
// Adds an option that picks one of an enum's named values: the choices and the default shown in
// --help come from the library's name table.
template <typename E, typename Parse, typename Name>
CLI::Option* add_choice(CLI::App* app, const std::string& flag, E& target, const std::vector<std::string>& names,
                        Parse parse, Name name, const std::string& help) {
  return app->add_option_function<std::string>(flag, [&target, parse](const std::string& s) { target = parse(s); }, help)
      ->check(CLI::IsMember(names))
      ->default_str(name(target));
}

void add_evolve_command(CLI::App& app, Action& action);
void add_ascend_command(CLI::App& app, Action& action);
void add_transfer_command(CLI::App& app, Action& action);
void add_analyze_command(CLI::App& app, Action& action);
void add_experiment_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);
void add_render_command(CLI::App& app, Action& action);
void add_data_command(CLI::App& app, Action& action);
void add_train_command(CLI::App& app, Action& action);
void add_info_command(CLI::App& app, Action& action);
void add_score_command(CLI::App& app, Action& action);
void add_convert_command(CLI::App& app, Action& action);
void add_annotate_command(CLI::App& app, Action& action);

}  // namespace fool::cli
