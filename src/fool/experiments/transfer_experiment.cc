// The transfer experiment (the paper's Section 3.3): networks that differ only in their seed and
// networks of other architectures, evolution runs against each, every champion scored by every
// network.
#include <filesystem>

#include "fool/core/error.h"
#include "fool/experiments/experiment_tasks.h"
#include "fool/experiments/transfer.h"
#include "fool/experiments/transfer_experiment.h"
#include "fool/io/files.h"

namespace fool {

namespace fs = std::filesystem;

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
  ExperimentDir x(c.out_dir, c.kind(), c.to_json());
  fs::create_directories(x.path("networks"));
  fs::create_directories(x.path("runs"));
  const std::vector<TransferNet> nets = transfer_networks(c);
  std::vector<std::string> models;
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

}  // namespace fool
