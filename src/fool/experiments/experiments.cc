#include "fool/experiments/experiments.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/io/dataset.h"
#include "fool/core/error.h"
#include "fool/output/document_checks.h"
#include "fool/core/thresholds.h"
#include "fool/experiments/evolve.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/output/results.h"
#include "fool/output/experiment_file.h"
#include "fool/output/run_directory.h"
#include "fool/core/stats.h"
#include "fool/train/train.h"
#include "fool/experiments/transfer.h"

namespace fool {

namespace fs = std::filesystem;

namespace {

// experiment.json: the kind, the settings, and each finished step with its result.
class ExperimentDir {
 public:
  ExperimentDir(std::string dir, std::string kind, nlohmann::json config) : dir_(std::move(dir)) {
    const fs::path file = fs::path(dir_) / "experiment.json";
    std::error_code ec;
    // A session killed mid-write leaves hidden temporaries (of experiment.json, a model, a run's
    // files); they hold nothing to keep, and must not make the directory look foreign.
    if (fs::exists(file, ec)) {
      // An experiment directory made before the marker existed is recognised by its experiment.json.
      const bool marked = has_run_marker(dir_);
      if (!marked) state_ = read_experiment(dir_);
      lock_ = open_run_directory(dir_, kind, true);
      remove_atomic_temporaries(dir_, true);
      state_ = read_experiment(dir_);
      const std::string had = state_["experiment"].get<std::string>();
      if (had != kind) throw Error(file.string() + ": holds a " + had + " experiment, not " + kind + "; choose another --out");
      for (const auto& [key, value] : config.items()) {
        if (key == "threads" || key == "iterations") continue;  // free to change between sessions
        if (state_["config"].value(key, nlohmann::json()) != value) {
          throw Error(file.string() + ": the experiment there has another " + key + " (" +
                      state_["config"].value(key, nlohmann::json()).dump() + ", now " + value.dump() +
                      "); choose another --out");
        }
      }
      state_["config"] = config;
    } else {
      // A marked directory without experiment.json: a session killed before its first save. A
      // directory that is not empty and not fool's is refused there, one holding only the lock of
      // a process that is starting it too is "being written by another fool process".
      lock_ = prepare_run_directory(dir_, false, kind);
      state_ = {{"format", "fool-experiment/1"}, {"experiment", kind}, {"config", config}, {"steps", nlohmann::json::object()}};
    }
    save();
  }
  bool done(const std::string& step) const { return state_["steps"].contains(step); }
  const nlohmann::json& result(const std::string& step) const { return state_["steps"][step]; }
  void mark(const std::string& step, nlohmann::json result) {
    state_["steps"][step] = std::move(result);
    save();
  }
  void set(const std::string& key, nlohmann::json value) {
    state_[key] = std::move(value);
    save();
  }
  const nlohmann::json& state() const { return state_; }
  std::string path(const std::string& rel) const { return (fs::path(dir_) / rel).string(); }

 private:
  void save() { write_file_atomic(path("experiment.json"), state_.dump(2) + "\n"); }
  std::string dir_;
  RunLock lock_;  // held for the whole session
  nlohmann::json state_;
};

// What experiment.json records of a trained network, wherever it was trained.
nlohmann::json train_record(const std::string& model, const TrainOptions& opt, const TrainResult& r) {
  return {{"model", model},
          {"arch", opt.arch},
          {"seed", opt.seed},
          {"epochs", opt.epochs},
          {"train_examples", r.train_examples},
          {"test_accuracy", r.test_accuracy},
          {"seconds", r.train_seconds},
          {"sha256", r.model_sha256}};
}

nlohmann::json train_step(ExperimentDir& x, const std::string& step, const DatasetSplits& data, TrainOptions opt,
                          const std::string& model, const RunEvents& events) {
  if (x.done(step)) return x.result(step);
  events.message("training " + model);
  const TrainResult r = train_classifier(data, opt, x.path(model), events);
  const nlohmann::json j = train_record(model, opt, r);
  x.mark(step, j);
  return j;
}

EvolveRunConfig evolve_config(const std::string& model, const std::string& out, EncodingKind encoding,
                              int generations, int offspring, int init, std::uint64_t seed, int threads,
                              const std::string& command_line) {
  EvolveRunConfig c;
  c.model = model;
  c.classifier.threads = threads;
  c.classifier.auto_compares_speed = false;  // the same backend on any process, whatever the timing
  c.encoding = encoding;
  c.evolution.generations = generations;
  c.evolution.offspring = offspring;
  c.evolution.init = init;
  c.evolution.seed = seed;
  c.evolution.threads = threads;
  c.evolution.checkpoint_every = 0;
  c.out_dir = out;
  c.overwrite = true;  // a run cut short by an interruption is run again
  c.command_line = command_line;  // the experiment's: its runs are part of it
  return c;
}

// One evolution run of an experiment, its results in memory (with generation 0's champions when asked).
struct ExperimentRun {
  RunSummary summary;
  std::vector<ClassResult> first_generation;
};
ExperimentRun evolve_run(const EvolveRunConfig& cfg, bool keep_first_generation = false) {
  EvolveRunResult r = run_evolve(cfg, {}, nullptr, keep_first_generation);
  if (!r.summary) throw Error(cfg.out_dir + ": the run found no champion");
  return {std::move(*r.summary), std::move(r.first_generation)};
}

// Every file under `dir`, keyed by `prefix` + its path below dir.
FileMap collect_files(const fs::path& dir, const std::string& prefix) {
  FileMap files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename() == kRunLockFile) continue;
    files[prefix + fs::relative(entry.path(), dir).generic_string()] = read_file(entry.path().string());
  }
  return files;
}

