#include "fool/experiments/evolve.h"
#include "fool/model/factory.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "fool/core/class_list.h"
#include "fool/core/error.h"
#include "fool/core/limits.h"
#include "fool/io/files.h"
#include "fool/model/cropping_classifier.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/output/json_log.h"
#include "fool/output/live_view.h"
#include "fool/output/results.h"
#include "fool/output/run_directory.h"

namespace fool {

namespace fs = std::filesystem;

namespace {

// Passes events on with the progress task renamed (the progress line names the backend).
// Passes events on with the progress task renamed (the progress line names the backend) and the
// crops each evaluation costs.
class TaskLabel : public RunObserver {
 public:
  TaskLabel(std::string task, const RunEvents& to, int crops) : task_(std::move(task)), to_(to), crops_(crops) {}
  void on_progress(const ProgressEvent& e) override {
    ProgressEvent renamed = e;
    renamed.task = task_;
    renamed.crops = crops_;
    to_.progress(renamed);
  }
  void on_message(const std::string& line) override { to_.message(line); }
  void on_info(const std::string& line) override { to_.info(line); }
  void on_finish(const std::string&, const std::string& status) override { to_.finish(task_, status); }

 private:
  std::string task_;
  const RunEvents& to_;
  int crops_;
};

// The live view of an evolution: its champions (rendered again only when a cell's elite changed)
// and where the run stands.
void write_live(LiveView& live, const Evolution& evolution, const std::string& title) {
  const EliteArchive& archive = evolution.archive();
  const auto& labels = evolution.classifier_spec().labels;
  std::vector<LiveChampion> champions;
  for (std::size_t c = 0; c < archive.cells(); ++c) {
    const Elite& e = archive.elite(c);
    if (!e.genome) continue;
    LiveChampion ch;
    ch.index = archive.class_of(c);
    ch.label = labels[static_cast<std::size_t>(ch.index)];
    ch.confidence = e.fitness;
    ch.version = e.generation;
    const GenomePtr genome = e.genome;
    ch.render = [&evolution, genome] { return evolution.encoding().render(*genome); };
    champions.push_back(std::move(ch));
  }
  LiveStatus status;
  status.title = title;
  status.progress = "generation " + std::to_string(std::max(0, evolution.next_generation() - 1)) + " of " +
                    std::to_string(evolution.config().generations);
  status.evaluations = evolution.evaluations();
  status.seconds = evolution.seconds();
  status.thresholds = archive.thresholds();
  live.write(champions, status);
}

// Writes the live view after a generation when it is due.
class LiveTrigger : public RunObserver {
 public:
  LiveTrigger(LiveView* live, const Evolution& evolution, std::string title)
      : live_(live), evolution_(evolution), title_(std::move(title)) {}
  void on_progress(const ProgressEvent& e) override {
    if (live_ != nullptr && e.phase.empty() && live_->due()) write_live(*live_, evolution_, title_);
  }

 private:
  LiveView* live_;
  const Evolution& evolution_;
  std::string title_;
};

}  // namespace

const std::vector<std::string>& evolve_preset_names() {
  static const std::vector<std::string> names = {"mnist", "imagenet", "imagenet-quick"};
  return names;
}

EvolvePreset evolve_preset(const std::string& name, const std::string& encoding, const ModelSpec& m) {
  const auto& populations = find_encoding(encoding).preset_population;
  const auto population = [&](int own) {
    const auto it = populations.find(name);
    return it == populations.end() ? own : it->second;
  };
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
    const int pop = population(200);
    return {5000, pop, pop, 256, 10};
  }
  if (name == "imagenet-quick") {
    if (m.input.channels != 3 || m.input.height < 64 || m.input.height > 512) {
      throw Error("preset imagenet-quick needs a colour model of 64 to 512 pixels; " + m.path + " takes " +
                  m.input.str());
    }
    return {20, 20, 20, 0, 1, 10};
  }
  throw Error("unknown preset '" + name + "' (known: mnist, imagenet, imagenet-quick)");
}

