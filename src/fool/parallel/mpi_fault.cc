// The line rank 0 prints when mpirun stops the job because another rank ended.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

#include "fool/parallel/mpi_internal.h"

namespace fool::parallel::internal {

namespace {

// What rank 0 prints when mpirun stops the job because another rank ended. mpirun ends the
// surviving ranks with SIGTERM without saying which rank died, so rank 0 looks for the dead one among
// the ranks on its own machine (/proc: gone or a zombie); otherwise it names the ranks it was
// waiting for. The text is kept formatted in two buffers (the handler reads the one `current`
// names), so the handler only calls open/read/write.
char fault_tail[2][448];
char fault_awaited[2][96];
std::atomic<int> fault_current{-1};
std::int64_t local_pids[kMaxLocalRanks];
int local_ranks[kMaxLocalRanks];
std::atomic<int> local_count{0};
// Set once rank 0 has its own error to print: mpirun's SIGTERM then ends it without a second line.
std::atomic<bool> root_reported{false};

std::size_t append(char* buf, std::size_t pos, std::size_t cap, const char* text) {
  while (*text != '\0' && pos + 1 < cap) buf[pos++] = *text++;
  buf[pos] = '\0';
  return pos;
}
std::size_t append_number(char* buf, std::size_t pos, std::size_t cap, std::int64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < 23);
  while (n > 0 && pos + 1 < cap) buf[pos++] = digits[--n];
  buf[pos] = '\0';
  return pos;
}

// Whether a process of this machine has ended: no /proc entry, or a zombie not yet reaped.
bool process_ended(std::int64_t pid) {
  char path[48];
  std::size_t n = append(path, 0, sizeof path, "/proc/");
  n = append_number(path, n, sizeof path, pid);
  append(path, n, sizeof path, "/stat");
  const int fd = ::open(path, O_RDONLY);
  if (fd < 0) return true;
  char stat[256];
  const ssize_t got = ::read(fd, stat, sizeof stat - 1);
  ::close(fd);
  if (got <= 0) return true;
  stat[got] = '\0';
  const char* paren = std::strrchr(stat, ')');  // the state follows the command name in parentheses
  return paren != nullptr && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

extern "C" void on_terminate(int) {
  if (root_reported.load()) _exit(1);
  const int c = fault_current.load();
  char line[640];
  std::size_t n = append(line, 0, sizeof line, "fool: error: ");
  int dead = -1;
  for (int i = 0; i < local_count.load() && dead < 0; ++i)
    if (process_ended(local_pids[i])) dead = local_ranks[i];
  if (dead >= 0) {
    n = append(line, n, sizeof line, "rank ");
    n = append_number(line, n, sizeof line, dead);
    n = append(line, n, sizeof line, " ended, so mpirun stopped the job");
  } else {
    n = append(line, n, sizeof line, "mpirun stopped the job because another process ended");
    if (c >= 0 && fault_awaited[c][0] != '\0') {
      n = append(line, n, sizeof line, " (rank ");
      n = append(line, n, sizeof line, fault_awaited[c]);
      n = append(line, n, sizeof line, " had not answered)");
    }
  }
  if (c >= 0) n = append(line, n, sizeof line, fault_tail[c]);
  n = append(line, n, sizeof line, "\n");
  const ssize_t ignored = ::write(2, line, n);
  (void)ignored;
  _exit(143);
}

// mpirun sends SIGTERM to every surviving rank at once; a worker lingers half a second so that
// rank 0, looking for the rank that died first, does not take a worker that merely obeyed mpirun.
extern "C" void on_terminate_worker(int) {
  struct timespec pause {
    0, 500000000
  };
  ::nanosleep(&pause, nullptr);
  _exit(143);
}

}  // namespace

void install_fault_handlers(bool root) { std::signal(SIGTERM, root ? on_terminate : on_terminate_worker); }

void set_fault_line(const std::string& tail, const std::string& awaited) {
  const int next = fault_current.load() == 0 ? 1 : 0;
  copy_text(fault_tail[next], sizeof fault_tail[next], tail);
  copy_text(fault_awaited[next], sizeof fault_awaited[next], awaited);
  fault_current.store(next);
}

void set_local_ranks(const std::vector<std::pair<std::int64_t, int>>& pid_rank) {
  int count = 0;
  for (const auto& [pid, rank] : pid_rank) {
    if (count >= kMaxLocalRanks) break;
    local_pids[count] = pid;
    local_ranks[count] = rank;
    ++count;
  }
  local_count.store(count);
}

void mark_root_reported() { root_reported.store(true); }

}  // namespace fool::parallel::internal
