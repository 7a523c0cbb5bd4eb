// Size and time of an evolution checkpoint holding one distinct direct genome per class: the
// binary genome file of today next to the base64 JSON genomes checkpoints held before (both written
// here from the same archive). Default: 1000 classes at 256x256x3, the paper's ImageNet direct run.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fool/encoding/direct_encoding.h"
#include "fool/io/files.h"
#include "fool/output/run_directory.h"
#include "fool/search/evolution.h"
#include "fool/testing/test_support.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"bench_checkpoint"};
  int classes = 1000, size = 256;
  std::string dir = (fs::temp_directory_path() / "fool_bench_checkpoint").string();
  app.add_option("--classes", classes);
  app.add_option("--size", size);
  app.add_option("--dir", dir);
  CLI11_PARSE(app, argc, argv);
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };

  const fool::ImageShape shape{3, size, size};
  fool::DirectOptions o;
  o.shape = shape;
  fool::DirectEncoding encoding(o);
  fool::testing::FakeClassifier model(shape, classes);
  fool::EvolutionConfig config;
  config.checkpoint_every = 0;
  fool::Evolution evolution(encoding, model, config);
  fool::EliteArchive archive(evolution.config().classes);
  fool::Rng rng(1);
  for (std::size_t c = 0; c < archive.cells(); ++c) {
    fool::Elite e;
    e.genome = encoding.random(rng);
    e.fitness = 0.5f;
    e.generation = 0;
    archive.restore(c, e, {-1, -1});
  }
  evolution.restore(1, archive.cells(), 0.0, archive);

  fs::remove_all(dir);
  fool::prepare_run_directory(dir, false);
  auto t = clock::now();
  fool::write_checkpoint(dir, evolution, nlohmann::json{{"encoding", "direct"}});
  const double write_binary = since(t);
  std::size_t binary_bytes = 0;
  for (const auto& e : fs::directory_iterator(dir)) binary_bytes += fs::file_size(e.path());

  // The JSON genomes of earlier checkpoints, written the way they were (one dump, atomically).
  t = clock::now();
  nlohmann::json cells = nlohmann::json::array();
  for (std::size_t c = 0; c < archive.cells(); ++c)
    cells.push_back({{"genome", encoding.to_json(*archive.elite(c).genome)}});
  const std::string text = nlohmann::json{{"cells", cells}}.dump() + "\n";
  fool::write_file_atomic(dir + "/old-checkpoint.json", text);
  const double write_json = since(t);

  fool::Evolution again(encoding, model, config);
  t = clock::now();
  fool::resume_from_checkpoint(dir, again, nlohmann::json{{"encoding", "direct"}});
  const double read_binary = since(t);
  t = clock::now();
  const auto parsed = fool::read_json_file(dir + "/old-checkpoint.json");
  for (const auto& cell : parsed["cells"]) encoding.from_json(cell["genome"]);
  const double read_json = since(t);
  std::printf("%s\n", nlohmann::json{{"classes", classes},
                                     {"genome", shape.str()},
                                     {"binary_checkpoint_bytes", binary_bytes},
                                     {"json_base64_checkpoint_bytes", text.size()},
                                     {"binary_write_seconds", write_binary},
                                     {"json_write_seconds", write_json},
                                     {"binary_resume_seconds", read_binary},
                                     {"json_read_and_decode_seconds", read_json}}
                          .dump()
                          .c_str());
  fs::remove_all(dir);
  return 0;
}
