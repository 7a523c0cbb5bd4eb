// How much the search itself costs next to the network: whole MAP-Elites runs (mutation, rendering,
// archive, scoring) against the bare OpenCV DNN forward passes they needed (the same number of
// batches of the same size on the same model), interleaved in one run. Also the render time of
// 256x256 colour CPPN images next to the 10-crop forward time of an ImageNet-sized network.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "bench_util.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/model/cropping_classifier.h"
#include "fool/model/factory.h"
#include "fool/model/opencv/opencv_classifier.h"
#include "fool/search/evolution.h"

namespace {

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_evolution: evolution time against the bare forward passes it needs"};
  std::string model, imagenet_model = std::string(FOOL_FIXTURES_DIR) + "/squeezenet1_1_random.onnx";
  int generations = 20, offspring = 400, rounds = 11, threads = 2;
  app.add_option("--model", model, "MNIST-sized ONNX model (default: a LeNet made for the benchmark)");
  app.add_option("--imagenet-model", imagenet_model, "ImageNet-sized ONNX model for the render/forward comparison");
  app.add_option("--generations", generations, "generations per measured run");
  app.add_option("--offspring", offspring, "offspring per generation (and initial population)");
  app.add_option("--rounds", rounds, "paired rounds (evolution, then its bare passes); the median ratio is reported");
  app.add_option("--threads", threads, "threads");
  CLI11_PARSE(app, argc, argv);

  model = fool::bench::lenet_model(model);
  fool::ClassifierOptions o;
  o.backend = fool::Backend("opencv");  // next to the bare OpenCV net
  o.threads = threads;
  auto clf = fool::load_classifier(model, o);
  fool::BareOpenCvNet bare(model);
  const fool::ImageShape shape = clf->spec().input;
  std::vector<float> blob(static_cast<std::size_t>(offspring) * shape.size());
  fool::Rng rng(1);
  for (auto& v : blob) v = static_cast<float>(rng.uniform());

  std::printf("model: %s, %d generations x %d offspring, %d threads\n", model.c_str(), generations, offspring, threads);
  std::printf("%-8s %14s %14s %8s %10s\n", "encoding", "evolution s", "bare fwd s", "ratio", "goal");
  fool::DirectEncoding direct(fool::DirectOptions{});
  fool::CppnEncoding cppn(fool::CppnOptions{});
  for (const fool::Encoding* enc :
       {static_cast<const fool::Encoding*>(&direct), static_cast<const fool::Encoding*>(&cppn)}) {
    fool::EvolutionConfig c;
    c.generations = generations;
    c.offspring = offspring;
    c.init = offspring;
    c.threads = threads;
    c.checkpoint_every = 0;
    // Each round times a whole run and, right after it, the bare passes it needed; pairing the two
    // keeps the ratio steady while the shared machine's speed drifts.
    std::vector<double> evo, fwd, ratio;
    for (int r = 0; r < rounds; ++r) {
      evo.push_back(seconds_of([&] {
        fool::Evolution e(*enc, *clf, c);
        e.run({});
      }));
      fwd.push_back(seconds_of([&] {
        for (int g = 0; g <= generations; ++g) bare.forward(blob.data(), offspring, shape);
      }));
      ratio.push_back(evo.back() / fwd.back());
    }
    for (auto* v : {&evo, &fwd, &ratio}) std::sort(v->begin(), v->end());
    const double median_ratio = ratio[ratio.size() / 2];
    const double goal = enc->name() == "direct" ? 1.15 : 1.3;
    std::printf("%-8s %14.3f %14.3f %7.3fx %9s %s\n", enc->name().c_str(), evo[evo.size() / 2], fwd[fwd.size() / 2],
                median_ratio, ("<= " + std::to_string(goal).substr(0, 4) + "x").c_str(),
                median_ratio <= goal ? "met" : "NOT met");
    std::printf("%-8s %14.0f evaluations/s; ratio range over rounds %.3f..%.3f\n", "",
                (generations + 1.0) * offspring / evo[evo.size() / 2], ratio.front(), ratio.back());
    // Where the time goes, phase by phase, over one more run.
    fool::Evolution e(*enc, *clf, c);
    double ask = 0, render = 0, score = 0, tell = 0;
    for (int g = 0; g <= generations; ++g) {
      std::vector<fool::GenomePtr> genomes;
      fool::ImageBatch images;
      fool::Matrix p;
      ask += seconds_of([&] { genomes = e.ask(); });
      render += seconds_of([&] { images = e.render(genomes); });
      score += seconds_of([&] { p = clf->probabilities(images); });
      tell += seconds_of([&] { e.tell(genomes, p); });
    }
    std::printf("%-8s phases: ask (select+mutate) %.3f s, render %.3f s, score %.3f s, tell (archive) %.3f s\n", "",
                ask, render, score, tell);
  }

  // Colour CPPN at 256x256 against an ImageNet-sized network's 10-crop forward pass.
  if (std::filesystem::exists(imagenet_model)) {
    fool::CppnOptions big;
    big.shape = {3, 256, 256};
    fool::CppnEncoding enc(big);
    std::vector<fool::GenomePtr> genomes;
    for (int i = 0; i < 16; ++i) {
      fool::Rng r(static_cast<std::uint64_t>(100 + i));
      fool::GenomePtr g = enc.random(r);
      for (int k = 0; k < 50; ++k) g = enc.mutate(*g, r, k);  // a CPPN as it looks after 50 generations
      genomes.push_back(g);
    }
    std::size_t nodes = 0;
    for (const auto& g : genomes) nodes += static_cast<const fool::CppnGenome&>(*g).nodes.size();
    const double render = seconds_of([&] {
                            for (const auto& g : genomes) enc.render(*g);
                          }) /
                          static_cast<double>(genomes.size());
    std::shared_ptr<fool::Classifier> inner = fool::load_classifier(imagenet_model, o);
    auto crops = fool::make_cropping_classifier(inner, {3, 256, 256}, 10, 40);
    fool::ImageBatch images(4, {3, 256, 256});
    for (std::size_t i = 0; i < images.size() * images.shape().size(); ++i)
      images.data()[i] = static_cast<float>(rng.uniform());
    crops->probabilities(images);  // warm-up
    const double forward = seconds_of([&] { crops->probabilities(images); }) / 4.0;
    std::printf("\ncolour CPPN 256x256 (mean %.1f nodes after 50 mutations): render %.2f ms/image (1 thread)\n",
                static_cast<double>(nodes) / genomes.size(), render * 1e3);
    std::printf("%s with 10 crops of %s: forward %.1f ms/image; render/forward = %.3f\n",
                std::filesystem::path(imagenet_model).filename().c_str(), inner->spec().input.str().c_str(),
                forward * 1e3, render / forward);
  }
  return 0;
}
