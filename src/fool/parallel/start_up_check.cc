// The start-up check: every process of a job meets rank 0 once, with its status and identity, and
// rank 0 answers go or stop; and what a failing rank prints.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "fool/core/bytes.h"
#include "fool/parallel/mpi_internal.h"
#include "fool/parallel/mpi_world.h"

namespace fool::parallel {

namespace {

// What each rank tells rank 0 at start-up.
struct Hello {
  std::int32_t failed;
  char identity[65];  // SHA-256 hex of the identity string
  char who[160];      // fool version and model, for the message
  char message[400];  // the error of a failed rank
  std::int64_t pid;
  char host[64];
};

}  // namespace

std::string MpiWorld::start_up_check(bool ok, const std::string& identity, const std::string& message) {
  checked_ = true;
  Hello mine{};
  mine.failed = ok ? 0 : 1;
  internal::copy_text(mine.identity, sizeof mine.identity, sha256_hex(identity.data(), identity.size()));
  internal::copy_text(mine.who, sizeof mine.who, identity.substr(0, identity.find('|')));
  internal::copy_text(mine.message, sizeof mine.message, message);
  mine.pid = static_cast<std::int64_t>(::getpid());
  ::gethostname(mine.host, sizeof mine.host - 1);
  std::vector<Hello> all(rank_ == 0 ? static_cast<std::size_t>(size_) : 1);
  MPI_Gather(&mine, sizeof(Hello), MPI_BYTE, all.data(), sizeof(Hello), MPI_BYTE, 0, MPI_COMM_WORLD);
  std::string verdict;
  if (rank_ == 0) {
    // The ranks on this machine, whose death rank 0 can see for itself.
    std::vector<std::pair<std::int64_t, int>> local;
    for (int r = 1; r < size_; ++r) {
      const Hello& h = all[static_cast<std::size_t>(r)];
      if (std::strncmp(h.host, mine.host, sizeof mine.host) == 0) local.emplace_back(h.pid, r);
    }
    internal::set_local_ranks(local);
    if (!ok) {
      verdict = message;
    } else {
      for (int r = 1; r < size_ && verdict.empty(); ++r) {
        const Hello& h = all[static_cast<std::size_t>(r)];
        if (h.failed) {
          verdict = "rank " + std::to_string(r) + ": " + h.message;
        } else if (std::strcmp(h.identity, mine.identity) != 0) {
          verdict = "rank " + std::to_string(r) + " runs " + h.who + ", rank 0 runs " + mine.who +
                    ": every process of a job needs the same fool, model and settings";
        }
      }
    }
  }
  int stop = verdict.empty() ? 0 : 1;
  MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (stop && rank_ != 0) verdict = "stop";
  return verdict;
}

std::string MpiWorld::fail(const std::string& message) {
  if (!active_ || size_ < 2) return message;
  std::string line = expect_check_ && !checked_ ? start_up_check(false, "", message) : message;
  if (rank_ == 0) {
    internal::mark_root_reported();
    return line;
  }
  // Most errors (a bad flag value, too many processes) are found by every rank at once. A worker that
  // ended first would make mpirun stop rank 0 before it printed the error, so a worker waits; mpirun
  // ends it when rank 0 exits.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  return "";
}

void MpiWorld::check_same_job(const std::string& identity) {
  if (!active_ || size_ < 2) return;
  const std::string verdict = start_up_check(true, version() + "|" + identity, "");
  if (verdict.empty()) return;
  if (rank_ == 0) throw Error(verdict);
  throw QuietExit();
}

}  // namespace fool::parallel
