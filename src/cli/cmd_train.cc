// fool train: train a classifier with libtorch and write it as ONNX.
#include <filesystem>

#include "cli/common.h"
#include "cli/progress.h"
#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/train/train.h"

namespace fool::cli {

void add_train_command(CLI::App& app, Action& action) {
  struct Opts {
    DatasetSource data;
    std::string out, report;
    TrainOptions train;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c =
      app.add_subcommand("train", "train a classifier (the paper's LeNet or another architecture) and write ONNX");
  add_dataset_options(c, o->data);
  c->add_option("--arch", o->train.arch, "lenet (the paper's), mlp, or bncnn")
      ->check(CLI::IsMember(architecture_names()));
  c->add_option("--epochs", o->train.epochs, "passes over the training set")->check(positive());
  c->add_option("--batch-size", o->train.batch_size, "examples per optimisation step")->check(positive());
  c->add_option("--lr", o->train.learning_rate, "Adam learning rate")->check(positive());
  c->add_option("--seed", o->train.seed, "random seed (weights, shuffling, augmentation)")->check(seed_number());
  c->add_option("--threads", o->train.threads, "libtorch threads (0: its default)")->check(thread_count());
  c->add_option("--shift", o->train.max_shift, "augmentation: random shifts of up to N pixels (0: none)")
      ->check(CLI::Range(0, 8));
  c->add_option("--out", o->out, "where to write the ONNX model")->required();
  c->add_option("--report", o->report, "where to write the JSON report (default: <out>.json)");
  c->add_flag("--quiet", o->quiet, "no progress bar");
  c->callback([o, &action] {
    action = [o] {
      // Both outputs (name and writability) are checked before the data is read, so a read-only or
      // full directory fails now, not after hours of training, and a bad --report never follows a
      // written model.
      check_output_file(o->out, "--out", ".onnx");
      const std::string report = o->report.empty() ? o->out + ".json" : o->report;
      check_output_file(report, "--report", ".json");
      const DatasetSource source = with_default_dir(o->data);
      o->train.dataset_name = source.name;
      o->train.validate();
      const DatasetSplits data = load_dataset(source);
      ProgressObserver progress(!o->quiet);
      const TrainResult r = train_classifier(data, o->train, o->out, RunEvents({&progress}));
      progress.finish();
      nlohmann::json j = {{"model", o->out},
                          {"sha256", r.model_sha256},
                          {"dataset", source.name},
                          {"data_dir", source.dir},
                          {"arch", o->train.arch},
                          {"epochs", o->train.epochs},
                          {"batch_size", o->train.batch_size},
                          {"learning_rate", o->train.learning_rate},
                          {"max_shift", o->train.max_shift},
                          {"seed", o->train.seed},
                          {"threads", o->train.threads},
                          {"train_examples", r.train_examples},
                          {"test_examples", r.test_examples},
                          // No test images: no accuracy to report (null), rather than 0.
                          {"test_accuracy", r.test_examples > 0 ? nlohmann::json(r.test_accuracy) : nlohmann::json()},
                          {"epoch_loss", r.epoch_loss},
                          {"seconds", r.train_seconds}};
      if (source.custom()) j["dataset_source"] = source.to_json();
      emit_json(j, o->report.empty() ? o->out + ".json" : o->report);
      return 0;
    };
  });
}

}  // namespace fool::cli
