#pragma once
// One timed round of a benchmark, in wall seconds and in CPU seconds of the whole process (every
// thread's user + system time), which on a shared machine depends far less on the other work.
// Header-only and free of fool's libraries (fool/core/cpu_clock.h is header-only too), so that
// bench_gemm (oneDNN alone) uses it too.
#include <chrono>
#include <cstddef>
#include <functional>

#include "fool/core/cpu_clock.h"

namespace fool::bench {

struct TimedRound {
  std::size_t calls = 0;
  double wall_seconds = 0.0;
  double cpu_seconds = 0.0;
};

// Calls `step` until `seconds` of wall time have passed (at least once).
inline TimedRound timed_round(const std::function<void()>& step, double seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = process_cpu_seconds();
  TimedRound r;
  while (r.wall_seconds < seconds || r.calls == 0) {
    step();
    ++r.calls;
    r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  r.cpu_seconds = process_cpu_seconds() - c0;
  return r;
}

}  // namespace fool::bench
