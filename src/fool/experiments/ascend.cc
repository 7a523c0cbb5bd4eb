#include "fool/experiments/ascend.h"

#include <filesystem>
#include <memory>
#include <optional>

#include "fool/core/class_list.h"
#include "fool/core/error.h"
#include "fool/core/thresholds.h"
#include "fool/model/factory.h"
#include "fool/output/json_log.h"
#include "fool/output/live_view.h"
#include "fool/output/results.h"
#include "fool/output/run_directory.h"

namespace fool {

namespace fs = std::filesystem;

AscendRunResult run_ascend(const AscendRunConfig& c, const RunEvents& events, const std::atomic<bool>* stop) {
  if (c.out_dir.empty()) throw Error("no output directory given");
  ClassifierOptions opts = c.classifier;
  opts.backend = kAscendBackend;
  // Every class in one batch, forward and backward (autograd keeps the activations and their
  // gradients): the memory check at load counts two images per class.
  opts.call_batch = [&c](const ModelSpec& spec) -> ClassifierOptions::CallBatch {
    std::size_t n = c.ascent.classes.empty() ? static_cast<std::size_t>(spec.num_classes) : c.ascent.classes.size();
    try {
      if (!c.class_list.empty()) n = parse_class_list(c.class_list, spec.labels).size();
    } catch (const Error&) {  // run_ascend_with says so
    }
    return {2 * n, std::to_string(n) + " classes at once, forward and backward"};
  };
  auto clf = load_differentiable_classifier(c.model, opts);
  return run_ascend_with(*clf, backend_name(kAscendBackend), c, events, stop);
}

AscendRunResult run_ascend_with(DifferentiableClassifier& classifier, const std::string& backend,
                                const AscendRunConfig& c, const RunEvents& events, const std::atomic<bool>* stop) {
  if (c.out_dir.empty()) throw Error("no output directory given");
  DifferentiableClassifier* clf = &classifier;
  AscentConfig cfg = c.ascent;
  if (!c.class_list.empty()) cfg.classes = parse_class_list(c.class_list, clf->spec().labels);
  cfg.validate(clf->spec().num_classes);
  const RunLock lock = prepare_run_directory(c.out_dir, c.overwrite, "ascend");  // held for the whole run

  JsonLog log((fs::path(c.out_dir) / "log.jsonl").string(), false);
  std::optional<LiveView> live;
  if (c.live) live.emplace(c.out_dir, c.live_every);
  const std::string title = "ascend · gradient-ascent · " + fs::path(c.model).filename().string();
  const AscentWatch watch = [&](int step, const std::function<std::vector<ClassResult>()>& current) {
    if (!live || !live->due()) return;
    std::vector<LiveChampion> champions;
    for (ClassResult& r : current()) {
      auto image = std::make_shared<Image8>(std::move(r.image));
      champions.push_back({r.index, r.label, r.search_confidence, step, [image] { return *image; }});
    }
    LiveStatus status;
    status.title = title;
    status.progress = "step " + std::to_string(step) + " of " + std::to_string(cfg.steps);
    status.thresholds = ascent_thresholds();
    live->write(champions, status);
  };
  const RunEvents with_log = events.with(&log);
  const AscentOutcome o = run_ascent(*clf, cfg, with_log, stop, watch);

  RunRecord rec;
  rec.command = "ascend";
  rec.command_line = c.command_line;
  rec.model = c.model;
  rec.model_sha256 = clf->spec().sha256;
  rec.backend = backend;
  rec.method = "gradient-ascent";
  rec.seed = cfg.seed;
  rec.settings = {{"classes", cfg.classes},
                  {"steps", cfg.steps},
                  {"start", ascent_start_name(cfg.start)},
                  {"start_noise", cfg.start_noise},
                  {"max_gain", cfg.max_gain},
                  {"gain_fraction", cfg.gain_fraction},
                  {"decay", cfg.decay},
                  {"blur_sigma", cfg.blur_sigma},
                  {"blur_every", cfg.blur_every},
                  {"target", cfg.target},
                  {"seed", cfg.seed}};
  rec.model_input = ModelInputRecord::of(clf->spec());
  rec.progress_unit = ProgressUnit::Step;
  rec.thresholds = ascent_thresholds();
  rec.progress = o.steps;
  rec.evaluations = o.evaluations;
  rec.seconds = o.seconds;
  rec.complete = o.complete;
  rec.extra = {
      {"steps_per_second", o.seconds > 0 ? o.steps / o.seconds : 0.0}, {"errors", o.errors}, {"stalled", o.stalled}};
  AscendRunResult result;
  result.summary = write_results(c.out_dir, rec, o.classes, *clf, with_log, "ascend");
  if (live) live->finish(result.summary);
  result.errors = o.errors;
  result.stalled = o.stalled;
  result.complete = o.complete;
  result.interrupted = o.interrupted;
  return result;
}

}  // namespace fool