nlohmann::json evolve_settings(const EvolveRunConfig& c, const Encoding& encoding, const ModelSpec& m,
                               const std::string& backend) {
  const auto& e = c.evolution;
  return {{"model_sha256", m.sha256},
          {"backend", backend},
          {"encoding", c.encoding},
          {"generations", e.generations},
          {"offspring", e.offspring},
          {"init", e.init},
          {"seed", e.seed},
          {"classes", e.classes},
          {"threads", e.threads},
          {"eval_batch", e.eval_batch},
          {"checkpoint_every", e.checkpoint_every},
          {"image", {c.channels, c.image_size, c.image_width == 0 ? c.image_size : c.image_width}},
          {"crops", c.crops},
          {"model_input", ModelInputRecord::of(m).to_json()},
          {encoding.name(), encoding.settings()}};
}

namespace {

// --resume: the backend the run started with (the choice may depend on timing, results are
// byte-identical only for the same backend), and, unless flags say otherwise, the way it fed its
// model (flags that contradict the checkpoint are refused by the settings check).
void resume_model_settings(EvolveRunConfig& c) {
  const std::string ckpt = (std::filesystem::path(c.out_dir) / "checkpoint.json").string();
  std::error_code ec;
  if (!std::filesystem::exists(ckpt, ec)) return;
  const nlohmann::json settings = read_json_file(ckpt).value("settings", nlohmann::json::object());
  if (c.classifier.backend == Backend::Auto) {
    try {
      c.classifier.backend = parse_backend(settings.at("backend").get<std::string>());
    } catch (const std::exception&) {
      throw Error(ckpt + ": corrupt checkpoint (no backend in its settings)");
    }
  }
  if (settings.contains("model_input") && c.classifier.overrides.feeds_as_model_says()) {
    const auto labels = c.classifier.overrides.labels;
    c.classifier.overrides =
        ModelInputRecord::from_json(settings["model_input"], ckpt + ": settings.model_input").overrides();
    c.classifier.overrides.labels = labels;
  }
}

// Refuses a run whose generation cannot fit in memory (before the run directory is touched): each
// of max(init, offspring) images is held as 8-bit pixels, a genome and float network input; a CPPN
// render holds a float plane per node in each worker.
// Wall time during which at least one batch is inside the network (overlapping calls from several
// threads count once), to tell how much of a run the network takes. Scores pass through unchanged.
class NetworkClock : public Classifier {
 public:
  explicit NetworkClock(Classifier& inner) : inner_(inner) {}
  const ModelSpec& spec() const override { return inner_.spec(); }
  Backend backend() const override { return inner_.backend(); }
  Matrix probabilities(const ImageBatch& images) override {
    enter();
    try {
      Matrix m = inner_.probabilities(images);
      leave();
      return m;
    } catch (...) {
      leave();
      throw;
    }
  }
  double seconds() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seconds_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  void enter() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (active_++ == 0) since_ = Clock::now();
  }
  void leave() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--active_ == 0) seconds_ += std::chrono::duration<double>(Clock::now() - since_).count();
  }
  Classifier& inner_;
  mutable std::mutex mutex_;
  int active_ = 0;
  Clock::time_point since_;
  double seconds_ = 0.0;
};

// Loads the model on every process of the job. With --backend auto, rank 0 alone chooses (the
// choice may time the backends, and timings differ between processes) and the others load what it
// chose, so the backend, and with it every score, is the same whatever the number of processes.
std::shared_ptr<Classifier> load_evolve_classifier(const EvolveRunConfig& c, Distribution& dist,
                                                   BackendChoice* choice) {
  if (dist.processes() < 2 || c.classifier.backend != Backend::Auto)
    return load_classifier(c.model, c.classifier, choice);
  if (dist.rank() == 0) {
    std::shared_ptr<Classifier> model;
    try {
      model = load_classifier(c.model, c.classifier, choice);
    } catch (const Error&) {
      dist.from_rank0("");  // the others load on their own and meet rank 0 at the start-up check
      throw;
    }
    dist.from_rank0(backend_name(choice->backend));
    return model;
  }
  ClassifierOptions options = c.classifier;
  const std::string chosen = dist.from_rank0("");
  if (chosen.empty()) {
    options.auto_compares_speed = false;
  } else {
    options.backend = parse_backend(chosen);
  }
  return load_classifier(c.model, options, choice);
}

