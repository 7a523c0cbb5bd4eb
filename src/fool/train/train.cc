// The architectures and the options of training; the training itself (libtorch) is
// train_torch.cc's, reached through torch_api() (fool/model/torch/torch_api.h), so that a fool
// that loads libtorch on first use loads it when it trains, after the options were checked.
#include "fool/train/train.h"

#include "fool/core/error.h"
#include "fool/core/limits.h"
#include "fool/model/torch/torch_api.h"

namespace fool {

const NameTable<Architecture>& architecture_table() {
  static const NameTable<Architecture> table = {
      {Architecture::LeNet, "lenet"}, {Architecture::Mlp, "mlp"}, {Architecture::BnCnn, "bncnn"}};
  return table;
}
const std::vector<std::string>& architecture_names() {
  static const std::vector<std::string> names = names_of(architecture_table());
  return names;
}
Architecture parse_architecture(const std::string& name) {
  return parse_name(architecture_table(), name, "architecture");
}

void TrainOptions::validate() const {
  parse_architecture(arch);
  if (epochs < 1) throw Error("epochs must be at least 1, got " + std::to_string(epochs));
  if (batch_size < 1) throw Error("batch size must be at least 1, got " + std::to_string(batch_size));
  if (!(learning_rate > 0.0)) throw Error("learning rate must be positive");
  if (threads < 0) throw Error("threads must not be negative");
  check_threads(threads, "threads");
  if (max_shift < 0 || max_shift > 8)
    throw Error("shift must be between 0 and 8 pixels, got " + std::to_string(max_shift));
}

TrainResult train_classifier(const DatasetSplits& data, const TrainOptions& options, const std::string& out_path,
                             const RunEvents& events) {
  options.validate();
  if (data.train.size() == 0) throw Error("the training set is empty");
  return torch_api().train(data, options, out_path, events);
}

}  // namespace fool
