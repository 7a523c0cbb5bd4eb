#pragma once
// ProgressBar: a one-line progress display on stderr for long work. On a terminal it redraws
// in place (at most ten times a second); otherwise it prints a line at every tenth of the work.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "fool/core/run_events.h"

namespace fool::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total, bool enabled = true);
  void update(std::size_t done, const std::string& status = "");
  void finish(const std::string& status = "");

 private:
  void draw(std::size_t done, const std::string& status, bool final_line);
  std::string label_;
  std::size_t total_;
  bool enabled_;
  bool tty_;
  int last_decile_ = -1;
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
  std::string task_, last_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace fool::cli
