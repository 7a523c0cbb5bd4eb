// End-to-end tests of the dataset flags (--dataset idx, --data-dir, --train-images ..., --class-names)
// with `fool experiment retrain` and `fool train`, Debian's Fashion-MNIST, and bad dataset files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/io/idx.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::expect_one_line_error;
using testing::run_fool;

// A small 3-class dataset of 28x28 images: class k is a bright horizontal bar in band k, with noise.
IdxArray bar_images(std::size_t n, std::uint64_t seed, IdxArray& labels) {
  Rng rng(seed);
  IdxArray images{{static_cast<std::uint32_t>(n), 28, 28}, {}};
  labels = IdxArray{{static_cast<std::uint32_t>(n)}, {}};
  for (std::size_t i = 0; i < n; ++i) {
    const int k = static_cast<int>(i % 3);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const bool bar = y >= 4 + 8 * k && y < 8 + 8 * k;
        images.data.push_back(static_cast<std::uint8_t>((bar ? 200 : 0) + rng.below(41)));
      }
    labels.data.push_back(static_cast<std::uint8_t>(k));
  }
  return images;
}

class DatasetCli : public testing::CliTest {
 protected:
  // Writes the bars dataset under `dir` with the four standard names; the training images gzipped.
  void write_bars(const std::string& dir) {
    fs::create_directories(dir);
    IdxArray train_labels, test_labels;
    write_idx(dir + "/train-images-idx3-ubyte", bar_images(120, 1, train_labels));
    write_idx(dir + "/train-labels-idx1-ubyte", train_labels);
    write_idx(dir + "/t10k-images-idx3-ubyte", bar_images(30, 2, test_labels));
    write_idx(dir + "/t10k-labels-idx1-ubyte", test_labels);
    ASSERT_EQ(std::system(("gzip -f " + testing::shell_quote(dir + "/train-images-idx3-ubyte")).c_str()), 0);
  }
  static std::vector<std::string> small_retrain(const std::string& out) {
    return {"experiment",  "retrain", "--out",  out,  "--iterations",   "2", "--epochs",    "1", "--generations", "3",
            "--offspring", "10",      "--init", "10", "--first-images", "6", "--eval-runs", "1", "--threads",     "1"};
  }
  static std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  static nlohmann::json info(const std::string& model) {
    return nlohmann::json::parse(run_fool({"info", "--model", model}).out);
  }
};

TEST_F(DatasetCli, RetrainOnAnyIdxDatasetCountsItsClassesFromTheLabels) {
  write_bars(path("bars"));
  const std::string out = path("x");
  const auto r = run_fool(plus(small_retrain(out), {"--dataset", "idx", "--data-dir", path("bars")}));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto x = nlohmann::json::parse(read_text_file(out + "/experiment.json"));
  EXPECT_EQ(x["config"]["dataset"], "idx");
  EXPECT_EQ(x["config"]["dataset_source"]["dir"], path("bars"));
  ASSERT_EQ(x["iterations"].size(), 2u);
  EXPECT_EQ(x["iterations"][1]["fooling_examples_in_training"], 6);
  EXPECT_EQ(info(out + "/iteration1/dnn.onnx")["labels"], nlohmann::json({"0", "1", "2"}));
  // DNN_2: the three classes of the labels plus the fooling class, which evolution leaves alone.
  EXPECT_EQ(info(out + "/iteration2/dnn.onnx")["labels"], nlohmann::json({"0", "1", "2", "fooling"}));
  const auto run = nlohmann::json::parse(read_text_file(out + "/iteration2/runs/run1/summary.json"));
  EXPECT_EQ(run["classes"].size(), 3u);
}

