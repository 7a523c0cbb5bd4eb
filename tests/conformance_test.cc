// Conformance from outside: torchvision 0.14's classifiers exported by PyTorch 1.13's own exporter
// (scripts/conformance/export_models.py, run here at test time), one case per family with the
// opsets and variants spread over the families, scored by the real `fool score` with the default
// backend (auto) and compared with PyTorch's probabilities on the same pixels within 1e-4.
// The whole matrix (every opset and variant, every backend) is scripts/conformance/run_matrix.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_runner.h"
#include "fool/io/files.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/torch/torch_classifier.h"

namespace fool::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kFamilies = {
    "alexnet",         "vgg",       "resnet",     "resnext",      "wide_resnet",  "squeezenet", "densenet",
    "googlenet",       "inception", "shufflenet", "mobilenet_v2", "mobilenet_v3", "mnasnet",    "efficientnet",
    "efficientnet_v2", "regnet_x",  "regnet_y",   "convnext",     "vit",          "swin"};

std::string cases_dir() { return std::string(FOOL_TEST_CACHE_DIR) + "/conformance"; }

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  // Exports the family's CI case (kept between runs while the script is unchanged). Each family
  // exports only its own case, so CTest may run them in parallel.
  static int export_case(const std::string& family) {
    fs::create_directories(cases_dir());
    const std::string cmd = shell_quote(FOOL_PYTHON) + " " +
                            shell_quote(std::string(FOOL_SOURCE_DIR) + "/scripts/conformance/export_models.py") +
                            " --ci --threads 1 --families " + family + " --out " + shell_quote(cases_dir()) + " > " +
                            shell_quote(log_of(family)) + " 2>&1";
    return std::system(cmd.c_str());
  }
  static std::string log_of(const std::string& family) { return cases_dir() + "/" + family + ".log"; }

  // The case directory of a family ("<family>-op<opset>-<variant>"), or "" if it was not exported.
  static std::string case_of(const std::string& family) {
    for (const auto& e : fs::directory_iterator(cases_dir())) {
      const std::string name = e.path().filename().string();
      if (name.rfind(family + "-op", 0) == 0 && fs::exists(e.path() / "expected.json")) return e.path().string();
    }
    return "";
  }
};

TEST_P(Conformance, FoolAgreesWithPyTorch) {
  const int status = export_case(GetParam());
  const std::string dir = case_of(GetParam());
  ASSERT_FALSE(dir.empty()) << "PyTorch's exporter made no case for " << GetParam() << " (exit " << status
                            << "): " << read_text_file(log_of(GetParam()));
  const nlohmann::json expected = read_json_file(dir + "/expected.json");
  const auto& want = expected.at("probabilities");
  const std::size_t k = want.at(0).size();
  std::vector<std::string> args = {"score", "--model", dir + "/model.onnx", "--top", std::to_string(k)};
  for (const auto& img : expected.at("images")) args.push_back(dir + "/" + img.get<std::string>());
  const CliResult r = run_fool(args);
  SCOPED_TRACE(fs::path(dir).filename().string());
  if (r.code != 0) {
    // Acceptable only while the torch backend lacks an operator of the model (the list comes from
    // the code): then the failure must be one clean line. Anything else is a conformance failure.
    expect_one_line_error(r, "model.onnx");
    const OnnxModel model = OnnxModel::load(dir + "/model.onnx");
    const auto& supported = torch_supported_operators();
    std::set<std::string> missing;
    for (const auto& op : model.spec().operators)
      if (!std::binary_search(supported.begin(), supported.end(), op)) missing.insert(op);
    ASSERT_FALSE(missing.empty()) << "fool refused a model whose operators the torch backend all supports: " << r.err;
    std::string list;
    for (const auto& op : missing) list += (list.empty() ? "" : ", ") + op;
    GTEST_SKIP() << "the torch backend does not run " << list << " yet, and OpenCV cannot run this model";
  }
  const nlohmann::json got = nlohmann::json::parse(r.out);
  ASSERT_EQ(got.at("images").size(), want.size());
  // Within 1e-4 of PyTorch's float32 probabilities; or, where the case is ill-conditioned enough
  // that PyTorch's own float32 computations (eager, one image at a time, without oneDNN, frozen
  // with batch norm folded) are up to e away from its float64 one, within 1e-4 + 2e of float64:
  // e is the largest of four samples of where a correct float32 computation lands, fool's backends
  // (other kernels, other summation orders) are more samples of the same (docs/results.md).
  const auto& exact = expected.at("probabilities_float64");
  const double e = expected.at("pytorch_float32_error").get<double>();
  double worst = 0.0, worst64 = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    std::vector<double> p(k, -1.0);
    for (const auto& t : got["images"][i].at("top")) p.at(t.at("class").get<std::size_t>()) = t.at("probability");
    for (std::size_t c = 0; c < k; ++c) {
      worst = std::max(worst, std::abs(p[c] - want[i][c].get<double>()));
      worst64 = std::max(worst64, std::abs(p[c] - exact[i][c].get<double>()));
    }
  }
  EXPECT_TRUE(worst <= 1e-4 || worst64 <= 1e-4 + 2.0 * e)
      << "max difference " << worst << " from PyTorch float32, " << worst64 << " from float64 (PyTorch float32: " << e
      << "); backend " << got.value("backend", "?") << " (" << got.value("backend_choice", "") << ")";
  // The exporter's weights are peaked: the comparison is not between two near-uniform rows.
  for (const auto& t : expected.at("top1")) EXPECT_GT(t.get<double>(), 0.5);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, Conformance, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace fool::testing
