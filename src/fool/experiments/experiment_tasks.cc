#include "fool/experiments/experiment_tasks.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "fool/core/error.h"
#include "fool/core/names.h"
#include "fool/experiments/experiments.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/output/document_checks.h"
#include "fool/output/run_directory.h"

namespace fool {

nlohmann::json ExperimentConfig::to_json() const {
  nlohmann::json j = {
      {"dataset", data.name},   {"epochs", epochs}, {"encoding", encoding}, {"generations", generations},
      {"offspring", offspring}, {"init", init},     {"seed", seed},         {"threads", threads}};
  if (data.custom()) j["dataset_source"] = data.to_json();  // mnist and fashion-mnist: the name says it
  return j;
}

namespace fs = std::filesystem;

namespace {
const NameTable<TaskKind>& task_kinds() {
  static const NameTable<TaskKind> t = {
      {TaskKind::Train, "train"}, {TaskKind::Evolve, "evolve"}, {TaskKind::Fooling, "fooling"}};
  return t;
}
}  // namespace

const std::string& task_kind_name(TaskKind kind) { return name_of(task_kinds(), kind); }
TaskKind parse_task_kind(const std::string& name) { return parse_name(task_kinds(), name, "experiment task"); }

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

nlohmann::json train_step(ExperimentDir& x, const std::string& step, const DatasetSplits& data, const TrainOptions& opt,
                          const std::string& model, const RunEvents& events) {
  if (x.done(step)) return x.result(step);
  events.message("training " + model);
  const TrainResult r = train_classifier(data, opt, x.path(model), events);
  nlohmann::json j = train_record(model, opt, r);
  x.mark(step, j);
  return j;
}

EvolveRunConfig evolve_config(const std::string& model, const std::string& out, const std::string& encoding,
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
  c.overwrite = true;             // a run cut short by an interruption is run again
  c.command_line = command_line;  // the experiment's: its runs are part of it
  return c;
}

ExperimentRun evolve_run(const EvolveRunConfig& cfg, bool keep_first_generation) {
  EvolveRunResult r = run_evolve(cfg, {}, nullptr, keep_first_generation);
  if (!r.summary) throw Error(cfg.out_dir + ": the run found no champion");
  return {std::move(*r.summary), std::move(r.first_generation)};
}

FileMap collect_files(const fs::path& dir, const std::string& prefix) {
  FileMap files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename() == kRunLockFile) continue;
    files[prefix + fs::relative(entry.path(), dir).generic_string()] = read_file(entry.path().string());
  }
  return files;
}

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

void check_test_split(const DatasetSplits& data, const DatasetSource& source) {
  if (data.test.size() == 0) {
    throw Error((!source.test_images.empty() ? source.test_images
                 : source.dir.empty()        ? source.name
                                             : source.dir) +
                ": the test split has no images; the experiment reports each network's held-out accuracy");
  }
}

namespace {

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
  EvolveRunConfig cfg = evolve_config(
      p.at("recorded_model").get<std::string>(), out.string(), p.at("encoding").get<std::string>(),
      p.at("generations").get<int>(), p.at("offspring").get<int>(), p.at("init").get<int>(),
      p.at("seed").get<std::uint64_t>(), p.at("threads").get<int>(), p.at("command_line").get<std::string>());
  cfg.recorded_model = cfg.model;
  cfg.model = model_file.string();
  return cfg;
}

// Writes the model a task came with into its directory.
fs::path task_model(const Task& task, const TaskDir& dir) {
  const std::string model = task.params.at("model").get<std::string>();
  const auto found = task.files.find(model);
  if (found == task.files.end()) throw Error("task without its model " + model);
  fs::path file = dir.path() / "model.onnx";
  write_file_atomic(file.string(), found->second.data(), found->second.size());
  return file;
}

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
    write_png((fs::path(dir) / name).string(),
              read_image(file_inside(cfg.out_dir, c.image, cfg.out_dir + "/summary.json")));
    files.push_back(name);
  }
  return {files, run.summary};
}

}  // namespace

TaskOutcome run_experiment_task(const Task& task) {
  const nlohmann::json& p = task.params;
  const TaskKind kind = parse_task_kind(p.at("kind").get<std::string>());
  TaskDir dir;
  TaskOutcome out;
  if (kind == TaskKind::Train) {
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
  if (kind == TaskKind::Evolve) {
    const RunSummary s = evolve_run(cfg).summary;
    out.result = {
        {"run", run}, {"median_confidence", s.median_confidence}, {"classes_at_or_above", s.threshold_counts()}};
    out.files = collect_files(cfg.out_dir, run + "/");
    return out;
  }
  if (kind == TaskKind::Fooling) {
    // A run whose first- and last-generation champions become fooling images.
    const fs::path images = dir.path() / "fooling";
    fs::create_directories(images);
    auto [names, s] = fooling_run(cfg, images.string(), p.at("prefix").get<std::string>());
    const std::string fooling_dir = p.at("fooling_dir").get<std::string>();
    std::vector<std::string> files;  // relative to the experiment directory
    files.reserve(names.size());
    for (const auto& name : names) files.push_back(std::string(fooling_dir).append("/").append(name));
    std::vector<double> confidences;
    for (const auto& cl : s.classes) confidences.push_back(cl.confidence);
    out.result = {{"run", run}, {"files", files}, {"confidences", confidences}};
    out.files = collect_files(cfg.out_dir, run + "/");
    for (auto& [name, bytes] : collect_files(images, fooling_dir + "/")) out.files[name] = std::move(bytes);
    return out;
  }
  throw Error("experiment task of no known kind");
}

}  // namespace fool
