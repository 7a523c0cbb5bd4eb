// fool experiment: the paper's transfer and retraining experiments.

#include <thread>

#include "cli/common.h"
#include "cli/encoding_flags.h"
#include "cli/progress.h"
#include "fool/experiments/retrain_experiment.h"
#include "fool/experiments/transfer_experiment.h"
#include "fool/io/dataset.h"
#include "fool/parallel/mpi_world.h"
#include "fool/train/train.h"

namespace fool::cli {

namespace {

// On rank 0, releases the other ranks when the experiment is over (telling them whether it failed).
struct ReleaseRanks {
  ~ReleaseRanks() { parallel::MpiWorld::instance().end_tasks(std::uncaught_exceptions() > 0); }
};

// The experiment's tasks (trainings, evolution runs) reported as progress: each set of tasks handed
// out together is one progress task ("transfer: training", "transfer: evolution runs"), one unit per
// task done, its evaluations counted for evolution runs (init + generations x offspring) so that
// the line shows their rate and the time left. Everything else goes to the distribution it wraps.
class TaskProgress : public Distribution {
 public:
  TaskProgress(Distribution& inner, const RunEvents& events, std::string experiment)
      : inner_(inner), events_(events), experiment_(std::move(experiment)) {}
  int processes() const override { return inner_.processes(); }
  int rank() const override { return inner_.rank(); }
  int local_processes() const override { return inner_.local_processes(); }
  std::shared_ptr<Classifier> share_classifier(std::shared_ptr<Classifier> local, std::size_t chunk,
                                               const std::string& identity) override {
    return inner_.share_classifier(std::move(local), chunk, identity);
  }
  void note_checkpoint(const std::string& path, int generation) override { inner_.note_checkpoint(path, generation); }
  std::string from_rank0(const std::string& value) override { return inner_.from_rank0(value); }
  void check_same_job(const std::string& identity) override { inner_.check_same_job(identity); }
  void serve_tasks(const TaskRunner& run) override { inner_.serve_tasks(run); }
  void end_tasks(bool failed) override { inner_.end_tasks(failed); }

  void run_tasks(const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done) override {
    if (tasks.empty()) return inner_.run_tasks(tasks, run, done);
    const bool training = tasks.front().params.value("kind", "") == "train";
    std::vector<std::size_t> evaluations;
    ProgressEvent e(experiment_ + (training ? ": training" : ": evolution runs"), 0, tasks.size());
    for (const Task& t : tasks) {
      const auto count = [&t](const char* key) { return t.params.value(key, std::size_t{0}); };
      evaluations.push_back(training ? 0 : count("init") + count("generations") * count("offspring"));
      e.evaluations_total += evaluations.back();
    }
    e.status = std::to_string(tasks.size()) + (training ? " network" : " run") + (tasks.size() == 1 ? "" : "s") +
               (training ? " to train" : " to evolve");
    events_.progress(e);
    inner_.run_tasks(tasks, run, [&](std::size_t i, TaskOutcome outcome) {
      done(i, std::move(outcome));
      ++e.done;
      e.evaluations += evaluations[i];
      e.status = "done: " + tasks[i].params.value(training ? "model" : "run", std::string());
      events_.progress(e);
    });
    events_.finish(e.task, e.status);
  }

