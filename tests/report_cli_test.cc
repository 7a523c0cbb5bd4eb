// End-to-end test of `fool report`, checked in headless Chromium.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "experiment_fixture.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::expect_one_line_error;
using testing::run_fool;

// Runs headless Chromium on a page; returns its exit status, with the DOM in *dom.
int chromium(const std::vector<std::string>& extra, const std::string& page, std::string* dom) {
  std::string cmd =
      "chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
      "--disable-component-update --disable-sync --no-first-run --disable-quic "
      "--user-data-dir=" +
      testing::shell_quote(fs::temp_directory_path().string() + "/fool_chromium_" + std::to_string(::getpid()));
  for (const auto& e : extra) cmd += " " + e;
  cmd += " " + testing::shell_quote("file://" + page) + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) dom->append(buf, n);
  return ::pclose(p);
}

TEST_F(Experiments, ReportRendersInChromiumWithEveryImageAndNoErrors) {
  ASSERT_EQ(std::system("command -v chromium >/dev/null"), 0) << "chromium is missing: run scripts/setup.sh";
  const std::string xfer = small_transfer("xfer");
  const std::string run = xfer + "/runs/lenet-seed2-run1";
  const std::string report = path("report.html");
  const auto r = run_fool({"report", xfer, run, xfer, "--out", report});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string html = read_text_file(report);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no fetches: only the SVG namespace
  EXPECT_EQ(html.find("src=\"images/"), std::string::npos);                  // every image inlined
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("--generations 5"), std::string::npos);  // the command line of each run

  std::string dom;
  ASSERT_EQ(chromium({"--virtual-time-budget=5000", "--dump-dom"}, fs::absolute(report).string(), &dom), 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m,
                                std::regex("data-images-loaded=\"(\\d+)\" data-images-broken=\"(\\d+)\" "
                                           "data-errors=\"(\\d+)\" data-checked=\"yes\"")))
      << dom.substr(0, 500);
  std::size_t imgs = 0;
  for (auto at = html.find("<img"); at != std::string::npos; at = html.find("<img", at + 1)) ++imgs;
  EXPECT_EQ(std::stoul(m[1]), imgs);
  EXPECT_EQ(m[2], "0");
  EXPECT_EQ(m[3], "0");

  // Keep a screenshot among the test outputs.
  fs::create_directories(FOOL_TEST_OUTPUT_DIR);
  const std::string shot = std::string(FOOL_TEST_OUTPUT_DIR) + "/report.png";
  std::string ignored;
  ASSERT_EQ(chromium({"--hide-scrollbars", "--window-size=1280,2400", "--screenshot=" + testing::shell_quote(shot)},
                     fs::absolute(report).string(), &ignored),
            0);
  EXPECT_EQ(read_image(shot).shape.width, 1280);

  // Two runs: compared side by side at the top; confidences on a log-odds axis with the thresholds;
  // each run's backend, model hash and seed.
  const std::string two = path("two.html");
  const std::string run1 = xfer + "/runs/lenet-seed1-run1";
  const auto t = run_fool({"report", run1, run, "--out", two});
  ASSERT_EQ(t.code, 0) << t.err;
  const std::string page = read_text_file(two);
  EXPECT_NE(page.find("runs side by side"), std::string::npos);
  EXPECT_NE(page.find("log-odds scale"), std::string::npos);
  EXPECT_NE(page.find("class=\"threshold\""), std::string::npos);
  EXPECT_NE(page.find("&ge; 99.99%</text>"), std::string::npos);
  const std::string sha = read_json_file(run + "/summary.json")["model_sha256"].get<std::string>();
  EXPECT_NE(page.find(">" + sha.substr(0, 12) + "</code>"), std::string::npos);
  // Tiny confidences are scientific, never 0.00% (50.00% is fine).
  EXPECT_FALSE(std::regex_search(page, std::regex("[^0-9.]0\\.00%")));
  std::string dom2;
  ASSERT_EQ(chromium({"--virtual-time-budget=5000", "--dump-dom"}, fs::absolute(two).string(), &dom2), 0);
  EXPECT_NE(dom2.find("data-images-broken=\"0\" data-errors=\"0\" data-checked=\"yes\""), std::string::npos);
  const std::string shot2 = std::string(FOOL_TEST_OUTPUT_DIR) + "/report_two_runs.png";
  ASSERT_EQ(chromium({"--hide-scrollbars", "--window-size=1280,2400", "--screenshot=" + testing::shell_quote(shot2)},
                     fs::absolute(two).string(), &ignored),
            0);
  EXPECT_EQ(read_image(shot2).shape.width, 1280);

  expect_one_line_error(run_fool({"report", path("nowhere"), "--out", path("r.html")}), "nowhere");
  fs::create_directories(path("empty"));
  expect_one_line_error(run_fool({"report", path("empty"), "--out", path("r.html")}), "empty");
}

