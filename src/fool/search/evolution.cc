#include "fool/search/evolution.h"

#include <cstdio>

#include <chrono>
#include <mutex>
#include <thread>

#include "fool/core/error.h"
#include "fool/core/limits.h"
#include "fool/core/thresholds.h"
#include "fool/model/cropping_classifier.h"

namespace fool {

void EvolutionConfig::validate(int num_classes) {
  if (generations < 0) throw Error("generations must not be negative, got " + std::to_string(generations));
  if (offspring < 1) throw Error("offspring must be at least 1, got " + std::to_string(offspring));
  if (init < 1) throw Error("initial population must be at least 1, got " + std::to_string(init));
  if (threads < 1) throw Error("threads must be at least 1, got " + std::to_string(threads));
  check_threads(threads, "threads");
  if (checkpoint_every < 0) throw Error("checkpoint interval must not be negative");
  if (classes.empty())
    for (int k = 0; k < num_classes; ++k) classes.push_back(k);
  std::vector<bool> seen(static_cast<std::size_t>(num_classes), false);
  for (int k : classes) {
    if (k < 0 || k >= num_classes) {
      throw Error("class " + std::to_string(k) + " is out of range: the model has classes 0.." +
                  std::to_string(num_classes - 1));
    }
    if (seen[static_cast<std::size_t>(k)]) throw Error("class " + std::to_string(k) + " is listed twice");
    seen[static_cast<std::size_t>(k)] = true;
  }
}

Evolution::Evolution(const Encoding& encoding, Classifier& classifier, EvolutionConfig config)
    : encoding_(encoding),
      classifier_(classifier),
      config_((config.validate(classifier.spec().num_classes), std::move(config))),
      archive_(config_.classes) {
  if (encoding_.shape() != classifier_.spec().input) {
    throw Error("the encoding makes " + encoding_.shape().str() + " images, the classifier takes " +
                classifier_.spec().input.str());
  }
}

template <typename Fn>
void Evolution::parallel_for(std::size_t n, Fn fn) const {
  const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(config_.threads), n);
  if (workers <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::thread> pool;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  for (std::size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      try {
        for (std::size_t i = w * n / workers; i < (w + 1) * n / workers; ++i) fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

std::vector<GenomePtr> Evolution::ask() const {
  const int g = next_generation_;
  const std::size_t n = static_cast<std::size_t>(g == 0 ? config_.init : config_.offspring);
  std::vector<GenomePtr> out(n);
  parallel_for(n, [&](std::size_t i) {
    Rng rng = Rng::derive(config_.seed, static_cast<std::uint64_t>(g), i);
    if (g == 0) {
      out[i] = encoding_.random(rng);
      return;
    }
    GenomePtr parent = archive_.sample(rng);
    if (encoding_.uses_crossover()) parent = encoding_.crossover(*parent, *archive_.sample(rng), rng);
    out[i] = encoding_.mutate(*parent, rng, g);
  });
  return out;
}

ImageBatch Evolution::render(const std::vector<GenomePtr>& genomes) const {
  ImageBatch batch(genomes.size(), encoding_.shape());
  parallel_for(genomes.size(), [&](std::size_t i) { batch.set(i, encoding_.render(*genomes[i])); });
  return batch;
}

std::size_t Evolution::tell(const std::vector<GenomePtr>& genomes, const Matrix& scores) {
  const std::size_t improved = archive_.add(genomes, scores, next_generation_);
  evaluations_ += genomes.size();
  ++next_generation_;
  return improved;
}

std::size_t Evolution::planned_evaluations() const {
  return static_cast<std::size_t>(config_.init) +
         static_cast<std::size_t>(config_.generations) * static_cast<std::size_t>(config_.offspring);
}

Matrix Evolution::score(const ImageBatch& images) {
  const std::size_t chunk = config_.eval_batch;
  if (events_ == nullptr) return score_in_chunks(classifier_, images, chunk);
  ProgressEvent e;
  e.task = "evolve";
  e.done = static_cast<std::size_t>(std::max(0, next_generation_ - 1));
  e.total = static_cast<std::size_t>(config_.generations);
  e.phase = next_generation_ == 0 ? "initial population" : "generation";
  e.evaluations_total = planned_evaluations();
  e.phase_total = images.size();
  const auto tell_events = [&](std::size_t scored) {
    e.phase_done = scored;
    e.evaluations = evaluations_ + scored;
    events_->progress(e);
  };
  // The initial population is the first long wait of a run: say so before its first image.
  if (next_generation_ == 0) tell_events(0);
  if (chunk == 0 || images.size() <= chunk) return classifier_.probabilities(images);
  Matrix out;
  for (std::size_t b = 0; b < images.size(); b += chunk) {
    const std::size_t end = std::min(images.size(), b + chunk);
    out.append_rows(classifier_.probabilities(images.slice(b, end)));
    if (end < images.size()) tell_events(end);
  }
  return out;
}

GenerationStats Evolution::step() {
  const auto start = std::chrono::steady_clock::now();
  const auto genomes = ask();
  const Matrix scores = score(render(genomes));
  const int g = next_generation_;
  const std::size_t improved = tell(genomes, scores);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  seconds_ += secs;
  GenerationStats s;
  s.generation = g;
  s.evaluations = evaluations_;
  s.seconds = seconds_;
  s.evals_per_second = secs > 0 ? static_cast<double>(genomes.size()) / secs : 0.0;
  s.min = archive_.min_fitness();
  s.median = archive_.median_fitness();
  s.max = archive_.max_fitness();
  s.at_99 = archive_.count_at_least(kConfident);
  s.at_9999 = archive_.count_at_least(kFoolingConfidence);
  s.improved = improved;
  for (std::size_t t = 0; t < archive_.thresholds().size(); ++t) {
    std::vector<int> classes;
    for (std::size_t c = 0; c < archive_.cells(); ++c)
      if (archive_.first_reached(c, t) == g) classes.push_back(archive_.class_of(c));
    s.reached.emplace_back(archive_.thresholds()[t], std::move(classes));
  }
  return s;
}

nlohmann::json GenerationStats::record() const {
  nlohmann::json out = {{"generation", generation}, {"evaluations", evaluations},
                        {"seconds", seconds},       {"min", min},
                        {"median", median},         {"max", max},
                        {"classes_at_99", at_99},   {"classes_at_9999", at_9999},
                        {"improved", improved}};
  // Keyed as summary.json's first_reached ("0.99", "0.9999"): the classes that crossed here.
  nlohmann::json newly = nlohmann::json::object();
  for (const auto& [threshold, classes] : reached) newly[nlohmann::json(threshold).dump()] = classes;
  out["newly_reached"] = std::move(newly);
  return out;
}

std::string GenerationStats::status(std::size_t cells) const {
  char buf[160];
  std::snprintf(buf, sizeof buf, ">=99%%: %zu/%zu  >=99.99%%: %zu/%zu  median %.4f  %.0f evals/s", at_99, cells,
                at_9999, cells, median, evals_per_second);
  return buf;
}

bool Evolution::run(const RunEvents& events, const CheckpointFn& checkpoint, const std::atomic<bool>* stop) {
  return run_until(config_.generations, events, checkpoint, stop);
}

bool Evolution::run_until(int last, const RunEvents& events, const CheckpointFn& checkpoint,
                          const std::atomic<bool>* stop) {
  bool interrupted = false;
  events_ = &events;
  struct Reset {
    const RunEvents*& events;
    ~Reset() { events = nullptr; }
  } reset{events_};
  while (next_generation_ <= last) {
    if (stop != nullptr && stop->load()) {
      interrupted = true;
      break;
    }
    const GenerationStats s = step();
    ProgressEvent e{"evolve", static_cast<std::size_t>(std::max(0, s.generation)),
                    static_cast<std::size_t>(config_.generations), s.status(archive_.cells()), s.record()};
    e.evaluations = evaluations_;
    e.evaluations_total = planned_evaluations();
    events.progress(e);
    const bool at_end = next_generation_ > last;
    if (!at_end && checkpoint && config_.checkpoint_every > 0 && s.generation % config_.checkpoint_every == 0) {
      checkpoint(*this);
    }
  }
  if (checkpoint) checkpoint(*this);
  return !interrupted;
}

std::vector<ClassResult> Evolution::results() const {
  const auto& labels = classifier_.spec().labels;
  std::vector<ClassResult> out;
  for (std::size_t c = 0; c < archive_.cells(); ++c) {
    const Elite& e = archive_.elite(c);
    if (!e.genome) continue;
    ClassResult r;
    r.index = archive_.class_of(c);
    r.label = labels[static_cast<std::size_t>(r.index)];
    r.image = encoding_.render(*e.genome);
    r.search_confidence = e.fitness;
    for (std::size_t t = 0; t < archive_.thresholds().size(); ++t)
      r.first_reached.push_back(archive_.first_reached(c, t));
    if (encoding_.saves_genomes()) r.genome = encoding_.to_json(*e.genome);
    out.push_back(std::move(r));
  }
  return out;
}

void Evolution::restore(int next_generation, std::size_t evaluations, double seconds, EliteArchive archive) {
  if (archive.cells() != archive_.cells()) throw Error("checkpoint archive has another number of cells");
  next_generation_ = next_generation;
  evaluations_ = evaluations;
  seconds_ = seconds;
  archive_ = std::move(archive);
}

}  // namespace fool