// Writes a task's files into the experiment directory (rank 0 only), atomically each.
void write_files(const ExperimentDir& x, const FileMap& files) {
  for (const auto& [rel, bytes] : files) {
    if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) {
      throw Error("a task made a file outside the experiment: " + rel);
    }
    const fs::path path = x.path(rel);
    fs::create_directories(path.parent_path());
    write_file_atomic(path.string(), bytes.data(), bytes.size());
  }
}

// A private directory for one task, removed when the task is done.
class TaskDir {
 public:
  TaskDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("fool_task_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TaskDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TaskDir(const TaskDir&) = delete;
  TaskDir& operator=(const TaskDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The evolution settings of an "evolve" or "fooling" task, run on `model_file` into `out`; the
// summary records the experiment's own paths.
EvolveRunConfig task_evolve_config(const nlohmann::json& p, const fs::path& model_file, const fs::path& out) {
  EvolveRunConfig cfg = evolve_config(p.at("recorded_model").get<std::string>(), out.string(), parse_encoding(p.at("encoding").get<std::string>()),
                                      p.at("generations").get<int>(), p.at("offspring").get<int>(), p.at("init").get<int>(),
                                      p.at("seed").get<std::uint64_t>(), p.at("threads").get<int>(),
                                      p.at("command_line").get<std::string>());
  cfg.recorded_model = cfg.model;
  cfg.model = model_file.string();
  return cfg;
}

// Writes the model a task came with into its directory.
fs::path task_model(const Task& task, const TaskDir& dir) {
  const std::string model = task.params.at("model").get<std::string>();
  const auto found = task.files.find(model);
  if (found == task.files.end()) throw Error("task without its model " + model);
  const fs::path file = dir.path() / "model.onnx";
  write_file_atomic(file.string(), found->second.data(), found->second.size());
  return file;
}

}  // namespace

// ---- transfer ------------------------------------------------------------------------------------

nlohmann::json TransferExperimentConfig::to_json() const {
  nlohmann::json j = {{"dataset", data.name},
                      {"lenet_seeds", lenet_seeds},
                      {"other_archs", other_archs},
                      {"epochs", epochs},
                      {"runs_per_network", runs_per_network},
                      {"encoding", encoding_name(encoding)},
                      {"generations", generations},
                      {"offspring", offspring},
                      {"init", init},
                      {"seed", seed},
                      {"threads", threads}};
  if (data.custom()) j["dataset_source"] = data.to_json();  // mnist and fashion-mnist: the name says it
  return j;
}

namespace {

// One network of a transfer experiment: its name in the experiment, its architecture and seed.
struct TransferNet {
  std::string name, arch;
  std::uint64_t seed;
};

void check_transfer_config(const TransferExperimentConfig& c) {
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

StageTasks training_tasks(const TransferExperimentConfig& c, const std::vector<TransferNet>& nets, const ExperimentDir& x,
                          const RunEvents& events) {
  StageTasks out;
  for (const TransferNet& n : nets) {
    const std::string model = "networks/" + n.name + ".onnx";
    const std::string step = "train " + n.name;
    if (x.done(step)) continue;
    events.message("training " + model);
    out.tasks.push_back({{{"kind", "train"}, {"arch", n.arch}, {"seed", n.seed}, {"epochs", c.epochs}, {"threads", c.threads},
                          {"dataset", c.data.name}, {"data", c.data.to_json()}, {"model", model}},
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
      out.tasks.push_back({{{"kind", "evolve"}, {"model", model}, {"run", rel}, {"recorded_model", models[i]},
                            {"encoding", encoding_name(c.encoding)}, {"generations", c.generations}, {"offspring", c.offspring},
                            {"init", c.init}, {"seed", c.seed + static_cast<std::uint64_t>(k)}, {"threads", c.threads},
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
  return {{"same_architecture", {{"pairs", same99.size()}, {"mean_fraction_at_99", mean(same99)}, {"mean_fraction_at_9999", mean(same9999)}}},
          {"other_architecture", {{"pairs", other99.size()}, {"mean_fraction_at_99", mean(other99)}, {"mean_fraction_at_9999", mean(other9999)}}}};
}

}  // namespace

namespace {
// The experiments report each network's held-out accuracy: a dataset without test images is refused
// before anything is trained (an accuracy of 0 would be reported otherwise).
void check_test_split(const DatasetSplits& data, const DatasetSource& source) {
  if (data.test.size() == 0) {
    throw Error((!source.test_images.empty() ? source.test_images
                 : source.dir.empty()        ? source.name
                                             : source.dir) +
                ": the test split has no images; the experiment reports each network's held-out accuracy");
  }
}
}  // namespace

nlohmann::json run_transfer_experiment(const TransferExperimentConfig& c, const RunEvents& events) {
  check_transfer_config(c);
  const DatasetSplits data = load_dataset(c.data);
  check_test_split(data, c.data);
  ExperimentDir x(c.out_dir, "transfer", c.to_json());
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

// ---- retraining --------------------------------------------------------------------------------

nlohmann::json RetrainExperimentConfig::to_json() const {
  nlohmann::json j = {{"dataset", data.name},
                      {"arch", arch},
                      {"iterations", iterations},
                      {"epochs", epochs},
                      {"encoding", encoding_name(encoding)},
                      {"generations", generations},
                      {"offspring", offspring},
                      {"init", init},
                      {"eval_runs", eval_runs},
                      {"first_images", first_images},
                      {"seed", seed},
                      {"threads", threads}};
  if (data.custom()) j["dataset_source"] = data.to_json();  // mnist and fashion-mnist: the name says it
  // Recorded only when it is not the default, so that experiments made before the flag resume.
  if (shift != TrainOptions().max_shift) j["shift"] = shift;
  return j;
}

namespace {

// Runs one evolution and saves its first- and last-generation champions as PNGs under `dir`.
// Returns the names of the files written (within `dir`) and the run's summary.
std::pair<std::vector<std::string>, RunSummary> fooling_run(const EvolveRunConfig& cfg, const std::string& dir,
                                                            const std::string& prefix) {
  const ExperimentRun run = evolve_run(cfg, true);
  std::vector<std::string> files;
  for (const auto& c : run.first_generation) {
    const std::string name = prefix + "_first_class" + std::to_string(c.index) + ".png";
    write_png((fs::path(dir) / name).string(), c.image);
    files.push_back(name);
  }
  for (const auto& c : run.summary.classes) {
    const std::string name = prefix + "_last_class" + std::to_string(c.index) + ".png";
    write_png((fs::path(dir) / name).string(), read_image(file_inside(cfg.out_dir, c.image, cfg.out_dir + "/summary.json")));
    files.push_back(name);
  }
  return {files, run.summary};
}

Dataset images_as_class(const ExperimentDir& x, const std::vector<std::string>& files, ImageShape shape, int label) {
  Dataset d;
  d.shape = shape;
  for (const auto& rel : files) {
    const std::string f = x.path(rel);
    const Image8 img = read_image(f);
    if (img.shape != shape) throw Error(f + ": fooling image of " + img.shape.str() + ", expected " + shape.str());
    d.images.insert(d.images.end(), img.pixels.begin(), img.pixels.end());
    d.labels.push_back(static_cast<std::uint8_t>(label));
  }
  return d;
}

}  // namespace

TaskOutcome run_experiment_task(const Task& task) {
  const nlohmann::json& p = task.params;
  const std::string kind = p.at("kind").get<std::string>();
  TaskDir dir;
  TaskOutcome out;
  if (kind == "train") {
    // Each process loads a dataset once (every machine needs its files at the same paths).
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const DatasetSplits>> cache;
    std::shared_ptr<const DatasetSplits> data;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto& slot = cache[p.at("data").dump()];
      if (!slot) slot = std::make_shared<const DatasetSplits>(load_dataset(DatasetSource::from_json(p["data"])));
      data = slot;
    }
    TrainOptions opt;
    opt.arch = p.at("arch").get<std::string>();
    opt.seed = p.at("seed").get<std::uint64_t>();
    opt.epochs = p.at("epochs").get<int>();
    opt.threads = p.at("threads").get<int>();
    opt.dataset_name = p.at("dataset").get<std::string>();
    const std::string model = p.at("model").get<std::string>();
    const fs::path file = dir.path() / "model.onnx";
    const TrainResult r = train_classifier(*data, opt, file.string());
    out.result = train_record(model, opt, r);
    out.files[model] = read_file(file.string());
    return out;
  }
  const std::string run = p.at("run").get<std::string>();
  const EvolveRunConfig cfg = task_evolve_config(p, task_model(task, dir), dir.path() / "run");
  if (kind == "evolve") {
    const RunSummary s = evolve_run(cfg).summary;
    out.result = {{"run", run}, {"median_confidence", s.median_confidence}, {"classes_at_or_above", s.threshold_counts()}};
    out.files = collect_files(cfg.out_dir, run + "/");
    return out;
  }
  if (kind == "fooling") {
    // A run whose first- and last-generation champions become fooling images.
    const fs::path images = dir.path() / "fooling";
    fs::create_directories(images);
    auto [names, s] = fooling_run(cfg, images.string(), p.at("prefix").get<std::string>());
    const std::string fooling_dir = p.at("fooling_dir").get<std::string>();
    std::vector<std::string> files;  // relative to the experiment directory
    for (const auto& name : names) files.push_back(fooling_dir + "/" + name);
    std::vector<double> confidences;
    for (const auto& cl : s.classes) confidences.push_back(cl.confidence);
    out.result = {{"run", run}, {"files", files}, {"confidences", confidences}};
    out.files = collect_files(cfg.out_dir, run + "/");
    for (auto& [name, bytes] : collect_files(images, fooling_dir + "/")) out.files[name] = std::move(bytes);
    return out;
  }
  throw Error("unknown experiment task '" + kind + "'");
}

namespace {

void check_retrain_config(const RetrainExperimentConfig& c) {
  if (c.out_dir.empty()) throw Error("no output directory given");
  if (c.iterations < 1) throw Error("iterations must be at least 1, got " + std::to_string(c.iterations));
  if (c.epochs < 1) throw Error("epochs must be at least 1");
  if (c.eval_runs < 1) throw Error("evaluation runs must be at least 1");
  if (c.first_images < 0) throw Error("first images must not be negative");
}

// How many fooling images each iteration adds: after DNN_1 as many as the largest real class has
// (or --first-images), after each later network a sixth of that (the paper: 6,000, then 1,000).
struct FoolingBudget {
  int real_classes = 0;  // n: the fooling class is class n
  std::size_t first = 0;
  std::size_t later = 0;
  // Images made against DNN_it for the next network's training (none after the last network).
  std::size_t needed(int it, int iterations) const { return it == iterations ? 0 : (it == 1 ? first : later); }
};

FoolingBudget fooling_budget(const RetrainExperimentConfig& c, const Dataset& train) {
  FoolingBudget b;
  b.real_classes = train.num_classes();
  if (b.real_classes + 1 > 255) throw Error("too many classes for an extra fooling class");
  std::vector<std::size_t> per_class(static_cast<std::size_t>(b.real_classes), 0);
  for (auto l : train.labels) per_class[l]++;
  b.first = c.first_images > 0 ? static_cast<std::size_t>(c.first_images)
                               : *std::max_element(per_class.begin(), per_class.end());
  b.later = std::max<std::size_t>(1, b.first / 6);
  return b;
}

// Step 1: trains DNN_it on the real images plus every fooling image so far, as class n.
nlohmann::json train_iteration(ExperimentDir& x, const RetrainExperimentConfig& c, const DatasetSplits& real, int n,
                               int it, const std::vector<std::string>& training_fooling, const std::string& model,
                               const RunEvents& events) {
  DatasetSplits data = real;
  TrainOptions opt;
  opt.arch = c.arch;
  opt.seed = c.seed + static_cast<std::uint64_t>(it) - 1;
  opt.epochs = c.epochs;
  opt.max_shift = c.shift;
  opt.threads = c.threads;
  opt.dataset_name = c.data.name;
  if (it > 1) {
    data.train.class_names.push_back("fooling");
    data.test.class_names.push_back("fooling");
    data.train.append(images_as_class(x, training_fooling, real.train.shape, n));
    opt.background_class = n;
  }
  return train_step(x, "iteration" + std::to_string(it) + " train", data, opt, model, events);
}

// Step 2: the share of held-out fooling images (made against the previous network, never trained
// on) that DNN_it puts in its fooling class; null when there are none.
nlohmann::json score_heldout(const ExperimentDir& x, const RetrainExperimentConfig& c, const std::string& model,
                             const std::vector<std::string>& heldout_fooling, ImageShape shape, int n) {
  if (heldout_fooling.empty()) return nullptr;
  ClassifierOptions o;
  o.threads = c.threads;
  o.auto_compares_speed = false;  // the same backend whatever the timing or the number of processes
  auto clf = load_classifier(x.path(model), o);
  const Dataset d = images_as_class(x, heldout_fooling, shape, n);
  const Matrix p = clf->probabilities(d.batch(0, d.size()));
  std::size_t caught = 0;
  for (std::size_t i = 0; i < d.size(); ++i) caught += top_k(p.row(i), p.cols(), 1)[0] == n;
  return {{"images", d.size()}, {"fraction_in_fooling_class", static_cast<double>(caught) / d.size()}};
}

std::string evolve_step(const std::string& tag, std::size_t r) { return tag + " evolve run" + std::to_string(r + 1); }

// Step 3a: the evolution runs against DNN_it that are not done yet, spread over the processes;
// rank 0 writes what they made.
void evolve_iteration(ExperimentDir& x, const RetrainExperimentConfig& c, Distribution& dist, int it,
                      const std::string& model, std::size_t total_runs, const RunEvents& events) {
  const std::string tag = "iteration" + std::to_string(it);
  std::vector<Task> tasks;
  std::vector<std::string> steps;
  for (std::size_t r = 0; r < total_runs; ++r) {
    const std::string rel = tag + "/runs/run" + std::to_string(r + 1);
    const std::string step = evolve_step(tag, r);
    if (x.done(step)) continue;
    events.message(tag + ": evolving against DNN_" + std::to_string(it) + " (run " + std::to_string(r + 1) + " of " +
                   std::to_string(total_runs) + ")");
    const auto seed = c.seed * 1000003ULL + static_cast<std::uint64_t>(it) * 1000ULL + r;
    tasks.push_back({{{"kind", "fooling"},
                      {"model", model},
                      {"run", rel},
                      {"recorded_model", x.path(model)},
                      {"encoding", encoding_name(c.encoding)},
                      {"generations", c.generations},
                      {"offspring", c.offspring},
                      {"init", c.init},
                      {"seed", seed},
                      {"threads", c.threads},
                      {"command_line", c.command_line},
                      {"fooling_dir", tag + "/fooling"},
                      {"prefix", "run" + std::to_string(r + 1)}},
                     {{model, read_file(x.path(model))}}});
    steps.push_back(step);
  }
  dist.run_tasks(tasks, run_experiment_task, [&](std::size_t i, TaskOutcome outcome) {
    fs::remove_all(x.path(outcome.result["run"].get<std::string>()));
    write_files(x, outcome.files);
    outcome.result.erase("run");
    x.mark(steps[i], outcome.result);
  });
}

// What an iteration's runs gave: the champions' confidences of the first eval_runs runs, the
// images for the next network's training, and those of the last run, held out to test it.
struct IterationHarvest {
  std::vector<double> confidences;
  std::vector<std::string> for_training;
  std::vector<std::string> heldout;
};

// Step 3b: sorts the finished runs' results into an IterationHarvest.
IterationHarvest harvest_iteration(const ExperimentDir& x, const RetrainExperimentConfig& c, const std::string& tag,
                                   std::size_t total_runs, std::size_t needed) {
  IterationHarvest h;
  for (std::size_t r = 0; r < total_runs; ++r) {
    const nlohmann::json& result = x.result(evolve_step(tag, r));
    if (r < static_cast<std::size_t>(c.eval_runs))
      for (double v : result["confidences"].get<std::vector<double>>()) h.confidences.push_back(v);
    const auto files = result["files"].get<std::vector<std::string>>();
    if (needed > 0 && r + 1 == total_runs) {
      h.heldout = files;
      continue;
    }
    for (const auto& f : files)
      if (h.for_training.size() < needed) h.for_training.push_back(f);
  }
  return h;
}

// An iteration's row of experiment.json's "iterations".
nlohmann::json iteration_row(int it, const std::string& model, const nlohmann::json& trained,
                             std::size_t fooling_in_training, nlohmann::json heldout, int eval_runs,
                             const IterationHarvest& h) {
  std::size_t at_9999 = 0;
  for (double v : h.confidences) at_9999 += v >= kFoolingConfidence;
  return {{"iteration", it},
          {"model", model},
          {"train_examples", trained["train_examples"]},
          {"fooling_examples_in_training", fooling_in_training},
          {"heldout_real_accuracy", trained["test_accuracy"]},
          {"heldout_fooling", std::move(heldout)},
          {"evolution_runs", eval_runs},
          {"median_confidence", median(h.confidences)},
          {"fraction_at_9999", h.confidences.empty() ? 0.0 : static_cast<double>(at_9999) / h.confidences.size()},
          {"fooling_images_made", h.for_training.size()}};
}

void report_iteration(const RunEvents& events, const std::string& tag, const nlohmann::json& row) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s: accuracy %.4f, median confidence of new fooling images %.6f, at >= 99.99%%: %.2f",
                tag.c_str(), row["heldout_real_accuracy"].get<double>(), row["median_confidence"].get<double>(),
                row["fraction_at_9999"].get<double>());
  events.message(buf);
}

}  // namespace

nlohmann::json run_retrain_experiment(const RetrainExperimentConfig& c, const RunEvents& events) {
  check_retrain_config(c);
  const DatasetSplits real = load_dataset(c.data);
  check_test_split(real, c.data);
  const FoolingBudget budget = fooling_budget(c, real.train);
  const int n = budget.real_classes;

  ExperimentDir x(c.out_dir, "retrain", c.to_json());
  SingleProcess single;
  Distribution& dist = c.distribution != nullptr ? *c.distribution : single;
  std::vector<std::string> training_fooling;  // accumulated over the iterations
  std::vector<std::string> heldout_fooling;   // made against the previous network, never trained on
  nlohmann::json iterations = nlohmann::json::array();
  for (int it = 1; it <= c.iterations; ++it) {
    const std::string tag = "iteration" + std::to_string(it);
    fs::create_directories(x.path(tag + "/fooling"));
    const std::string model = tag + "/dnn.onnx";
    const nlohmann::json trained = train_iteration(x, c, real, n, it, training_fooling, model, events);
    const nlohmann::json heldout = it > 1 ? score_heldout(x, c, model, heldout_fooling, real.train.shape, n) : nullptr;

    // New evolution runs against DNN_it: how easily is it still fooled? Their images also feed the
    // next network (first and last generation of each run), with one more run held out.
    const std::size_t needed = budget.needed(it, c.iterations);
    const std::size_t per_run = 2 * static_cast<std::size_t>(n);
    const std::size_t train_runs = (needed + per_run - 1) / per_run;
    const std::size_t total_runs =
        std::max<std::size_t>(static_cast<std::size_t>(c.eval_runs), train_runs) + (needed > 0 ? 1 : 0);
    evolve_iteration(x, c, dist, it, model, total_runs, events);
    const IterationHarvest h = harvest_iteration(x, c, tag, total_runs, needed);

    const nlohmann::json row = iteration_row(it, model, trained, training_fooling.size(), heldout, c.eval_runs, h);
    iterations.push_back(row);
    x.set("iterations", iterations);
    report_iteration(events, tag, row);
    training_fooling.insert(training_fooling.end(), h.for_training.begin(), h.for_training.end());
    heldout_fooling = h.heldout;
  }
  return x.state();
}

}  // namespace fool
