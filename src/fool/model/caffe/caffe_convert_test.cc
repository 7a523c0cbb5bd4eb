// Caffe -> ONNX conversion: Caffe's size rules, the parsing of both net forms, the preprocessing
// baked into the graph (checked against a direct computation), and every bad input as one line.
#include "fool/model/caffe/caffe_convert.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "caffe_subset.pb.h"
#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/model/factory.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
namespace cp = ::fool::caffe;

TEST(CaffeSizes, PoolingRoundsUpAndClipsOnlyWithPadding) {
  EXPECT_EQ(caffe_pooled_size(55, 3, 0, 2), 27);  // AlexNet pool1: exact
  EXPECT_EQ(caffe_pooled_size(32, 3, 0, 2), 16);  // floor would give 15
  EXPECT_EQ(caffe_pooled_size(24, 2, 0, 2), 12);  // LeNet
  EXPECT_EQ(caffe_pooled_size(6, 3, 1, 2), 4);    // ceil(5/2)+1; the last window starts inside
  EXPECT_EQ(caffe_pooled_size(5, 2, 1, 2), 3);    // ceil(5/2)+1 = 4 would start in the padding: clipped
  EXPECT_EQ(caffe_pooled_size(5, 1, 0, 3), 3);    // no padding: not clipped, even outside the input
}

TEST(CaffeSizes, ConvolutionRoundsDown) {
  EXPECT_EQ(caffe_conv_size(28, 5, 0, 1, 1), 24);
  EXPECT_EQ(caffe_conv_size(69, 7, 0, 2, 1), 32);
  EXPECT_EQ(caffe_conv_size(227, 11, 0, 4, 1), 55);
  EXPECT_EQ(caffe_conv_size(10, 3, 0, 1, 2), 6);  // dilated extent 5
  EXPECT_EQ(caffe_conv_size(2, 5, 0, 1, 1), 0);
}

TEST(CaffeMean, CentreCropUsesCaffesOffsets) {
  CaffeMean m;
  m.shape = {1, 5, 4};
  for (int i = 0; i < 20; ++i) m.values.push_back(static_cast<float>(i));
  const CaffeMean c = fit_caffe_mean(m, {1, 2, 2}, "m.binaryproto");
  // Offsets (5-2)/2 = 1 rows, (4-2)/2 = 1 column.
  EXPECT_EQ(c.values, (std::vector<float>{5, 6, 9, 10}));
  EXPECT_THROW(fit_caffe_mean(m, {3, 2, 2}, "m.binaryproto"), Error);
  EXPECT_THROW(fit_caffe_mean(m, {1, 6, 2}, "m.binaryproto"), Error);
}

TEST(CaffeMean, ParsesLegacyAndShapedBlobs) {
  cp::BlobProto b;
  b.set_num(1);
  b.set_channels(1);
  b.set_height(2);
  b.set_width(3);
  for (int i = 0; i < 6; ++i) b.add_data(static_cast<float>(i) * 10.0f);
  std::string bytes = b.SerializeAsString();
  CaffeMean m = parse_caffe_mean(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "a");
  EXPECT_EQ(m.shape.channels, 1);
  EXPECT_EQ(m.shape.height, 2);
  EXPECT_EQ(m.shape.width, 3);
  EXPECT_FLOAT_EQ(m.values[5], 50.0f);
  cp::BlobProto s;
  for (auto d : {1, 3, 1, 2}) s.mutable_shape()->add_dim(d);
  for (int i = 0; i < 6; ++i) s.add_double_data(i + 0.5);
  bytes = s.SerializeAsString();
  m = parse_caffe_mean(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "b");
  EXPECT_EQ(m.shape.channels, 3);
  EXPECT_FLOAT_EQ(m.values[0], 0.5f);
  s.add_data(1.0f);  // 1 float for a 6-element shape (double_data is then ignored, as Caffe does)
  bytes = s.SerializeAsString();
  EXPECT_THROW(parse_caffe_mean(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "c"), Error);
}

// A tiny net: 1x4x4 input, conv 2x(3x3) with bias, InnerProduct 3 (implicit flatten), Softmax.
constexpr const char* kTinyV2 = R"(
name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        param { lr_mult: 1 } param { lr_mult: 2 }
        convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "xavier" } engine: CAFFE } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip" inner_product_param { num_output: 3 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
)";

