// fool train: train a classifier with libtorch and write it as ONNX.
#include <filesystem>

#include "cli/common.h"
#include "cli/progress.h"
#include "fool/core/error.h"
#include "fool/train/train.h"

namespace fool::cli {

void add_train_command(CLI::App& app, Action& action) {
  struct Opts {
    std::string dataset = "mnist", data_dir, out, report, arch = "lenet";
    TrainOptions train;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("train", "train a classifier (the paper's LeNet or another architecture) and write ONNX");
  c->add_option("--dataset", o->dataset, "mnist or fashion-mnist")->check(CLI::IsMember(dataset_names()));
  c->add_option("--data-dir", o->data_dir, "directory with the dataset's IDX files (gzipped or not)");
  c->add_option("--arch", o->train.arch, "lenet (the paper's), mlp, or bncnn")->check(CLI::IsMember(architecture_names()));
  c->add_option("--epochs", o->train.epochs, "passes over the training set")->check(positive());
  c->add_option("--batch-size", o->train.batch_size, "examples per optimisation step")->check(positive());
  c->add_option("--lr", o->train.learning_rate, "Adam learning rate")->check(positive());
  c->add_option("--seed", o->train.seed, "random seed (weights, shuffling, augmentation)")->check(non_negative());
  c->add_option("--threads", o->train.threads, "libtorch threads (0: its default)")->check(thread_count());
  c->add_option("--shift", o->train.max_shift, "augmentation: random shifts of up to N pixels (0: none)")
      ->check(CLI::Range(0, 8));
  c->add_option("--out", o->out, "where to write the ONNX model")->required();
  c->add_option("--report", o->report, "where to write the JSON report (default: <out>.json)");
  c->add_flag("--quiet", o->quiet, "no progress bar");
  c->callback([o, &action] {
    action = [o] {
      const std::string dir = o->data_dir.empty() ? default_data_dir(o->dataset) : o->data_dir;
      o->train.dataset_name = o->dataset;
      o->train.validate();
      // Both outputs are checked before training, so a bad --report never follows a written model.
      check_output_file(o->out, "--out");
      check_output_file(o->report.empty() ? o->out + ".json" : o->report, "--report");
      const DatasetSplits data = load_dataset(o->dataset, dir);
      ProgressObserver progress(!o->quiet);
      const TrainResult r = train_classifier(data, o->train, o->out, RunEvents({&progress}));
      progress.finish();
      nlohmann::json j = {{"model", o->out},
                          {"sha256", r.model_sha256},
                          {"dataset", o->dataset},
                          {"data_dir", dir},
                          {"arch", o->train.arch},
                          {"epochs", o->train.epochs},
                          {"batch_size", o->train.batch_size},
                          {"learning_rate", o->train.learning_rate},
                          {"max_shift", o->train.max_shift},
                          {"seed", o->train.seed},
                          {"threads", o->train.threads},
                          {"train_examples", r.train_examples},
                          {"test_examples", r.test_examples},
                          {"test_accuracy", r.test_accuracy},
                          {"epoch_loss", r.epoch_loss},
                          {"seconds", r.train_seconds}};
      emit_json(j, o->report.empty() ? o->out + ".json" : o->report);
      return 0;
    };
  });
}

}  // namespace fool::cli
