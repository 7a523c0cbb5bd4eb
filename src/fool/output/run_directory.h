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
// A directory that holds only fool's own files of a run that never checkpointed (killed during its
// write test or generation 0, or stopped by a full disk) counts as empty: a rerun cleans it up.
void prepare_run_directory(const std::string& dir, bool overwrite);

// True for an existing directory holding only fool's run files but neither checkpoint.json nor
// summary.json: --resume starts such a run again from generation 0 (which is what resuming it means).
bool is_unfinished_run_without_checkpoint(const std::string& dir);

// Removes the hidden temporaries (".name.XXXXXX") an atomic write leaves when the process is killed
// mid-write, from dir, dir/images and dir/genomes.
void remove_stray_temporaries(const std::string& dir);

// Restores `evolution` from dir/checkpoint.json. `settings` must equal the checkpoint's, except for
// the keys that do not change results ("generations", "threads", "checkpoint_every"); otherwise
// throws fool::Error naming the first setting that differs. Trims log.jsonl to the checkpoint.


// Restores `evolution` from dir/checkpoint.json. `settings` must equal the checkpoint's, except for
// the keys that do not change results ("generations", "threads", "checkpoint_every"); otherwise
// throws fool::Error naming the first setting that differs. Trims log.jsonl to the checkpoint.
void resume_from_checkpoint(const std::string& dir, Evolution& evolution, const nlohmann::json& settings);

// Checks of a checkpoint's contents against the run resuming it, apart from the JSON layout so that
// another checkpoint format is held to the same rules. Each throws fool::Error naming the key.
// check_checkpoint_progress: next_generation within the run's generations, evaluations exactly what
// that many generations make; returns next_generation.
int check_checkpoint_progress(const nlohmann::json& checkpoint, const nlohmann::json& saved_settings,
                              const EvolutionConfig& config);
// check_checkpoint_cell: the cell's class is this run's class for that cell, fitness in [0, 1] (-1
// while empty), elite and first_reached generations before next_generation. Returns the elite without
// its genome.
Elite check_checkpoint_cell(const nlohmann::json& cell, std::size_t index, const EliteArchive& archive,
                            int next_generation);

// Writes dir/checkpoint.json atomically: `settings`, the generation to run next, and every cell of
// the archive with its genome.
void write_checkpoint(const std::string& dir, const Evolution& evolution, const nlohmann::json& settings);

}  // namespace fool