void check_evolve_memory(const EvolveRunConfig& c, const ImageShape& image) {
  const std::uint64_t pixels = image.size();
  const std::uint64_t n = static_cast<std::uint64_t>(std::max(c.evolution.init, c.evolution.offspring));
  std::uint64_t bytes = mul_saturated(n, mul_saturated(pixels, 6));
  const auto render_bytes = find_encoding(c.encoding).render_bytes;
  if (render_bytes != nullptr) bytes = std::max(bytes, render_bytes(image, c.evolution.threads));
  bytes = std::max(
      bytes, mul_saturated(c.evolution.eval_batch, mul_saturated(pixels, 4 * static_cast<std::uint64_t>(c.crops))));
  check_memory(bytes, "a generation of " + std::to_string(n) + " images of " + image.str());
}

// The most images one classifier call of the run gets, for the memory check at load: --eval-batch
// as run_evolve_with resolves it, cut into crops by the cropping classifier (its default chunk of
// 200 crops).
ClassifierOptions::CallBatch evolve_call_batch(const EvolveRunConfig& c, const ModelSpec& spec) {
  EvolvePreset p{0, 0, 0, 0, 1};
  try {
    if (!c.preset.empty()) p = evolve_preset(c.preset, c.encoding, spec);
  } catch (const Error&) {  // run_evolve_with says so
  }
  const int side = c.image_size != 0 ? c.image_size : (p.image_size != 0 ? p.image_size : spec.input.height);
  const std::size_t k = static_cast<std::size_t>(std::max(1, c.crops != 0 ? c.crops : p.crops));
  const std::size_t eval = c.evolution.eval_batch != 0 ? c.evolution.eval_batch
                           : side <= kSmallImageSide   ? kEvalBatchSmallImages
                                                       : kEvalBatchLargeImages;
  const bool cropping = k > 1 || side != spec.input.height;
  return {cropping ? std::min(eval, std::max<std::size_t>(1, 200 / k)) * k : eval,
          "--eval-batch " + std::to_string(eval) + (k > 1 ? " x " + std::to_string(k) + " crops" : "")};
}

// Processes on one machine divide its cores among them (threads < 1: all of this process's share).
void resolve_threads(EvolveRunConfig& c, Distribution& dist) {
  check_threads(c.evolution.threads, "threads");
  check_threads(c.classifier.threads, "threads");
  if (c.evolution.threads < 1) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    c.evolution.threads = std::max(1, cores / std::max(1, dist.local_processes()));
  }
  if (c.classifier.threads == 0) c.classifier.threads = c.evolution.threads;
}

}  // namespace

EvolveRunResult run_evolve(EvolveRunConfig c, const RunEvents& events, const std::atomic<bool>* stop,
                           bool keep_first_generation) {
  if (c.out_dir.empty()) throw Error("no output directory given");
  if (c.resume && c.overwrite) throw Error("--resume and --overwrite contradict each other");
  SingleProcess single;
  Distribution& dist = c.distribution != nullptr ? *c.distribution : single;
  resolve_threads(c, dist);
  if (c.resume) resume_model_settings(c);
  const EvolveRunConfig planned = c;  // what the batch will be (a copy: c is moved on below)
  c.classifier.call_batch = [planned](const ModelSpec& spec) { return evolve_call_batch(planned, spec); };
  BackendChoice choice;
  // Loading (and, with --backend auto, probing the backends on a batch) can take a while.
  ProgressEvent load{"load model", 0, 1, "", nullptr};
  load.phase = "load";
  load.status = fs::path(c.model).filename().string() + " (backend " + backend_name(c.classifier.backend) +
                (c.classifier.backend == Backend::Auto ? ": loading and probing the backends)" : ")");
  events.progress(load);
  std::shared_ptr<Classifier> model = load_evolve_classifier(c, dist, &choice);
  load.done = 1;
  events.progress(load);
  events.finish(load.task, load.status);
  if (c.resume && c.classifier.backend != Backend::Auto)
    choice.reason = backend_name(choice.backend) + ": the checkpoint's backend";
  c.classifier.backend = choice.backend;
  return run_evolve_with({model, backend_name(choice.backend), choice.reason, choice.detail}, std::move(c), events,
                         stop, keep_first_generation);
}

