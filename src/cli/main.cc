// fool: the command-line tool. Parses flags into configs and calls the library; nothing else.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <new>

#include "cli/app.h"
#include "fool/core/error.h"
#include "fool/parallel/mpi_world.h"

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

int run(int argc, char** argv) {
  fool::cli::Action action;
  const std::unique_ptr<CLI::App> made = fool::cli::make_app(action);
  CLI::App& app = *made;
  fool::cli::set_command_line(argc, argv);
  auto known = [&app](const std::string& name) {
    for (const auto* sub : app.get_subcommands({}))
      if (sub->get_name() == name) return true;
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::cerr << "fool: error: unknown command '" << argv[1] << "' (see fool --help)\n";
    return 2;
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
    std::cerr << "fool: error: " << first_line(e.what()) << " (see fool --help)\n";
    return 2;
  }
  auto& world = fool::parallel::MpiWorld::instance();
  // Under mpirun, commands that do not share their work run on rank 0 alone.
  static const char* shared[] = {"evolve", "experiment"};
  const bool shares = std::any_of(std::begin(shared), std::end(shared), [&app](const char* name) {
    for (const auto* sub : app.get_subcommands())
      if (sub->get_name() == name) return true;
    return false;
  });
  if (!world.is_root() && !shares) return 0;
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
