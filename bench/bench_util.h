#pragma once
// Shared pieces of the benchmarks: a LeNet ONNX file to measure on, and interleaved timing so
// that ratios come from the same minutes of the same machine.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "fool/core/rng.h"
#include "fool/train/train.h"

namespace fool::bench {

// The model to measure: the given path, or a LeNet trained for one epoch on random digits
// (same layers and cost as the paper's LeNet; its accuracy does not matter for speed).
inline std::string lenet_model(const std::string& given) {
  if (!given.empty()) return given;
  const auto path = std::filesystem::temp_directory_path() / "fool_bench_lenet.onnx";
  if (std::filesystem::exists(path)) return path.string();
  DatasetSplits d;
  d.train.shape = d.test.shape = {1, 28, 28};
  d.train.class_names = d.test.class_names = class_names_for("mnist");
  Rng rng(1);
  for (int i = 0; i < 128; ++i) {
    for (int p = 0; p < 784; ++p) d.train.images.push_back(static_cast<std::uint8_t>(rng.below(256)));
    d.train.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  TrainOptions o;
  o.epochs = 1;
  o.dataset_name = "random";
  train_classifier(d, o, path.string());
  return path.string();
}

// Calls of fn per second, measured over at least min_seconds.
inline double rate(const std::function<void()>& fn, double min_seconds) {
  using clock = std::chrono::steady_clock;
  fn();  // warm-up
  std::size_t calls = 0;
  const auto start = clock::now();
  double elapsed = 0.0;
  while (elapsed < min_seconds) {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  }
  return static_cast<double>(calls) / elapsed;
}

// Runs each measurement `rounds` times, interleaved, and returns each one's median rate.
inline std::vector<double> interleaved_medians(const std::vector<std::function<double()>>& measures, int rounds) {
  std::vector<std::vector<double>> samples(measures.size());
  for (int r = 0; r < rounds; ++r)
    for (std::size_t m = 0; m < measures.size(); ++m) samples[m].push_back(measures[m]());
  std::vector<double> medians;
  for (auto& s : samples) {
    std::sort(s.begin(), s.end());
    medians.push_back(s[s.size() / 2]);
  }
  return medians;
}

}  // namespace fool::bench
