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

TEST(ExperimentFile, KeysReadersUseAreChecked) {
  nlohmann::json x = {{"format", "fool-experiment/1"},
                      {"experiment", "retrain"},
                      {"config", nlohmann::json::object()},
                      {"steps", {{"train_1", {{"model", "networks/a.onnx"}, {"test_accuracy", 0.98}}}}}};
  EXPECT_NO_THROW(validate_experiment(x, "e.json"));
  auto refused = [](nlohmann::json j, const std::string& needle) {
    try {
      validate_experiment(j, "x/experiment.json");
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
  refused(bad, "key 'experiment' is 'other', not transfer or retrain");
  bad = x;
  bad["steps"] = nlohmann::json::array();
  refused(bad, "steps");
  bad = x;
  bad["iterations"] = {{{"iteration", 1}}};
  refused(bad, "iterations[0]");
}

// The experiment kinds' one name table: every kind has one name, found again by it, and the
// message lists them all.
TEST(ExperimentFile, KindsHaveOneNameTable) {
  ASSERT_EQ(experiment_kinds().size(), 2u);
  for (const auto& [kind, name] : experiment_kinds()) {
    EXPECT_EQ(experiment_kind_name(kind), name);
    EXPECT_EQ(find_experiment_kind(name), kind);
    EXPECT_NE(experiment_kind_list().find(name), std::string::npos);
  }
  EXPECT_EQ(experiment_kind_name(ExperimentKind::Transfer), "transfer");
  EXPECT_EQ(experiment_kind_name(ExperimentKind::Retrain), "retrain");
  EXPECT_EQ(experiment_kind_list(), "transfer or retrain");
  EXPECT_FALSE(find_experiment_kind("Transfer").has_value());
  EXPECT_FALSE(find_experiment_kind("").has_value());
}

// A directory made for one kind is refused for another, naming both.
TEST(ExperimentFile, ADirectoryOfOneKindIsRefusedForAnother) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("fool_experiment_kind_test_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  { ExperimentDir x(dir, ExperimentKind::Transfer, {{"seed", 1}}); }
  EXPECT_EQ(read_experiment(dir)["experiment"], "transfer");
  try {
    ExperimentDir y(dir, ExperimentKind::Retrain, {{"seed", 1}});
    ADD_FAILURE() << "a transfer directory was opened as retrain";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds a transfer experiment, not retrain"), std::string::npos) << e.what();
  }
  { ExperimentDir again(dir, ExperimentKind::Transfer, {{"seed", 1}}); }  // the same kind resumes
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fool
