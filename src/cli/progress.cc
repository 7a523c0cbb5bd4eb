#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace fool::cli {

ProgressBar::ProgressBar(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)),
      total_(total == 0 ? 1 : total),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

void ProgressBar::update(std::size_t done, const std::string& status) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    draw(done, status, false);
  } else {
    const int decile = static_cast<int>(10 * done / total_);
    if (decile == last_decile_) return;
    last_decile_ = decile;
    draw(done, status, true);
  }
}

void ProgressBar::finish(const std::string& status) {
  if (!enabled_ || finished_) return;
  finished_ = true;
  if (tty_) {
    draw(total_, status, false);
    std::fputc('\n', stderr);
  } else if (last_decile_ != 10) {
    draw(total_, status, true);
  }
  std::fflush(stderr);
}

void ProgressBar::draw(std::size_t done, const std::string& status, bool final_line) {
  constexpr int kWidth = 28;
  const double frac = static_cast<double>(done) / static_cast<double>(total_);
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%s%s [%s] %3d%% %zu/%zu %.1fs %s%s", tty_ ? "\r\033[2K" : "", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100.0), done, total_, secs, status.c_str(), final_line ? "\n" : "");
  std::fflush(stderr);
}

void ProgressObserver::on_progress(const ProgressEvent& e) {
  if (!bar_ || e.task != task_) {
    finish();
    task_ = e.task;
    bar_ = std::make_unique<ProgressBar>(e.task, e.total, enabled_);
  }
  bar_->update(e.done, e.status);
  last_ = e.status;
}

void ProgressObserver::on_message(const std::string& line) {
  finish();
  std::fprintf(stderr, "%s%s\n", prefix_.c_str(), line.c_str());
}

void ProgressObserver::finish() {
  if (bar_) bar_->finish(last_);
  bar_.reset();
  task_.clear();
  last_.clear();
}

}  // namespace fool::cli
