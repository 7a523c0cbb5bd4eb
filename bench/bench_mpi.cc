// Evaluations per second of one generation's batch shared by the processes of an MPI job (run it
// under mpirun -np N, or plainly for one process), the bytes rank 0 sends and receives per generation,
// and the share of a generation's wall time that is not scoring (communication and waiting).
// Prints one JSON line from rank 0.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "fool/core/error.h"
#include "fool/model/classifier.h"
#include "fool/model/cropping_classifier.h"
#include "fool/model/factory.h"
#include "fool/parallel/mpi_world.h"

int main(int argc, char** argv) {
  auto& world = fool::parallel::MpiWorld::instance();
  world.init(&argc, &argv);
  CLI::App app{"bench_mpi"};
  std::string model;
  int images = 400, image_size = 0, crops = 1, threads = 1, rounds = 3;
  std::size_t eval_batch = 50;
  app.add_option("--model", model, "ONNX model (default: a LeNet trained on random digits)");
  app.add_option("--images", images, "images per generation (400)");
  app.add_option("--image-size", image_size, "side of the images (default: the model's input)");
  app.add_option("--crops", crops, "1 or 10");
  app.add_option("--eval-batch", eval_batch, "images per chunk (50)");
  app.add_option("--threads", threads, "threads per process (1)");
  app.add_option("--rounds", rounds, "generations timed (3; the median is reported)");
  CLI11_PARSE(app, argc, argv);
  int status = 0;
  try {
    fool::ClassifierOptions o;
    o.threads = threads;
    if (model.empty() && world.processes() > 1) throw fool::Error("under mpirun, give --model (every rank loads it)");
    const std::string path = fool::bench::lenet_model(model);
    std::shared_ptr<fool::Classifier> clf = fool::load_classifier(path, o);
    const fool::ImageShape input = clf->spec().input;
    const fool::ImageShape shape{input.channels, image_size > 0 ? image_size : input.height,
                                 image_size > 0 ? image_size : input.width};
    if (shape != input || crops != 1) clf = fool::make_cropping_classifier(clf, shape, crops);
    auto shared = world.share_classifier(clf, eval_batch, "bench");
    if (shared) {
      fool::ImageBatch batch(static_cast<std::size_t>(images), shape);
      fool::Rng rng(1);
      std::vector<std::uint8_t> px(shape.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        for (auto& p : px) p = static_cast<std::uint8_t>(rng.below(256));
        batch.set(i, px.data());
      }
      std::vector<double> secs, idle;
      fool::parallel::ExchangeStats last;
      for (int r = 0; r <= rounds; ++r) {
        const auto start = std::chrono::steady_clock::now();
        shared->probabilities(batch);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        last = world.last_exchange();
        if (r == 0) continue;  // warm-up
        secs.push_back(s);
        if (world.processes() > 1) idle.push_back((last.seconds - last.slowest_scoring_seconds) / last.seconds);
      }
      std::sort(secs.begin(), secs.end());
      std::sort(idle.begin(), idle.end());
      const double median = secs[secs.size() / 2];
      nlohmann::json j = {{"model", path},
                          {"processes", world.processes()},
                          {"threads_per_process", threads},
                          {"images", images},
                          {"image", shape.str()},
                          {"crops", crops},
                          {"eval_batch", eval_batch},
                          {"seconds_per_generation", median},
                          {"evals_per_second", images / median},
                          {"crop_evals_per_second", images * crops / median}};
      if (world.processes() > 1) {
        j["bytes_sent_per_generation"] = last.bytes_sent;
        j["bytes_received_per_generation"] = last.bytes_received;
        j["not_scoring_fraction"] = idle[idle.size() / 2];
      }
      std::printf("%s\n", j.dump().c_str());
    }
  } catch (const fool::parallel::QuietExit&) {
    status = 1;
  } catch (const std::exception& e) {
    const std::string line = world.fail(e.what());
    if (!line.empty()) std::fprintf(stderr, "bench_mpi: error: %s\n", line.c_str());
    status = 1;
  }
  world.finalize();
  return status;
}
