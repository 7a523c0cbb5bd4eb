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
  add_data_command(*app, action);
  add_train_command(*app, action);
  add_info_command(*app, action);
  add_score_command(*app, action);
  add_evolve_command(*app, action);
  add_ascend_command(*app, action);
  add_transfer_command(*app, action);
  add_analyze_command(*app, action);
  add_experiment_command(*app, action);
  add_report_command(*app, action);
  add_render_command(*app, action);
  add_convert_command(*app, action);
  add_annotate_command(*app, action);
  return app;
}

}  // namespace fool::cli