TEST_F(DatasetCli, ExplicitFilesAndClassNamesReplaceTheDirectory) {
  write_bars(path("bars"));
  write_file_atomic(path("names.txt"), std::string("top\nmiddle\nbottom\n"));
  const std::string b = path("bars") + "/";
  const std::vector<std::string> files = {"--dataset",      "idx",
                                          "--train-images", b + "train-images-idx3-ubyte.gz",
                                          "--train-labels", b + "train-labels-idx1-ubyte",
                                          "--test-images",  b + "t10k-images-idx3-ubyte",
                                          "--test-labels",  b + "t10k-labels-idx1-ubyte",
                                          "--class-names",  path("names.txt")};
  const auto t = run_fool(plus({"train", "--arch", "mlp", "--epochs", "1", "--quiet", "--out", path("m.onnx")}, files));
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(info(path("m.onnx"))["labels"], nlohmann::json({"top", "middle", "bottom"}));
  const auto report = nlohmann::json::parse(read_text_file(path("m.onnx.json")));
  EXPECT_EQ(report["dataset_source"]["class_names_file"], path("names.txt"));
  EXPECT_EQ(report["train_examples"], 120);

  const auto r = run_fool(plus(small_retrain(path("x")), files));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(info(path("x") + "/iteration2/dnn.onnx")["labels"], nlohmann::json({"top", "middle", "bottom", "fooling"}));
  // Resuming with other files is refused: the experiment records where its data came from.
  auto other = files;
  other[3] = b + "t10k-images-idx3-ubyte";
  other[5] = b + "t10k-labels-idx1-ubyte";
  expect_one_line_error(run_fool(plus(small_retrain(path("x")), other)), "dataset_source");
}

TEST_F(DatasetCli, FashionMnistFromDebiansPackage) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const std::string out = path("x");
  const auto r = run_fool({"experiment",    "retrain", "--out",        out,  "--dataset", "fashion-mnist",
                           "--arch",        "mlp",     "--iterations", "1",  "--epochs",  "1",
                           "--generations", "2",       "--offspring",  "10", "--init",    "10",
                           "--eval-runs",   "1",       "--threads",    "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto x = nlohmann::json::parse(read_text_file(out + "/experiment.json"));
  EXPECT_EQ(x["config"]["dataset"], "fashion-mnist");
  EXPECT_FALSE(x["config"].contains("dataset_source"));  // a known dataset: its name says it
  EXPECT_EQ(x["iterations"][0]["train_examples"], 60000);
  const auto labels = info(out + "/iteration1/dnn.onnx")["labels"];
  ASSERT_EQ(labels.size(), 10u);
  EXPECT_EQ(labels[9], "Ankle boot");
}

TEST_F(DatasetCli, BadDatasetFilesAreOneLineErrorsAndWriteNothing) {
  write_bars(path("bars"));
  const std::string b = path("bars") + "/";
  // Labels of another split: 30 labels for 120 images.
  fs::create_directories(path("short"));
  fs::copy_file(b + "train-images-idx3-ubyte.gz", path("short/train-images-idx3-ubyte.gz"));
  fs::copy_file(b + "t10k-labels-idx1-ubyte", path("short/train-labels-idx1-ubyte"));
  fs::copy_file(b + "t10k-images-idx3-ubyte", path("short/t10k-images-idx3-ubyte"));
  fs::copy_file(b + "t10k-labels-idx1-ubyte", path("short/t10k-labels-idx1-ubyte"));
  // A labels file with a wrong magic number.
  std::string bytes = read_text_file(b + "t10k-labels-idx1-ubyte");
  bytes[0] = 'P';
  write_file_atomic(path("magic"), bytes);
  write_file_atomic(path("one_name.txt"), std::string("only\n"));

  struct Case {
    std::vector<std::string> flags;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"--dataset", "idx", "--data-dir", path("nowhere")}, "nowhere"},
      {{"--dataset", "idx", "--data-dir", b, "--test-labels", path("missing-labels")}, "missing-labels"},
      {{"--dataset", "idx"}, "--train-labels"},
      {{"--dataset", "idx", "--data-dir", path("short")}, "30 labels for 120 images"},
      {{"--dataset", "idx", "--data-dir", b, "--test-labels", path("magic")}, "bad magic number"},
      {{"--dataset", "idx", "--data-dir", b, "--class-names", path("one_name.txt")}, "one_name.txt"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.needle);
    const std::string out = path("x" + std::to_string(i));
    expect_one_line_error(run_fool(plus(small_retrain(out), c.flags)), c.needle);
    EXPECT_FALSE(fs::exists(out));
    const std::string model = path("m" + std::to_string(i) + ".onnx");
    expect_one_line_error(run_fool(plus({"train", "--quiet", "--epochs", "1", "--out", model}, c.flags)), c.needle);
    EXPECT_FALSE(fs::exists(model));
    EXPECT_FALSE(fs::exists(model + ".json"));
  }
}

}  // namespace
}  // namespace fool