constexpr const char* kTinyV1 = R"(
name: "tiny"
input: "data"
input_dim: 1 input_dim: 1 input_dim: 4 input_dim: 4
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" blobs_lr: 1 blobs_lr: 2
         convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "gaussian" std: 0.01 } } }
layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
layers { name: "ip" type: INNER_PRODUCT bottom: "conv" top: "ip" inner_product_param { num_output: 3 } }
layers { name: "prob" type: SOFTMAX bottom: "ip" top: "prob" }
)";

struct TinyWeights {
  std::vector<float> conv_w, conv_b, ip_w, ip_b;
  TinyWeights() {
    for (int i = 0; i < 18; ++i) conv_w.push_back(std::sin(0.7f * static_cast<float>(i)) * 0.5f);
    conv_b = {0.1f, -0.2f};
    for (int i = 0; i < 24; ++i) ip_w.push_back(std::cos(1.3f * static_cast<float>(i)) * 2.0f);
    ip_b = {0.3f, 0.0f, -0.3f};
  }
};

cp::BlobProto make_blob(const std::vector<float>& v, const std::vector<std::int64_t>& shape, bool legacy) {
  cp::BlobProto b;
  if (legacy) {
    std::vector<std::int64_t> d(4 - shape.size(), 1);
    d.insert(d.end(), shape.begin(), shape.end());
    b.set_num(static_cast<int>(d[0]));
    b.set_channels(static_cast<int>(d[1]));
    b.set_height(static_cast<int>(d[2]));
    b.set_width(static_cast<int>(d[3]));
  } else {
    for (auto x : shape) b.mutable_shape()->add_dim(x);
  }
  for (float x : v) b.add_data(x);
  return b;
}

// Keeps the text parser's warnings about skipped fields off the test's output.
struct Quiet : google::protobuf::io::ErrorCollector {
  void AddError(int, int, const std::string& m) override { ADD_FAILURE() << m; }
  void AddWarning(int, int, const std::string&) override {}
};

// The .caffemodel of a prototxt: the same net with the blobs of `conv` and `ip`.
std::string tiny_caffemodel(const std::string& prototxt, const TinyWeights& w) {
  cp::NetParameter net;
  google::protobuf::TextFormat::Parser p;
  Quiet quiet;
  p.RecordErrorsTo(&quiet);
  p.AllowUnknownField(true);
  EXPECT_TRUE(p.ParseFromString(prototxt, &net));
  for (auto& l : *net.mutable_layer()) {
    if (l.name() == "conv") {
      *l.add_blobs() = make_blob(w.conv_w, {2, 1, 3, 3}, false);
      *l.add_blobs() = make_blob(w.conv_b, {2}, false);
    } else if (l.name() == "ip") {
      *l.add_blobs() = make_blob(w.ip_w, {3, 8}, false);
      *l.add_blobs() = make_blob(w.ip_b, {3}, false);
    }
  }
  for (auto& l : *net.mutable_layers()) {  // V1: legacy 4-D blobs, as 2014 Caffe wrote them
    if (l.name() == "conv") {
      *l.add_blobs() = make_blob(w.conv_w, {2, 1, 3, 3}, true);
      *l.add_blobs() = make_blob(w.conv_b, {2}, true);
    } else if (l.name() == "ip") {
      *l.add_blobs() = make_blob(w.ip_w, {3, 8}, true);
      *l.add_blobs() = make_blob(w.ip_b, {3}, true);
    }
  }
  return net.SerializeAsString();
}

// The tiny net computed directly, with Caffe's preprocessing: (pixel*255 - mean) * scale.
std::vector<float> tiny_forward(const std::vector<float>& pixels01, const std::vector<float>& mean, float scale,
                                const TinyWeights& w) {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = (pixels01[i] * 255.0f - (mean.empty() ? 0.0f : mean[i])) * scale;
  std::vector<float> conv(8);
  for (int o = 0; o < 2; ++o)
    for (int y = 0; y < 2; ++y)
      for (int xx = 0; xx < 2; ++xx) {
        float s = w.conv_b[o];
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx) s += w.conv_w[o * 9 + ky * 3 + kx] * x[(y + ky) * 4 + xx + kx];
        conv[o * 4 + y * 2 + xx] = std::max(s, 0.0f);
      }
  std::vector<float> logits(3);
  for (int k = 0; k < 3; ++k) {
    float s = w.ip_b[k];
    for (int i = 0; i < 8; ++i) s += w.ip_w[k * 8 + i] * conv[i];
    logits[k] = s;
  }
  const float m = *std::max_element(logits.begin(), logits.end());
  float z = 0;
  for (auto& l : logits) z += (l = std::exp(l - m));
  for (auto& l : logits) l /= z;
  return logits;
}

class CaffeConvertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_caffe_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  // Converts with the given files, expecting an Error whose one line contains every fragment and
  // that nothing is written.
  void expect_error(const CaffeConvertOptions& o, const std::vector<std::string>& fragments) {
    try {
      convert_caffe(o);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      for (const auto& f : fragments) EXPECT_NE(m.find(f), std::string::npos) << "'" << f << "' not in: " << m;
    }
    EXPECT_FALSE(fs::exists(o.out));
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir_))
      files += e.path().extension() == ".onnx" || e.path().filename().string()[0] == '.';
    EXPECT_EQ(files, 0u) << "a file was left behind";
  }
  fs::path dir_;
};

TEST_F(CaffeConvertTest, BothFormsGiveTheDirectComputationWithMeanAndScale) {
  const TinyWeights w;
  std::vector<float> mean(16);
  for (int i = 0; i < 16; ++i) mean[i] = 100.0f + 5.0f * static_cast<float>(i);
  cp::BlobProto mb = make_blob(mean, {1, 1, 4, 4}, true);
  write("mean.binaryproto", mb.SerializeAsString());
  std::vector<float> pixels(16);
  for (int i = 0; i < 16; ++i) pixels[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  const std::vector<float> expected = tiny_forward(pixels, mean, 0.02f, w);
  for (const auto* form : {kTinyV2, kTinyV1}) {
    write("net.prototxt", form);
    write("net.caffemodel", tiny_caffemodel(form, w));
    CaffeConvertOptions o{path("net.prototxt"), path("net.caffemodel"), path("mean.binaryproto"), 0.02f,
                          path("tiny.onnx")};
    CaffeConversion conv;
    const ModelSpec spec = convert_caffe(o, &conv);
    EXPECT_EQ(conv.format, form == kTinyV1 ? "V1" : "V2");
    EXPECT_EQ(conv.layers, form == kTinyV1 ? 4 : 5);
    EXPECT_EQ(spec.num_classes, 3);
    EXPECT_EQ(spec.input.channels, 1);
    EXPECT_EQ(spec.preprocessing.channel_order, ChannelOrder::Rgb);
    EXPECT_TRUE(spec.preprocessing.output_is_probabilities);
    for (const Backend& b : testing::registered_backends({"torch", "opencv"})) {
      ClassifierOptions co;
      co.backend = b;
      co.threads = 1;
      auto clf = load_classifier(path("tiny.onnx"), co);
      ImageBatch batch(1, {1, 4, 4});
      std::copy(pixels.begin(), pixels.end(), batch.image(0));
      const Matrix p = clf->probabilities(batch);
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(p(0, k), expected[k], 1e-5) << backend_name(b) << " class " << k;
    }
  }
}

// LRN with k != 1 (OpenCV's Caffe importer ignores k, so the conformance test cannot check it):
// Caffe's x / (k + alpha / n * sum of squares over n channels)^beta, computed directly.
TEST_F(CaffeConvertTest, LrnMatchesCaffesFormulaWithBias) {
  const char* text = R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 2 dim: 2 } } }
