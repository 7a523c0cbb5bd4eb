// fool evolve: MAP-Elites fooling images for every class of a model.
#include <cstdint>
#include <optional>

#include "cli/common.h"
#include "cli/encoding_flags.h"
#include "cli/progress.h"
#include "fool/core/class_list.h"
#include "fool/core/error.h"
#include "fool/experiments/evolve.h"
#include "fool/parallel/mpi_world.h"

namespace fool::cli {

namespace {
struct EvolveFlags {
  ModelFlags model;
  EvolveRunConfig run;
  std::string classes, color;
  std::optional<int> image_size;  // EvolveRunConfig::image_size 0 (the default) is not a size to ask for
  bool quiet = false;
};

// The run's configuration from the parsed flags (o.run already holds those that map one to one).
EvolveRunConfig& configure_run(EvolveFlags& o) {
  EvolveRunConfig& r = o.run;
  r.model = o.model.model;
  r.classifier = o.model.options();
  r.evolution.threads = r.classifier.threads;  // 0: all cores, for the network, mutation and rendering
  r.image_size = o.image_size.value_or(0);
  if (!o.color.empty()) r.channels = o.color == "gray" ? 1 : 3;
  // Indices are checked now; label names once the model (and its labels) is loaded.
  if (!o.classes.empty()) {
    if (class_list_is_numeric(o.classes)) {
      r.evolution.classes = parse_class_list(o.classes);
    } else {
      r.class_list = o.classes;
    }
  }
  r.command_line = command_line();
  return r;
}

// What fool evolve prints at the end: where the run is, whether it completed, and its totals
// (zeros when it stopped before its first generation).
nlohmann::json evolve_result_json(const std::string& out_dir, const EvolveRunResult& res) {
  nlohmann::json out = {{"out", out_dir},
                        {"complete", res.complete},
                        {"generations", 0},
                        {"evaluations", 0},
                        {"seconds", 0.0},
                        {"median_confidence", 0.0},
                        {"classes_at_or_above", nlohmann::json::object()}};
  if (res.summary) {
    const RunSummary& s = *res.summary;
    out["generations"] = s.record.progress;
    out["evaluations"] = s.record.evaluations;
    out["seconds"] = s.record.seconds;
    out["median_confidence"] = s.median_confidence;
    out["classes_at_or_above"] = s.threshold_counts();
  }
  return out;
}
}  // namespace

void add_evolve_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<EvolveFlags>();
  EvolveRunConfig& r = o->run;
  auto* c =
      app.add_subcommand("evolve", "evolve fooling images for every class with MAP-Elites (direct or CPPN encoding)");
  o->model.classifier = r.classifier;
  o->model.add_to(c);
  std::string choices_help;
  for (const EncodingEntry& e : fool::encodings()) choices_help += (choices_help.empty() ? "" : " or ") + e.help;
  add_encoding_choice(c, r.encoding, choices_help);
  c->add_option("--out", r.out_dir, "output directory (summary.json, images/, grid.png, log.jsonl)")->required();
  c->add_option("--preset", r.preset, "the paper's settings (docs/cli.md) for what is not set below")
      ->check(CLI::IsMember(evolve_preset_names()));
  // Unset, these three take the preset's value, else EvolutionConfig's (run_evolve resolves them).
  const auto preset_or = [](int fallback) { return " (unset: the preset's, else " + std::to_string(fallback) + ")"; };
  c->add_option("--generations", r.generations,
                "generations after the initial population" + preset_or(r.evolution.generations));
  c->add_option("--offspring", r.offspring, "children per generation" + preset_or(r.evolution.offspring));
  c->add_option("--init", r.init, "random genomes in the initial population" + preset_or(r.evolution.init));
  c->add_option("--seed", r.evolution.seed, "random seed")->check(seed_number());
  c->add_option("--classes", o->classes,
                "target classes: indices, ranges or the model's labels, e.g. 0,3,5-7 or goldfish,tench (unset: every "
                "real class)");
  c->add_option("--image-size", o->image_size,
                "side of the evolved images (unset: the preset's, else the model's input)")
      ->check(positive());
  c->add_option("--color", o->color, "gray or color images (unset: the model's)")
      ->check(CLI::IsMember({"gray", "color"}));
  c->add_option("--crops", r.crops, "score each image as the mean over 1 or 10 crops (0: the preset's, else 1)")
      ->check(CLI::IsMember({0, 1, 10}));
  add_encoding_options(c, r.encoding_options);
  c->add_option("--eval-batch", r.evolution.eval_batch,
                "images per network call (0: " + std::to_string(kEvalBatchSmallImages) + " for images of up to " +
                    std::to_string(kSmallImageSide) + " pixels a side, " + std::to_string(kEvalBatchLargeImages) +
                    " for larger)")
      ->check(non_negative());
  c->add_option("--checkpoint-every", r.evolution.checkpoint_every,
                "generations between checkpoints (0: only at the end)")
      ->check(non_negative());
  c->add_option("--live-every", r.live_every,
                "least seconds between updates of the live view (live.html, grid.png, images/), made after a "
                "generation or at a checkpoint once due (0: at every checkpoint)")
      ->check(in_range(0.0, 86400.0));
  c->add_flag_function(
      "--no-live", [o](std::int64_t) { o->run.live = false; },
      "no live view: images/, grid.png and live.html at the end only");
  c->add_flag("--resume", r.resume, "continue the run in --out from its checkpoint");
  c->add_flag("--overwrite", r.overwrite, "replace a run already in --out");
  c->add_flag("--quiet", o->quiet, "no progress bar");
  c->callback([o, &action] {
    action = [o] {
      auto& world = parallel::MpiWorld::instance();
      // A failure before the start-up check still meets the other ranks there.
      world.expect_start_up_check();
      EvolveRunConfig& r = configure_run(*o);
      r.distribution = &world;

      // Progress and results come from rank 0 only; the other ranks score and stay silent.
      ProgressObserver progress(!o->quiet && world.is_root());
      const InterruptGuard interrupt;
      const EvolveRunResult res = run_evolve(r, RunEvents({&progress}), interrupt.stop());
      if (!world.is_root()) return 0;
      progress.finish();
      emit_json(evolve_result_json(r.out_dir, res));
      if (!res.complete) {
        std::fprintf(stderr, "fool: interrupted; checkpoint saved. Continue with the same command and --resume\n");
        return 130;
      }
      return 0;
    };
  });
}

}  // namespace fool::cli
