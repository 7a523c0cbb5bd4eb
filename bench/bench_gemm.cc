// The machine's measured fp32 peak: oneDNN's single-precision matrix multiply (the library's best
// kernel for the CPU: avx512_core brgemm here) on large square matrices, FLOP/s per wall second and
// per CPU second of the process, for each thread count. docs/results.md divides each engine's
// FLOP/s on a network (bench_vs_ort.py: images/s x the model's FLOPs per image) by it.
//   bench_gemm --size 2048 --threads 1,2 --seconds 3 --rounds 3
#include <dlfcn.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <dnnl.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_timing.h"

namespace {

// OpenMP's thread count for oneDNN (found at run time, as the onednn backend does).
void set_threads(int n) {
  static const auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set) set(n);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_gemm: oneDNN fp32 matrix multiply GFLOP/s on n x n matrices (the measured fp32 peak)"};
  int size = 2048, rounds = 3;
  double seconds = 3.0;
  std::string threads = "1,2";
  app.add_option("--size", size, "n: an n x n by n x n product")->check(CLI::Range(64, 16384));
  app.add_option("--threads", threads, "comma-separated thread counts");
  app.add_option("--seconds", seconds, "minimum seconds per measurement");
  app.add_option("--rounds", rounds, "measurements per thread count (the best is reported)")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  try {
    std::vector<int> counts;
    std::stringstream ss(threads);
    for (std::string t; std::getline(ss, t, ',');) counts.push_back(std::stoi(t));
    using dnnl::memory;
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    const memory::dim n = size;
    const memory::desc md({n, n}, memory::data_type::f32, memory::format_tag::ab);
    memory a(md, eng), b(md, eng), c(md, eng);
    for (auto* m : {&a, &b}) {
      float* p = static_cast<float*>(m->get_data_handle());
      for (memory::dim i = 0; i < n * n; ++i) p[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
    }
    const double flop = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
    for (int t : counts) {
      set_threads(t);  // before the primitive is made: oneDNN sizes its work split then
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(md, md, md), eng);
      const dnnl::matmul mm(pd);
      auto step = [&] {
        mm.execute(strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
        strm.wait();
      };
      step();  // warm-up
      double best = 0.0, best_cpu = 0.0;
      for (int r = 0; r < rounds; ++r) {
        const fool::bench::TimedRound t = fool::bench::timed_round(step, seconds);
        best = std::max(best, flop * static_cast<double>(t.calls) / t.wall_seconds);
        best_cpu = std::max(best_cpu, flop * static_cast<double>(t.calls) / t.cpu_seconds);
      }
      std::printf(
          "{\"threads\": %d, \"size\": %d, \"gflop_per_s\": %.1f, \"gflop_per_cpu_s\": %.1f, \"impl\": \"%s\"}\n", t,
          size, best * 1e-9, best_cpu * 1e-9, pd.impl_info_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gemm: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
