// The experiments registry: every entry is complete (a name that round-trips through its config,
// experiment.json and the report, its checks, its section, flags of its own), and what reads
// experiment directories reads the registry's kinds.
#include "fool/experiments/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "fool/core/error.h"
#include "fool/output/document_checks.h"
#include "fool/output/report.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

nlohmann::json fresh_experiment(const std::string& kind) {
  return {{"format", "fool-experiment/1"},
          {"experiment", kind},
          {"config", nlohmann::json::object()},
          {"steps", nlohmann::json::object()}};
}

TEST(ExperimentRegistry, EveryEntryIsComplete) {
  ASSERT_FALSE(experiment_registry().empty());
  std::set<std::string> names;
  for (const ExperimentEntry& e : experiment_registry()) {
    const std::string& name = e.document.name;
    EXPECT_TRUE(names.insert(name).second) << "registered twice: " << name;
    EXPECT_FALSE(name.empty());
    EXPECT_NE(e.document.check, nullptr) << name;
    EXPECT_NE(e.document.section, nullptr) << name;
    EXPECT_FALSE(e.help.empty()) << name;
    EXPECT_FALSE(e.result_key.empty()) << name;
    ASSERT_NE(e.make_config, nullptr) << name;
    const auto config = e.make_config();
    EXPECT_EQ(config->kind(), name);  // the subcommand, experiment.json's "experiment"
    EXPECT_GT(config->generations, 0) << name << ": each experiment sets its runs' defaults";
    std::set<std::string> flags;
    for (const ExperimentOption& o : config->options()) {
      EXPECT_EQ(o.flag.rfind("--", 0), 0u) << name << " " << o.flag;
      EXPECT_TRUE(flags.insert(o.flag).second) << name << ": " << o.flag << " twice";
      EXPECT_FALSE(o.help.empty()) << name << " " << o.flag;
      if (o.min && o.max) {
        EXPECT_LE(*o.min, *o.max) << name << " " << o.flag;
      }
    }
    // The options are bound to this config's fields: two configs give two sets of fields.
    const auto other = e.make_config();
    const auto mine = config->options(), theirs = other->options();
    ASSERT_EQ(mine.size(), theirs.size());
    for (std::size_t i = 0; i < mine.size(); ++i) EXPECT_NE(mine[i].field, theirs[i].field) << name;
  }
}

TEST(ExperimentRegistry, DocumentsFollowTheRegistry) {
  ASSERT_EQ(experiment_documents().size(), experiment_registry().size());
  for (std::size_t i = 0; i < experiment_documents().size(); ++i) {
    const ExperimentDocument& d = experiment_documents()[i];
    EXPECT_EQ(d.name, experiment_registry()[i].document.name);
    EXPECT_EQ(find_experiment_kind(experiment_documents(), d.name), &d);
    EXPECT_NE(experiment_kind_list(experiment_documents()).find(d.name), std::string::npos);
    EXPECT_NO_THROW(validate_experiment(fresh_experiment(d.name), "e.json", experiment_documents())) << d.name;
  }
  EXPECT_THROW(validate_experiment(fresh_experiment("unknown"), "e.json", experiment_documents()), Error);
}

// Each kind's own keys are checked by its entry (the paper's two experiments).
TEST(ExperimentRegistry, EachKindChecksItsOwnKeys) {
  auto refused = [](const nlohmann::json& j, const std::string& needle) {
    try {
      validate_experiment(j, "x/experiment.json", experiment_documents());
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  nlohmann::json retrain = fresh_experiment("retrain");
  retrain["iterations"] = {{{"iteration", 1}}};
  refused(retrain, "iterations[0]");
  nlohmann::json transfer = fresh_experiment("transfer");
  transfer["results"] = {{"same_architecture", {{"pairs", 1}}}};
  refused(transfer, "results.same_architecture");
  refused(fresh_experiment("other"), "key 'experiment' is 'other', not transfer or retrain");
}

// The report shows an experiment directory of each kind with that kind's section.
TEST(ExperimentRegistry, TheReportUsesEachKindsSection) {
  const fs::path root = fs::temp_directory_path() / ("fool_registry_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  ReportOptions options;
  options.experiments = experiment_documents();
  for (const ExperimentEntry& e : experiment_registry()) {
    const std::string dir = (root / e.document.name).string();
    { ExperimentDir x(dir, e.document.name, experiment_documents(), e.make_config()->to_json()); }
    const nlohmann::json x = read_experiment(dir, experiment_documents());
    const std::string section = e.document.section(dir, x);
    EXPECT_NE(section.find(dir), std::string::npos) << e.document.name;
    EXPECT_NE(build_report({dir}, options).find(section), std::string::npos) << e.document.name;
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace fool
