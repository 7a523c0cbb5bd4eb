// fool ascend: gradient-ascent fooling images (the paper's white-box method).
#include "cli/common.h"
#include "cli/progress.h"
#include "fool/core/class_list.h"
#include "fool/core/error.h"
#include "fool/experiments/ascend.h"

namespace fool::cli {

void add_ascend_command(CLI::App& app, Action& action) {
  struct Opts {
    ModelFlags model;
    AscendRunConfig run;
    std::string classes;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("ascend", "gradient-ascent fooling images for every class (white box, torch backend)");
  o->model.classifier = o->run.classifier;
  o->model.classifier.backend = kAscendBackend;  // the only one run_ascend uses
  o->model.add_to(c);
  AscentConfig& a = o->run.ascent;
  c->add_option("--out", o->run.out_dir, "output directory (summary.json, images/, grid.png, log.jsonl)")->required();
  c->add_option("--classes", o->classes,
                "target classes: indices, ranges or the model's labels, e.g. 0,3,5-7 or goldfish (unset: all)");
  c->add_option("--steps", a.steps, "gradient steps at most");
  c->add_option("--seed", a.seed, "seed of the start image's noise")->check(seed_number());
  add_choice(c, "--start", a.start, ascent_start_names(), parse_ascent_start, ascent_start_name,
             "start image: gray (0.5), mean (the model's mean), noise (uniform)");
  c->add_option("--start-noise", a.start_noise, "std of the Gaussian noise on a gray or mean start");
  c->add_option("--max-gain", a.max_gain, "step size: predicted gain min(max-gain, gain-fraction * (1 - p))");
  c->add_option("--gain-fraction", a.gain_fraction, "see --max-gain");
  c->add_option("--decay", a.decay, "L2 decay toward the mean image per step, 0 to 0.01 in the paper");
  c->add_option("--blur-sigma", a.blur_sigma, "Gaussian blur sigma in pixels (0: none)");
  c->add_option("--blur-every", a.blur_every, "blur every N steps (0: never)");
  c->add_option("--target", a.target, "stop a class once its saved 8-bit image reaches this confidence (0: never)");
  c->add_flag("--overwrite", o->run.overwrite, "replace a run already in --out");
  c->add_option("--live-every", o->run.live_every,
                "seconds between updates of the live view (live.html, grid.png, images/; 0: at the end only)")
      ->check(in_range(0.0, 86400.0));
  c->add_flag_function(
      "--no-live", [o](std::int64_t) { o->run.live = false; },
      "no live view: images/, grid.png and live.html at the end only");
  c->add_flag("--quiet", o->quiet, "no progress bar");
  c->callback([o, &action] {
    action = [o] {
      AscendRunConfig& r = o->run;
      r.model = o->model.model;
      r.classifier = o->model.options();
      if (r.classifier.backend != kAscendBackend) {
        throw Error("fool ascend needs gradients: it runs on the " + backend_name(kAscendBackend) + " backend, not " +
                    backend_name(r.classifier.backend));
      }
      if (!o->classes.empty()) {
        if (class_list_is_numeric(o->classes)) {
          r.ascent.classes = parse_class_list(o->classes);
        } else {
          r.class_list = o->classes;  // label names: resolved once the model is loaded
        }
      }
      r.command_line = command_line();
      ProgressObserver progress(!o->quiet);
      const InterruptGuard interrupt;
      const AscendRunResult res = run_ascend(r, RunEvents({&progress}), interrupt.stop());
      progress.finish();
      for (const auto& e : res.errors) print_warning(e);
      for (const auto& e : res.stalled) print_warning(e);
      const RunSummary& s = res.summary;
      emit_json({{"out", r.out_dir},
                 {"complete", res.complete},
                 {"steps", s.record.progress},
                 {"seconds", s.record.seconds},
                 {"steps_per_second", s.record.extra.value("steps_per_second", 0.0)},
                 {"median_confidence", s.median_confidence},
                 {"classes_at_or_above", s.threshold_counts()},
                 {"errors", res.errors},
                 {"stalled", res.stalled}});
      if (res.interrupted) return 130;
      if (!res.errors.empty() && res.errors.size() == s.classes.size()) {
        std::fprintf(stderr, "fool: error: every class was stopped by NaNs\n");
        return 1;
      }
      return 0;
    };
  });
}

}  // namespace fool::cli
