#pragma once
// ProgressBar: a one-line progress display on stderr for long work. On a terminal it redraws
// in place (at most ten times a second); otherwise it prints a line at every tenth of the work and
// one when a long phase starts (loading, the initial population, re-scoring).
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "fool/core/run_events.h"

namespace fool::cli {

// "45s", "3m07s", "2h05m": a duration for a progress line (negative or not finite: "?").
std::string format_duration(double seconds);

// "2097", "85.3", "0.412": a rate for a progress line.
std::string format_rate(double per_second);

// The progress line's numbers after the bar: "3/200 · 1200/40200 evals · 85.3 evals/s avg (853
// crops/s) · 12s · ETA 7m50s". `rate` is evaluations per second (0: not known yet).
std::string progress_numbers(const ProgressEvent& e, double elapsed, double rate);

class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled = true);
  void update(const ProgressEvent& e);
  void finish();

 private:
  void draw(bool final_line);
  double fraction() const;
  std::string label_;
  bool enabled_;
  bool tty_;
  int last_decile_ = -1;
  std::string last_phase_;
  ProgressEvent last_;
  bool have_ = false;
  // Evaluations at the first event and when it came: the rate counts only this process's work
  // (a resumed run starts with the earlier runs' evaluations).
  std::size_t first_evaluations_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool finished_ = false;
};

// The command line's observer of run events: a progress bar for each task's progress events (made
// on the first one, finished when the task ends) and message lines on stderr with a prefix.
class ProgressObserver : public RunObserver {
 public:
  ProgressObserver(bool enabled, std::string message_prefix = "fool: ")
      : enabled_(enabled), prefix_(std::move(message_prefix)) {}
  ~ProgressObserver() override { finish(); }
  void on_progress(const ProgressEvent& e) override;
  void on_message(const std::string& line) override;
  void on_info(const std::string& line) override {
    if (enabled_) on_message(line);
  }
  void on_finish(const std::string& task, const std::string& status) override { finish(); }
  // Ends the current bar with the last status it showed.
  void finish();

 private:
  bool enabled_;
  std::string prefix_;
  std::string task_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace fool::cli
