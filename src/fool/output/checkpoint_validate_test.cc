// Damaged checkpoints: every number and reference in checkpoint.json is checked against the run
// resuming it, so a mutated file is refused with one line naming the key instead of resuming into
// another run.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/io/files.h"
#include "fool/output/run_directory.h"
#include "fool/search/evolution.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

EvolutionConfig config() {
  EvolutionConfig c;
  c.generations = 6;
  c.offspring = 10;
  c.init = 8;
  c.seed = 3;
  c.classes = {0, 1, 2, 3};
  c.checkpoint_every = 0;
  return c;
}

class CheckpointFile : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_checkpoint_validate_" + GetParam() + std::to_string(::getpid()));
    fs::remove_all(dir_);
    if (GetParam() == "cppn") {
      CppnOptions o;
      o.shape = {1, 12, 12};
      enc_ = std::make_unique<CppnEncoding>(o);
    } else {
      DirectOptions o;
      o.shape = {1, 12, 12};
      enc_ = std::make_unique<DirectEncoding>(o);
    }
    prepare_run_directory(dir_.string(), false);
    Evolution e(*enc_, clf_, config());
    // Generations 0-3, then the checkpoint a stop after generation 3 writes.
    e.run_until(
        3, {}, [&](const Evolution& ev) { write_checkpoint(dir_.string(), ev, settings_); }, nullptr);
    good_ = read_json_file((dir_ / "checkpoint.json").string());
    inline0_ = enc_->to_json(*e.archive().elite(0).genome);
  }
  // Cell 0 with its genome inline (the JSON form older checkpoints have) instead of in the genome file.
  nlohmann::json inline_cell0(const nlohmann::json& j) const {
    nlohmann::json cell = j["cells"][0];
    cell.erase("genome_offset");
    cell.erase("genome_bytes");
    cell["genome"] = inline0_;
    return cell;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void expect_refused(const std::function<void(nlohmann::json&)>& edit, const std::string& needle) {
    nlohmann::json j = good_;
    edit(j);
    write_file_atomic((dir_ / "checkpoint.json").string(), j.dump());
    Evolution e(*enc_, clf_, config());
    try {
      resume_from_checkpoint(dir_.string(), e, settings_);
      ADD_FAILURE() << "resumed: " << needle;
    } catch (const Error& err) {
      const std::string msg = err.what();
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_NE(msg.find("checkpoint.json"), std::string::npos) << msg;
      EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  }

  testing::FakeClassifier clf_{{1, 12, 12}, 4};
  std::unique_ptr<Encoding> enc_;
  nlohmann::json settings_ = {{"seed", 3}, {"generations", 6}};
  nlohmann::json inline0_;
  nlohmann::json good_;
  fs::path dir_;
};

TEST_P(CheckpointFile, TheIntactCheckpointResumes) {
  Evolution e(*enc_, clf_, config());
  resume_from_checkpoint(dir_.string(), e, settings_);
  EXPECT_EQ(e.next_generation(), 4);
  EXPECT_EQ(e.evaluations(), 8u + 3u * 10u);
}

TEST_P(CheckpointFile, GenerationsAndEvaluationsOutOfRange) {
  expect_refused([](nlohmann::json& j) { j["next_generation"] = 1000; }, "next_generation");
  expect_refused([](nlohmann::json& j) { j["next_generation"] = -100; }, "next_generation");
  expect_refused([](nlohmann::json& j) { j["next_generation"] = 5; }, "evaluations");
  expect_refused([](nlohmann::json& j) { j["evaluations"] = std::uint64_t{1} << 63; }, "evaluations");
  expect_refused([](nlohmann::json& j) { j["evaluations"] = -1; }, "evaluations");
  expect_refused([](nlohmann::json& j) { j["seconds"] = "soon"; }, "seconds");
}

TEST_P(CheckpointFile, FitnessOutsideZeroToOne) {
  expect_refused([](nlohmann::json& j) { j["cells"][1]["fitness"] = 2.0; }, "cells[1].fitness");
  expect_refused([](nlohmann::json& j) { j["cells"][1]["fitness"] = -1; }, "cells[1].fitness");
  expect_refused([](nlohmann::json& j) { j["cells"][1]["fitness"] = nullptr; }, "cells[1].fitness");
}

TEST_P(CheckpointFile, FutureElitesAndFirstCrossings) {
  expect_refused([](nlohmann::json& j) { j["cells"][0]["generation"] = 9; }, "cells[0].generation");
  expect_refused([](nlohmann::json& j) { j["cells"][0]["first_reached"][0] = 50; }, "cells[0].first_reached[0]");
  expect_refused([](nlohmann::json& j) { j["cells"][0]["first_reached"] = {1}; }, "first_reached");
  expect_refused([](nlohmann::json& j) { j["cells"][2].erase("genome_offset"); }, "no genome");
}

TEST_P(CheckpointFile, CellsOfOtherClasses) {
  expect_refused([](nlohmann::json& j) { std::swap(j["cells"][0], j["cells"][1]); }, "class");
  expect_refused([](nlohmann::json& j) { j["cells"][3]["class"] = 7; }, "cells[3] is class 7");
  expect_refused([](nlohmann::json& j) { j["cells"].erase(3); }, "number of classes");
}

TEST_P(CheckpointFile, GenomesOfAnotherShape) {
  if (GetParam() == "direct") {
    expect_refused(
        [&](nlohmann::json& j) {
          j["cells"][0] = inline_cell0(j);
          j["cells"][0]["genome"]["shape"] = {1, 6, 24};
        },
        "cells[0].genome");
  } else {
    expect_refused(
        [&](nlohmann::json& j) {
          j["cells"][0] = inline_cell0(j);
          j["cells"][0]["genome"]["native_size"] = {6, 24};
        },
        "cells[0].genome");
    expect_refused(
        [&](nlohmann::json& j) {
          j["cells"][0] = inline_cell0(j);
          j["cells"][0]["genome"]["nodes"][0]["id"] = 9;
        },
        "cells[0].genome");
  }
  // The inline form itself is still accepted.
  nlohmann::json j = good_;
  j["cells"][0] = inline_cell0(j);
  write_file_atomic((dir_ / "checkpoint.json").string(), j.dump());
  Evolution e(*enc_, clf_, config());
  EXPECT_NO_THROW(resume_from_checkpoint(dir_.string(), e, settings_));
}

INSTANTIATE_TEST_SUITE_P(Encodings, CheckpointFile, ::testing::Values("direct", "cppn"));

}  // namespace
}  // namespace fool
