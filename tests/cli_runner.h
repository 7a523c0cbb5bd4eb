#pragma once
// Runs the real `fool` binary for end-to-end tests: captures exit code, stdout and stderr.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "fool/io/files.h"
#include "fool/model/registry.h"

extern "C" char** environ;

namespace fool::testing {

// Why a test that runs the opencv backend by name (--backend opencv), or compares it with another,
// skips where fool was built without it; FOOL_SKIP_WITHOUT_OPENCV() skips the rest of the test
// there. Loops over backends take the ones built instead (backends_built).
inline const char* const kWithoutOpencv = "needs the opencv backend: fool was built with -DFOOL_WITH_OPENCV=OFF";
#define FOOL_SKIP_WITHOUT_OPENCV() \
  if (!::fool::backend_registered("opencv")) GTEST_SKIP() << ::fool::testing::kWithoutOpencv
// The values of --backend among `names` that this build takes: "auto", and each backend it has
// (opencv not where fool was built with -DFOOL_WITH_OPENCV=OFF), in the order given.
inline std::vector<std::string> backends_built(std::initializer_list<const char*> names) {
  std::vector<std::string> out;
  for (const char* n : names)
    if (std::string(n) == "auto" || backend_registered(n)) out.emplace_back(n);
  return out;
}
// For a test that needs some explicit backend (e.g. results that --backend auto could choose by
// timing) and is not about opencv: opencv, or torch where opencv is not built.
inline std::string opencv_or_torch() { return backend_registered("opencv") ? "opencv" : "torch"; }

// Starts `argv` (argv[0] the program) in the background with stdout, and unless keep_stderr also
// stderr, going to /dev/null. Returns its pid, or -1 if it could not be started.
inline pid_t spawn_quiet(std::vector<std::string> argv, bool keep_stderr = false) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  if (!keep_stderr) posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Every fool the tests start runs with its address space limited (ulimit -v) to this many KiB, so
// that a command asking for more memory than it should gets std::bad_alloc (one line, a failed
// test) instead of the machine's memory (issue 20: an out-of-memory kill fails the test, not the
// machine). fool's own commands in the tests reserve about 1 GiB of address space. Sanitizer builds
// reserve terabytes of shadow memory, so they run without the limit.
#if defined(__SANITIZE_ADDRESS__)
#define FOOL_TEST_NO_MEMORY_LIMIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FOOL_TEST_NO_MEMORY_LIMIT 1
#endif
#endif
#ifdef FOOL_TEST_NO_MEMORY_LIMIT
inline const char* memory_limit_prefix() { return ""; }
#else
inline const char* memory_limit_prefix() { return "ulimit -v 16777216 && exec "; }  // 16 GiB
#endif

inline CliResult run_fool(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path err_path =
      fs::temp_directory_path() / ("fool_cli_err_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::string cmd = memory_limit_prefix() + shell_quote(FOOL_BIN);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>" + shell_quote(err_path.string()) + " </dev/null";
  CliResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::error_code ec;
  if (fs::exists(err_path, ec)) {
    r.err = read_text_file(err_path.string());
    fs::remove(err_path, ec);
  }
  return r;
}

// The lines of stderr that are not progress output.
inline std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < err.size()) {
    std::size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::string line = err.substr(start, end - start);
    if (line.rfind("fool: ", 0) == 0) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// Asserts a clean failure: non-zero exit, nothing on stdout, and exactly one "fool: error:" line
// on stderr that mentions `needle` (progress lines aside), with no crash output.
inline void expect_one_line_error(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.code, 0);
  const auto lines = error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("fool: error: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos);
  EXPECT_TRUE(r.out.empty()) << r.out;
}

// The LeNet the end-to-end tests evolve against: 3 epochs, seed 1, trained once per build into the
// test cache (written atomically, so concurrent test processes never see a half-written file).
// Returns its path, or an empty string after reporting a failed training.
inline std::string cached_test_lenet() {
  std::filesystem::create_directories(FOOL_TEST_CACHE_DIR);
  const std::string model = std::string(FOOL_TEST_CACHE_DIR) + "/lenet_3_epochs_seed_1.onnx";
  if (std::filesystem::exists(model)) return model;
  const auto r =
      run_fool({"train", "--data-dir", FOOL_MNIST_DIR, "--epochs", "3", "--seed", "1", "--quiet", "--out", model});
  if (r.code != 0) {
    ADD_FAILURE() << "training the test LeNet failed (has scripts/setup.sh made data/mnist?): " << r.err;
    return "";
  }
  return model;
}

// A test with its own empty temporary directory, removed afterwards.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fool_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

}  // namespace fool::testing
