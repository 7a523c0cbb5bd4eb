#pragma once
// Distribution: how one command shares its work among the processes of a job (the ranks of an
// MPI job; a plain run is a job of one process). Rank 0 owns the search, the archive and every output
// file; the other ranks lend their classifiers. The library sees only this interface; the MPI
// implementation lives in fool/parallel and the CLI hands it in. A target of its own (fool_distribution),
// so that fool_experiments, which uses it, and fool_parallel, which implements it, do not depend on
// each other.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/model/classifier.h"

namespace fool {

// Files that travel with a task or its outcome: path (relative to the command's output directory)
// to bytes. They travel so that rank 0 stays the only process that writes the command's files.
using FileMap = std::map<std::string, std::vector<std::uint8_t>>;

// A piece of independent work (one training, one evolution run) that any process can do.
struct Task {
  nlohmann::json params;  // what to do; "kind" names the runner's branch
  FileMap files;          // inputs it needs (e.g. the model a run evolves against)
};
struct TaskOutcome {
  nlohmann::json result;  // recorded by rank 0 (e.g. in experiment.json)
  FileMap files;          // what the task made, for rank 0 to write
};
using TaskRunner = std::function<TaskOutcome(const Task&)>;
// Called on rank 0's calling thread as each task finishes (in completion order).
using TaskDone = std::function<void(std::size_t index, TaskOutcome outcome)>;

class Distribution {
 public:
  virtual ~Distribution();
  virtual int processes() const = 0;
  virtual int rank() const = 0;
  // Processes of this job on this machine (to divide its cores among them).
  virtual int local_processes() const = 0;
  bool is_root() const { return rank() == 0; }

  // Called by every process once its model is loaded and its settings are checked. `identity`
  // must be the same string on every process (fool version, model hash, settings); a process whose
  // identity differs stops the job with one line naming it. On rank 0, returns a classifier that
  // cuts each batch into chunks of `chunk` images (0: one chunk), gives each process a contiguous
  // run of whole chunks (rank 0's own scored by `local`), and gathers the N x K rows in input order.
  // Its rows are bit-identical to score_in_chunks(local, batch, chunk) whatever the number of
  // processes: backends do not score a row identically in batches of different sizes (measured),
  // so chunks, not processes, decide the batches. On other ranks, scores rank 0's chunks with
  // `local` until rank 0 is done, then returns nullptr.
  virtual std::shared_ptr<Classifier> share_classifier(std::shared_ptr<Classifier> local, std::size_t chunk,
                                                       const std::string& identity) = 0;
  // Rank 0 tells where its last checkpoint is (`generation` = the last generation it holds), so
  // that a job stopped by a dead process can say where to resume from.
  virtual void note_checkpoint(const std::string& path, int generation) {}

  // Every process calls this at the same point with its own `value`; all return rank 0's. Used
  // for choices only rank 0 may make (--backend auto times the backends; timings differ between
  // processes, the backend must not). A rank 0 that cannot make the choice passes "".
  virtual std::string from_rank0(const std::string& value) { return value; }

  // Commands made of independent tasks: every process calls check_same_job with the same identity
  // (the job stops with one line naming a rank that differs); then rank 0 calls run_tasks, which
  // runs each task once on some process (rank 0 included, on a thread of its own) and calls `done`
  // for each, and ranks > 0 call serve_tasks with the same runner; rank 0 calls end_tasks when it
  // is done (or failed), which releases them. One process: run_tasks runs the tasks in order.
  virtual void check_same_job(const std::string& identity) {}
  virtual void run_tasks(const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done) {
    for (std::size_t i = 0; i < tasks.size(); ++i) done(i, run(tasks[i]));
  }
  virtual void serve_tasks(const TaskRunner& run) {}
  virtual void end_tasks(bool failed) {}
};

// The distribution of a plain run: one process, classifiers are used as they are.
class SingleProcess : public Distribution {
 public:
  int processes() const override { return 1; }
  int rank() const override { return 0; }
  int local_processes() const override { return 1; }
  std::shared_ptr<Classifier> share_classifier(std::shared_ptr<Classifier> local, std::size_t,
                                               const std::string&) override;
};

}  // namespace fool
