// The fool CLI loads libtorch only when it uses torch (docs/design.md, "Loading libtorch on first
// use"): the binary does not need it, a run on another backend never loads it (the dynamic loader's
// own record, LD_DEBUG=files, of every library it opens), a torch run loads the module and libtorch,
// and a module that is not there is one error line naming where it was looked for.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "cli_runner.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/model/registry.h"

namespace fool {
namespace {

using testing::expect_one_line_error;
using testing::run_fool;

const std::string kModel = std::string(FOOL_FIXTURES_DIR) + "/mnist_bn_cnn.onnx";

// Sets an environment variable for one scope (the fool that run_fool starts inherits it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

std::string command_output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

bool mentions_libtorch(const std::string& s) {
  return s.find("libtorch") != std::string::npos || s.find("libc10") != std::string::npos;
}

class TorchLoadingCli : public testing::CliTest {
 protected:
  // Runs fool with the dynamic loader recording every library it opens (LD_DEBUG=files) into
  // files ld.PID in the test's directory; returns the result and, in *opened, the record.
  testing::CliResult traced(const std::vector<std::string>& args, std::string* opened) {
    const ScopedEnv trace("LD_DEBUG", "files");
    const ScopedEnv into("LD_DEBUG_OUTPUT", path("ld"));
    const auto r = run_fool(args);
    opened->clear();
    for (const auto& e : std::filesystem::directory_iterator(dir_))
      if (e.path().filename().string().rfind("ld.", 0) == 0) *opened += read_text_file(e.path().string());
    return r;
  }
  // `fool score` of one image on `backend`.
  testing::CliResult score_traced(const std::string& backend, std::string* opened) {
    Image8 img{{1, 28, 28}, std::vector<std::uint8_t>(784, 0)};
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 37) % 256);
    write_png(path("a.png"), img);
    return traced({"score", "--model", kModel, "--backend", backend, path("a.png")}, opened);
  }
};

TEST_F(TorchLoadingCli, TheBinaryDoesNotNeedLibtorch) {
  const std::string needed = command_output("readelf -d " + testing::shell_quote(FOOL_BIN) + " 2>&1");
  ASSERT_NE(needed.find("(NEEDED)"), std::string::npos) << needed;  // readelf ran and read the binary
  EXPECT_FALSE(mentions_libtorch(needed)) << needed;
}

TEST_F(TorchLoadingCli, AnotherBackendNeverLoadsLibtorchTorchLoadsIt) {
  const char* other = backend_registered("onednn") ? "onednn" : backend_registered("opencv") ? "opencv" : nullptr;
  if (other == nullptr) GTEST_SKIP() << "only the torch backend is built";
  std::string opened;
  const auto r = score_traced(other, &opened);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_NE(opened.find("file=libopencv_core"), std::string::npos) << "no LD_DEBUG record of fool: " << opened;
  EXPECT_FALSE(mentions_libtorch(opened)) << "--backend " << other << " loaded libtorch";

  const auto t = score_traced("torch", &opened);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(opened.find("libfool_torch.so"), std::string::npos);
  EXPECT_NE(opened.find("file=libtorch_cpu"), std::string::npos);
}

TEST_F(TorchLoadingCli, HelpDoesNotLoadLibtorch) {
  std::string opened;
  const auto r = traced({"--help"}, &opened);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_NE(opened.find("file=libopencv_core"), std::string::npos) << "no LD_DEBUG record of fool: " << opened;
  EXPECT_FALSE(mentions_libtorch(opened));
}

TEST_F(TorchLoadingCli, AMissingOrBrokenModuleIsOneLineNamingItsPath) {
  write_png(path("a.png"), Image8{{1, 28, 28}, std::vector<std::uint8_t>(784, 7)});
  const std::string missing = path("nowhere/libfool_torch.so");
  {
    const ScopedEnv where("FOOL_TORCH_LIBRARY", missing);
    expect_one_line_error(run_fool({"score", "--model", kModel, "--backend", "torch", path("a.png")}), missing);
    expect_one_line_error(
        run_fool({"train", "--data-dir", FOOL_MNIST_DIR, "--epochs", "1", "--quiet", "--out", path("m.onnx")}),
        missing);
  }
  const ScopedEnv where("FOOL_TORCH_LIBRARY", kModel);  // a file, but no shared library
  expect_one_line_error(run_fool({"score", "--model", kModel, "--backend", "torch", path("a.png")}),
                        kModel + ": cannot load fool's torch library");
}

}  // namespace
}  // namespace fool