layer { name: "norm" type: "LRN" bottom: "data" top: "norm" lrn_param { local_size: 3 alpha: 0.3 beta: 0.75 k: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "norm" top: "ip" inner_product_param { num_output: 2 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
)";
  std::vector<float> ip_w(24), ip_b{0.5f, -0.5f};
  for (int i = 0; i < 24; ++i) ip_w[static_cast<std::size_t>(i)] = std::sin(0.9f * static_cast<float>(i));
  cp::NetParameter net;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &net));
  *net.mutable_layer(2)->add_blobs() = make_blob(ip_w, {2, 12}, false);
  *net.mutable_layer(2)->add_blobs() = make_blob(ip_b, {2}, false);
  write("lrn.prototxt", text);
  write("lrn.caffemodel", net.SerializeAsString());
  const float scale = 1.0f / 64.0f;
  CaffeConvertOptions o{path("lrn.prototxt"), path("lrn.caffemodel"), "", scale, path("lrn.onnx")};
  const ModelSpec spec = convert_caffe(o);
  ASSERT_EQ(spec.preprocessing.channel_order, ChannelOrder::Bgr);
  std::vector<float> img(12);  // fool's RGB image in [0,1]
  for (int i = 0; i < 12; ++i) img[static_cast<std::size_t>(i)] = static_cast<float>((i * 53 + 17) % 256) / 255.0f;
  std::vector<float> x(12), norm(12);  // Caffe's input: BGR, 0..255 times the scale
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 4; ++p)
      x[static_cast<std::size_t>(c * 4 + p)] = img[static_cast<std::size_t>((2 - c) * 4 + p)] * 255.0f * scale;
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 4; ++p) {
      float sum = 0;
      for (int j = std::max(0, c - 1); j <= std::min(2, c + 1); ++j)
        sum += x[static_cast<std::size_t>(j * 4 + p)] * x[static_cast<std::size_t>(j * 4 + p)];
      norm[static_cast<std::size_t>(c * 4 + p)] =
          x[static_cast<std::size_t>(c * 4 + p)] / std::pow(2.0f + 0.3f / 3.0f * sum, 0.75f);
    }
  float l[2];
  for (int k = 0; k < 2; ++k) {
    l[k] = ip_b[static_cast<std::size_t>(k)];
    for (int i = 0; i < 12; ++i) l[k] += ip_w[static_cast<std::size_t>(k * 12 + i)] * norm[static_cast<std::size_t>(i)];
  }
  const float p1 = 1.0f / (1.0f + std::exp(l[0] - l[1]));
  for (const Backend& b : testing::registered_backends({"torch", "opencv"})) {
    ClassifierOptions co;
    co.backend = b;
    co.threads = 1;
    auto clf = load_classifier(path("lrn.onnx"), co);
    ImageBatch batch(1, {3, 2, 2});
    std::copy(img.begin(), img.end(), batch.image(0));
    EXPECT_NEAR(clf->probabilities(batch)(0, 1), p1, 1e-5) << backend_name(b);
  }
}

TEST_F(CaffeConvertTest, PngMeanIsReadInCaffesBgrOrder) {
  Image8 rgb;
  rgb.shape = {3, 1, 2};
  rgb.pixels = {10, 11, 20, 21, 30, 31};  // R plane, G plane, B plane
  write_png(path("mean.png"), rgb);
  const CaffeMean m = read_caffe_mean(path("mean.png"));
  EXPECT_EQ(m.values, (std::vector<float>{30, 31, 20, 21, 10, 11}));
}

TEST_F(CaffeConvertTest, UnknownFieldsOfRealPrototxtsAreSkipped) {
  const TinyWeights w;
  const std::string text =
      std::string(kTinyV2) + "force_backward: true\nstate { phase: TEST }\n" +
      "layer { name: \"acc\" type: \"Accuracy\" bottom: \"ip\" top: \"acc\" include { phase: TRAIN } }\n";
  write("net.prototxt", text);
  write("net.caffemodel", tiny_caffemodel(kTinyV2, w));
  CaffeConvertOptions o{path("net.prototxt"), path("net.caffemodel"), "", 1.0f, path("tiny.onnx")};
  EXPECT_EQ(convert_caffe(o).num_classes, 3);  // the TRAIN-only Accuracy layer is left out
}

