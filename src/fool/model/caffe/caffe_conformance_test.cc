// Conformance of `fool convert caffe` with OpenCV's own Caffe importer (cv::dnn::readNetFromCaffe,
// which parses Caffe files with its own copy of caffe.proto): Caffe networks built by
// make_test_nets.py from the public format description (a V1 and a V2 LeNet with the MNIST mean and
// scale 1/256, a small AlexNet with grouped convolutions, LRN and rounded-up pooling, and a net of
// the remaining layer types) are converted, scored by fool on both backends, and compared with the
// importer's output on the same pixels, with Caffe's mean and scale applied by hand (the importer
// does not read mean files).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <opencv2/dnn.hpp>
#include <random>

#include "fool/core/error.h"
#include "fool/model/caffe/caffe_convert.h"
#include "fool/model/factory.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

struct Net {
  std::string name, mean;
  float scale;
};
void PrintTo(const Net& n, std::ostream* os) { *os << n.name; }

class CaffeConformance : public ::testing::TestWithParam<Net> {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fool_caffe_conformance_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    const std::string cmd = "PYTHONPATH='" + std::string(FOOL_CAFFE_PB_DIR) + "' '" + FOOL_PYTHON + "' '" +
                            FOOL_CAFFE_NET_SCRIPT + "' '" + dir_.string() + "'";
    made_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline fs::path dir_;
  static inline bool made_ = false;
};

// OpenCV's Caffe importer on N images in fool's layout ([0,1], RGB planar), preprocessed as Caffe
// does: channels to BGR, (pixel * 255 - mean) * scale.
Matrix reference(const Net& net, const fs::path& dir, const ImageBatch& images, const CaffeMean* mean) {
  cv::dnn::Net cvnet =
      cv::dnn::readNetFromCaffe((dir / (net.name + ".prototxt")).string(), (dir / (net.name + ".caffemodel")).string());
  const ImageShape s = images.shape();
  const int dims[4] = {static_cast<int>(images.size()), s.channels, s.height, s.width};
  cv::Mat blob(4, dims, CV_32F);
  float* out = blob.ptr<float>();
  const std::size_t plane = static_cast<std::size_t>(s.height) * static_cast<std::size_t>(s.width);
  for (std::size_t i = 0; i < images.size(); ++i)
    for (int c = 0; c < s.channels; ++c) {
      const int from = s.channels == 3 ? 2 - c : c;
      for (std::size_t p = 0; p < plane; ++p) {
        const float m = mean ? mean->values[static_cast<std::size_t>(c) * plane + p] : 0.0f;
        out[(i * static_cast<std::size_t>(s.channels) + static_cast<std::size_t>(c)) * plane + p] =
            (images.image(i)[static_cast<std::size_t>(from) * plane + p] * 255.0f - m) * net.scale;
      }
    }
  cvnet.setInput(blob);
  cv::Mat prob = cvnet.forward();
  prob = prob.reshape(1, static_cast<int>(images.size()));
  Matrix m(images.size(), static_cast<std::size_t>(prob.cols));
  for (int r = 0; r < prob.rows; ++r)
    for (int k = 0; k < prob.cols; ++k)
      m(static_cast<std::size_t>(r), static_cast<std::size_t>(k)) = prob.at<float>(r, k);
  return m;
}

TEST_P(CaffeConformance, ConvertedModelMatchesOpenCvsCaffeImporterOnBothBackends) {
  ASSERT_TRUE(made_) << "make_test_nets.py failed (needs python3-numpy and python3-protobuf)";
  const Net& net = GetParam();
  CaffeConvertOptions o;
  o.prototxt = (dir_ / (net.name + ".prototxt")).string();
  o.weights = (dir_ / (net.name + ".caffemodel")).string();
  o.mean_image = net.mean.empty() ? "" : (dir_ / net.mean).string();
  o.scale = net.scale;
  o.out = (dir_ / (net.name + ".onnx")).string();
  CaffeConversion conv;
  const ModelSpec spec = convert_caffe(o, &conv);
  EXPECT_EQ(spec.preprocessing.channel_order, spec.input.channels == 3 ? ChannelOrder::Bgr : ChannelOrder::Rgb);

  std::optional<CaffeMean> mean;
  if (!o.mean_image.empty()) mean = fit_caffe_mean(read_caffe_mean(o.mean_image), spec.input, o.mean_image);

  // 8 images as fool makes them (bytes / 255): uniform noise, smooth patterns, flat gray.
  ImageBatch images(8, spec.input);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::size_t n = spec.input.size();
  for (std::size_t i = 0; i < images.size(); ++i)
    for (std::size_t j = 0; j < n; ++j) {
      int v = byte(rng);
      if (i >= 4 && i < 7)
        v = static_cast<int>(127.5 + 127.5 * std::sin(0.05 * static_cast<double>(j) * static_cast<double>(i)));
      if (i == 7) v = 128;
      images.image(i)[j] = static_cast<float>(v) / 255.0f;
    }
  const Matrix want = reference(net, dir_, images, mean ? &*mean : nullptr);
  ASSERT_EQ(want.cols(), static_cast<std::size_t>(spec.num_classes));

  // The weights are peaked: most images get one class at >= 0.9 (a flat softmax would hide errors).
  int peaked = 0;
  for (std::size_t i = 0; i < want.rows(); ++i)
    peaked += *std::max_element(want.row(i), want.row(i) + want.cols()) >= 0.9f;
  EXPECT_GE(peaked, 4) << net.name;

  for (Backend b : {Backend("torch"), Backend("opencv")}) {
    ClassifierOptions co;
    co.backend = b;
    co.threads = 1;
    auto clf = load_classifier(o.out, co);
    const Matrix got = clf->probabilities(images);
    double worst = 0;
    for (std::size_t i = 0; i < got.rows(); ++i)
      for (std::size_t k = 0; k < got.cols(); ++k) worst = std::max(worst, std::abs(double(got(i, k)) - want(i, k)));
    EXPECT_LE(worst, 1e-4) << net.name << " on " << backend_name(b);
    std::printf(
        "[caffe conformance] %s (%s, %d layers) on %s: max |p - OpenCV Caffe importer| = %.3g over %zu images\n",
        net.name.c_str(), conv.format.c_str(), conv.layers, backend_name(b).c_str(), worst, got.rows());
  }
}

INSTANTIATE_TEST_SUITE_P(Nets, CaffeConformance,
                         ::testing::Values(Net{"lenet_v1", "mnist_mean.binaryproto", 0.00390625f},
                                           Net{"lenet_v2", "mnist_mean.binaryproto", 0.00390625f},
                                           Net{"alexnet_small", "alexnet_mean.binaryproto", 1.0f},
                                           Net{"mixnet", "", 0.5f}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace fool
