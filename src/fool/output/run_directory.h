#pragma once
// RunDirectory: the observer that keeps an evolution run's output directory current: one line of
// log.jsonl per generation, checkpoint.json (atomically) every few generations and at the end or on
// interruption, and the results (summary.json, images, genomes, grid) when the run stops.
#include <nlohmann/json.hpp>
#include <string>

#include "fool/search/evolution.h"
#include "fool/output/results.h"

namespace fool {

// Makes `dir` ready for a new run. A directory holding another run (summary.json or
// checkpoint.json) is refused unless overwrite, in which case fool's own files there are removed;
// a non-empty directory that is not a run is refused.
void prepare_run_directory(const std::string& dir, bool overwrite);

// Restores `evolution` from dir/checkpoint.json. `settings` must equal the checkpoint's, except for
// the keys that do not change results ("generations", "threads", "checkpoint_every"); otherwise
// throws fool::Error naming the first setting that differs. Trims log.jsonl to the checkpoint.
void resume_from_checkpoint(const std::string& dir, Evolution& evolution, const nlohmann::json& settings);

class RunDirectory : public EvolutionObserver {
 public:
  // record: what summary.json says about the run (progress fields are filled in at the end);
  // settings: what the checkpoint records and resume checks.
  RunDirectory(std::string dir, RunRecord record, nlohmann::json settings);
  void on_generation(const Evolution& evolution, const GenerationStats& stats) override;
  void on_checkpoint(const Evolution& evolution) override;
  void on_finish(const Evolution& evolution, bool interrupted) override;
  const nlohmann::json& summary() const { return summary_; }

 private:
  std::string dir_;
  RunRecord record_;
  nlohmann::json settings_;
  nlohmann::json summary_;
};

}  // namespace fool
