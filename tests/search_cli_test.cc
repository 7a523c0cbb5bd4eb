// End-to-end tests of `fool evolve`, `fool render` and `fool ascend` on a LeNet trained for the occasion.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::expect_one_line_error;
using testing::run_fool;

class Search : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fool_search_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = testing::cached_test_lenet();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  static nlohmann::json summary(const std::string& run) {
    return nlohmann::json::parse(read_text_file(run + "/summary.json"));
  }
  static std::vector<std::string> evolve_args(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"evolve", "--model", model_, "--out", out, "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  static fs::path dir_;
  static std::string model_;
};
fs::path Search::dir_;
std::string Search::model_;

double gen0_median(const std::string& run) {
  std::ifstream log(run + "/log.jsonl");
  std::string first;
  std::getline(log, first);
  return nlohmann::json::parse(first)["median"].get<double>();
}

TEST_F(Search, StatisticalDirectSearchRaisesConfidenceFarAboveRandom) {
  // Measured: median 0.10-0.15 after 40 generations from ~0.006 in the random population (5 seeds).
  for (const std::string seed : {"1", "2", "3"}) {
    const std::string out = path("stat_direct_" + seed);
    const auto r = run_fool(evolve_args(
        out, {"--encoding", "direct", "--generations", "40", "--offspring", "100", "--init", "100", "--seed", seed}));
    ASSERT_EQ(r.code, 0) << r.err;
    const double start = gen0_median(out), end = summary(out)["median_confidence"].get<double>();
    EXPECT_GT(end, 0.04) << "seed " << seed;
    EXPECT_GT(end, 5.0 * start) << "seed " << seed;
  }
}

TEST_F(Search, StatisticalCppnSearchFoolsMostDigits) {
  // Measured: median 0.978-0.998 and 5-6 digits at >= 99% after 40 x 100 (5 seeds).
  for (const std::string seed : {"1", "2", "3"}) {
    const std::string out = path("stat_cppn_" + seed);
    const auto r = run_fool(evolve_args(
        out, {"--encoding", "cppn", "--generations", "40", "--offspring", "100", "--init", "100", "--seed", seed}));
    ASSERT_EQ(r.code, 0) << r.err;
    const auto s = summary(out);
    EXPECT_GT(s["median_confidence"].get<double>(), 0.9) << "seed " << seed;
    EXPECT_GE(s["classes_at_or_above"]["0.99"].get<int>(), 3) << "seed " << seed;
  }
}

TEST_F(Search, WritesTheDocumentedLayout) {
  const std::string out = path("layout");
  const auto r = run_fool(evolve_args(out, {"--encoding", "cppn", "--generations", "6", "--offspring", "40", "--init",
                                            "40", "--seed", "9", "--classes", "1,3-4"}));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto s = summary(out);
  EXPECT_EQ(s["format"], "fool-run/1");
  EXPECT_EQ(s["method"], "cppn");
  EXPECT_EQ(s["seed"], 9);
  EXPECT_EQ(s["generations"], 6);
  EXPECT_EQ(s["evaluations"], 40 + 6 * 40);
  EXPECT_EQ(s["model_sha256"], sha256_file(model_));
  EXPECT_NE(s["command_line"].get<std::string>().find("--classes 1,3-4"), std::string::npos);
  EXPECT_EQ(s["settings"]["cppn"]["coordinates"], "raw");
  ASSERT_EQ(s["classes"].size(), 3u);
  std::vector<int> idx;
  for (const auto& c : s["classes"]) {
    idx.push_back(c["index"].get<int>());
    EXPECT_TRUE(fs::exists(out + "/" + c["image"].get<std::string>()));
    EXPECT_TRUE(fs::exists(out + "/" + c["genome"].get<std::string>()));
    EXPECT_TRUE(c["first_reached"].contains("0.99"));
    EXPECT_TRUE(c["first_reached"].contains("0.9999"));
    // The reported confidence is what `fool score` says of the saved PNG.
    const auto sc = run_fool({"score", "--model", model_, "--top", "10", out + "/" + c["image"].get<std::string>()});
    ASSERT_EQ(sc.code, 0) << sc.err;
    for (const auto& t : nlohmann::json::parse(sc.out)["images"][0]["top"]) {
      if (t["class"] == c["index"]) {
        EXPECT_NEAR(t["probability"].get<double>(), c["confidence"].get<double>(), 1e-6);
      }
    }
  }
  EXPECT_EQ(idx, (std::vector<int>{1, 3, 4}));
  EXPECT_TRUE(fs::exists(out + "/grid.png"));
  EXPECT_TRUE(fs::exists(out + "/checkpoint.json"));
  std::ifstream log(out + "/log.jsonl");
  int lines = 0;
  for (std::string l; std::getline(log, l);) ++lines;
  EXPECT_EQ(lines, 7);

  const auto big = run_fool({"render", out + "/genomes/class_3.json", "--size", "112", "--out", path("big.png")});
  ASSERT_EQ(big.code, 0) << big.err;
  EXPECT_EQ(read_image(path("big.png")).shape, (ImageShape{1, 112, 112}));
  const auto same = run_fool({"render", out + "/genomes/class_3.json", "--out", path("same.png")});
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_EQ(read_image(path("same.png")).pixels, read_image(out + "/images/class_3.png").pixels);
  expect_one_line_error(run_fool({"render", out + "/summary.json", "--out", path("x.png")}), "summary.json");
}

