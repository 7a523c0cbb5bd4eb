// checkpoint.json as `fool evolve --resume` reads it, for a run of a 10-class 28x28 gray model
// (a fake classifier) with either encoding: every cell, genome and count is checked before use.
#include <nlohmann/json.hpp>

#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/output/run_directory.h"
#include "fool/testing/test_support.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fool;
  const std::filesystem::path dir = fuzz::scratch() / "run";
  std::filesystem::create_directories(dir);
  fuzz::write_input("run/checkpoint.json", data, size);
  // The settings resume compares against: the file's own when it has them (so the fuzzer reaches
  // the cells), else the seed run's.
  const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  nlohmann::json settings = {{"seed", 1}, {"generations", 2}};
  if (!j.is_discarded() && j.is_object() && j.contains("settings") && j["settings"].is_object())
    settings = j["settings"];
  static testing::FakeClassifier clf({1, 28, 28}, 10);
  EvolutionConfig config;
  config.generations = 2;
  config.offspring = 10;
  config.init = 10;
  static const DirectEncoding direct{DirectOptions{}};
  static const CppnEncoding cppn{CppnOptions{}};
  for (const Encoding* enc : {static_cast<const Encoding*>(&direct), static_cast<const Encoding*>(&cppn)}) {
    try {
      Evolution e(*enc, clf, config);
      resume_from_checkpoint(dir.string(), e, settings);
      if (e.next_generation() <= config.generations) e.step();
    } catch (const Error& err) {
      fuzz::expect_one_line(err);
    }
  }
  return 0;
}
