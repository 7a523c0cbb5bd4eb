#pragma once
// RunObserver: the one path for run events. Every long-running part of fool (evolution, gradient
// ascent, training, the experiments) reports through it; the log.jsonl writer, the progress bar
// and the experiments' step lines are observers of the same events.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace fool {

// One unit of work done: a generation, an ascent step, a training batch; or, with `phase` set,
// progress inside a long phase that has no unit of its own yet (loading the model, the images of
// the initial population or of a generation scored so far, re-scoring the saved images).
struct ProgressEvent {
  ProgressEvent() = default;
  ProgressEvent(std::string task_, std::size_t done_, std::size_t total_, std::string status_ = "",
                nlohmann::json record_ = nullptr)
      : task(std::move(task_)), done(done_), total(total_), status(std::move(status_)), record(std::move(record_)) {}
  std::string task;       // what progresses: "evolve", "ascend", "train ..."
  std::size_t done = 0;   // units finished so far
  std::size_t total = 0;  // units planned
  std::string status;     // a short status line for people
  nlohmann::json record;  // the structured record of this unit (one log.jsonl line), or null
  // Empty for a unit's event (the only ones with a record). Otherwise the phase under way: "load"
  // (done 0 of 1 before, 1 of 1 after), "initial population" and "generation" (images of the current
  // generation scored so far), "re-score" (saved images scored again).
  std::string phase;
  // Network evaluations (images scored) so far and planned for the whole task, 0 if not counted;
  // the rate and time left are worked out from them. `crops`: network inputs per evaluation.
  std::size_t evaluations = 0;
  std::size_t evaluations_total = 0;
  int crops = 1;
  // Images scored in this phase so far and in all (phase events), e.g. 120 of 200 initial genomes.
  std::size_t phase_done = 0;
  std::size_t phase_total = 0;
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
