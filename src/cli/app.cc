#include "cli/app.h"

namespace fool::cli {

std::unique_ptr<CLI::App> make_app(Action& action) {
  auto app = std::make_unique<CLI::App>(
      "fool: find images that classifiers label with high confidence but no person would recognise");
  app->require_subcommand(1);
  app->set_version_flag("--version", std::string("fool ") + FOOL_VERSION);  // the project() version in CMake
  // Every option shows the value its bound config starts with; options whose default depends on
  // other flags bind to a sentinel (0 or empty) and say in their help what it resolves to.
  app->option_defaults()->always_capture_default();
  // Every command of cli/commands.def, in its order.
#define FOOL_COMMAND(name) add_##name##_command(*app, action);
#include "cli/commands.def"
#undef FOOL_COMMAND
  return app;
}

}  // namespace fool::cli