nlohmann::json without_timing(nlohmann::json s) {
  s.erase("seconds");
  s.erase("command_line");
  return s;
}

TEST_F(Search, SameSeedAndThreadsGiveTheSameSummary) {
  // An explicit backend each: --backend auto may choose by timing, and results are the same for
  // the same backend (the choice is recorded in summary.json; --resume keeps it).
  for (const auto& [enc, backend] :
       std::vector<std::pair<std::string, std::string>>{{"direct", "opencv"}, {"cppn", "torch"}}) {
    if (!backend_registered(backend)) continue;  // the test skips below, once the other pair is done
    const std::vector<std::string> args = {"--encoding", enc,           "--backend", backend,  "--generations",
                                           "8",          "--offspring", "50",        "--init", "50",
                                           "--seed",     "21",          "--threads", "2"};
    ASSERT_EQ(run_fool(evolve_args(path("same_a_" + enc), args)).code, 0);
    ASSERT_EQ(run_fool(evolve_args(path("same_b_" + enc), args)).code, 0);
    EXPECT_EQ(without_timing(summary(path("same_a_" + enc))), without_timing(summary(path("same_b_" + enc))));
    EXPECT_EQ(read_file(path("same_a_" + enc) + "/images/class_7.png"),
              read_file(path("same_b_" + enc) + "/images/class_7.png"));
  }
  FOOL_SKIP_WITHOUT_OPENCV();
}

