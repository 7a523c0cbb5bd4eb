#pragma once
// RunObserver: the one path for run events. Every long-running part of fool (evolution, gradient
// ascent, training, the experiments) reports through it; the log.jsonl writer, the progress bar
// and the experiments' step lines are observers of the same events.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fool {

// One unit of work done: a generation, an ascent step, a training batch.
struct ProgressEvent {
  std::string task;       // what progresses: "evolve", "ascend", "train ..."
  std::size_t done = 0;   // units finished so far
  std::size_t total = 0;  // units planned
  std::string status;     // a short status line for people
  nlohmann::json record;  // the structured record of this unit (one log.jsonl line), or null
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void on_progress(const ProgressEvent&) {}
  // A line for people: an experiment's step, a class stopped by NaNs.
  virtual void on_message(const std::string&) {}
  // A line for people that is only worth showing with the progress (e.g. which backend runs the
  // model): hidden where progress is (--quiet, MPI ranks other than 0).
  virtual void on_info(const std::string&) {}
  // The task ended (completed or interrupted); `status` is its last status line.
  virtual void on_finish(const std::string& task, const std::string& status) {}
};

// The observers of one run, each told every event in order.
class RunEvents {
 public:
  RunEvents() = default;
  explicit RunEvents(std::vector<RunObserver*> observers) : observers_(std::move(observers)) {}
  // These observers and one more.
  RunEvents with(RunObserver* extra) const {
    RunEvents out(observers_);
    out.observers_.push_back(extra);
    return out;
  }
  void progress(const ProgressEvent& e) const {
    for (auto* o : observers_) o->on_progress(e);
  }
  void message(const std::string& line) const {
    for (auto* o : observers_) o->on_message(line);
  }
  void info(const std::string& line) const {
    for (auto* o : observers_) o->on_info(line);
  }
  void finish(const std::string& task, const std::string& status) const {
    for (auto* o : observers_) o->on_finish(task, status);
  }

 private:
  std::vector<RunObserver*> observers_;
};

}  // namespace fool
