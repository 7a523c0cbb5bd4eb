#pragma once
// An evolution run's directory: making it ready, checkpoint.json (written atomically) and resuming
// from it. log.jsonl is written by JsonLog, the results by write_results.
#include <nlohmann/json.hpp>
#include <string>

#include "fool/search/evolution.h"

namespace fool {

// Makes `dir` ready for a new run. A directory holding another run (summary.json or
// checkpoint.json) is refused unless overwrite, in which case fool's own files there are removed;
// a non-empty directory that is not a run is refused.
void prepare_run_directory(const std::string& dir, bool overwrite);

// Restores `evolution` from dir/checkpoint.json. `settings` must equal the checkpoint's, except for
// the keys that do not change results ("generations", "threads", "checkpoint_every"); otherwise
// throws fool::Error naming the first setting that differs. Trims log.jsonl to the checkpoint.
void resume_from_checkpoint(const std::string& dir, Evolution& evolution, const nlohmann::json& settings);

// Writes dir/checkpoint.json atomically: `settings`, the generation to run next, and every cell of
// the archive with its genome.
void write_checkpoint(const std::string& dir, const Evolution& evolution, const nlohmann::json& settings);

}  // namespace fool
