// End-to-end tests of watching a run: the progress phases on stderr, the live view (live.html,
// grid.png, images/) during a run and after kill -9, --classes by label name, and fool info's label
// summary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "cli_runner.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::expect_one_line_error;
using testing::run_fool;

class Live : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fool_live_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = testing::cached_test_lenet();
    // Names for the LeNet's digits, to give --labels and --classes.
    std::ofstream names(path("names.txt"));
    for (const char* n : {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"})
      names << n << "\n";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static fs::path dir_;
  static std::string model_;
};
fs::path Live::dir_;
std::string Live::model_;

std::size_t lines_of(const std::string& file) {
  std::ifstream in(file);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

// Every image live.html shows exists and decodes; returns how many it shows.
std::size_t check_live_images(const std::string& run, const std::string& html) {
  std::size_t n = 0;
  const std::regex src("src=\"([^\"?]+)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it) {
    const std::string rel = (*it)[1];
    EXPECT_GT(read_image(run + "/" + rel).shape.width, 0) << rel;
    ++n;
  }
  return n;
}

TEST_F(Live, LiveViewAppearsDuringARunSurvivesKill9AndEndsAsTheResults) {
  ASSERT_FALSE(model_.empty());
  const std::string out = path("killed");
  std::vector<std::string> argv_s = {FOOL_BIN,
                                     "evolve",
                                     "--model",
                                     model_,
                                     "--encoding",
                                     "direct",
                                     "--generations",
                                     "100000",
                                     "--offspring",
                                     "20",
                                     "--init",
                                     "20",
                                     "--checkpoint-every",
                                     "1",
                                     "--live-every",
                                     "0",
                                     "--seed",
                                     "4",
                                     "--out",
                                     out,
                                     "--quiet"};
  const pid_t pid = fool::testing::spawn_quiet(argv_s, /*keep_stderr=*/false);
  ASSERT_GT(pid, 0);
  // Waits (at most two minutes, not a timed assertion) for a few checkpointed generations.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline && lines_of(out + "/log.jsonl") < 8)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(lines_of(out + "/log.jsonl"), 8u);

  // Whatever the moment of the kill, the live view is whole: a page that reloads itself, a grid and
  // every image it shows (written atomically), and no summary yet.
  ASSERT_TRUE(fs::exists(out + "/live.html"));
  const std::string html = read_text_file(out + "/live.html");
  EXPECT_NE(html.find("http-equiv=\"refresh\""), std::string::npos);
  EXPECT_NE(html.find("data-finished=\"no\""), std::string::npos);
  EXPECT_NE(html.find("running: generation"), std::string::npos);
  EXPECT_EQ(html.find("</html>"), html.size() - 8);
  EXPECT_GE(check_live_images(out, html), 2u);  // the grid and at least one champion
  EXPECT_GT(read_image(out + "/grid.png").shape.width, 100);
  EXPECT_FALSE(fs::exists(out + "/summary.json"));

  // Resume to the end: the results replace the live view, which ends as a still page of them.
  const int next = read_json_file(out + "/checkpoint.json")["next_generation"].get<int>();
  const auto r = run_fool({"evolve", "--model", model_, "--encoding", "direct", "--generations",
                           std::to_string(next + 1), "--offspring", "20", "--init", "20", "--checkpoint-every", "1",
                           "--seed", "4", "--out", out, "--resume", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string done = read_text_file(out + "/live.html");
  EXPECT_EQ(done.find("http-equiv=\"refresh\""), std::string::npos);
  EXPECT_NE(done.find("data-finished=\"yes\""), std::string::npos);
  const auto s = read_json_file(out + "/summary.json");
  EXPECT_NE(done.find("data-classes=\"" + std::to_string(s["classes"].size()) + "\""), std::string::npos);
  EXPECT_EQ(check_live_images(out, done), s["classes"].size() + 1);
  for (const auto& e : fs::directory_iterator(out)) EXPECT_FALSE(is_atomic_temporary(e.path().filename().string()));

  // --overwrite removes the live page with fool's other files; --no-live writes none.
  const auto again = run_fool({"evolve", "--model", model_, "--generations", "1", "--offspring", "10", "--init", "10",
                               "--out", out, "--overwrite", "--no-live", "--quiet"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_FALSE(fs::exists(out + "/live.html"));
}

TEST_F(Live, ProgressShowsEveryPhaseInOrderWithRates) {
  ASSERT_FALSE(model_.empty());
  // stderr is a file here: one line per phase start and per tenth of the work.
  const auto r = run_fool({"evolve", "--model", model_, "--generations", "4", "--offspring", "100", "--init", "200",
                           "--eval-batch", "50", "--out", path("phases")});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> order = {"load model", "fool: backend", "initial population 0/200",
                                          "evals/s",    "100%",          "re-score"};
  std::size_t at = 0;
  for (const auto& needle : order) {
    const std::size_t found = r.err.find(needle, at);
    ASSERT_NE(found, std::string::npos) << "'" << needle << "' after offset " << at << " in:\n" << r.err;
    at = found;
  }
  EXPECT_NE(r.err.find("/600 evals"), std::string::npos) << r.err;  // 200 + 4 x 100 evaluations planned
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
}

// The first generation each class reached each threshold: in log.jsonl (the classes that crossed at
// each generation), in summary.json (per class) and in the report, per run and side by side.
TEST_F(Live, FirstGenerationAtEachThresholdInTheLogTheSummaryAndTheReport) {
  ASSERT_FALSE(model_.empty());
  std::vector<nlohmann::json> summaries;
  const std::vector<std::string> runs = {path("first_a"), path("first_b")};
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const auto r =
        run_fool({"evolve", "--model", model_, "--encoding", "direct", "--generations", "100", "--offspring", "50",
                  "--init", "50", "--seed", std::to_string(11 + k), "--out", runs[k], "--no-live", "--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    summaries.push_back(read_json_file(runs[k] + "/summary.json"));
    // Replaying the log's crossings gives the summary's first_reached, class by class.
    std::map<std::string, std::map<int, int>> first;  // threshold -> class -> generation
    std::ifstream log(runs[k] + "/log.jsonl");
    for (std::string line; std::getline(log, line);) {
      const auto j = nlohmann::json::parse(line);
      for (const auto& [t, classes] : j.at("newly_reached").items())
        for (const auto& c : classes)
          EXPECT_TRUE(first[t].emplace(c.get<int>(), j["generation"].get<int>()).second) << line;
    }
    std::size_t crossings = 0;
    for (const auto& c : summaries.back()["classes"]) {
      for (const auto& [t, g] : c["first_reached"].items()) {
        const auto it = first[t].find(c["index"].get<int>());
        if (g.is_null()) {
          EXPECT_EQ(it, first[t].end()) << t << " " << c["index"];
        } else {
          ASSERT_NE(it, first[t].end()) << t << " " << c["index"];
          EXPECT_EQ(it->second, g.get<int>());
          ++crossings;
        }
      }
    }
    EXPECT_GT(crossings, 0u);  // LeNet's digits pass 99% within a few generations
  }

  const auto rep = run_fool({"report", runs[0], runs[1], "--out", path("first.html")});
  ASSERT_EQ(rep.code, 0) << rep.err;
  const std::string page = read_text_file(path("first.html"));
  EXPECT_NE(page.find("<th>first generation &ge; 99.00%</th><th>first generation &ge; 99.99%</th>"), std::string::npos);
  // Side by side: per class, each run's first generation at each threshold (a dash for never).
  ASSERT_NE(page.find("first-reached"), std::string::npos);
  const auto cell = [](const nlohmann::json& c) {
    std::string out;
    for (const auto& [t, g] : c["first_reached"].items())
      out += std::string("&ge; ") + (t == "0.99" ? "99.00%" : "99.99%") + ": " +
             (g.is_null() ? "&ndash;" : std::to_string(g.get<int>())) + "<br>";
    return out;
  };
  for (std::size_t i = 0; i < summaries[0]["classes"].size(); ++i) {
    const auto& a = summaries[0]["classes"][i];
    const auto& b = summaries[1]["classes"][i];
    ASSERT_EQ(a["index"], b["index"]);
    const std::string row = "<tr><td>" + std::to_string(a["index"].get<int>()) + "</td><td></td><td>" + cell(a) +
                            "</td><td>" + cell(b) + "</td></tr>";
    EXPECT_NE(page.find(row), std::string::npos) << row;
  }
}

TEST_F(Live, ClassesByLabelNameAndInfoSummarisesLongLabelLists) {
  ASSERT_FALSE(model_.empty());
  const auto r =
      run_fool({"evolve", "--model", model_, "--labels", path("names.txt"), "--classes", "three,7,nine",
                "--generations", "1", "--offspring", "10", "--init", "10", "--out", path("named"), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto s = read_json_file(path("named") + "/summary.json");
  ASSERT_EQ(s["classes"].size(), 3u);
  EXPECT_EQ(s["classes"][0]["label"], "three");
  EXPECT_EQ(s["classes"][1]["index"], 7);
  EXPECT_EQ(s["classes"][2]["index"], 9);
  expect_one_line_error(run_fool({"evolve", "--model", model_, "--labels", path("names.txt"), "--classes", "three,Four",
                                  "--generations", "1", "--out", path("named2"), "--quiet"}),
                        "'Four' is not a class index");
  const auto a = run_fool({"ascend", "--model", model_, "--labels", path("names.txt"), "--classes", "eight", "--steps",
                           "2", "--out", path("ascend_named"), "--quiet"});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(read_json_file(path("ascend_named") + "/summary.json")["classes"][0]["index"], 8);
  EXPECT_NE(read_text_file(path("ascend_named") + "/live.html").find("data-finished=\"yes\""), std::string::npos);

  // 1000 labels: the first ten and the count, unless --all-labels.
  const std::string big = FOOL_FIXTURES_DIR "/squeezenet1_1_random.onnx";
  const auto i = run_fool({"info", "--model", big});
  ASSERT_EQ(i.code, 0) << i.err;
  const auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j["labels"].size(), 10u);
  EXPECT_EQ(j["labels_count"], 1000);
  EXPECT_EQ(j["labels_shown"], 10);
  const auto all = run_fool({"info", "--model", big, "--all-labels"});
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(nlohmann::json::parse(all.out)["labels"].size(), 1000u);
  // A short list stays whole.
  const auto small = nlohmann::json::parse(run_fool({"info", "--model", model_}).out);
  EXPECT_EQ(small["labels"].size(), 10u);
  EXPECT_EQ(small["labels_count"], 10);
}

}  // namespace
}  // namespace fool