TEST_F(Search, ResumeAfterCtrlCEndsWhereAnUninterruptedRunEnds) {
  const std::vector<std::string> args = {"--encoding",
                                         "cppn",
                                         "--backend",
                                         testing::opencv_or_torch(),
                                         "--generations",
                                         "300",
                                         "--offspring",
                                         "40",
                                         "--init",
                                         "40",
                                         "--seed",
                                         "5",
                                         "--checkpoint-every",
                                         "7"};
  ASSERT_EQ(run_fool(evolve_args(path("straight"), args)).code, 0);

  // Start the same run, interrupt it once it is under way, then resume it.
  const std::string out = path("interrupted");
  std::vector<std::string> argv_s = evolve_args(out, args);
  argv_s.insert(argv_s.begin(), FOOL_BIN);
  const pid_t pid = fool::testing::spawn_quiet(argv_s, /*keep_stderr=*/true);
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream log(out + "/log.jsonl");
    int lines = 0;
    for (std::string l; std::getline(log, l);) ++lines;
    if (lines >= 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "the run finished before it could be interrupted";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_FALSE(summary(out)["complete"].get<bool>());

  const auto r = run_fool(evolve_args(out, [&] {
    auto a = args;
    a.push_back("--resume");
    return a;
  }()));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto a = summary(path("straight")), b = summary(out);
  EXPECT_TRUE(b["complete"].get<bool>());
  EXPECT_EQ(a["classes"], b["classes"]);
  EXPECT_EQ(a["evaluations"], b["evaluations"]);
  std::ifstream log(out + "/log.jsonl");
  int lines = 0;
  for (std::string l; std::getline(log, l); ++lines) EXPECT_EQ(nlohmann::json::parse(l)["generation"], lines);
  EXPECT_EQ(lines, 301);
}

TEST_F(Search, ImagenetPresetEvolvesLargeColourImagesThroughTenCrops) {
  const std::string out = path("imagenet");
  const auto r = run_fool({"evolve", "--model", FOOL_FIXTURES_DIR "/squeezenet1_1_random.onnx", "--encoding", "cppn",
                           "--preset", "imagenet", "--generations", "2", "--offspring", "4", "--init", "4", "--classes",
                           "0-2", "--out", out, "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto s = summary(out);
  EXPECT_EQ(s["settings"]["crops"], 10);
  EXPECT_EQ(s["settings"]["image"], nlohmann::json({3, 256, 256}));
  EXPECT_EQ(read_image(out + "/images/class_1.png").shape, (ImageShape{3, 256, 256}));
  // A 256x256 image is refused by `fool score` on a 224x224 model unless resized; the run's own
  // confidence is the 10-crop mean, so it is checked against the search, not against score.
  EXPECT_NEAR(s["classes"][1]["confidence"].get<double>(), s["classes"][1]["search_confidence"].get<double>(), 1e-5);
  // The direct encoding's preset uses 200 offspring: a short run with fewer works too.
  const auto d = run_fool({"evolve",
                           "--model",
                           FOOL_FIXTURES_DIR "/squeezenet1_1_random.onnx",
                           "--encoding",
                           "direct",
                           "--preset",
                           "imagenet",
                           "--generations",
                           "1",
                           "--offspring",
                           "2",
                           "--init",
                           "2",
                           "--classes",
                           "5",
                           "--crossover",
                           "sbx",
                           "--out",
                           path("imagenet_direct"),
                           "--quiet"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(summary(path("imagenet_direct"))["settings"]["direct"]["crossover"], "sbx");
}

TEST_F(Search, NonsenseOptionsAreOneLineErrors) {
  const std::string out = path("nonsense");
  expect_one_line_error(run_fool(evolve_args(out, {"--offspring", "0"})), "offspring");
  expect_one_line_error(run_fool(evolve_args(out, {"--init", "-4"})), "initial population");
  expect_one_line_error(run_fool(evolve_args(out, {"--generations", "-1"})), "generations");
  expect_one_line_error(run_fool(evolve_args(out, {"--image-size", "0"})), "image-size");
  expect_one_line_error(run_fool(evolve_args(out, {"--encoding", "pixels"})), "pixels");
  expect_one_line_error(run_fool(evolve_args(out, {"--classes", "3,12"})), "class 12");
  expect_one_line_error(run_fool(evolve_args(out, {"--classes", "x"})), "--classes");
  expect_one_line_error(run_fool(evolve_args(out, {"--preset", "imagenet"})), "preset imagenet");
  expect_one_line_error(run_fool(evolve_args(out, {"--crops", "3"})), "crops");
  expect_one_line_error(run_fool(evolve_args(out, {"--image-size", "20"})), "smaller");
  expect_one_line_error(run_fool(evolve_args(out, {"--resume", "--overwrite"})), "contradict");
  EXPECT_FALSE(fs::exists(out + "/summary.json"));
}

TEST_F(Search, ExistingRunsAndBadDirectoriesAreRefusedWithoutDamage) {
  const std::string out = path("existing");
  const std::vector<std::string> small = {"--generations", "2", "--offspring", "20", "--init", "20"};
  ASSERT_EQ(run_fool(evolve_args(out, small)).code, 0);
  const std::string before = sha256_file(out + "/summary.json");
  const std::string ckpt = sha256_file(out + "/checkpoint.json");
  expect_one_line_error(run_fool(evolve_args(out, small)), "--overwrite");
  // A checkpoint from another model or other settings is refused, naming the difference.
  auto other_model = evolve_args(out, small);
  other_model[2] = FOOL_FIXTURES_DIR "/mnist_bn_cnn.onnx";
  other_model.push_back("--resume");
  expect_one_line_error(run_fool(other_model), "model_sha256");
  auto other_seed = evolve_args(out, small);
  other_seed.insert(other_seed.end(), {"--seed", "99", "--resume"});
  expect_one_line_error(run_fool(other_seed), "seed");
  auto other_enc = evolve_args(out, small);
  other_enc.insert(other_enc.end(), {"--encoding", "cppn", "--resume"});
  expect_one_line_error(run_fool(other_enc), "encoding");
  EXPECT_EQ(sha256_file(out + "/summary.json"), before);
  EXPECT_EQ(sha256_file(out + "/checkpoint.json"), ckpt);
  // --overwrite replaces it.
  auto over = evolve_args(out, small);
  over.insert(over.end(), {"--seed", "2", "--overwrite"});
  ASSERT_EQ(run_fool(over).code, 0);
  EXPECT_EQ(summary(out)["seed"], 2);

  // A corrupt checkpoint.
  const std::string bad = path("corrupt");
  ASSERT_EQ(run_fool(evolve_args(bad, small)).code, 0);
  write_file_atomic(bad + "/checkpoint.json", std::string("{\"format\": \"fool-evolve-checkpoint/1\", \"cells\": 7"));
  auto res = evolve_args(bad, small);
  res.push_back("--resume");
  expect_one_line_error(run_fool(res), "checkpoint.json");
  expect_one_line_error(run_fool(evolve_args(path("fresh"), {"--resume"})), "no checkpoint");

  // A directory that is not a run, and one that cannot be made.
  fs::create_directories(path("notarun"));
  write_file_atomic(path("notarun/thesis.tex"), std::string("precious"));
  expect_one_line_error(run_fool(evolve_args(path("notarun"), small)), "not empty");
  EXPECT_EQ(read_text_file(path("notarun/thesis.tex")), "precious");
  write_file_atomic(path("afile"), std::string("x"));
  expect_one_line_error(run_fool(evolve_args(path("afile/run"), small)), "afile");
}

}  // namespace
}  // namespace fool

namespace fool {
namespace {

TEST_F(Search, AscendFoolsEveryDigitWithTheSavedImages) {
  const std::string out = path("ascend");
  const auto r = run_fool({"ascend", "--model", model_, "--out", out, "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto s = summary(out);
  EXPECT_EQ(s["command"], "ascend");
  EXPECT_EQ(s["method"], "gradient-ascent");
  EXPECT_EQ(s["progress_unit"], "step");
  EXPECT_GT(s["steps_per_second"].get<double>(), 0.0);
  // Measured on this 3-epoch LeNet: all 10 digits at >= 99.99% within ~300 steps.
  EXPECT_EQ(s["classes_at_or_above"]["0.9999"], 10);
  for (const auto& c : s["classes"]) {
    EXPECT_GE(c["confidence"].get<double>(), 0.9999) << c["index"];
    EXPECT_FALSE(c["first_reached"]["0.999"].is_null());
    EXPECT_LE(c["first_reached"]["0.99"].get<int>(), c["first_reached"]["0.9999"].get<int>());
    const auto sc = run_fool({"score", "--model", model_, "--top", "1", out + "/" + c["image"].get<std::string>()});
    ASSERT_EQ(sc.code, 0) << sc.err;
    const auto top = nlohmann::json::parse(sc.out)["images"][0]["top"][0];
    EXPECT_EQ(top["class"], c["index"]);
    EXPECT_NEAR(top["probability"].get<double>(), c["confidence"].get<double>(), 1e-6);
  }
  EXPECT_TRUE(fs::exists(out + "/grid.png"));
  std::ifstream log(out + "/log.jsonl");
  std::string first;
  std::getline(log, first);
  EXPECT_EQ(nlohmann::json::parse(first)["step"], 0);
}

TEST_F(Search, AscendRaisesSqueezenetProbabilities) {
  const std::string out = path("ascend_squeeze");
  // The fixture's outputs are peaked: a class starts near 2e-4, and the default step (a predicted
  // gain of 0.03, 150 times that) overshoots; a step sized for the start probability climbs.
  const auto r = run_fool({"ascend", "--model", FOOL_FIXTURES_DIR "/squeezenet1_1_random.onnx", "--classes", "0-2",
                           "--steps", "4", "--target", "0", "--max-gain", "1e-4", "--out", out, "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream log(out + "/log.jsonl");
  std::vector<double> medians;
  for (std::string l; std::getline(log, l);) medians.push_back(nlohmann::json::parse(l)["median"].get<double>());
  ASSERT_EQ(medians.size(), 4u);
  EXPECT_GT(medians.back(), medians.front());
  EXPECT_EQ(read_image(out + "/images/class_2.png").shape, (ImageShape{3, 224, 224}));
}

TEST_F(Search, AscendRefusesNonsense) {
  const std::string out = path("ascend_bad");
  expect_one_line_error(run_fool({"ascend", "--model", model_, "--out", out, "--backend", "opencv"}), "torch");
  expect_one_line_error(run_fool({"ascend", "--model", model_, "--out", out, "--classes", "12"}), "class 12");
  expect_one_line_error(run_fool({"ascend", "--model", model_, "--out", out, "--steps", "0"}), "steps");
  expect_one_line_error(run_fool({"ascend", "--model", model_, "--out", out, "--decay", "2"}), "decay");
  expect_one_line_error(run_fool({"ascend", "--model", model_, "--out", out, "--max-gain", "-0.1"}), "gain");
  expect_one_line_error(run_fool({"ascend", "--model", model_, "--out", out, "--blur-every", "2"}), "blur");
  expect_one_line_error(run_fool({"ascend", "--model", model_, "--out", out, "--start", "black"}), "black");
  EXPECT_FALSE(fs::exists(out + "/summary.json"));
}

}  // namespace
}  // namespace fool