TEST_F(CaffeConvertTest, BadInputsAreOneLineErrorsAndWriteNothing) {
  const TinyWeights w;
  write("net.prototxt", kTinyV2);
  write("net.caffemodel", tiny_caffemodel(kTinyV2, w));
  const std::string out = path("out.onnx");
  CaffeConvertOptions good{path("net.prototxt"), path("net.caffemodel"), "", 1.0f, out};

  // A prototxt without weights.
  CaffeConvertOptions o = good;
  o.weights = path("missing.caffemodel");
  expect_error(o, {"missing.caffemodel"});
  // Weights of another net: no layer 'conv'.
  write("other.prototxt",
        std::string(kTinyV2).replace(std::string(kTinyV2).find("name: \"conv\""), 12, "name: \"cnv1\""));
  write("other.caffemodel", tiny_caffemodel(kTinyV2, w));
  o = good;
  o.prototxt = path("other.prototxt");
  expect_error(o, {"net.caffemodel", "no layer named 'cnv1'"});
  // A blob whose shape is not the prototxt's (num_output 4 in the prototxt, 2 in the weights).
  std::string wider = kTinyV2;
  wider.replace(wider.find("num_output: 2"), 13, "num_output: 4");
  write("wider.prototxt", wider);
  o = good;
  o.prototxt = path("wider.prototxt");
  expect_error(o, {"net.caffemodel", "layer 'conv' blob 0 has shape [2,1,3,3]", "[4,1,3,3]"});
  // An unknown layer type: named with the list of what is supported.
  std::string unknown = kTinyV2;
  unknown.replace(unknown.find("type: \"ReLU\""), 12, "type: \"PReLU\"");
  write("unknown.prototxt", unknown);
  o = good;
  o.prototxt = path("unknown.prototxt");
  expect_error(o, {"unknown.prototxt", "layer 'relu' (PReLU)", "not supported", "Convolution, Pooling"});
  // Garbage bytes as weights and as prototxt.
  write("garbage.caffemodel", std::string("\xff\xff\xff\xff garbage", 12));
  o = good;
  o.weights = path("garbage.caffemodel");
  expect_error(o, {"garbage.caffemodel", "not a Caffe .caffemodel"});
  write("garbage.prototxt", "layer { name: \"x\" type: ");
  o = good;
  o.prototxt = path("garbage.prototxt");
  expect_error(o, {"garbage.prototxt", "not a Caffe prototxt", "line"});
  // A mean file with the wrong channel count, a smaller one, and garbage.
  write("rgb.binaryproto", make_blob(std::vector<float>(48, 1.0f), {1, 3, 4, 4}, true).SerializeAsString());
  o = good;
  o.mean_image = path("rgb.binaryproto");
  expect_error(o, {"rgb.binaryproto", "3 channels", "1"});
  write("small.binaryproto", make_blob(std::vector<float>(9, 1.0f), {1, 1, 3, 3}, true).SerializeAsString());
  o.mean_image = path("small.binaryproto");
  expect_error(o, {"small.binaryproto", "3x3, smaller than the network's 4x4"});
  write("garbage.binaryproto", std::string("\x0a\xff\xff\xff", 4));
  o.mean_image = path("garbage.binaryproto");
  expect_error(o, {"garbage.binaryproto", "not a Caffe mean file"});
  // Two blobs nobody reads.
  write("two.prototxt",
        std::string(kTinyV2) + "layer { name: \"side\" type: \"Sigmoid\" bottom: \"conv\" top: \"side\" }\n");
  o = good;
  o.prototxt = path("two.prototxt");
  expect_error(o, {"two.prototxt", "2 blobs are read by no layer"});
  // A pooling whose last window Caffe puts outside the input: no ONNX pooling matches.
  write("outside.prototxt",
        std::string(kTinyV2).replace(std::string(kTinyV2).find("layer { name: \"relu\""), 0,
                                     "layer { name: \"pool\" type: \"Pooling\" bottom: \"conv\" top: \"conv\" "
                                     "pooling_param { pool: MAX kernel_size: 1 stride: 3 } }\n"));
  o = good;
  o.prototxt = path("outside.prototxt");
  expect_error(o, {"outside.prototxt", "layer 'pool' (Pooling)", "outside the input"});
  // And the good files do convert.
  EXPECT_EQ(convert_caffe(good).num_classes, 3);
  EXPECT_TRUE(fs::exists(out));
}

