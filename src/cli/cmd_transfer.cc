// fool transfer: score the champions of runs with other networks.
#include "cli/common.h"
#include "fool/experiments/transfer.h"

namespace fool::cli {

void add_transfer_command(CLI::App& app, Action& action) {
  struct Opts {
    std::vector<std::string> runs, models;
    std::string out;
    ClassifierOptions classifier;  // the backend and threads every model is loaded with
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("transfer",
                               "score every champion of some runs with every model, for the class it was evolved for");
  c->add_option("--runs", o->runs, "run directories (made by fool evolve or fool ascend)")->required();
  c->add_option("--models", o->models, "ONNX models to score with (same classes)")->required();
  c->add_option("--out", o->out, "directory for transfer.json, transfer.csv and transfer.png")->required();
  add_backend_option(c, o->classifier.backend, "inference backend: auto or a backend by name");
  c->add_option("--threads", o->classifier.threads, "threads (0: all cores)")->check(thread_count());
  c->callback([o, &action] {
    action = [o] {
      check_transfer_out_dir(o->out);  // refused before the work; nothing is made for a transfer that fails
      const TransferMatrix matrix = transfer_matrix(o->runs, o->models, o->classifier);
      const RunLock lock = prepare_transfer_out_dir(o->out);  // checked again, locked and marked, then written
      emit_json(write_transfer(o->out, matrix));
      return 0;
    };
  });
}

}  // namespace fool::cli
