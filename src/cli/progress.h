#pragma once
// ProgressBar: a one-line progress display on stderr for long work. On a terminal it redraws
// in place (at most ten times a second); otherwise it prints a line at every tenth of the work.
#include <chrono>
#include <cstddef>
#include <string>

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

}  // namespace fool::cli
