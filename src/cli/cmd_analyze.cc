// fool analyze: measurements on the champions of finished runs (repetition, occlusion).
#include <filesystem>

#include "cli/common.h"
#include "cli/progress.h"
#include "fool/core/error.h"
#include "fool/experiments/analyze.h"
#include "fool/output/run_summary.h"

namespace fool::cli {

namespace {

struct AnalyzeOpts {
  std::vector<std::string> runs;
  ModelFlags model;
  bool quiet = false;
};

void add_common(CLI::App* c, AnalyzeOpts& o) {
  c->add_option("runs", o.runs, "run directories (made by fool evolve or fool ascend)")->required();
  o.model.add_to(c, false);
  c->get_option("--model")->description("ONNX model to score with (unset: the run's own model)");
  c->get_option("--backend")
      ->description("inference backend: auto or a backend by name (unset: the run's own backend)")
      ->default_str("");
  c->add_flag("--quiet", o.quiet, "no progress bar");
}

AnalysisModelOptions model_options(const AnalyzeOpts& o) {
  const ClassifierOptions co = o.model.options();
  AnalysisModelOptions m;
  m.model = o.model.model;
  if (o.model.backend_given) m.backend = backend_name(co.backend);  // else each run's own
  m.threads = co.threads;
  m.overrides = co.overrides;
  m.on_warning = co.on_warning;
  return m;
}

// Every run must have champions before any is analysed, so a bad argument writes nothing.
void check_runs(const std::vector<std::string>& runs) {
  for (const auto& r : runs) {
    if (read_summary(r).classes.empty()) {
      throw Error((std::filesystem::path(r) / "summary.json").string() + ": the run has no champions to analyse");
    }
  }
}

nlohmann::json without_classes(nlohmann::json j) {
  j.erase("classes");
  return j;
}

}  // namespace

void add_analyze_command(CLI::App& app, Action& action) {
  auto* a = app.add_subcommand("analyze", "measure what the champions of finished runs depend on");
  a->require_subcommand(1);

  auto ro = std::make_shared<AnalyzeOpts>();
  auto rc = std::make_shared<RepetitionConfig>();
  auto* r = a->add_subcommand(
      "repetition",
      "find champions that repeat a motif (autocorrelation peaks), remove copies one by one (mean colour) and score "
      "each step; writes RUN/analysis/repetition.json and images/class_<k>_one_copy.png");
  add_common(r, *ro);
  r->add_option("--threshold", rc->threshold, "autocorrelation a period's peak must reach")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  r->add_option("--prominence", rc->prominence, "how far the peak must rise above the dip before it")
      ->check(CLI::Range(0.0, 2.0))
      ->capture_default_str();
  r->add_option("--max-steps", rc->max_steps, "most removal counts scored per image (evenly spaced, half always)")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  r->add_option("--min-period", rc->min_period, "shortest period in pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  r->callback([ro, rc, &action] {
    action = [ro, rc] {
      rc->model = model_options(*ro);
      check_runs(ro->runs);
      ProgressObserver progress(!ro->quiet);
      nlohmann::json out = nlohmann::json::array();
      for (const auto& run : ro->runs)
        out.push_back(without_classes(analyze_repetition(run, *rc, RunEvents({&progress})).to_json()));
      progress.finish();
      emit_json(out);
      return 0;
    };
  });

  auto oo = std::make_shared<AnalyzeOpts>();
  auto oc = std::make_shared<OcclusionConfig>();
  auto* o = a->add_subcommand(
      "occlusion",
      "slide a mean-colour patch over each champion (heat map of the confidence drop) and fill random shares of its "
      "tiles; writes RUN/analysis/occlusion.json and images/class_<k>_occlusion.png");
  add_common(o, *oo);
  o->add_option("--patch", oc->patch, "patch side in pixels (0: an eighth of the image side)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  o->add_option("--stride", oc->stride, "patch stride in pixels (0: half the patch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  o->add_option("--fractions", oc->fractions, "shares of the patch-sized tiles to fill")
      ->check(CLI::Range(0.0, 1.0))
      ->delimiter(',');
  o->add_option("--masks", oc->masks, "random masks per share (the median is reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  o->add_option("--seed", oc->seed, "seed of the random masks")->check(seed_number())->capture_default_str();
  o->callback([oo, oc, &action] {
    action = [oo, oc] {
      oc->model = model_options(*oo);
      check_runs(oo->runs);
      ProgressObserver progress(!oo->quiet);
      nlohmann::json out = nlohmann::json::array();
      for (const auto& run : oo->runs)
        out.push_back(without_classes(analyze_occlusion(run, *oc, RunEvents({&progress})).to_json()));
      progress.finish();
      emit_json(out);
      return 0;
    };
  });
}

}  // namespace fool::cli