namespace {

// Every real class (or the preset's first `preset_classes`, 0: all): an extra class of fooling
// images is not a target.
std::vector<int> default_classes(const ModelSpec& spec, int preset_classes) {
  std::vector<int> classes;
  for (int k = 0; k < spec.num_classes; ++k) {
    if (preset_classes > 0 && static_cast<int>(classes.size()) >= preset_classes) break;
    if (k != spec.background_class) classes.push_back(k);
  }
  return classes;
}

// Fills in what the preset, the model and the defaults decide (generations, offspring, init,
// image size and width, crops, channels, target classes, eval_batch), checks it, and returns the
// shape of the images the run evolves.
ImageShape resolve_image_and_classes(EvolveRunConfig& c, const ModelSpec& spec) {
  EvolvePreset p{c.evolution.generations, c.evolution.offspring, c.evolution.init, 0, 1};
  if (!c.preset.empty()) p = evolve_preset(c.preset, c.encoding, spec);
  c.evolution.generations = c.generations.value_or(p.generations);
  c.evolution.offspring = c.offspring.value_or(p.offspring);
  c.evolution.init = c.init.value_or(p.init);
  const bool square_input = spec.input.height == spec.input.width;
  if (!square_input && c.image_size == 0 && p.image_size == 0) c.image_width = spec.input.width;  // its own size
  if (c.image_size == 0) c.image_size = p.image_size != 0 ? p.image_size : spec.input.height;
  if (c.image_width == 0) c.image_width = c.image_size;
  if (c.crops == 0) c.crops = p.crops;
  if (c.channels == 0) c.channels = spec.input.channels;
  if (c.image_size < 1) throw Error("image size must be positive, got " + std::to_string(c.image_size));
  if (c.channels != 1 && c.channels != 3) throw Error("images have 1 or 3 channels, not " + std::to_string(c.channels));
  if (c.crops != 1 && c.crops != 10) throw Error("crops must be 1 or 10, not " + std::to_string(c.crops));
  if (!square_input && (c.image_size != spec.input.height || c.image_width != spec.input.width)) {
    throw Error(c.model + ": non-square model input " + spec.input.str() +
                " is evolved at its own size (leave out --image-size and the preset's size)");
  }
  const ImageShape image{c.channels, c.image_size, c.image_width};
  if (!c.class_list.empty()) c.evolution.classes = parse_class_list(c.class_list, spec.labels);
  if (c.evolution.classes.empty()) c.evolution.classes = default_classes(spec, p.classes);
  c.evolution.validate(spec.num_classes);
  // Chunks small enough that a generation has work for several processes; a chunk is also the unit
  // MPI ranks share, because backends score a row identically only within equal chunks.
  if (c.evolution.eval_batch == 0) {
    c.evolution.eval_batch = image.height <= kSmallImageSide ? kEvalBatchSmallImages : kEvalBatchLargeImages;
  }
  return image;
}

// A job of several processes: checks that a generation has a chunk for each, and replaces
// `classifier` by the one that shares each generation's chunks among them (scoring whole
// generations). Returns false on a rank > 0 once its work is done.
bool share_over_processes(const EvolveRunConfig& c, const nlohmann::json& settings, const ModelSpec& spec,
                          Distribution& dist, std::shared_ptr<Classifier>& classifier,
                          EvolutionConfig& evolution_config) {
  const int processes = dist.processes();
  const std::size_t per_generation = static_cast<std::size_t>(c.evolution.offspring);
  const std::size_t chunk = c.evolution.eval_batch == 0 ? per_generation : c.evolution.eval_batch;
  const std::size_t chunks = (per_generation + chunk - 1) / chunk;
  if (static_cast<std::size_t>(processes) > chunks) {
    throw Error(std::to_string(processes) + " processes but a generation of " + std::to_string(per_generation) +
                " offspring has only " + std::to_string(chunks) + " chunk(s) of --eval-batch " + std::to_string(chunk) +
                " to share; use at most " + std::to_string(chunks) + " processes or a smaller --eval-batch");
  }
  nlohmann::json identity = settings;
  identity.erase("threads");
  const Preprocessing& pre = spec.preprocessing;
  identity["preprocessing"] = {channel_order_name(pre.channel_order), pre.scale, pre.mean, pre.std,
                               pre.output_is_probabilities};
  identity["labels"] = spec.labels;
  classifier = dist.share_classifier(classifier, c.evolution.eval_batch, identity.dump());
  if (!classifier) return false;  // a rank > 0 whose work is done
  // The shared classifier already scores in chunks of eval_batch; it needs whole generations so
  // that every process gets some of them.
  evolution_config.eval_batch = 0;
  return true;
}

// Runs the evolution to its end or until `stop` (keeping generation 0's champions in `first` when
// asked); true if it ran to its end. A generation that failed to score leaves the evolution as the
// last one ended: that is checkpointed before the error goes on, so that --resume continues.
bool run_generations(Evolution& evolution, const RunEvents& all, const CheckpointFn& checkpoint,
                     const std::atomic<bool>* stop, bool keep_first_generation, std::vector<ClassResult>* first) {
  try {
    bool go_on = true;
    if (keep_first_generation && evolution.next_generation() == 0) {
      go_on = evolution.run_until(0, all, checkpoint, stop);
      if (go_on) *first = evolution.results();
    }
    return go_on && evolution.run(all, checkpoint, stop);
  } catch (...) {
    // (A failure to save must not hide the first error.)
    if (evolution.next_generation() > 0) {
      try {
        checkpoint(evolution);
      } catch (const std::exception&) {
      }
    }
    throw;
  }
}

// Prepares the run directory (or, resuming, opens it and restores `evolution` from its checkpoint)
// and returns its lock.
RunLock open_evolve_directory(const EvolveRunConfig& c, bool resumed, Evolution& evolution,
                              const nlohmann::json& settings) {
  RunLock lock;
  if (resumed) {
    std::error_code ec;  // without a checkpoint, resume_from_checkpoint says so
    if (fs::exists(fs::path(c.out_dir) / "checkpoint.json", ec)) {
      lock = open_run_directory(c.out_dir, "evolve", holds_fool_checkpoint(c.out_dir));
    }
    resume_from_checkpoint(c.out_dir, evolution, settings);
  } else {
    lock = prepare_run_directory(c.out_dir, c.overwrite, "evolve");
  }
  return lock;
}

// "network 1.2 s of 3.4 s searched (35.3%)" ("" when the search took no time).
std::string network_share_line(double network_seconds, double search_seconds) {
  if (!(search_seconds > 0.0)) return "";
  char line[160];
  std::snprintf(line, sizeof line, "network %.1f s of %.1f s searched (%.1f%%)", network_seconds, search_seconds,
                100.0 * network_seconds / search_seconds);
  return line;
}

// What summary.json records of an evolution run.
RunRecord evolve_record(const EvolveRunConfig& c, const ModelSpec& spec, const nlohmann::json& settings,
                        const Evolution& evolution, const std::string& backend, bool complete, int processes) {
  RunRecord record;
  record.command = "evolve";
  record.command_line = c.command_line;
  record.model = c.recorded_model.empty() ? c.model : c.recorded_model;
  record.model_sha256 = spec.sha256;
  record.backend = backend;
  record.method = c.encoding;
  record.seed = c.evolution.seed;
  record.settings = settings;
  record.model_input = ModelInputRecord::of(spec);
  record.progress_unit = ProgressUnit::Generation;
  record.thresholds = evolution.archive().thresholds();
  record.progress = evolution.next_generation() - 1;
  record.evaluations = evolution.evaluations();
  record.seconds = evolution.seconds();
  record.complete = complete;
  record.extra = {{"processes", processes}};
  return record;
}

}  // namespace

