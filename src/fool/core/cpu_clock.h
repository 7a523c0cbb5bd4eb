#pragma once
// CPU time of the whole process (every thread's user + system time), in seconds: on a shared
// machine it depends far less on the other work than wall time does. Header-only, so that
// benchmarks free of fool's libraries (bench_gemm) use it too.
#include <ctime>

namespace fool {

inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace fool
