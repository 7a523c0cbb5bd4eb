#include "cli/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace fool::cli {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", std::floor(s));
  } else if (s < 3600) {
    const long m = static_cast<long>(s) / 60;
    std::snprintf(buf, sizeof buf, "%ldm%02lds", m, static_cast<long>(s) % 60);
  } else if (s < 1e9) {
    const long h = static_cast<long>(s) / 3600;
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", h, (static_cast<long>(s) % 3600) / 60);
  } else {
    return "?";
  }
  return buf;
}

std::string format_rate(double per_second) {
  char buf[32];
  std::snprintf(buf, sizeof buf, per_second >= 100 ? "%.0f" : "%.3g", per_second);
  return buf;
}

std::string progress_numbers(const ProgressEvent& e, double elapsed, double rate) {
  std::string out;
  char buf[128];
  if (e.total > 0) {
    std::snprintf(buf, sizeof buf, "%zu/%zu", e.done, e.total);
    out += buf;
  }
  if (e.evaluations_total > 0) {
    std::snprintf(buf, sizeof buf, " · %zu/%zu evals", e.evaluations, e.evaluations_total);
    out += buf;
  }
  if (rate > 0) {
    // The mean since this process started (the status line's rate is the last generation's).
    out += " · " + format_rate(rate) + " evals/s avg";
    if (e.crops > 1) out += " (" + format_rate(rate * e.crops) + " crops/s)";
  }
  out += " · " + format_duration(elapsed);
  if (rate > 0 && e.evaluations_total > e.evaluations) {
    out += " · ETA " + format_duration(static_cast<double>(e.evaluations_total - e.evaluations) / rate);
  } else if (e.evaluations_total == 0 && e.done * 10 >= e.total && e.total > e.done && elapsed > 0) {
    // Work that counts no evaluations (a training's batches): the time left at the mean pace so
    // far, once a tenth of it is done.
    out += " · ETA " + format_duration(elapsed * static_cast<double>(e.total - e.done) / static_cast<double>(e.done));
  }
  return out;
}

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

double ProgressBar::fraction() const {
  if (last_.evaluations_total > 0) {
    return std::min(1.0, static_cast<double>(last_.evaluations) / static_cast<double>(last_.evaluations_total));
  }
  const std::size_t total = last_.total == 0 ? 1 : last_.total;
  return std::min(1.0, static_cast<double>(last_.done) / static_cast<double>(total));
}

void ProgressBar::update(const ProgressEvent& e) {
  if (!enabled_ || finished_) return;
  if (!have_) {
    have_ = true;
    first_evaluations_ = e.evaluations;
  }
  // A phase event keeps the unit's status line and shows the phase after it; one without counts of
  // its own (re-scoring after the search) keeps the last counts too.
  if (!e.phase.empty() && e.total == 0 && e.evaluations_total == 0) {
    last_.phase = e.phase;
    last_.phase_done = e.phase_done;
    last_.phase_total = e.phase_total;
  } else {
    const std::string status = e.phase.empty() || !e.status.empty() ? e.status : last_.status;
    last_ = e;
    last_.status = status;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool new_phase = e.phase != last_phase_;
  last_phase_ = e.phase;
  if (tty_) {
    const bool at_end = e.phase.empty() && e.done >= e.total;  // the last unit is always drawn
    if (now - last_draw_ < std::chrono::milliseconds(100) && !at_end && !new_phase) return;
    last_draw_ = now;
    draw(false);
  } else {
    const int decile = static_cast<int>(10 * fraction());
    // A long phase starting is worth a line of its own (a generation's chunks are not).
    if (new_phase && !e.phase.empty() && e.phase != "generation") {
      draw(true);
      return;
    }
    if (decile == last_decile_ || !e.phase.empty()) return;
    last_decile_ = decile;
    draw(true);
  }
}

void ProgressBar::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  if (!have_) return;
  last_.phase.clear();
  if (tty_) {
    draw(false);
    std::fputc('\n', stderr);
  } else if (last_decile_ != 10 || static_cast<int>(10 * fraction()) != 10) {
    draw(true);
  }
  std::fflush(stderr);
}

void ProgressBar::draw(bool final_line) {
  constexpr int kWidth = 24;
  const double frac = fraction();
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::size_t counted = last_.evaluations >= first_evaluations_ ? last_.evaluations - first_evaluations_ : 0;
  const double rate = secs > 0 && counted > 0 ? static_cast<double>(counted) / secs : 0.0;
  std::string phase;
  if (!last_.phase.empty()) {
    phase = " · " + last_.phase;
    if (last_.phase_total > 0)
      phase += " " + std::to_string(last_.phase_done) + "/" + std::to_string(last_.phase_total);
  }
  const std::string numbers = progress_numbers(last_, secs, rate);
  std::fprintf(stderr, "%s%s [%s] %3d%% %s%s%s%s%s", tty_ ? "\r\033[2K" : "", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100.0), numbers.c_str(), phase.c_str(), last_.status.empty() ? "" : "  ",
               last_.status.c_str(), final_line ? "\n" : "");
  std::fflush(stderr);
}

void ProgressObserver::on_progress(const ProgressEvent& e) {
  if (!bar_ || e.task != task_) {
    finish();
    task_ = e.task;
    bar_ = std::make_unique<ProgressBar>(e.task, enabled_);
  }
  bar_->update(e);
}

void ProgressObserver::on_message(const std::string& line) {
  finish();
  std::fprintf(stderr, "%s%s\n", prefix_.c_str(), line.c_str());
}

void ProgressObserver::finish() {
  if (bar_) bar_->finish();
  bar_.reset();
  task_.clear();
}

}  // namespace fool::cli