EvolveRunResult run_evolve_with(const ReadyClassifier& ready, EvolveRunConfig c, const RunEvents& events,
                                const std::atomic<bool>* stop, bool keep_first_generation) {
  if (c.out_dir.empty()) throw Error("no output directory given");
  if (c.resume && c.overwrite) throw Error("--resume and --overwrite contradict each other");
  if (!ready.model) throw Error("no classifier given");
  SingleProcess single;
  Distribution& dist = c.distribution != nullptr ? *c.distribution : single;
  resolve_threads(c, dist);
  const std::shared_ptr<Classifier>& model = ready.model;
  const ModelSpec spec = model->spec();
  const ImageShape image = resolve_image_and_classes(c, spec);
  std::shared_ptr<Classifier> classifier = model;
  if (image != spec.input || c.crops != 1) {
    classifier = make_cropping_classifier(model, image, c.crops);
  }

  check_evolve_memory(c, image);
  const std::unique_ptr<Encoding> encoding = make_encoding(c.encoding, image, c.encoding_options);
  const nlohmann::json settings = evolve_settings(c, *encoding, spec, ready.backend);

  EvolutionConfig evolution_config = c.evolution;
  const int processes = dist.processes();
  if (processes > 1 && !share_over_processes(c, settings, spec, dist, classifier, evolution_config)) {
    return {};  // a rank > 0 whose work is done
  }

  NetworkClock network(*classifier);
  Evolution evolution(*encoding, network, evolution_config);
  // --resume on a run killed before its first checkpoint starts it again from generation 0.
  const bool resumed = c.resume && !is_unfinished_run_without_checkpoint(c.out_dir);
  // Held until the results are written: a second fool process on the same --out is refused.
  const RunLock lock = open_evolve_directory(c, resumed, evolution, settings);
  JsonLog log((fs::path(c.out_dir) / "log.jsonl").string(), resumed);
  // Said once the run is sure to start (a refused configuration stays a one-line error).
  events.info("backend " + ready.reason + (ready.detail.empty() ? "" : " (" + ready.detail + ")"));
  const std::string task = "evolve (" + ready.backend + ")";
  TaskLabel label(task, events, c.crops);
  std::optional<LiveView> live;
  if (c.live) live.emplace(c.out_dir, c.live_every);
  const std::string live_title = "evolve · " + c.encoding + " · " +
                                 fs::path(c.recorded_model.empty() ? c.model : c.recorded_model).filename().string();
  LiveTrigger live_trigger(live ? &*live : nullptr, evolution, live_title);
  std::vector<RunObserver*> observers{&label, &log};
  if (live) observers.push_back(&live_trigger);
  const RunEvents all(observers);
  const CheckpointFn checkpoint = [&](const Evolution& e) {
    write_checkpoint(c.out_dir, e, settings);
    // At a checkpoint when due (--live-every 0: at every one), never at the end of the run (the
    // results and the final page follow at once).
    if (live && e.next_generation() <= e.config().generations && (c.live_every <= 0 || live->due()))
      write_live(*live, e, live_title);
    // Where to resume from if another process dies.
    dist.note_checkpoint((fs::path(c.out_dir) / "checkpoint.json").string(), e.next_generation() - 1);
  };
  EvolveRunResult result;
  result.backend = ready.backend;
  result.backend_choice = ready.reason;
  const double seconds_before = evolution.seconds();  // a resumed run's earlier seconds
  result.complete = run_generations(evolution, all, checkpoint, stop, keep_first_generation, &result.first_generation);

  const double search_seconds = evolution.seconds() - seconds_before;
  // Said after the results, so that re-scoring stays on the progress line.
  const std::string network_line = network_share_line(network.seconds(), search_seconds);
  const std::vector<ClassResult> champions = evolution.results();
  if (champions.empty()) {
    if (!network_line.empty()) events.info(network_line);
    return result;
  }
  const RunRecord record = evolve_record(c, spec, settings, evolution, result.backend, result.complete, processes);
  // Re-scored from the saved PNGs, after the search.
  result.summary = write_results(c.out_dir, record, champions, *classifier, all, task);
  if (live) live->finish(*result.summary);
  if (!network_line.empty()) events.info(network_line);
  if (live) {
    char line[160];
    std::snprintf(line, sizeof line, "live view: %zu updates in %.3f s", live->writes(), live->seconds());
    events.info(line);
  }
  return result;
}

}  // namespace fool