 private:
  Distribution& inner_;
  const RunEvents& events_;
  std::string experiment_;
};

// Under mpirun, every rank checks that it runs the same experiment; ranks > 0 then do the trainings
// and evolution runs rank 0 hands them until it is done, and return false; rank 0 returns true.
bool share_experiment(ExperimentConfig& config) {
  auto& world = parallel::MpiWorld::instance();
  world.expect_start_up_check();
  if (world.processes() > 1 && config.threads == 0) {
    // Processes on one machine divide its cores among them.
    config.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / world.local_processes());
  }
  nlohmann::json identity = config.to_json();
  identity.erase("threads");
  identity.erase("iterations");
  world.check_same_job("experiment " + experiment_kind_name(config.kind()) + " " + identity.dump());
  if (!world.is_root()) {
    world.serve_tasks(run_experiment_task);
    return false;
  }
  config.distribution = &world;
  world.note_checkpoint(config.out_dir + "/experiment.json", parallel::MpiWorld::kStepsFile);
  return true;
}

// The subcommand of one experiment (named by its kind) with the options before its own: where it
// runs and on which data.
CLI::App* add_experiment(CLI::App* e, ExperimentConfig& x, const std::string& description) {
  auto* c = e->add_subcommand(experiment_kind_name(x.kind()), description);
  c->add_option("--out", x.out_dir, "experiment directory")->required();
  add_dataset_options(c, x.data);
  return c;
}

// The options after its own: the trainings' epochs and the evolution runs' settings.
void add_run_options(CLI::App* c, ExperimentConfig& x) {
  c->add_option("--epochs", x.epochs, "training epochs per network (15 for the paper's accuracy)")->check(positive());
  add_encoding_choice(c, x.encoding, "the encoding of the runs (the paper's: cppn)");
  c->add_option("--generations", x.generations, "generations per run (the paper: 200)")->check(positive());
  c->add_option("--offspring", x.offspring, "offspring per generation")->check(positive());
  c->add_option("--init", x.init, "initial population")->check(positive());
  c->add_option("--seed", x.seed, "seed")->check(seed_number());
  c->add_option("--threads", x.threads, "threads (0: all cores)")->check(thread_count());
}

// What the command does once parsed: runs the experiment `run` on rank 0 (the other ranks serve its
// tasks) with progress on stderr, and prints the directory and the state's `result_key`.
template <typename Config>
void set_experiment_action(CLI::App* c, std::shared_ptr<Config> x, Action& action,
                           nlohmann::json (*run)(const Config&, const RunEvents&), const char* result_key) {
  c->callback([x, &action, run, result_key] {
    action = [x, run, result_key] {
      x->data = with_default_dir(x->data);
      if (!share_experiment(*x)) return 0;
      const ReleaseRanks release;
      ProgressObserver say(true, "[experiment] ");  // bars on a terminal, a line per tenth otherwise
      const RunEvents events({&say});
      TaskProgress progress(*x->distribution, events, experiment_kind_name(x->kind()));
      x->distribution = &progress;
      x->command_line = command_line();
      const auto state = run(*x, events);
      emit_json({{"out", x->out_dir}, {result_key, state[result_key]}});
      return 0;
    };
  });
}

}  // namespace

void add_experiment_command(CLI::App& app, Action& action) {
  auto* e = app.add_subcommand("experiment", "the paper's follow-up experiments (rerun the same command to resume)");
  e->require_subcommand(1);

  auto t = std::make_shared<TransferExperimentConfig>();
  auto* tc = add_experiment(e, *t,
                            "train networks (same architecture with other seeds, and other architectures), evolve "
                            "against each, and score every champion with every network");
  tc->add_option("--lenet-seeds", t->lenet_seeds, "seeds of the LeNets that differ only in initialisation");
  tc->add_option("--other-archs", t->other_archs, "other architectures");
  tc->add_option("--runs-per-network", t->runs_per_network, "evolution runs against each network")->check(positive());
  add_run_options(tc, *t);
  set_experiment_action(tc, t, action, run_transfer_experiment, "results");

  auto r = std::make_shared<RetrainExperimentConfig>();
  auto* rc = add_experiment(e, *r,
                            "retrain with fooling images as an extra class, iteration after iteration, and measure "
                            "how easily each network is still fooled");
  rc->add_option("--arch", r->arch, "architecture")->check(CLI::IsMember(architecture_names()));
  rc->add_option("--iterations", r->iterations, "networks to train (the paper: 15)")->check(positive());
  rc->add_option("--shift", r->shift, "training augmentation: random shifts of up to N pixels (the paper: 0)")
      ->check(CLI::Range(0, 8));
  rc->add_option("--eval-runs", r->eval_runs, "new runs per network that measure how easily it is fooled")
      ->check(positive());
  rc->add_option(
        "--first-images", r->first_images,
        "fooling images added after the first network (0: as many as one real class has; later iterations add a sixth)")
      ->check(non_negative());
  add_run_options(rc, *r);
  set_experiment_action(rc, r, action, run_retrain_experiment, "iterations");
}

}  // namespace fool::cli
