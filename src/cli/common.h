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

// One declaration per line of cli/commands.def: void add_<name>_command(CLI::App&, Action&).
#define FOOL_COMMAND(name) void add_##name##_command(CLI::App& app, Action& action);
#include "cli/commands.def"
#undef FOOL_COMMAND

}  // namespace fool::cli
