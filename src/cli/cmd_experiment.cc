// fool experiment: the paper's follow-up experiments, one subcommand per entry of the experiments
// registry (fool/experiments/registry.h), its flags made from the entry's options.

#include <limits>
#include <thread>
#include <variant>

#include "cli/common.h"
#include "cli/encoding_flags.h"
#include "cli/progress.h"
#include "fool/experiments/registry.h"
#include "fool/io/dataset.h"
#include "fool/parallel/mpi_world.h"

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
  world.check_same_job("experiment " + config.kind() + " " + identity.dump());
  if (!world.is_root()) {
    world.serve_tasks(run_experiment_task);
    return false;
  }
  config.distribution = &world;
  world.note_checkpoint(config.out_dir + "/experiment.json", parallel::MpiWorld::kStepsFile);
  return true;
}

// The subcommand of one experiment with the options before its own: where it runs and on which data.
CLI::App* add_experiment(CLI::App* e, ExperimentConfig& x, const std::string& description) {
  auto* c = e->add_subcommand(x.kind(), description);
  c->add_option("--out", x.out_dir, "experiment directory")->required();
  add_dataset_options(c, x.data);
  return c;
}

// The flag of one of the experiment's own options, bound to the config's field (whose value --help
// shows): a range of integers is checked as such, 1 or 0 alone as positive or not negative.
void add_experiment_option(CLI::App* c, const ExperimentOption& o) {
  CLI::Option* flag = std::visit([&](auto* field) { return c->add_option(o.flag, *field, o.help); }, o.field);
  if (o.min && o.max) {
    flag->check(CLI::Range(*o.min, *o.max));
  } else if (o.min == 1) {
    flag->check(positive());
  } else if (o.min == 0) {
    flag->check(non_negative());
  } else if (o.min || o.max) {
    flag->check(
        CLI::Range(o.min.value_or(std::numeric_limits<int>::min()), o.max.value_or(std::numeric_limits<int>::max())));
  }
  if (!o.choices.empty()) flag->check(CLI::IsMember(o.choices));
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

// What the command does once parsed: runs the experiment on rank 0 (the other ranks serve its
// tasks) with progress on stderr, and prints the directory and the state's `result_key`.
void set_experiment_action(CLI::App* c, const std::shared_ptr<ExperimentConfig>& x, Action& action,
                           const std::string& result_key) {
  c->callback([x, &action, result_key] {
    action = [x, result_key] {
      x->data = with_default_dir(x->data);
      if (!share_experiment(*x)) return 0;
      const ReleaseRanks release;
      ProgressObserver say(true, "[experiment] ");  // bars on a terminal, a line per tenth otherwise
      const RunEvents events({&say});
      TaskProgress progress(*x->distribution, events, x->kind());
      x->distribution = &progress;
      x->command_line = command_line();
      const auto state = x->run(events);
      emit_json({{"out", x->out_dir}, {result_key, state[result_key]}});
      return 0;
    };
  });
}

}  // namespace

void add_experiment_command(CLI::App& app, Action& action) {
  auto* e = app.add_subcommand("experiment", "the paper's follow-up experiments (rerun the same command to resume)");
  e->require_subcommand(1);
  for (const ExperimentEntry& entry : experiment_registry()) {
    std::shared_ptr<ExperimentConfig> x = entry.make_config();
    auto* c = add_experiment(e, *x, entry.help);
    for (const ExperimentOption& o : x->options()) add_experiment_option(c, o);
    add_run_options(c, *x);
    set_experiment_action(c, x, action, entry.result_key);
  }
}

}  // namespace fool::cli
