// The task farm: rank 0 hands independent tasks (trainings, evolution runs) to every process.
#include <mpi.h>

#include <atomic>
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

}  // namespace

void MpiWorld::run_tasks(const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done) {
  if (!active_ || size_ < 2) {
    Distribution::run_tasks(tasks, run, done);
    return;
  }
  // Rank 0 hands out tasks in order to whichever process is free, and runs tasks itself on a
  // thread of its own (only this thread talks MPI).
  std::exception_ptr failure;
  std::size_t next = 0;
  std::vector<long> busy(static_cast<std::size_t>(size_), -1);
  auto assign = [&](int r) {
    if (failure || next >= tasks.size()) return;
    send_bytes(pack(tasks[next].params, tasks[next].files), r, kTaskTag);
    busy[static_cast<std::size_t>(r)] = static_cast<long>(next++);
  };
  auto finish = [&](std::size_t index, TaskOutcome outcome) {
    if (failure) return;
    try {
      done(index, std::move(outcome));
    } catch (...) {
      failure = std::current_exception();
    }
  };
  struct Local {
    std::thread thread;
    std::atomic<bool> finished{false};
    long index = -1;
    TaskOutcome outcome;
    std::exception_ptr error;
  } local;
  auto start_local = [&] {
    if (failure || next >= tasks.size()) return;
    local.index = static_cast<long>(next++);
    local.finished = false;
    local.thread = std::thread([&local, &tasks, &run] {
      try {
        local.outcome = run(tasks[static_cast<std::size_t>(local.index)]);
      } catch (...) {
        local.error = std::current_exception();
      }
      local.finished = true;
    });
  };
  for (int r = 1; r < size_; ++r) assign(r);
  start_local();
  for (;;) {
    const bool remote = std::any_of(busy.begin(), busy.end(), [](long b) { return b >= 0; });
    if (!remote && local.index < 0) break;
    if (local.index >= 0 && local.finished) {
      local.thread.join();
      const auto index = static_cast<std::size_t>(local.index);
      local.index = -1;
      if (local.error) {
        if (!failure) failure = local.error;
        local.error = nullptr;
      } else {
        finish(index, std::move(local.outcome));
      }
      start_local();
      continue;
    }
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kOutcomeTag, MPI_COMM_WORLD, &flag, &status);
    if (!flag) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    int source = 0;
    const auto bytes = receive_bytes(status.MPI_SOURCE, kOutcomeTag, &source);
    const auto index = static_cast<std::size_t>(busy[static_cast<std::size_t>(source)]);
    busy[static_cast<std::size_t>(source)] = -1;
    TaskOutcome outcome;
    unpack(bytes, outcome.result, outcome.files);
    if (outcome.result.contains("error")) {
      if (!failure)
        failure = std::make_exception_ptr(
            Error("rank " + std::to_string(source) + ": " + outcome.result["error"].get<std::string>()));
    } else {
      finish(index, std::move(outcome));
    }
    assign(source);
  }
  if (failure) std::rethrow_exception(failure);
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
