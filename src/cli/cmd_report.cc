// fool report: one self-contained HTML page for runs and experiments.
#include <filesystem>
#include <sstream>

#include "cli/common.h"
#include "fool/core/error.h"
#include "fool/experiments/registry.h"
#include "fool/io/files.h"
#include "fool/output/report.h"
#include "fool/output/run_directory.h"

namespace fool::cli {

namespace {

// The class labels of --labels: one per line (CR LF too), blank lines skipped; a file without any
// is an error naming it.
std::vector<std::string> read_labels(const std::string& path) {
  std::vector<std::string> labels;
  std::stringstream in(read_text_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) labels.push_back(line);
  }
  if (labels.empty()) throw Error("--labels " + path + ": no labels in this file");
  return labels;
}

}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  struct Opts {
    std::vector<std::string> dirs;
    std::string out;
    std::string labels;
  };
  auto o = std::make_shared<Opts>();
  auto* c =
      app.add_subcommand("report", "write one self-contained HTML page for run, transfer and experiment directories");
  c->add_option("dirs", o->dirs, "directories made by fool evolve, ascend, transfer or experiment")->required();
  c->add_option("--out", o->out, "HTML file to write")->required();
  c->add_option("--labels", o->labels, "class labels to show, one per line (default: those the runs recorded)");
  c->callback([o, &action] {
    action = [o] {
      // Checked before any work: an HTML file in an existing directory (so never a run's
      // summary.json or checkpoint.json), and, inside a directory fool is writing, only while no
      // other fool process writes there.
      check_output_file(o->out, "--out", ".html");
      const std::string parent = std::filesystem::path(o->out).parent_path().string();
      const std::string where = parent.empty() ? "." : parent;
      RunLock lock;
      if (has_run_marker(where)) lock = lock_run_directory(where);
      check_writable_directory(parent, "--out", o->out);
      ReportOptions options;
      options.experiments = experiment_documents();
      if (!o->labels.empty()) options.labels = read_labels(o->labels);
      const std::string html = build_report(o->dirs, options);
      write_file_atomic(o->out, html);
      emit_json({{"out", o->out}, {"bytes", html.size()}, {"sections", o->dirs.size()}});
      return 0;
    };
  });
}

}  // namespace fool::cli
