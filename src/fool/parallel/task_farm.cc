// The task farm: rank 0 hands independent tasks (trainings, evolution runs) to every process.
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <thread>

#include "fool/parallel/mpi_internal.h"
#include "fool/parallel/mpi_world.h"

namespace fool::parallel {

namespace {

constexpr int kTaskTag = 21, kOutcomeTag = 22;

// Tasks and outcomes travel as MessagePack with the files as binary values.
std::vector<std::uint8_t> pack(const nlohmann::json& head, const FileMap& files) {
  nlohmann::json j = {{"head", head}, {"files", nlohmann::json::object()}};
  for (const auto& [name, bytes] : files) j["files"][name] = nlohmann::json::binary(bytes);
  return nlohmann::json::to_msgpack(j);
}
void unpack(const std::vector<std::uint8_t>& bytes, nlohmann::json& head, FileMap& files) {
  const nlohmann::json j = nlohmann::json::from_msgpack(bytes);
  head = j.at("head");
  for (const auto& [name, value] : j.at("files").items()) files[name] = value.get_binary();
}
void send_bytes(const std::vector<std::uint8_t>& bytes, int to, int tag) {
  MPI_Send(bytes.data(), internal::checked_count(bytes.size(), "bytes"), MPI_BYTE, to, tag, MPI_COMM_WORLD);
}
std::vector<std::uint8_t> receive_bytes(int from, int tag, int* source) {
  MPI_Status status;
  MPI_Probe(from, tag, MPI_COMM_WORLD, &status);
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(count));
  MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (source != nullptr) *source = status.MPI_SOURCE;
  return bytes;
}

// Rank 0's side of run_tasks: hands out tasks in order to whichever process is free, and runs tasks
// itself on a thread of its own (only the calling thread talks MPI). The first failure (a task's,
// `done`'s, or a rank's) stops handing out tasks; run() rethrows it once every busy process is back.
class TaskFarm {
 public:
  TaskFarm(int processes, const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done)
      : tasks_(tasks), run_(run), done_(done), busy_(static_cast<std::size_t>(processes), -1) {}

  void run() {
    for (int r = 1; r < static_cast<int>(busy_.size()); ++r) assign(r);
    start_local();
    for (;;) {
      const bool remote = std::any_of(busy_.begin(), busy_.end(), [](long b) { return b >= 0; });
      if (!remote && local_.index < 0) break;
      if (local_.index >= 0 && local_.finished) {
        collect_local();
        continue;
      }
      if (!collect_remote()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void assign(int r) {
    if (failure_ || next_ >= tasks_.size()) return;
    send_bytes(pack(tasks_[next_].params, tasks_[next_].files), r, kTaskTag);
    busy_[static_cast<std::size_t>(r)] = static_cast<long>(next_++);
  }
  void finish(std::size_t index, TaskOutcome outcome) {
    if (failure_) return;
    try {
      done_(index, std::move(outcome));
    } catch (...) {
      failure_ = std::current_exception();
    }
  }
  void start_local() {
    if (failure_ || next_ >= tasks_.size()) return;
    local_.index = static_cast<long>(next_++);
    local_.finished = false;
    local_.thread = std::thread([this] {
      try {
        local_.outcome = run_(tasks_[static_cast<std::size_t>(local_.index)]);
      } catch (...) {
        local_.error = std::current_exception();
      }
      local_.finished = true;
    });
  }
  // Rank 0's own task has finished: records it and starts the next.
  void collect_local() {
    local_.thread.join();
    const auto index = static_cast<std::size_t>(local_.index);
    local_.index = -1;
    if (local_.error) {
      if (!failure_) failure_ = local_.error;
      local_.error = nullptr;
    } else {
      finish(index, std::move(local_.outcome));
    }
    start_local();
  }
  // Records an outcome another rank has sent, if one has arrived, and hands that rank the next
  // task; false if none has arrived.
  bool collect_remote() {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kOutcomeTag, MPI_COMM_WORLD, &flag, &status);
    if (!flag) return false;
    int source = 0;
    const auto bytes = receive_bytes(status.MPI_SOURCE, kOutcomeTag, &source);
    const auto index = static_cast<std::size_t>(busy_[static_cast<std::size_t>(source)]);
    busy_[static_cast<std::size_t>(source)] = -1;
    TaskOutcome outcome;
    unpack(bytes, outcome.result, outcome.files);
    if (outcome.result.contains("error")) {
      if (!failure_)
        failure_ = std::make_exception_ptr(
            Error("rank " + std::to_string(source) + ": " + outcome.result["error"].get<std::string>()));
    } else {
      finish(index, std::move(outcome));
    }
    assign(source);
    return true;
  }

  const std::vector<Task>& tasks_;
  const TaskRunner& run_;
  const TaskDone& done_;
  std::exception_ptr failure_;
  std::size_t next_ = 0;
  std::vector<long> busy_;  // per rank: the task it runs (-1: none; rank 0's own is local_)
  struct Local {
    std::thread thread;
    std::atomic<bool> finished{false};
    long index = -1;
    TaskOutcome outcome;
    std::exception_ptr error;
  } local_;
};

}  // namespace

void MpiWorld::run_tasks(const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done) {
  if (!active_ || size_ < 2) {
    Distribution::run_tasks(tasks, run, done);
    return;
  }
  TaskFarm(size_, tasks, run, done).run();
}

void MpiWorld::serve_tasks(const TaskRunner& run) {
  if (!active_ || size_ < 2) return;
  for (;;) {
    internal::wait_for(0, kTaskTag);
    Task task;
    unpack(receive_bytes(0, kTaskTag, nullptr), task.params, task.files);
    if (task.params.value("stop", false)) {
      if (task.params.value("failed", false)) throw QuietExit();
      return;
    }
    TaskOutcome outcome;
    try {
      outcome = run(task);
    } catch (const std::exception& e) {
      std::string message = e.what();
      outcome = TaskOutcome{{{"error", message.substr(0, message.find('\n'))}}, {}};
    }
    send_bytes(pack(outcome.result, outcome.files), 0, kOutcomeTag);
  }
}

void MpiWorld::end_tasks(bool failed) {
  if (!active_ || size_ < 2 || rank_ != 0) return;
  const auto stop = pack({{"stop", true}, {"failed", failed}}, {});
  for (int r = 1; r < size_; ++r) send_bytes(stop, r, kTaskTag);
}

}  // namespace fool::parallel
