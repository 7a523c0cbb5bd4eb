// Evaluations per second of fool's classifiers against OpenCV DNN's bare forward pass on the same
// ONNX file, at batch 1, 64 and 400, measured interleaved in one run; prints the ratios.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench_util.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/model/opencv/opencv_classifier.h"

int main(int argc, char** argv) {
  CLI::App app{"bench_classifier: fool's Classifier backends vs OpenCV DNN's bare forward()"};
  std::string model;
  double seconds = 0.5;
  int rounds = 5, threads = 0;
  app.add_option("--model", model, "ONNX model (default: a LeNet made for the benchmark)");
  app.add_option("--seconds", seconds, "minimum seconds per measurement");
  app.add_option("--rounds", rounds, "interleaved rounds (the median is reported)");
  app.add_option("--threads", threads, "backend threads (0: default)");
  CLI11_PARSE(app, argc, argv);

  model = fool::bench::lenet_model(model);
  fool::ClassifierOptions o;
  o.backend = fool::Backend("opencv");
  o.threads = threads;
  auto cv = fool::load_classifier(model, o);
  o.backend = fool::Backend("torch");
  auto th = fool::load_classifier(model, o);
  fool::BareOpenCvNet bare(model);
  const fool::ImageShape shape = cv->spec().input;

  std::printf("model: %s (%s)\n", model.c_str(), shape.str().c_str());
  std::printf("%6s %16s %16s %8s %16s %8s\n", "batch", "bare forward/s", "fool opencv/s", "ratio", "fool torch/s",
              "ratio");
  double ratio400 = 0.0;
  for (int batch : {1, 64, 400}) {
    fool::ImageBatch images(static_cast<std::size_t>(batch), shape);
    fool::Rng rng(batch);
    for (std::size_t i = 0; i < images.size() * shape.size(); ++i) images.data()[i] = static_cast<float>(rng.uniform());
    // The bare path gets the model input ready-made: preprocessing is part of what fool's path costs.
    std::vector<float> blob(images.size() * shape.size());
    for (std::size_t i = 0; i < images.size(); ++i)
      fool::preprocess_image(cv->spec().preprocessing, shape, images.image(i), blob.data() + i * shape.size());
    const auto m = fool::bench::interleaved_medians(
        {[&] { return batch * fool::bench::rate([&] { bare.forward(blob.data(), batch, shape); }, seconds); },
         [&] { return batch * fool::bench::rate([&] { cv->probabilities(images); }, seconds); },
         [&] { return batch * fool::bench::rate([&] { th->probabilities(images); }, seconds); }},
        rounds);
    std::printf("%6d %16.0f %16.0f %7.3fx %16.0f %7.3fx\n", batch, m[0], m[1], m[1] / m[0], m[2], m[2] / m[0]);
    if (batch == 400) ratio400 = m[1] / m[0];
  }
  std::printf("evolution backend (opencv) at batch 400: %.3fx the bare forward rate (goal >= 0.9): %s\n", ratio400,
              ratio400 >= 0.9 ? "met" : "NOT met");
  return 0;
}
