// One backend of fool (or OpenCV DNN's bare forward) on one ONNX model at one batch size:
// prints images per second (wall and CPU time) and the process's peak resident memory as one JSON line. Run once per
// backend (bench/bench_runtime.py does, next to PyTorch eager) so that each peak RSS is its own.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>

#include "bench_timing.h"
#include "bench_util.h"
#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/model/opencv/opencv_classifier.h"

// VmHWM of this process: its own peak (getrusage's ru_maxrss survives exec, so a child started by a
// large parent would report the parent's).
double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1.0;
}

int main(int argc, char** argv) {
  CLI::App app{"bench_runtime: images/s and peak RSS of one backend on one model"};
  std::string model, backend = "torch";
  double seconds = 2.0;
  int batch = 10, threads = 2, rounds = 3;
  app.add_option("--model", model, "ONNX model")->required();
  app.add_option(
         "--backend", backend,
         "a registered backend (torch, opencv, onednn), torch-grad (input gradients) or bare (OpenCV DNN forward)")
      ->check(CLI::IsMember([] {
        std::vector<std::string> names = {"torch-grad", "bare"};
        for (const auto& n : fool::names_of(fool::backend_names()))
          if (n != "auto") names.push_back(n);
        return names;
      }()));
  app.add_option("--batch", batch, "images per call");
  app.add_option("--threads", threads, "backend threads");
  app.add_option("--seconds", seconds, "minimum seconds per measurement");
  app.add_option("--rounds", rounds, "measurements (the median is reported)");
  std::string compare;
  app.add_option("--compare", compare,
                 "instead of timing: PREFIX.input.f32 (N x C x H x W) through the backend against PREFIX.probs.f32; "
                 "prints the largest absolute difference");
  CLI11_PARSE(app, argc, argv);
  try {
    fool::ClassifierOptions o;
    o.threads = threads;
    o.backend = backend == "torch" || backend == "torch-grad" ? fool::Backend("torch")
                : backend == "bare"                           ? fool::Backend("opencv")
                                                              : fool::parse_backend(backend);
    std::unique_ptr<fool::Classifier> c;
    if (o.backend == fool::Backend("torch"))
      c = fool::load_differentiable_classifier(model, o);
    else
      c = fool::load_classifier(model, o);
    const fool::ImageShape shape = c->spec().input;
    if (!compare.empty()) {
      auto read = [](const std::string& path) {
        const auto bytes = fool::read_file(path);
        std::vector<float> v(bytes.size() / sizeof(float));
        std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
        return v;
      };
      const auto input = read(compare + ".input.f32"), want = read(compare + ".probs.f32");
      const std::size_t n = input.size() / shape.size();
      fool::ImageBatch b(n, shape);
      std::copy(input.begin(), input.end(), b.data());
      const fool::Matrix p = c->probabilities(b);
      if (p.rows() * p.cols() != want.size()) throw fool::Error("probabilities of another shape than " + compare);
      double diff = 0.0, top = 0.0;
      for (std::size_t i = 0; i < want.size(); ++i) diff = std::max(diff, std::abs(double(p.data()[i]) - want[i]));
      for (std::size_t r = 0; r < p.rows(); ++r) {
        float m = 0;
        for (std::size_t k = 0; k < p.cols(); ++k) m = std::max(m, want[r * p.cols() + k]);
        top += m / static_cast<double>(p.rows());
      }
      std::printf("{\"backend\": \"%s\", \"max_abs_diff\": %.3g, \"mean_top_probability\": %.3f}\n", backend.c_str(),
                  diff, top);
      return diff <= 1e-4 ? 0 : 3;
    }
    fool::ImageBatch images(static_cast<std::size_t>(batch), shape);
    fool::Rng rng(7);
    for (std::size_t i = 0; i < images.size() * shape.size(); ++i) images.data()[i] = static_cast<float>(rng.uniform());
    std::function<void()> step;
    std::unique_ptr<fool::BareOpenCvNet> bare;
    std::vector<float> blob;
    std::vector<int> targets(static_cast<std::size_t>(batch));
    for (int i = 0; i < batch; ++i) targets[static_cast<std::size_t>(i)] = i % c->spec().num_classes;
    fool::ImageBatch grads;
    if (backend == "bare") {
      bare = std::make_unique<fool::BareOpenCvNet>(model);
      blob.resize(images.size() * shape.size());
      for (std::size_t i = 0; i < images.size(); ++i)
        fool::preprocess_image(c->spec().preprocessing, shape, images.image(i), blob.data() + i * shape.size());
      step = [&] { bare->forward(blob.data(), batch, shape); };
    } else if (backend == "torch-grad") {
      auto* d = dynamic_cast<fool::DifferentiableClassifier*>(c.get());
      step = [&, d] { d->probabilities_and_gradients(images, targets, &grads); };
    } else {
      step = [&] { c->probabilities(images); };
    }
    // Per round: images per wall second, and per CPU second of the whole process (every thread's
    // user + system time), which on a shared machine depends far less on the other work.
    std::vector<double> rates, cpu_rates;
    step();  // warm-up
    for (int r = 0; r < rounds; ++r) {
      const fool::bench::TimedRound t = fool::bench::timed_round(step, seconds);
      const double images = static_cast<double>(t.calls) * batch;
      rates.push_back(images / t.wall_seconds);
      cpu_rates.push_back(images / std::max(t.cpu_seconds, 1e-9));
    }
    std::sort(rates.begin(), rates.end());
    std::sort(cpu_rates.begin(), cpu_rates.end());
    std::printf("{\"backend\": \"%s\", \"images_per_s\": %.3f, \"images_per_cpu_s\": %.3f, \"peak_rss_mb\": %.1f}\n",
                backend.c_str(), rates[rates.size() / 2], cpu_rates[cpu_rates.size() / 2], peak_rss_mb());
  } catch (const std::exception& e) {  // fool::Error, or OpenCV's own from the bare path
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    for (char& ch : what)
      if (ch == '"' || ch == '\\') ch = '\'';
    std::printf("{\"backend\": \"%s\", \"error\": \"%s\"}\n", backend.c_str(), what.c_str());
    return 1;
  }
  return 0;
}
