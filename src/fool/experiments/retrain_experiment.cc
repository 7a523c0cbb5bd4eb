// The retraining experiment (the paper's Section 3.4): fooling images join the training data as an
// extra class, network after network; its flags, the checks of its iterations in experiment.json,
// its report section and its registry entry.
#include <cmath>
#include <filesystem>
#include <sstream>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/core/stats.h"
#include "fool/core/thresholds.h"
#include "fool/experiments/experiment_tasks.h"
#include "fool/experiments/registry.h"
#include "fool/experiments/retrain_experiment.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/model/factory.h"
#include "fool/output/document_checks.h"
#include "fool/output/report_sections.h"
#include "fool/output/results.h"

namespace fool {

namespace fs = std::filesystem;

namespace {
const char* const kName = "retrain";
}  // namespace

std::string RetrainExperimentConfig::kind() const { return kName; }

std::vector<ExperimentOption> RetrainExperimentConfig::options() {
  return {{"--arch", "architecture", &arch, std::nullopt, std::nullopt, architecture_names()},
          {"--iterations", "networks to train (the paper: 15)", &iterations, 1},
          {"--shift", "training augmentation: random shifts of up to N pixels (the paper: 0)", &shift, 0, 8},
          {"--eval-runs", "new runs per network that measure how easily it is fooled", &eval_runs, 1},
          {"--first-images",
           "fooling images added after the first network (0: as many as one real class has; later iterations add a "
           "sixth)",
           &first_images, 0}};
}

nlohmann::json RetrainExperimentConfig::run(const RunEvents& events) const {
  return run_retrain_experiment(*this, events);
}

nlohmann::json RetrainExperimentConfig::to_json() const {
  nlohmann::json j = ExperimentConfig::to_json();
  j["arch"] = arch;
  j["iterations"] = iterations;
  j["eval_runs"] = eval_runs;
  j["first_images"] = first_images;
  // Recorded only when it is not the default, so that experiments made before the flag resume.
  if (shift != TrainOptions().max_shift) j["shift"] = shift;
  return j;
}

namespace {

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

void check_retrain_config(const RetrainExperimentConfig& c) {
  find_encoding(c.encoding);  // an unknown one is refused before anything is trained
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
    tasks.push_back({{{"kind", task_kind_name(TaskKind::Fooling)},
                      {"model", model},
                      {"run", rel},
                      {"recorded_model", x.path(model)},
                      {"encoding", c.encoding},
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

  ExperimentDir x(c.out_dir, c.kind(), experiment_documents(), c.to_json());
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

namespace {

namespace jc = json_check;

// experiment.json's iterations: each network's row.
void check_iterations(const nlohmann::json& x) {
  if (!x.contains("iterations")) return;
  const auto& its = jc::array(x, "", "iterations");
  for (std::size_t i = 0; i < its.size(); ++i) {
    const std::string where = jc::path_of("iterations", i);
    for (const char* k : {"iteration", "train_examples", "fooling_examples_in_training"})
      jc::integer(its[i], where, k, 0, kMaxDocumentCount);
    for (const char* k : {"heldout_real_accuracy", "median_confidence", "fraction_at_9999"})
      jc::number(its[i], where, k, 0.0, 1.0);
    const auto& ho = jc::member(its[i], where, "heldout_fooling");
    if (!ho.is_null()) jc::number(ho, where + ".heldout_fooling", "fraction_in_fooling_class", 0.0, 1.0);
    check_experiment_record(its[i], where);
  }
}

using report_html::line_chart;

// The report's section: the settings, a row per network and the curves over the iterations.
std::string retrain_section(const std::string& dir, const nlohmann::json& x) {
  std::ostringstream h;
  h << "<section class=\"retrain\"><h2>retraining with fooling images as an extra class <small>" << html_escape(dir)
    << "</small></h2><p>Settings: <code>" << html_escape(x["config"].dump()) << "</code></p>";
  const auto its = x.value("iterations", nlohmann::json::array());
  std::vector<double> xs, acc, caught, median, top;
  h << "<table class=\"classes\"><tr><th>network</th><th>training examples</th><th>fooling images among them</th>"
       "<th>held-out real accuracy</th><th>held-out fooling images in the extra class</th><th>median confidence of new "
       "fooling images</th><th>fraction &ge; 99.99%</th></tr>";
  for (const auto& r : its) {
    const int i = r.value("iteration", 0);
    const auto& ho = r["heldout_fooling"];
    const double frac = ho.is_null() ? NAN : ho.value("fraction_in_fooling_class", 0.0);
    xs.push_back(i);
    acc.push_back(r.value("heldout_real_accuracy", 0.0));
    caught.push_back(frac);  // NaN for DNN_1, which has no extra class: left out of the chart
    median.push_back(r.value("median_confidence", 0.0));
    top.push_back(r.value("fraction_at_9999", 0.0));
    h << "<tr><td>DNN_" << i << "</td><td>" << r.value("train_examples", 0) << "</td><td>"
      << r.value("fooling_examples_in_training", 0) << "</td><td>" << html_escape(percent(acc.back())) << "</td><td>"
      << (std::isnan(frac) ? std::string("&ndash;") : html_escape(percent(frac))) << "</td><td>"
      << html_escape(percent(median.back())) << "</td><td>" << html_escape(percent(top.back())) << "</td></tr>";
  }
  h << "</table>";
  if (!xs.empty()) {
    h << line_chart("over the iterations", "network",
                    {{"real accuracy", "#1a9850", acc},
                     {"caught fooling", "#762a83", caught},
                     {"median fooled", "#2166ac", median},
                     {"at >= 99.99%", "#b2182b", top}},
                    0.0, 1.0, xs);
  }
  h << "</section>";
  return h.str();
}

}  // namespace

ExperimentEntry retrain_experiment_entry() {
  return {{kName, check_iterations, retrain_section},
          "retrain with fooling images as an extra class, iteration after iteration, and measure how easily each "
          "network is still fooled",
          "iterations",
          default_config<RetrainExperimentConfig>};
}

}  // namespace fool
