// The transfer experiment (the paper's Section 3.3): networks that differ only in their seed and
// networks of other architectures, evolution runs against each, every champion scored by every
// network; its flags, the checks of its results in experiment.json, its report section and its
// registry entry.
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/experiments/experiment_tasks.h"
#include "fool/experiments/registry.h"
#include "fool/experiments/transfer.h"
#include "fool/experiments/transfer_experiment.h"
#include "fool/io/files.h"
#include "fool/output/document_checks.h"
#include "fool/output/report_sections.h"
#include "fool/output/results.h"

namespace fool {

namespace fs = std::filesystem;

namespace {
const char* const kName = "transfer";
}  // namespace

std::string TransferExperimentConfig::kind() const { return kName; }

std::vector<ExperimentOption> TransferExperimentConfig::options() {
  return {{"--lenet-seeds", "seeds of the LeNets that differ only in initialisation", &lenet_seeds},
          {"--other-archs", "other architectures", &other_archs},
          {"--runs-per-network", "evolution runs against each network", &runs_per_network, 1}};
}

nlohmann::json TransferExperimentConfig::run(const RunEvents& events) const {
  return run_transfer_experiment(*this, events);
}

nlohmann::json TransferExperimentConfig::to_json() const {
  nlohmann::json j = ExperimentConfig::to_json();
  j["lenet_seeds"] = lenet_seeds;
  j["other_archs"] = other_archs;
  j["runs_per_network"] = runs_per_network;
  return j;
}

namespace {

// One network of a transfer experiment: its name in the experiment, its architecture and seed.
struct TransferNet {
  std::string name, arch;
  std::uint64_t seed;
};

void check_transfer_config(const TransferExperimentConfig& c) {
  find_encoding(c.encoding);  // an unknown one is refused before anything is trained
  if (c.out_dir.empty()) throw Error("no output directory given");
  if (c.lenet_seeds.size() + c.other_archs.size() < 2) throw Error("transfer needs at least two networks");
  if (c.runs_per_network < 1) throw Error("runs per network must be at least 1");
  if (c.epochs < 1) throw Error("epochs must be at least 1");
  for (const auto& a : c.other_archs) parse_architecture(a);
}

std::vector<TransferNet> transfer_networks(const TransferExperimentConfig& c) {
  std::vector<TransferNet> nets;
  for (auto s : c.lenet_seeds) nets.push_back({"lenet-seed" + std::to_string(s), "lenet", s});
  for (const auto& a : c.other_archs) nets.push_back({a + "-seed" + std::to_string(c.seed), a, c.seed});
  return nets;
}

// Tasks of one stage and the step each marks done in experiment.json.
struct StageTasks {
  std::vector<Task> tasks;
  std::vector<std::string> steps;
};

StageTasks training_tasks(const TransferExperimentConfig& c, const std::vector<TransferNet>& nets,
                          const ExperimentDir& x, const RunEvents& events) {
  StageTasks out;
  for (const TransferNet& n : nets) {
    const std::string model = "networks/" + n.name + ".onnx";
    const std::string step = "train " + n.name;
    if (x.done(step)) continue;
    events.message("training " + model);
    out.tasks.push_back({{{"kind", task_kind_name(TaskKind::Train)},
                          {"arch", n.arch},
                          {"seed", n.seed},
                          {"epochs", c.epochs},
                          {"threads", c.threads},
                          {"dataset", c.data.name},
                          {"data", c.data.to_json()},
                          {"model", model}},
                         {}});
    out.steps.push_back(step);
  }
  return out;
}

// Evolution runs against every network; `runs` receives every run's directory (done or not).
StageTasks evolution_tasks(const TransferExperimentConfig& c, const std::vector<TransferNet>& nets,
                           const std::vector<std::string>& models, const ExperimentDir& x, const RunEvents& events,
                           std::vector<std::string>* runs) {
  StageTasks out;
  for (std::size_t i = 0; i < nets.size(); ++i) {
    for (int k = 0; k < c.runs_per_network; ++k) {
      const std::string rel = "runs/" + nets[i].name + "-run" + std::to_string(k + 1);
      const std::string step = "evolve " + rel;
      runs->push_back(x.path(rel));
      if (x.done(step)) continue;
      events.message("evolving " + rel);
      const std::string model = "networks/" + nets[i].name + ".onnx";
      out.tasks.push_back({{{"kind", task_kind_name(TaskKind::Evolve)},
                            {"model", model},
                            {"run", rel},
                            {"recorded_model", models[i]},
                            {"encoding", c.encoding},
                            {"generations", c.generations},
                            {"offspring", c.offspring},
                            {"init", c.init},
                            {"seed", c.seed + static_cast<std::uint64_t>(k)},
                            {"threads", c.threads},
                            {"command_line", c.command_line}},
                           {{model, read_file(models[i])}}});
      out.steps.push_back(step);
    }
  }
  return out;
}

// The paper's two set-ups, summarised: same architecture (another seed) and other architectures.
nlohmann::json summarise_transfer(const TransferMatrix& m, const std::vector<TransferNet>& nets) {
  std::vector<double> same99, same9999, other99, other9999;
  for (std::size_t r = 0; r < m.sources.size(); ++r)
    for (std::size_t col = 0; col < m.scorers.size(); ++col) {
      if (r == col) continue;  // rows and columns follow the network order
      const bool same = nets[r].arch == nets[col].arch;
      (same ? same99 : other99).push_back(m.cells[r][col].at_99);
      (same ? same9999 : other9999).push_back(m.cells[r][col].at_9999);
    }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double d : v) s += d;
    return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(s / static_cast<double>(v.size()));
  };
  return {
      {"same_architecture",
       {{"pairs", same99.size()}, {"mean_fraction_at_99", mean(same99)}, {"mean_fraction_at_9999", mean(same9999)}}},
      {"other_architecture",
       {{"pairs", other99.size()},
        {"mean_fraction_at_99", mean(other99)},
        {"mean_fraction_at_9999", mean(other9999)}}}};
}

}  // namespace

