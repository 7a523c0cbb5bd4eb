// `fool convert caffe` end to end: the paper's LeNet as a Caffe V1 net (built by
// src/fool/model/caffe/make_test_nets.py) converted with its mean image and scale, then
// `fool info`, `fool score` and a short `fool evolve` on the result; and every bad input as one
// line on stderr with nothing written.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/io/files.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::run_fool;

class CaffeCli : public testing::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    const std::string cmd = "PYTHONPATH='" + std::string(FOOL_CAFFE_PB_DIR) + "' '" + FOOL_PYTHON + "' '" +
                            FOOL_CAFFE_NET_SCRIPT + "' '" + path("nets") + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "make_test_nets.py failed";
  }
  std::string net(const std::string& file) const { return path("nets/" + file); }
  std::vector<std::string> convert_args(const std::string& out) const {
    return {"convert",      "caffe",
            "--prototxt",   net("lenet_v1.prototxt"),
            "--weights",    net("lenet_v1.caffemodel"),
            "--mean-image", net("mnist_mean.binaryproto"),
            "--scale",      "0.00390625",
            "--out",        out};
  }
};

TEST_F(CaffeCli, ConvertedLeNetRunsThroughInfoScoreAndEvolve) {
  const std::string model = path("lenet.onnx");
  const auto c = run_fool(convert_args(model));
  ASSERT_EQ(c.code, 0) << c.err;
  const auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["format"], "V1");
  EXPECT_EQ(j["layers"], 8);
  EXPECT_EQ(j["classes"], 10);
  EXPECT_EQ(j["output"], "probabilities");
  EXPECT_EQ(j["input"], nlohmann::json({1, 28, 28}));

  const auto info = run_fool({"info", "--model", model});
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("Conv"), std::string::npos);

  const std::string run = path("run");
  for (const std::string& backend : testing::backends_built({"torch", "opencv"})) {
    const auto e =
        run_fool({"evolve", "--model", model, "--backend", backend, "--encoding", "cppn", "--generations", "5",
                  "--offspring", "20", "--init", "20", "--classes", "0-2", "--quiet", "--overwrite", "--out", run});
    ASSERT_EQ(e.code, 0) << e.err;
    const auto summary = read_json_file(run + "/summary.json");
    EXPECT_EQ(summary["classes"].size(), 3u);
    const auto s = run_fool({"score", "--model", model, "--backend", backend, run + "/images/class_1.png"});
    ASSERT_EQ(s.code, 0) << s.err;
  }
}

TEST_F(CaffeCli, BadInputsAreOneLineAndWriteNothing) {
  const std::string out = path("bad.onnx");
  auto args = convert_args(out);
  auto with = [&](const std::string& flag, const std::string& value) {
    auto a = args;
    const auto it = std::find(a.begin(), a.end(), flag);
    *(it + 1) = value;
    return a;
  };
  auto check = [&](const std::vector<std::string>& a, const std::string& needle) {
    testing::expect_one_line_error(run_fool(a), needle);
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(dir_)) EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  };
  // A prototxt without its weights; weights of another net; a blob shape that is not the prototxt's.
  check(with("--weights", path("none.caffemodel")), "none.caffemodel");
  check(with("--weights", net("mixnet.caffemodel")), "has no layer named 'conv1'");
  std::string text = read_text_file(net("lenet_v1.prototxt"));
  text.replace(text.find("num_output: 50"), 14, "num_output: 40");
  std::ofstream(path("wrong.prototxt")) << text;
  check(with("--prototxt", path("wrong.prototxt")), "layer 'conv2' blob 0 has shape [50,20,5,5]");
  // A mean of the wrong channel count or size; garbage as each file; an unknown layer type.
  check(with("--mean-image", net("alexnet_mean.binaryproto")), "3 channels");
  std::ofstream(path("garbage.bin"), std::ios::binary) << std::string("\xff\xfe garbage \x01", 11);
  check(with("--mean-image", path("garbage.bin")), "garbage.bin");
  check(with("--weights", path("garbage.bin")), "garbage.bin: not a Caffe .caffemodel");
  check(with("--prototxt", path("garbage.bin")), "garbage.bin: not a Caffe prototxt");
  text = read_text_file(net("lenet_v1.prototxt"));
  text.replace(text.find("type: RELU"), 10, "type: BNLL");
  std::ofstream(path("bnll.prototxt")) << text;
  check(with("--prototxt", path("bnll.prototxt")), "layer 'relu1' (BNLL): layer type not supported");
  check(with("--out", path("x.txt")), "--out");
  check(with("--scale", "0"), "--scale");
}

}  // namespace
}  // namespace fool