// Issue 20: parameters under which the converted model computes NaN (BatchNorm's eps 0 with a zero
// variance, a negative LRN base, a NaN ReLU slope, an infinite Eltwise coefficient) were converted
// and gave NaN "probabilities". Each is one line naming the layer, and nothing is written.
TEST_F(CaffeConvertTest, ParametersThatMakeNanAreRefusedNamingTheLayer) {
  const TinyWeights w;
  const std::string relu = "layer { name: \"relu\" type: \"ReLU\" bottom: \"conv\" top: \"conv\" }";
  auto with = [&](const std::string& layers) {
    std::string text = kTinyV2;
    return text.replace(text.find(relu), relu.size(), layers);
  };
  struct Case {
    std::string layers, fragment;
  };
  const std::vector<Case> cases = {
      {"layer { name: \"norm\" type: \"LRN\" bottom: \"conv\" top: \"conv\" lrn_param { local_size: 1 k: -1 } }",
       "layer 'norm' (LRN): k -1 must be positive"},
      {"layer { name: \"norm\" type: \"LRN\" bottom: \"conv\" top: \"conv\" lrn_param { local_size: 1 k: 0 } }",
       "layer 'norm' (LRN): k 0 must be positive"},
      {"layer { name: \"norm\" type: \"LRN\" bottom: \"conv\" top: \"conv\" lrn_param { local_size: 1 beta: nan } }",
       "layer 'norm' (LRN): beta nan"},
      {"layer { name: \"leaky\" type: \"ReLU\" bottom: \"conv\" top: \"conv\" relu_param { negative_slope: nan } }",
       "layer 'leaky' (ReLU): negative_slope nan"},
      {"layer { name: \"r2\" type: \"ReLU\" bottom: \"conv\" top: \"c2\" }\n"
       "layer { name: \"sum\" type: \"Eltwise\" bottom: \"conv\" bottom: \"c2\" top: \"conv\" "
       "eltwise_param { operation: SUM coeff: 1 coeff: inf } }",
       "layer 'sum' (Eltwise): coeff inf"},
      {"layer { name: \"bn\" type: \"BatchNorm\" bottom: \"conv\" top: \"conv\" batch_norm_param { eps: 0 } }",
       "layer 'bn' (BatchNorm): eps 0 must be positive"},
      {"layer { name: \"bn\" type: \"BatchNorm\" bottom: \"conv\" top: \"conv\" batch_norm_param { eps: -0.001 } }",
       "layer 'bn' (BatchNorm): eps -0.001 must be positive"}};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string text = with(cases[i].layers);
    cp::NetParameter net;
    google::protobuf::TextFormat::Parser parser;
    Quiet quiet;
    parser.RecordErrorsTo(&quiet);
    parser.AllowUnknownField(true);
    ASSERT_TRUE(parser.ParseFromString(text, &net)) << text;
    cp::NetParameter weights;
    ASSERT_TRUE(weights.ParseFromString(tiny_caffemodel(text, w)));
    for (auto& l : *weights.mutable_layer())
      if (l.name() == "bn") {  // mean 0, variance 0, scale factor 1
        *l.add_blobs() = make_blob({0, 0}, {2}, false);
        *l.add_blobs() = make_blob({0, 0}, {2}, false);
        *l.add_blobs() = make_blob({1}, {1}, false);
      }
    const std::string name = "case" + std::to_string(i);
    write(name + ".prototxt", text);
    write(name + ".caffemodel", weights.SerializeAsString());
    CaffeConvertOptions o{path(name + ".prototxt"), path(name + ".caffemodel"), "", 1.0f, path(name + ".onnx")};
    expect_error(o, {name + ".prototxt", cases[i].fragment});
  }
  // A negative variance in the weights (the running sum divided by its factor) is named too.
  const std::string bn =
      with("layer { name: \"bn\" type: \"BatchNorm\" bottom: \"conv\" top: \"conv\" batch_norm_param { eps: 1e-5 } }");
  cp::NetParameter weights;
  ASSERT_TRUE(weights.ParseFromString(tiny_caffemodel(bn, w)));
  for (auto& l : *weights.mutable_layer())
    if (l.name() == "bn") {
      *l.add_blobs() = make_blob({0, 0}, {2}, false);
      *l.add_blobs() = make_blob({1, -2}, {2}, false);
      *l.add_blobs() = make_blob({1}, {1}, false);
    }
  write("bn.prototxt", bn);
  write("bn.caffemodel", weights.SerializeAsString());
  CaffeConvertOptions o{path("bn.prototxt"), path("bn.caffemodel"), "", 1.0f, path("bn.onnx")};
  expect_error(o, {"bn.caffemodel", "layer 'bn' channel 1", "variance -2"});
}

// Issue 20, hang: a prototxt of 100,000 in-place layers on one blob took quadratic time, each
// layer's output name probing every suffix given before it. Names now continue from the last suffix.
TEST_F(CaffeConvertTest, ManyInPlaceLayersGetDistinctNamesInLinearTime) {
  const TinyWeights w;
  const std::string relu = "layer { name: \"relu\" type: \"ReLU\" bottom: \"conv\" top: \"conv\" }\n";
  std::string layers;
  for (int i = 0; i < 20000; ++i) layers += relu;
  std::string text = kTinyV2;
  text.replace(text.find(relu), relu.size(), layers);
  write("deep.prototxt", text);
  write("deep.caffemodel", tiny_caffemodel(kTinyV2, w));
  CaffeConvertOptions o{path("deep.prototxt"), path("deep.caffemodel"), "", 1.0f, path("deep.onnx")};
  CaffeConversion c;
  EXPECT_EQ(convert_caffe(o, &c).num_classes, 3);
  EXPECT_EQ(c.layers, 20004);
}

}  // namespace
}  // namespace fool
