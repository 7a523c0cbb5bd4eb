// The onednn backend through the real CLI (built only where fool has oneDNN): fool info says it runs
// the fixtures and gives no gradients, fool score with --backend onednn agrees with torch, and
// fool ascend refuses it with one line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/io/image_io.h"

namespace fool {
namespace {

using testing::expect_one_line_error;
using testing::run_fool;

const std::string kFixtures = FOOL_FIXTURES_DIR;

class OnednnCli : public testing::CliTest {};

TEST_F(OnednnCli, InfoSaysItRunsTheModelWithoutGradients) {
  const auto r = run_fool({"info", "--model", kFixtures + "/squeezenet1_1_random.onnx", "--backend", "onednn"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["backends"]["onednn"]["ok"], true) << j["backends"].dump();
  EXPECT_EQ(j["backends"]["onednn"]["classes"], 1000);
  EXPECT_EQ(j["backends"]["onednn"]["gradients"], false);
  EXPECT_EQ(j["backends"]["torch"]["gradients"], true);
  EXPECT_EQ(j["backends"]["agree"], true);
}

TEST_F(OnednnCli, ScoresAsTorchDoesAndAscendRefusesIt) {
  Image8 a{{1, 28, 28}, std::vector<std::uint8_t>(784, 0)};
  Image8 b = a;
  for (std::size_t i = 0; i < 784; ++i) {
    a.pixels[i] = static_cast<std::uint8_t>((i * 37) % 256);
    b.pixels[i] = static_cast<std::uint8_t>((i * i) % 251);
  }
  write_png(path("a.png"), a);
  write_png(path("b.png"), b);
  const std::string model = kFixtures + "/mnist_bn_cnn.onnx";
  nlohmann::json out[2];
  int k = 0;
  for (const std::string backend : {"onednn", "torch"}) {
    const auto s =
        run_fool({"score", "--model", model, "--backend", backend, "--top", "3", path("a.png"), path("b.png")});
    ASSERT_EQ(s.code, 0) << s.err;
    out[k] = nlohmann::json::parse(s.out);
    EXPECT_EQ(out[k]["backend"], backend);
    ++k;
  }
  for (int i = 0; i < 2; ++i)
    for (int t = 0; t < 3; ++t) {
      const auto& x = out[0]["images"][i]["top"][t];
      const auto& y = out[1]["images"][i]["top"][t];
      EXPECT_EQ(x["class"], y["class"]);
      EXPECT_NEAR(x["probability"].get<double>(), y["probability"].get<double>(), 1e-5);
    }
  expect_one_line_error(run_fool({"ascend", "--model", model, "--backend", "onednn", "--out", path("run")}), "onednn");
}

}  // namespace
}  // namespace fool
