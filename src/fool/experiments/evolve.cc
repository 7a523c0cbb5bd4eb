#include "fool/model/factory.h"
#include "fool/experiments/evolve.h"

#include <filesystem>
#include <thread>

#include "fool/model/cropping_classifier.h"
#include "fool/core/error.h"
#include "fool/core/limits.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/output/json_log.h"
#include "fool/output/results.h"
#include "fool/output/run_directory.h"

namespace fool {

namespace fs = std::filesystem;

const std::vector<std::string>& evolve_preset_names() {
  static const std::vector<std::string> names = {"mnist", "imagenet"};
  return names;
}

EvolvePreset evolve_preset(const std::string& name, const std::string& encoding, const ModelSpec& m) {
  if (name == "mnist") {
    if (m.input.channels != 1 || m.input.height > 64 || m.input.width > 64) {
      throw Error("preset mnist needs a gray model of at most 64x64 pixels; " + m.path + " takes " + m.input.str());
    }
    return {200, 200, 200, m.input.height, 1};
  }
  if (name == "imagenet") {
    if (m.input.channels != 3 || m.input.height < 64 || m.input.height > 256 || m.input.width != m.input.height) {
      throw Error("preset imagenet needs a square colour model of 64 to 256 pixels; " + m.path + " takes " +
                  m.input.str());
    }
    const int pop = encoding == "cppn" ? 400 : 200;
    return {5000, pop, pop, 256, 10};
  }
  throw Error("unknown preset '" + name + "' (known: mnist, imagenet)");
}

nlohmann::json evolve_settings(const EvolveRunConfig& c, const ModelSpec& m) {
  const auto& e = c.evolution;
  nlohmann::json s = {{"model_sha256", m.sha256},
                      {"backend", backend_name(c.classifier.backend)},
                      {"encoding", c.encoding},
                      {"generations", e.generations},
                      {"offspring", e.offspring},
                      {"init", e.init},
                      {"seed", e.seed},
                      {"classes", e.classes},
                      {"threads", e.threads},
                      {"eval_batch", e.eval_batch},
                      {"checkpoint_every", e.checkpoint_every},
                      {"image", {c.channels, c.image_size, c.image_size}},
                      {"crops", c.crops}};
  if (c.encoding == "direct") {
    s["direct"] = {{"mutation_rate", c.direct.mutation_rate},
                   {"halve_every", c.direct.halve_every},
                   {"eta", c.direct.eta},
                   {"crossover", c.direct.sbx ? "sbx" : "none"}};
  } else {
    const auto& p = c.cppn;
    s["cppn"] = {{"coordinates", p.raw_coordinates ? "raw" : "normalized"},
                 {"weight_rate", p.weight_rate},
                 {"activation_rate", p.activation_rate},
                 {"add_link", p.add_link},
                 {"delete_link", p.delete_link},
                 {"add_node", p.add_node},
                 {"delete_node", p.delete_node},
                 {"weight_range", p.weight_range},
                 {"eta", p.eta}};
  }
  return s;
}

namespace {

// Refuses a run whose generation cannot fit in memory (before the run directory is touched): each
// of max(init, offspring) images is held as 8-bit pixels, a genome and float network input; a CPPN
// render holds a float plane per node in each worker.
void check_evolve_memory(const EvolveRunConfig& c, const ImageShape& image) {
  const std::uint64_t pixels = image.size();
  const std::uint64_t n = static_cast<std::uint64_t>(std::max(c.evolution.init, c.evolution.offspring));
  std::uint64_t bytes = mul_saturated(n, mul_saturated(pixels, 6));
  if (c.encoding == "cppn") {
    bytes = std::max(bytes, mul_saturated(static_cast<std::uint64_t>(std::max(1, c.evolution.threads)) + 1,
                                          mul_saturated(pixels, 64)));
  }
  bytes = std::max(bytes, mul_saturated(c.evolution.eval_batch, mul_saturated(pixels, 4 * static_cast<std::uint64_t>(c.crops))));
  check_memory(bytes, "a generation of " + std::to_string(n) + " images of " + image.str());
}

}  // namespace

EvolveRunResult run_evolve(EvolveRunConfig c, const RunEvents& events, const std::atomic<bool>* stop,
                           bool keep_first_generation) {
  if (c.encoding != "direct" && c.encoding != "cppn") {
    throw Error("unknown encoding '" + c.encoding + "' (known: direct, cppn)");
  }
  if (c.out_dir.empty()) throw Error("no output directory given");
  if (c.resume && c.overwrite) throw Error("--resume and --overwrite contradict each other");
  check_threads(c.evolution.threads, "threads");
  check_threads(c.classifier.threads, "threads");
  if (c.evolution.threads < 1) c.evolution.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (c.classifier.threads == 0) c.classifier.threads = c.evolution.threads;
  std::shared_ptr<Classifier> model = load_classifier(c.model, c.classifier);
  const ModelSpec spec = model->spec();
  EvolvePreset p{c.evolution.generations, c.evolution.offspring, c.evolution.init, 0, 1};
  if (!c.preset.empty()) p = evolve_preset(c.preset, c.encoding, spec);
  c.evolution.generations = c.generations.value_or(p.generations);
  c.evolution.offspring = c.offspring.value_or(p.offspring);
  c.evolution.init = c.init.value_or(p.init);
  if (c.image_size == 0) c.image_size = p.image_size != 0 ? p.image_size : spec.input.height;
  if (c.crops == 0) c.crops = p.crops;
  if (c.channels == 0) c.channels = spec.input.channels;
  if (c.image_size < 1) throw Error("image size must be positive, got " + std::to_string(c.image_size));
  if (c.channels != 1 && c.channels != 3) throw Error("images have 1 or 3 channels, not " + std::to_string(c.channels));
  if (c.crops != 1 && c.crops != 10) throw Error("crops must be 1 or 10, not " + std::to_string(c.crops));
  if (spec.input.height != spec.input.width && c.image_size != spec.input.height) {
    throw Error(c.model + ": non-square model input " + spec.input.str() + " needs images of its own size");
  }
  const ImageShape image{c.channels, c.image_size, c.image_size};
  std::shared_ptr<Classifier> classifier = model;
  if (image != spec.input || c.crops != 1) {
    classifier = make_cropping_classifier(model, image, c.crops);
  }
  if (c.evolution.classes.empty()) {
    // Every real class: an extra class of fooling images is not a target.
    for (int k = 0; k < spec.num_classes; ++k)
      if (k != spec.background_class) c.evolution.classes.push_back(k);
  }
  c.evolution.validate(spec.num_classes);
  if (c.evolution.eval_batch == 0) c.evolution.eval_batch = image.height <= 64 ? 400 : 40;

  check_evolve_memory(c, image);

  std::unique_ptr<Encoding> encoding;
  if (c.encoding == "direct") {
    c.direct.shape = image;
    encoding = std::make_unique<DirectEncoding>(c.direct);
  } else {
    c.cppn.shape = image;
    encoding = std::make_unique<CppnEncoding>(c.cppn);
  }
  const nlohmann::json settings = evolve_settings(c, spec);

  Evolution evolution(*encoding, *classifier, c.evolution);
  // --resume on a run killed before its first checkpoint starts it again from generation 0.
  const bool resumed = c.resume && !is_unfinished_run_without_checkpoint(c.out_dir);
  if (resumed) {
    resume_from_checkpoint(c.out_dir, evolution, settings);
  } else {
    prepare_run_directory(c.out_dir, c.overwrite);
  }
  JsonLog log((fs::path(c.out_dir) / "log.jsonl").string(), resumed);
  const RunEvents all = events.with(&log);
  const CheckpointFn checkpoint = [&](const Evolution& e) { write_checkpoint(c.out_dir, e, settings); };
  EvolveRunResult result;
  result.backend = backend_name(c.classifier.backend);
  bool go_on = true;
  if (keep_first_generation && evolution.next_generation() == 0) {
    go_on = evolution.run_until(0, all, checkpoint, stop);
    if (go_on) result.first_generation = evolution.results();
  }
  result.complete = go_on && evolution.run(all, checkpoint, stop);

  const std::vector<ClassResult> champions = evolution.results();
  if (champions.empty()) return result;
  RunRecord record;
  record.command = "evolve";
  record.command_line = c.command_line;
  record.model = c.model;
  record.model_sha256 = spec.sha256;
  record.backend = result.backend;
  record.method = c.encoding;
  record.seed = c.evolution.seed;
  record.settings = settings;
  record.progress_unit = ProgressUnit::Generation;
  record.thresholds = evolution.archive().thresholds();
  record.progress = evolution.next_generation() - 1;
  record.evaluations = evolution.evaluations();
  record.seconds = evolution.seconds();
  record.complete = result.complete;
  // Re-scored from the saved PNGs, after the search.
  result.summary = write_results(c.out_dir, record, champions, *classifier);
  return result;
}

}  // namespace fool