nlohmann::json run_transfer_experiment(const TransferExperimentConfig& c, const RunEvents& events) {
  check_transfer_config(c);
  const DatasetSplits data = load_dataset(c.data);
  check_test_split(data, c.data);
  ExperimentDir x(c.out_dir, c.kind(), experiment_documents(), c.to_json());
  fs::create_directories(x.path("networks"));
  fs::create_directories(x.path("runs"));
  const std::vector<TransferNet> nets = transfer_networks(c);
  std::vector<std::string> models;
  models.reserve(nets.size());
  for (const TransferNet& n : nets) models.push_back(x.path("networks/" + n.name + ".onnx"));

  SingleProcess single;
  Distribution& dist = c.distribution != nullptr ? *c.distribution : single;
  // Trainings, then evolution runs, each set spread over the processes; rank 0 writes what they made.
  StageTasks stage = training_tasks(c, nets, x, events);
  auto record = [&](std::size_t i, TaskOutcome outcome) {
    if (outcome.result.contains("run")) fs::remove_all(x.path(outcome.result["run"].get<std::string>()));
    write_files(x, outcome.files);
    x.mark(stage.steps[i], outcome.result);
  };
  dist.run_tasks(stage.tasks, run_experiment_task, record);
  nlohmann::json networks = nlohmann::json::array();
  for (const TransferNet& n : nets) networks.push_back(x.result("train " + n.name));

  std::vector<std::string> runs;
  stage = evolution_tasks(c, nets, models, x, events, &runs);
  dist.run_tasks(stage.tasks, run_experiment_task, record);
  events.message("scoring every champion with every network");
  ClassifierOptions opts;
  opts.threads = c.threads;
  // The same backend whatever the timing or the number of processes: results stay byte-identical.
  opts.auto_compares_speed = false;
  const TransferMatrix m = transfer_matrix(runs, models, opts);
  write_transfer(c.out_dir, m);

  nlohmann::json results = summarise_transfer(m, nets);
  results["networks"] = networks;
  results["matrix"] = "transfer.json";
  x.set("results", results);
  return x.state();
}

