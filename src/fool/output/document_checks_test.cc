// Damaged summary.json / experiment.json / transfer.json: one line naming the file and the key, and
// no file outside the run directory is ever read on a summary's word.
#include "fool/output/document_checks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/output/experiment_file.h"
#include "fool/output/report.h"
#include "fool/output/results.h"
#include "fool/output/run_summary.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

nlohmann::json good_summary() {
  return nlohmann::json::parse(R"({"format": "fool-run/1", "command": "evolve", "command_line": "fool evolve",
    "model": "m.onnx", "model_sha256": "ab", "backend": "opencv", "method": "cppn", "seed": 1, "settings": {},
    "progress_unit": "generation", "generations": 5, "evaluations": 100, "seconds": 1.5, "complete": true,
    "median_confidence": 0.9, "classes_at_or_above": {"0.99": 0, "0.9999": 0},
    "classes": [{"index": 0, "label": "0", "confidence": 0.9, "search_confidence": 0.91, "top_class": 0,
                 "image": "images/class_0.png", "genome": null, "first_reached": {"0.99": null, "0.9999": null}}]})");
}

void expect_refused(const nlohmann::json& j, const std::string& needle) {
  try {
    RunSummary::from_json(j, "run/summary.json");
    ADD_FAILURE() << "accepted: " << needle;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("run/summary.json: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

TEST(SummaryFile, TheIntactSummaryIsAccepted) { EXPECT_NO_THROW(RunSummary::from_json(good_summary(), "s.json")); }

TEST(SummaryFile, EachKeyOfTheWrongTypeOrRangeIsNamed) {
  const std::vector<std::pair<std::function<void(nlohmann::json&)>, std::string>> cases = {
      {[](nlohmann::json& j) { j["classes"][0]["label"] = nullptr; }, "label"},
      {[](nlohmann::json& j) { j["classes"][0]["confidence"] = 2; }, "classes[0].confidence"},
      {[](nlohmann::json& j) { j["classes"][0].erase("index"); }, "index"},
      {[](nlohmann::json& j) { j["classes"][0]["first_reached"]["0.99"] = "x"; }, "first_reached"},
      {[](nlohmann::json& j) { j["classes"][0]["first_reached"]["0.99"] = -3; }, "first_reached"},
      {[](nlohmann::json& j) { j["evaluations"] = -1; }, "evaluations"},
      {[](nlohmann::json& j) { j["classes"][0]["index"] = -2; }, "index"},
      {[](nlohmann::json& j) { j["median_confidence"] = "high"; }, "median_confidence"},
      {[](nlohmann::json& j) { j["seed"] = -4; }, "seed"},
      {[](nlohmann::json& j) { j["generations"] = nullptr; }, "generations"},
      {[](nlohmann::json& j) { j["classes_at_or_above"]["1.5"] = 0; }, "classes_at_or_above"},
      {[](nlohmann::json& j) { j["classes"] = 3; }, "classes"},
      {[](nlohmann::json& j) { j["classes"].push_back(j["classes"][0]); }, "repeated"},
      {[](nlohmann::json& j) { j["classes"][0]["image"] = "/etc/hostname"; }, "not a file inside"},
      {[](nlohmann::json& j) { j["classes"][0]["image"] = "../../etc/hostname"; }, "not a file inside"},
      {[](nlohmann::json& j) { j["format"] = "fool-run/2"; }, "not a fool run summary"},
  };
  for (const auto& [edit, needle] : cases) {
    nlohmann::json j = good_summary();
    edit(j);
    expect_refused(j, needle);
  }
}

TEST(SummaryFile, FileInsideFollowsLinks) {
  const fs::path dir = fs::temp_directory_path() / ("fool_inside_" + std::to_string(::getpid()));
  fs::create_directories(dir / "images");
  write_file_atomic((dir / "images/a.png").string(), std::string("x"));
  fs::create_symlink("/etc/hostname", dir / "images/b.png");
  EXPECT_EQ(file_inside(dir.string(), "images/a.png", "s"), (dir / "images/a.png").string());
  EXPECT_THROW(file_inside(dir.string(), "images/b.png", "s"), Error);
  EXPECT_THROW(file_inside(dir.string(), "/etc/hostname", "s"), Error);
  EXPECT_THROW(file_inside(dir.string(), "images/../../x", "s"), Error);
  fs::remove_all(dir);
}

TEST(SummaryFile, ReportEmbedsNoFileOutsideTheRun) {
  const fs::path dir = fs::temp_directory_path() / ("fool_report_outside_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  nlohmann::json j = good_summary();
  j["classes"][0]["image"] = "/etc/hostname";
  write_file_atomic((dir / "summary.json").string(), j.dump());
  try {
    build_report({dir.string()});
    ADD_FAILURE() << "the report embedded /etc/hostname";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("classes[0].image"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// Two kinds of experiment as the registry would give them (output/ names none of its own): "plain"
// adds nothing, "counted" checks its key "rows".
void check_rows(const nlohmann::json& x) {
  if (x.contains("rows") && !x["rows"].is_array()) throw Error("key 'rows' is not a list");
}
std::string counted_section(const std::string& dir, const nlohmann::json& x) {
  return "<section class=\"counted\">" + std::to_string(x["rows"].size()) + " rows</section>";
}
const ExperimentDocuments kKinds = {{"plain", nullptr, nullptr}, {"counted", check_rows, counted_section}};

TEST(ExperimentFile, KeysReadersUseAreChecked) {
  nlohmann::json x = {{"format", "fool-experiment/1"},
                      {"experiment", "counted"},
                      {"config", nlohmann::json::object()},
                      {"steps", {{"train_1", {{"model", "networks/a.onnx"}, {"test_accuracy", 0.98}}}}}};
  EXPECT_NO_THROW(validate_experiment(x, "e.json", kKinds));
  auto refused = [](nlohmann::json j, const std::string& needle) {
    try {
      validate_experiment(j, "x/experiment.json", kKinds);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("x/experiment.json: ", 0), 0u) << e.what();
    }
  };
  nlohmann::json bad = x;
  bad["steps"]["train_1"]["test_accuracy"] = "high";
  refused(bad, "steps.train_1.test_accuracy");
  bad = x;
  bad["steps"]["train_1"]["model"] = "/etc/passwd";
  refused(bad, "steps.train_1.model");
  bad = x;
  bad["experiment"] = "other";
  refused(bad, "key 'experiment' is 'other', not plain or counted");
  bad = x;
  bad["steps"] = nlohmann::json::array();
  refused(bad, "steps");
  bad = x;
  bad["results"] = {{"seconds", -1}};
  refused(bad, "results.seconds");
  // The kind's own check runs on its kind only.
  bad = x;
  bad["rows"] = 3;
  refused(bad, "key 'rows' is not a list");
  bad["experiment"] = "plain";
  EXPECT_NO_THROW(validate_experiment(bad, "e.json", kKinds));
}

// The kinds are found by their name, and a message lists them all.
TEST(ExperimentFile, KindsAreFoundByName) {
  ASSERT_NE(find_experiment_kind(kKinds, "counted"), nullptr);
  EXPECT_EQ(find_experiment_kind(kKinds, "counted")->check, check_rows);
  EXPECT_EQ(find_experiment_kind(kKinds, "plain"), &kKinds[0]);
  EXPECT_EQ(find_experiment_kind(kKinds, "Plain"), nullptr);
  EXPECT_EQ(find_experiment_kind(kKinds, ""), nullptr);
  EXPECT_EQ(experiment_kind_list(kKinds), "plain or counted");
  EXPECT_EQ(experiment_kind_list({{"a"}, {"b"}, {"c"}}), "a, b or c");
  EXPECT_EQ(experiment_kind_list({{"a"}}), "a");
}

// A directory made for one kind is refused for another, naming both; the report shows it with its
// kind's section.
TEST(ExperimentFile, ADirectoryOfOneKindIsRefusedForAnother) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("fool_experiment_kind_test_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  {
    ExperimentDir x(dir, "counted", kKinds, {{"seed", 1}});
    x.set("rows", {1, 2});
  }
  EXPECT_EQ(read_experiment(dir, kKinds)["experiment"], "counted");
  try {
    ExperimentDir y(dir, "plain", kKinds, {{"seed", 1}});
    ADD_FAILURE() << "a counted directory was opened as plain";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds a counted experiment, not plain"), std::string::npos) << e.what();
  }
  { ExperimentDir again(dir, "counted", kKinds, {{"seed", 1}}); }  // the same kind resumes
  ReportOptions options;
  options.experiments = kKinds;
  EXPECT_NE(build_report({dir}, options).find("<section class=\"counted\">2 rows</section>"), std::string::npos);
  // A report that knows no such kind refuses it.
  options.experiments = {kKinds[0]};
  try {
    build_report({dir}, options);
    ADD_FAILURE() << "a counted experiment was reported without its kind";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("key 'experiment' is 'counted', not plain"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fool
