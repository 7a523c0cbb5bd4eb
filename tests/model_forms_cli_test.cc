// Your model, as you trained it: the forms people export (tests/fixtures/make_user_models.py makes
// them with PyTorch's own exporter at test time, with PyTorch's probabilities), scored, evolved,
// ascended, analysed and reported by the real CLI; the preprocessing presets against PyTorch; the
// warning when fool assumes the preprocessing; fool annotate; a run re-scored with no flags.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/io/files.h"

namespace fool::testing {
namespace {

namespace fs = std::filesystem;

// The models, made once per build (a new script makes them again).
const std::string& models_dir() {
  static const std::string dir = [] {
    const std::string d = std::string(FOOL_TEST_CACHE_DIR) + "/user_models";
    const std::string script = std::string(FOOL_SOURCE_DIR) + "/tests/fixtures/make_user_models.py";
    std::error_code ec;
    const bool fresh = fs::exists(d + "/expected.json", ec) &&
                       fs::last_write_time(d + "/expected.json", ec) >= fs::last_write_time(script, ec);
    if (!fresh) {
      // Made in a directory of this process's own, then renamed: tests run in parallel.
      const std::string tmp = d + ".tmp." + std::to_string(::getpid());
      fs::create_directories(tmp);
      const std::string cmd = shell_quote(FOOL_PYTHON) + " " + shell_quote(script) + " " + shell_quote(tmp) + " > " +
                              shell_quote(tmp + "/make.log") + " 2>&1";
      if (std::system(cmd.c_str()) != 0) return tmp;  // the test reads make.log there
      fs::remove_all(d + ".old", ec);
      fs::rename(d, d + ".old", ec);
      fs::rename(tmp, d, ec);
      if (ec) fs::remove_all(tmp, ec);  // another test's copy got there first
      fs::remove_all(d + ".old", ec);
    }
    return d;
  }();
  return dir;
}

nlohmann::json expected_case(const std::string& name) {
  const std::string file = models_dir() + "/expected.json";
  if (!fs::exists(file)) ADD_FAILURE() << "PyTorch made no models: " << read_text_file(models_dir() + "/make.log");
  return read_json_file(file).at("cases").at(name);
}

std::string out_dir(const std::string& name) {
  const std::string d = std::string(FOOL_TEST_OUTPUT_DIR) + "/model_forms/" + name;
  fs::remove_all(d);
  fs::create_directories(fs::path(d).parent_path());
  return d;
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::vector<std::string> flags_of(const nlohmann::json& c) { return c.at("flags").get<std::vector<std::string>>(); }

// `fool score` of the case's images: per image, every class's probability.
std::vector<std::vector<double>> score(const nlohmann::json& c, const std::vector<std::string>& extra, CliResult* r) {
  std::vector<std::string> args = {"score", "--model", models_dir() + "/" + c.at("model").get<std::string>(), "--top",
                                   "10"};
  args = with(args, extra);
  for (const auto& f : c.at("images")) args.push_back(models_dir() + "/" + f.get<std::string>());
  *r = run_fool(args);
  std::vector<std::vector<double>> out;
  if (r->code != 0) return out;
  const nlohmann::json j = nlohmann::json::parse(r->out);
  for (const auto& img : j.at("images")) {
    std::vector<double> p(10, -1.0);
    for (const auto& t : img.at("top")) p.at(t.at("class").get<std::size_t>()) = t.at("probability");
    out.push_back(p);
  }
  return out;
}

double max_difference(const std::vector<std::vector<double>>& got, const nlohmann::json& want) {
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i)
    for (std::size_t k = 0; k < got[i].size(); ++k)
      worst = std::max(worst, std::abs(got[i][k] - want[i][k].get<double>()));
  return worst;
}

class ModelForm : public ::testing::TestWithParam<std::string> {};

// Each form scores as PyTorch does on every backend that loads it; a backend that cannot load it
// says so in one line (auto then runs the other).
TEST_P(ModelForm, ScoresAsPyTorchDoes) {
  const nlohmann::json c = expected_case(GetParam());
  const double tol = c.at("tolerance");
  for (const std::string& backend : testing::backends_built({"auto", "torch", "opencv"})) {
    SCOPED_TRACE(backend);
    CliResult r;
    const auto got = score(c, with(flags_of(c), {"--backend", backend}), &r);
    if (r.code != 0 && backend == "opencv") {
      expect_one_line_error(r, c.at("model").get<std::string>());
      continue;
    }
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(got.size(), c.at("probabilities").size());
    EXPECT_LE(max_difference(got, c.at("probabilities")), tol);
    EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;  // the flags say how: nothing assumed
  }
}

// Evolve two generations, ascend a few steps, analyse and report: every form runs through every
// command, and the run's images are of the model's own size.
TEST_P(ModelForm, EvolvesAscendsAnalysesAndReports) {
  const nlohmann::json c = expected_case(GetParam());
  const std::string model = models_dir() + "/" + c.at("model").get<std::string>();
  const std::string evolved = out_dir(GetParam() + "_evolve"), ascended = out_dir(GetParam() + "_ascend");
  const CliResult e =
      run_fool(with({"evolve", "--model", model, "--encoding", "cppn", "--generations", "2", "--offspring", "6",
                     "--init", "6", "--classes", "0-2", "--out", evolved, "--quiet"},
                    flags_of(c)));
  ASSERT_EQ(e.code, 0) << e.err;
  const CliResult a = run_fool(with(
      {"ascend", "--model", model, "--steps", "3", "--classes", "0,1", "--out", ascended, "--quiet"}, flags_of(c)));
  ASSERT_EQ(a.code, 0) << a.err;
  for (const auto& run : {evolved, ascended}) {
    const nlohmann::json s = read_json_file(run + "/summary.json");
    ASSERT_TRUE(s.contains("model_input"));
    EXPECT_EQ(s["model_input"]["input_size"],
              s["settings"].value("image", nlohmann::json::array()).empty()
                  ? s["model_input"]["input_size"]
                  : nlohmann::json({s["settings"]["image"][1], s["settings"]["image"][2]}));
    // Re-scored with no flags, the run's own confidences come back.
    const CliResult an = run_fool({"analyze", "repetition", run, "--quiet", "--max-steps", "2"});
    ASSERT_EQ(an.code, 0) << an.err;
    EXPECT_EQ(an.err.find("warning"), std::string::npos) << an.err;
    const auto analysis = read_json_file(run + "/analysis/repetition.json");
    ASSERT_EQ(analysis["classes"].size(), s["classes"].size());
    for (std::size_t i = 0; i < s["classes"].size(); ++i) {
      EXPECT_NEAR(analysis["classes"][i]["confidence_all_copies"].get<double>(),
                  s["classes"][i]["confidence"].get<double>(), 1e-4);
    }
  }
  const CliResult rep = run_fool({"report", evolved, ascended, "--out", evolved + ".html"});
  ASSERT_EQ(rep.code, 0) << rep.err;
  const std::string html = read_text_file(evolved + ".html");
  EXPECT_NE(html.find(c.at("model").get<std::string>()), std::string::npos);
  // The report says how each run fed its model.
  const auto recorded = read_json_file(evolved + "/summary.json")["model_input"];
  const std::string named = recorded["preprocess"].is_null() ? "custom" : recorded["preprocess"].get<std::string>();
  EXPECT_NE(html.find("model input: " + named + ": " + recorded["channel_order"].get<std::string>()),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(UserExports, ModelForm,
                         ::testing::Values("torchvision", "caffe", "tf_nhwc", "mnist_dynamic", "nonsquare",
                                           "two_outputs", "float16", "uint8", "batch1", "batch1_view", "torchscript"),
                         [](const auto& info) { return info.param; });

// A file that fixes a batch of 1 takes larger batches where that gives its own scores (a plain
// export; one flattened by a constant Reshape to [1, -1]), and is fed one image a call where it does
// not (a graph that mixes the images of a batch; one that concatenates a constant of one row):
// `fool info` says which, and every backend scores it as PyTorch scores one image at a time.
TEST(ModelForms, AFixedBatchTakesLargerBatchesOnlyWhereTheScoresStayTheSame) {
  for (const auto& [name, larger] : std::vector<std::pair<std::string, bool>>{
           {"batch1", true}, {"batch1_view", true}, {"batch1_mixing", false}, {"batch1_token", false}}) {
    SCOPED_TRACE(name);
    const nlohmann::json c = expected_case(name);
    const std::string model = models_dir() + "/" + c.at("model").get<std::string>();
    const CliResult info = run_fool(with({"info", "--model", model}, flags_of(c)));
    ASSERT_EQ(info.code, 0) << info.err;
    const std::string batch = nlohmann::json::parse(info.out)["input"]["batch"];
    EXPECT_EQ(batch.rfind(larger ? "any: the file fixes a batch of 1" : "1 a call: the file fixes a batch of 1", 0), 0u)
        << batch;
    for (const std::string& backend : testing::backends_built({"auto", "torch", "opencv"})) {
      SCOPED_TRACE(backend);
      CliResult r;
      const auto got = score(c, with(flags_of(c), {"--backend", backend}), &r);
      if (r.code != 0 && backend == "opencv") continue;  // OpenCV cannot load some of these forms
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_LE(max_difference(got, c.at("probabilities")), c.at("tolerance").get<double>());
    }
  }
}

// A torchvision export without fool's metadata and without a flag: fool says what it assumes, and
// what it computes is exactly the model on unnormalised pixels (so the warning is the whole story).
TEST(ModelForms, AnAssumedPreprocessingIsSaidAndNamesTheFix) {
  const nlohmann::json c = expected_case("torchvision");
  CliResult r;
  const auto got = score(c, {}, &r);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("fool: warning:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--preprocess torchvision"), std::string::npos) << r.err;
  EXPECT_LE(max_difference(got, c.at("unnormalised")), 1e-4);
  EXPECT_GT(max_difference(got, c.at("probabilities")), 1e-2);  // the two are far apart on this model
  // fool info says where each setting came from.
  const CliResult info = run_fool({"info", "--model", models_dir() + "/torchvision.onnx"});
  ASSERT_EQ(info.code, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["preprocessing"]["assumed"], true);
  EXPECT_EQ(j["preprocessing"]["from"]["mean"], "default");
  const auto named = nlohmann::json::parse(
      run_fool({"info", "--model", models_dir() + "/torchvision.onnx", "--preprocess", "torchvision"}).out);
  EXPECT_EQ(named["preprocessing"]["assumed"], false);
  EXPECT_EQ(named["preprocessing"]["from"]["mean"], "--preprocess torchvision");
  EXPECT_EQ(named["preprocessing"]["std"], nlohmann::json({0.229f, 0.224f, 0.225f}));
}

// fool annotate writes the preprocessing into a copy; the copy needs no flags and scores right.
TEST(ModelForms, AnAnnotatedCopyNeedsNoFlags) {
  const nlohmann::json c = expected_case("tf_nhwc");
  const std::string copy = out_dir("annotated") + ".onnx";
  const std::string original = models_dir() + "/tf_nhwc.onnx";
  const auto before = read_file(original);
  const CliResult a = run_fool({"annotate", "--model", original, "--preprocess", "tf", "--out", copy});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(read_file(original), before);  // the user's file is untouched
  nlohmann::json plain = c;
  plain["model"] = fs::relative(copy, models_dir()).string();
  CliResult r;
  const auto got = score(plain, {}, &r);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_LE(max_difference(got, c.at("probabilities")), 1e-4);
  const auto info = nlohmann::json::parse(run_fool({"info", "--model", copy}).out);
  EXPECT_EQ(info["preprocessing"]["named"], "tf");
  EXPECT_EQ(info["preprocessing"]["from"]["scale"], "model metadata");
  EXPECT_EQ(info["input"]["layout"], "nhwc");
  // Nothing to write, or the model itself as --out: refused, nothing written.
  expect_one_line_error(run_fool({"annotate", "--model", original, "--out", copy + "2.onnx"}), "nothing to write");
  expect_one_line_error(run_fool({"annotate", "--model", original, "--preprocess", "tf", "--out", original}),
                        "the model itself");
  EXPECT_FALSE(fs::exists(copy + "2.onnx"));
}

// Refusals name the model, the value and the choices; nothing is written.
TEST(ModelForms, BadChoicesAreOneLineNamingTheValue) {
  const std::string dir = models_dir();
  const std::string png = dir + "/" + expected_case("two_outputs").at("images")[0].get<std::string>();
  expect_one_line_error(run_fool({"score", "--model", dir + "/two_outputs.onnx", png}), "logits, features");
  expect_one_line_error(run_fool({"score", "--model", dir + "/two_outputs.onnx", "--output", "nope", png}), "'nope'");
  expect_one_line_error(run_fool({"score", "--model", dir + "/mnist_dynamic.onnx", png}), "--input-size");
  expect_one_line_error(run_fool({"score", "--model", dir + "/nonsquare.onnx", "--input-size", "32x32", png}),
                        "contradicts");
  expect_one_line_error(run_fool({"score", "--model", dir + "/torchvision.onnx", "--input-size", "32", png}), "'32'");
  expect_one_line_error(run_fool({"score", "--model", dir + "/torchvision.onnx", "--preprocess", "mnist", png}),
                        "gray (1-channel)");
  expect_one_line_error(run_fool({"score", "--model", dir + "/torchvision.onnx", "--preprocess", "keras", png}),
                        "keras");
  const std::string out = out_dir("refused");
  expect_one_line_error(run_fool({"evolve", "--model", dir + "/two_outputs.onnx", "--out", out}), "--output");
  EXPECT_FALSE(fs::exists(out));
}

// A run remembers how it fed its model: analyze with flags that contradict the record is refused.
TEST(ModelForms, ARunsRecordedPreprocessingWinsOverContradictingFlags) {
  const std::string run = out_dir("recorded");
  const std::string model = models_dir() + "/torchvision.onnx";
  ASSERT_EQ(run_fool({"ascend", "--model", model, "--preprocess", "torchvision", "--steps", "3", "--classes", "0",
                      "--out", run, "--quiet"})
                .code,
            0);
  const auto s = read_json_file(run + "/summary.json");
  EXPECT_EQ(s["model_input"]["preprocess"], "torchvision");
  EXPECT_EQ(s["model_input"]["mean"].size(), 3u);
  expect_one_line_error(run_fool({"analyze", "repetition", run, "--preprocess", "none", "--quiet"}),
                        "the run fed its model as torchvision");
}

// Gradient ascent on a model so peaked that most classes start near p = 1e-8 or below: every
// class's reported image is better than the start, and a class that stalls is reported as stalled,
// never as complete.
TEST(ModelForms, AscentOnAPeakedModelClimbsOrSaysItStalled) {
  const std::string run = out_dir("peaked");
  const CliResult r = run_fool({"ascend", "--model", models_dir() + "/peaked.onnx", "--preprocess", "none", "--steps",
                                "60", "--out", run, "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto s = read_json_file(run + "/summary.json");
  const auto start = expected_case("peaked").at("gray_start")[0];
  bool any_stalled = false;
  for (const auto& cl : s["classes"]) {
    const int k = cl["index"];
    const std::string status = cl["status"];
    EXPECT_TRUE(status == "reached target" || status == "stalled" || status == "ran all steps") << status;
    if (status == "stalled") {
      any_stalled = true;
      EXPECT_NE(r.err.find("class " + std::to_string(k) + " (" + std::to_string(k) + "): stalled"), std::string::npos);
    }
    if (start[k].get<double>() > 0.0 && start[k].get<double>() < 0.5)
      EXPECT_GT(cl["search_confidence"].get<double>(), start[k].get<double>()) << k;
  }
  EXPECT_EQ(s["complete"].get<bool>(), !any_stalled);
}

}  // namespace
}  // namespace fool::testing
