// fool: the command-line tool. Parses flags into configs and calls the library; nothing else.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <new>
#include <optional>

#include "cli/app.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/parallel/mpi_world.h"

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// Parses the command line into `app`. Returns the exit status if the command should not run
// (help, version, a bad flag or command: 2), nullopt if it should.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  // The command named on the line ("fool experiment transfer"), for the help an error points at; an
  // unknown (sub)command is named with the command it was given to: "fool convert tf".
  const CLI::App* level = &app;
  std::string path = "fool";
  for (int i = 1; i < argc && argv[i][0] != '-'; ++i) {
    const auto subs = level->get_subcommands({});
    if (subs.empty()) break;
    const auto it = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* s) { return s->get_name() == argv[i]; });
    if (it == subs.end()) {
      std::cerr << "fool: error: unknown command '" << path << " " << argv[i] << "' (see " << path << " --help)\n";
      return 2;
    }
    level = *it;
    path += " " + level->get_name();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "fool: error: " << first_line(e.what()) << " (see " << path << " --help)\n";
    return 2;
  }
  return std::nullopt;
}

// Whether the parsed command spreads its work over MPI ranks; others run on rank 0 alone.
bool shares_work(const CLI::App& app) {
  static const char* shared[] = {"evolve", "experiment"};
  return std::any_of(std::begin(shared), std::end(shared), [&app](const char* name) {
    const auto subs = app.get_subcommands();
    return std::any_of(subs.begin(), subs.end(), [name](const CLI::App* sub) { return sub->get_name() == name; });
  });
}

// Runs the parsed command; every failure becomes one line on stderr and exit status 1.
int run_action(const fool::cli::Action& action, fool::parallel::MpiWorld& world) {
  try {
    return action ? action() : 0;
  } catch (const fool::parallel::QuietExit&) {
    return 1;
  } catch (const fool::Error& e) {
    // Under MPI only rank 0 prints, naming the rank whose error it reports.
    const std::string line = world.fail(first_line(e.what()));
    if (!line.empty()) std::cerr << "fool: error: " << line << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A file system refusal (permissions, full disk, a file where a directory should be) is the
    // user's environment, not a bug: name the path and the system's reason.
    const std::string where = e.path1().empty() ? std::string("file system") : e.path1().string();
    std::cerr << "fool: error: " << where << ": " << e.code().message() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "fool: error: out of memory; ask for a smaller run (fewer offspring, a smaller image or batch)\n";
    return 1;
  } catch (const std::exception& e) {
    const std::string line = world.fail(first_line(e.what()));
    if (!line.empty()) std::cerr << "fool: internal error: " << line << "\n";
    return 1;
  }
}

}  // namespace

// Paths and names on the command line end up in JSON (summary.json's command line and model path,
// every command's output), which holds UTF-8 text only: any other argument is refused before any
// work, naming it, rather than failing when the results are written.
bool arguments_are_utf8(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    try {
      fool::json_check::check_utf8(argv[i],
                                   "argument " + std::to_string(i) + " '" + fool::json_check::printable(argv[i]) + "'");
    } catch (const fool::Error& e) {
      std::cerr << "fool: error: " << e.what() << "; fool writes paths and names into JSON, which is UTF-8\n";
      return false;
    }
  }
  return true;
}

int run(int argc, char** argv) {
  if (!arguments_are_utf8(argc, argv)) return 1;
  fool::cli::Action action;
  const std::unique_ptr<CLI::App> app = fool::cli::make_app(action);
  fool::cli::set_command_line(argc, argv);
  if (const std::optional<int> status = parse_command_line(*app, argc, argv)) return *status;
  auto& world = fool::parallel::MpiWorld::instance();
  if (!world.is_root() && !shares_work(*app)) return 0;
  return run_action(action, world);
}

int main(int argc, char** argv) {
  auto& world = fool::parallel::MpiWorld::instance();
  world.init(&argc, &argv);
  int status = 1;
  try {
    status = run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fool: internal error: " << first_line(e.what()) << "\n";
  }
  world.finalize();
  return status;
}
