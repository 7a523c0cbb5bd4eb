#pragma once
// What the parts of fool/parallel share (internal, not installed): the MPI message tags and headers
// of the distributed classifier, waiting without spinning a core, and the line rank 0 prints when
// mpirun stops the job (mpi_fault.cc).
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fool/core/error.h"

namespace fool::parallel::internal {

// Message tags: rank 0 sends a job header and its images; a worker answers with a reply header and
// the rows (or an error message).
constexpr int kJobTag = 11, kImagesTag = 12, kReplyTag = 13, kRowsTag = 14;

enum JobKind : std::int64_t { kStop = 0, kBytes = 1, kFloats = 2 };

// Job header: kind, images, channels, height, width, whether rank 0 failed (on kStop).
struct JobHeader {
  std::int64_t kind, count, channels, height, width, root_failed;
};
// Reply header: 0 ok (rows follow) or 1 error (message follows), rows, columns, bytes of the
// message, and the seconds the worker spent scoring.
struct ReplyHeader {
  std::int64_t status, rows, cols, message_bytes;
  double seconds;
};

inline void copy_text(char* dst, std::size_t cap, const std::string& s) {
  const std::size_t n = std::min(cap - 1, s.size());
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

// Waits for a message without spinning a core: OpenMPI's blocking receive polls at full speed,
// which would take the CPU from the threads that score on this machine.
inline void wait_for(int source, int tag) {
  int flag = 0;
  for (;;) {
    MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

inline void wait_request(MPI_Request* request) {
  int flag = 0;
  for (;;) {
    MPI_Test(request, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

inline int checked_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(INT32_MAX)) {
    throw Error(std::string("an MPI message of ") + std::to_string(n) + " " + what +
                " is too large; use a smaller --eval-batch or more processes");
  }
  return static_cast<int>(n);
}

// ---- the line rank 0 prints when mpirun stops the job (mpi_fault.cc) ------------------------------

// SIGTERM handlers: rank 0 names the rank that ended (or the ranks it waited for) and where to
// resume; a worker lingers half a second and exits.
void install_fault_handlers(bool root);
// What the line says after its first part (`tail`: where the last checkpoint is) and the ranks rank 0
// waits for (comma-separated).
void set_fault_line(const std::string& tail, const std::string& awaited);
// The ranks on rank 0's machine (pid, rank), whose end rank 0 can see for itself.
constexpr int kMaxLocalRanks = 256;
void set_local_ranks(const std::vector<std::pair<std::int64_t, int>>& pid_rank);
// Rank 0 has its own error to print: mpirun's SIGTERM then ends it without a second line.
void mark_root_reported();

}  // namespace fool::parallel::internal
