#pragma once
// What every command file includes: the command signature and the pieces commands share, each in
// a file of its own (model flags, dataset flags, validators, output, the run's context).
#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/dataset_flags.h"
#include "cli/model_flags.h"
#include "cli/output.h"
#include "cli/run_context.h"
#include "cli/validators.h"

namespace fool::cli {

// What a subcommand registers: its action runs after a successful parse.
using Action = std::function<int()>;

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
