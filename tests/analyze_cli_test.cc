// End-to-end tests of `fool analyze repetition|occlusion` and their part of `fool report`, on a tiny
// CPPN run against a LeNet trained for the occasion.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::expect_one_line_error;
using testing::run_fool;

class Analyze : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fool_analyze_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string model = testing::cached_test_lenet();
    ASSERT_FALSE(model.empty());
    run_ = (dir_ / "run").string();
    const auto r =
        run_fool({"evolve", "--model", model, "--out", run_, "--quiet", "--encoding", "cppn", "--generations", "5",
                  "--offspring", "20", "--init", "20", "--classes", "0-3", "--seed", "2"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static fs::path dir_;
  static std::string run_;
};
fs::path Analyze::dir_;
std::string Analyze::run_;

TEST_F(Analyze, RepetitionWritesJsonScoredWithTheRunsModel) {
  const auto r = run_fool({"analyze", "repetition", run_, "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["images"], 4);
  const auto j = read_json_file(run_ + "/analysis/repetition.json");
  EXPECT_EQ(j["format"], "fool-repetition/1");
  const auto summary = read_json_file(run_ + "/summary.json");
  ASSERT_EQ(j["classes"].size(), 4u);
  std::size_t repeating = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& c = j["classes"][i];
    // With nothing removed, the analysis scores the saved PNG exactly as the run re-scored it.
    EXPECT_NEAR(c["confidence_all_copies"].get<double>(), summary["classes"][i]["confidence"].get<double>(), 1e-6);
    EXPECT_EQ(c["confidence_by_copies_removed"].size(), c["copies_removed"].size());
    EXPECT_EQ(c["copies_removed"].back().get<int>() + 1, c["copies"].get<int>());
    if (c["repeats"].get<bool>()) {
      ++repeating;
      EXPECT_TRUE(fs::exists(run_ + "/" + c["one_copy_image"].get<std::string>()));
    }
  }
  EXPECT_EQ(j["repeating"].get<std::size_t>(), repeating);
}

TEST_F(Analyze, OcclusionWritesHeatmapsAndIsDeterministic) {
  const std::vector<std::string> args = {"analyze",  "occlusion", run_,      "--quiet", "--patch", "7",
                                         "--stride", "7",         "--masks", "3",       "--seed",  "4"};
  const auto r = run_fool(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string first = read_text_file(run_ + "/analysis/occlusion.json");
  const auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j["config"]["patch"], 7);
  EXPECT_EQ(j["config"]["seed"], 4);
  ASSERT_EQ(j["filled"].size(), 3u);
  for (const auto& c : j["classes"]) {
    EXPECT_EQ(c["drops"].size(), 16u);
    EXPECT_EQ(read_image(run_ + "/" + c["heatmap"].get<std::string>()).shape, (ImageShape{3, 28, 28}));
  }
  ASSERT_EQ(run_fool(args).code, 0);
  EXPECT_EQ(read_text_file(run_ + "/analysis/occlusion.json"), first);
}

TEST_F(Analyze, ReportShowsTheAnalyses) {
  ASSERT_EQ(run_fool({"analyze", "repetition", run_, "--quiet"}).code, 0);
  ASSERT_EQ(run_fool({"analyze", "occlusion", run_, "--quiet"}).code, 0);
  const std::string html = (dir_ / "report.html").string();
  const auto r = run_fool({"report", run_, "--out", html});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string page = read_text_file(html);
  EXPECT_NE(page.find("repetition (fool analyze repetition)"), std::string::npos);
  EXPECT_NE(page.find("occlusion (fool analyze occlusion)"), std::string::npos);
  EXPECT_NE(page.find("alt=\"occlusion map\""), std::string::npos);
}

TEST_F(Analyze, ARunWithoutChampionsIsAOneLineErrorAndNothingIsWritten) {
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  auto s = read_json_file(run_ + "/summary.json");
  s["classes"] = nlohmann::json::array();
  write_file_atomic((empty / "summary.json").string(), s.dump());
  for (const std::string what : {"repetition", "occlusion"}) {
    // The good run first: nothing is analysed when any run is bad.
    const auto r = run_fool({"analyze", what, run_, empty.string(), "--quiet"});
    expect_one_line_error(r, "summary.json: the run has no champions");
    EXPECT_FALSE(fs::exists(empty / "analysis"));
  }
  expect_one_line_error(run_fool({"analyze", "occlusion", (dir_ / "missing").string()}), "missing");
  expect_one_line_error(run_fool({"analyze", "occlusion", run_, "--patch", "40", "--quiet"}), "--patch 40");
  const auto help = run_fool({"analyze", "occlusion", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--stride"), std::string::npos);
}

}  // namespace
}  // namespace fool
