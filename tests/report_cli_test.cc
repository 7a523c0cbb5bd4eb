// End-to-end test of `fool report`, checked in headless Chromium.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include <unistd.h>

#include <cstdio>

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
  std::string cmd = "chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
                    "--disable-component-update --disable-sync --no-first-run --disable-quic "
                    "--user-data-dir=" + testing::shell_quote(fs::temp_directory_path().string() + "/fool_chromium_" +
                                                             std::to_string(::getpid()));
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
  EXPECT_EQ(html.find("src=\"images/"), std::string::npos);                   // every image inlined
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("--generations 5"), std::string::npos);  // the command line of each run

  std::string dom;
  ASSERT_EQ(chromium({"--virtual-time-budget=5000", "--dump-dom"}, fs::absolute(report).string(), &dom), 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("data-images-loaded=\"(\\d+)\" data-images-broken=\"(\\d+)\" "
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

  expect_one_line_error(run_fool({"report", path("nowhere"), "--out", path("r.html")}), "nowhere");
  fs::create_directories(path("empty"));
  expect_one_line_error(run_fool({"report", path("empty"), "--out", path("r.html")}), "empty");
}

}  // namespace
}  // namespace fool