namespace {

namespace jc = json_check;

// experiment.json's results (once the matrix is scored): both architecture pairings and every network.
void check_transfer_results(const nlohmann::json& x) {
  if (!x.contains("results")) return;
  const auto& r = jc::object(x, "", "results");
  for (const char* key : {"same_architecture", "other_architecture"}) {
    const auto& v = jc::object(r, "results", key);
    const std::string where = std::string("results.") + key;
    jc::integer(v, where, "pairs", 0, kMaxDocumentCount);
    for (const char* k : {"mean_fraction_at_99", "mean_fraction_at_9999"})
      if (!jc::member(v, where, k).is_null()) jc::number(v, where, k, 0.0, 1.0);
  }
  const auto& nets = jc::array(r, "results", "networks");
  for (std::size_t i = 0; i < nets.size(); ++i) {
    const std::string where = jc::path_of("results.networks", i);
    jc::string(nets[i], where, "model");
    jc::number(nets[i], where, "test_accuracy", 0.0, 1.0);
    jc::number(nets[i], where, "seconds", 0.0, 1e12);
  }
}

using report_html::num;
using report_html::run_section;
using report_html::transfer_section;

// The report's section: the settings, both pairings, the networks, the matrix and every run.
std::string transfer_experiment_section(const std::string& dir, const nlohmann::json& x) {
  std::ostringstream h;
  h << "<section class=\"experiment\"><h2>transfer experiment <small>" << html_escape(dir) << "</small></h2>";
  h << "<p>Settings: <code>" << html_escape(x["config"].dump()) << "</code></p>";
  if (x.contains("results")) {
    const auto& r = x["results"];
    h << "<table class=\"facts\"><tr><th>set-up</th><th>pairs</th><th>mean fraction &ge; 99%</th><th>mean fraction "
         "&ge; "
         "99.99%</th></tr>";
    for (const char* key : {"same_architecture", "other_architecture"}) {
      const auto& v = r[key];
      auto cell = [&](const char* k) {
        return v[k].is_null() ? std::string("&ndash;") : html_escape(percent(v[k].get<double>()));
      };
      h << "<tr><td>"
        << (std::string(key) == "same_architecture" ? "same architecture, other seed" : "other architecture")
        << "</td><td>" << v.value("pairs", 0) << "</td><td>" << cell("mean_fraction_at_99") << "</td><td>"
        << cell("mean_fraction_at_9999") << "</td></tr>";
    }
    h << "</table><table class=\"classes\"><tr><th>network</th><th>held-out accuracy</th><th>training "
         "seconds</th></tr>";
    for (const auto& n : r["networks"]) {
      h << "<tr><td>" << html_escape(n.value("model", "")) << "</td><td>"
        << html_escape(percent(n.value("test_accuracy", 0.0))) << "</td><td>" << num(n.value("seconds", 0.0), 1)
        << "</td></tr>";
    }
    h << "</table>";
  }
  if (fs::exists(fs::path(dir) / "transfer.json")) h << transfer_section(dir);
  std::vector<std::string> runs;
  if (fs::is_directory(fs::path(dir) / "runs"))
    for (const auto& e : fs::directory_iterator(fs::path(dir) / "runs"))
      if (fs::exists(e.path() / "summary.json")) runs.push_back(e.path().string());
  std::sort(runs.begin(), runs.end());
  for (const auto& r : runs)
    h << "<details><summary>" << html_escape(fs::path(r).filename().string()) << "</summary>"
      << run_section(r, {}, "h3") << "</details>";
  h << "</section>";
  return h.str();
}

}  // namespace

ExperimentEntry transfer_experiment_entry() {
  return {{kName, check_transfer_results, transfer_experiment_section},
          "train networks (same architecture with other seeds, and other architectures), evolve against each, and "
          "score every champion with every network",
          "results",
          default_config<TransferExperimentConfig>};
}

}  // namespace fool
