#pragma once
// MpiWorld: the MPI job this process belongs to, as a fool::Distribution. MPI is initialised only
// when an MPI launcher started the process (mpirun/mpiexec or Slurm's srun set OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_SIZE); otherwise this is a job of one process and fool behaves as without MPI.
// Only the calling thread of main talks MPI (MPI_THREAD_FUNNELED).
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "fool/distribution/distribution.h"

namespace fool::parallel {

// Thrown on ranks > 0 when the job stops because of an error that rank 0 reports: the process
// exits with status 1 and prints nothing, so the job prints one line.
class QuietExit : public std::exception {
 public:
  const char* what() const noexcept override { return "stopped by rank 0"; }
};

// What rank 0's classifier did in its last call (for benchmarks): bytes it sent and received,
// wall seconds of the call, and the longest time any one process spent scoring its block.
struct ExchangeStats {
  std::size_t calls = 0;
  std::size_t bytes_sent = 0, bytes_received = 0;
  double seconds = 0.0, slowest_scoring_seconds = 0.0;
};

class MpiWorld : public Distribution {
 public:
  // The process's world; init() must run first in main (before any thread starts).
  static MpiWorld& instance();
  static bool launched_by_mpi();

  void init(int* argc, char*** argv);
  // Ends MPI (every rank, at the end of main). Safe to call twice or without init.
  void finalize();
  bool active() const { return active_; }

  int processes() const override { return size_; }
  int rank() const override { return rank_; }
  int local_processes() const override { return local_size_; }
  std::shared_ptr<Classifier> share_classifier(std::shared_ptr<Classifier> local, std::size_t chunk,
                                               const std::string& identity) override;

  void check_same_job(const std::string& identity) override;
  void run_tasks(const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done) override;
  void serve_tasks(const TaskRunner& run) override;
  void end_tasks(bool failed) override;

  // Commands that call share_classifier or check_same_job say so before they start, so that a failure before it
  // still meets the other ranks at the start-up check instead of leaving them waiting.
  void expect_start_up_check() { expect_check_ = true; }
  // A command failed with `message` on this rank. Returns the line rank 0 prints (possibly naming
  // another rank's error) or "" on ranks that print nothing.
  std::string fail(const std::string& message);

  // Where rank 0's last checkpoint is (for the line printed when another rank dies); generation
  // kStepsFile: `path` is a file of finished steps (an experiment.json).
  void note_checkpoint(const std::string& path, int generation) override;
  std::string from_rank0(const std::string& value) override;
  static constexpr int kStepsFile = -2;
  ExchangeStats last_exchange() const { return stats_; }
  // The fool version every rank must share.
  static std::string version();
  // The MPI library's own version line (e.g. "Open MPI v4.1.4, ...").
  static std::string library_version();

 private:
  friend class DistributedClassifier;
  // The start-up check: every rank sends its status and identity to rank 0, which answers go or stop.
  // Returns "" to go; on rank 0 the line to report otherwise.
  std::string start_up_check(bool ok, const std::string& identity, const std::string& message);
  void serve(Classifier& local);
  void set_awaited(const std::vector<int>& ranks);
  void update_fault_line();

  bool active_ = false, finalized_ = false, expect_check_ = false, checked_ = false;
  int size_ = 1, rank_ = 0, local_size_ = 1;
  std::string checkpoint_path_;
  int checkpoint_generation_ = -1;
  std::vector<int> awaited_;
  ExchangeStats stats_;
};

}  // namespace fool::parallel
