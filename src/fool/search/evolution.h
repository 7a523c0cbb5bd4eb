#pragma once
// Evolution: the MAP-Elites scheduler of the paper. Each generation it asks the encoding for
// offspring of parents drawn from the archive, renders them, scores the whole generation in one
// batched classifier call, and tells the archive (multi-cell insertion). Child i of generation g
// draws from its own random stream (seed, g, i), so results depend neither on the thread count
// used for mutation and rendering nor on when a run was interrupted and resumed.
#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/encoding/encoding.h"
#include "fool/model/classifier.h"
#include "fool/search/archive.h"
#include "fool/search/class_result.h"

namespace fool {

struct EvolutionConfig {
  int generations = 200;  // offspring generations after the initial population (generation 0)
  int offspring = 200;    // children per generation
  int init = 200;         // random genomes in generation 0
  std::uint64_t seed = 1;
  std::vector<int> classes;    // target classes, one archive cell each (empty: all)
  int threads = 1;             // workers for mutation and rendering
  std::size_t eval_batch = 0;  // images per classifier call (0: the whole generation)
  int checkpoint_every = 25;   // generations between checkpoints (0: only at the end)
  // Throws fool::Error on nonsense values; fills `classes` with all of them if empty.
  void validate(int num_classes);
};

// What one generation did, with its log.jsonl record and status line.
struct GenerationStats {
  int generation = 0;
  std::size_t evaluations = 0;  // total so far
  double seconds = 0.0;         // total so far
  double evals_per_second = 0.0;
  double min = 0.0, median = 0.0, max = 0.0;  // elite confidences
  std::size_t at_99 = 0, at_9999 = 0;
  std::size_t improved = 0;  // cells improved this generation
  // Per threshold (the archive's, in its order): the threshold and the classes whose champion
  // reached it for the first time in this generation, in cell order.
  std::vector<std::pair<double, std::vector<int>>> reached;
  nlohmann::json record() const;                // one line of log.jsonl
  std::string status(std::size_t cells) const;  // the progress line's text
};

struct GenerationStats;
class Evolution;

// Saves an evolution's state (the run directory's checkpoint writer).
using CheckpointFn = std::function<void(const Evolution&)>;

class Evolution {
 public:
  Evolution(const Encoding& encoding, Classifier& classifier, EvolutionConfig config);

  // Runs from the next generation to `last` (default config.generations), reporting each generation
  // to `events` and saving through `checkpoint` every config.checkpoint_every generations and when it
  // stops; returns early (after a checkpoint) when *stop becomes true. Returns true if it reached `last`.
  bool run(const RunEvents& events = {}, const CheckpointFn& checkpoint = {}, const std::atomic<bool>* stop = nullptr);
  bool run_until(int last, const RunEvents& events, const CheckpointFn& checkpoint, const std::atomic<bool>* stop);

  // The champion of every filled cell: image, confidence seen, first generation at each threshold
  // (and the genome, for encodings whose genomes are worth saving).
  std::vector<ClassResult> results() const;

  // One step: ask for genomes, render and score them, tell the archive.
  GenerationStats step();
  std::vector<GenomePtr> ask() const;
  ImageBatch render(const std::vector<GenomePtr>& genomes) const;
  // Offers scored genomes to the archive and advances the generation; returns cells improved.
  std::size_t tell(const std::vector<GenomePtr>& genomes, const Matrix& scores);

  const EliteArchive& archive() const { return archive_; }
  const EvolutionConfig& config() const { return config_; }
  const Encoding& encoding() const { return encoding_; }
  const ModelSpec& classifier_spec() const { return classifier_.spec(); }
  int next_generation() const { return next_generation_; }
  std::size_t evaluations() const { return evaluations_; }
  double seconds() const { return seconds_; }

  // Evaluations a run to config.generations makes in all: init + generations x offspring.
  std::size_t planned_evaluations() const;

  // Continues from a checkpoint's state.
  void restore(int next_generation, std::size_t evaluations, double seconds, EliteArchive archive);

 private:
  template <typename Fn>
  void parallel_for(std::size_t n, Fn fn) const;
  // score_in_chunks(classifier, images, config.eval_batch), telling events_ (if set) after each
  // chunk how many of the generation's images are scored ("initial population"/"generation" phase).
  Matrix score(const ImageBatch& images);

  const Encoding& encoding_;
  Classifier& classifier_;
  EvolutionConfig config_;
  EliteArchive archive_;
  int next_generation_ = 0;
  std::size_t evaluations_ = 0;
  double seconds_ = 0.0;
  const RunEvents* events_ = nullptr;  // while run_until runs: where phase events go
};

}  // namespace fool