// The live page of a running evolve, in Chromium: every image loads, no script error, and two
// screenshots some generations apart differ (the page reloads itself with the run's new state).
TEST_F(Experiments, LivePageShowsARunningEvolveInChromium) {
  ASSERT_EQ(std::system("command -v chromium >/dev/null"), 0) << "chromium is missing: run scripts/setup.sh";
  const std::string model = testing::cached_test_lenet();
  ASSERT_FALSE(model.empty());
  const std::string out = path("live_run");
  std::vector<std::string> argv_s = {
      FOOL_BIN,      "evolve", "--model", model, "--encoding",         "cppn", "--generations", "100000",
      "--offspring", "20",     "--init",  "20",  "--checkpoint-every", "1",    "--live-every",  "0",
      "--out",       out,      "--quiet"};
  const pid_t pid = fool::testing::spawn_quiet(argv_s, /*keep_stderr=*/false);
  ASSERT_GT(pid, 0);
  const auto generations = [&] {
    std::ifstream log(out + "/log.jsonl");
    std::size_t n = 0;
    for (std::string line; std::getline(log, line);) ++n;
    return n;
  };
  // Waits (at most two minutes each; not timed assertions) for the run to get going, then further.
  const auto wait_for = [&](std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline && (generations() < n || !fs::exists(out + "/live.html")))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  const std::string page = fs::absolute(out + "/live.html").string();
  fs::create_directories(FOOL_TEST_OUTPUT_DIR);
  const std::string shot1 = std::string(FOOL_TEST_OUTPUT_DIR) + "/live_1.png";
  const std::string shot2 = std::string(FOOL_TEST_OUTPUT_DIR) + "/live_2.png";
  std::string dom, ignored;
  wait_for(3);
  ASSERT_TRUE(fs::exists(page));
  const int r1 = chromium({"--hide-scrollbars", "--window-size=900,900", "--screenshot=" + testing::shell_quote(shot1)},
                          page, &ignored);
  wait_for(generations() + 20);
  const int r2 = chromium({"--hide-scrollbars", "--window-size=900,900", "--screenshot=" + testing::shell_quote(shot2)},
                          page, &ignored);
  const int r3 = chromium({"--virtual-time-budget=1500", "--dump-dom"}, page, &dom);
  ::kill(pid, SIGINT);  // stops after the generation, writes the results, exits 130
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_EQ(r1, 0);
  ASSERT_EQ(r2, 0);
  ASSERT_EQ(r3, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130);
  EXPECT_NE(read_file(shot1), read_file(shot2));
  EXPECT_EQ(read_image(shot2).shape.width, 900);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m,
                                std::regex("data-images-loaded=\"(\\d+)\" data-images-broken=\"(\\d+)\" "
                                           "data-errors=\"(\\d+)\" data-checked=\"yes\"")))
      << dom.substr(0, 500);
  EXPECT_GE(std::stoul(m[1]), 2u);  // the grid and at least one champion
  EXPECT_EQ(m[2], "0");
  EXPECT_EQ(m[3], "0");
  // Interrupted, the run still ends with a still page of its results.
  EXPECT_NE(read_text_file(out + "/live.html").find("data-finished=\"yes\""), std::string::npos);
}

}  // namespace
}  // namespace fool
