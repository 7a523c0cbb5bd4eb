#pragma once
// Training image classifiers with libtorch and writing them as standard ONNX files
// (softmax output, class labels and preprocessing in the model's metadata).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fool/core/names.h"
#include "fool/core/run_events.h"
#include "fool/io/dataset.h"

namespace fool {

// Architectures `fool train` knows: "lenet" (the paper's Caffe LeNet), "mlp" (784-512-256-K),
// "bncnn" (two 3x3 conv blocks with batch norm, then 128 hidden units). Configurations and
// experiment.json keep the name; the code decides on the enum.
enum class Architecture { LeNet, Mlp, BnCnn };
const NameTable<Architecture>& architecture_table();
const std::vector<std::string>& architecture_names();      // the table's names, in its order
Architecture parse_architecture(const std::string& name);  // throws fool::Error naming `name`

struct TrainOptions {
  std::string arch = "lenet";
  int epochs = 15;
  int batch_size = 64;
  double learning_rate = 1e-3;  // Adam's, decayed along a cosine over the epochs
  std::uint64_t seed = 1;
  int threads = 0;            // 0: libtorch's default
  int max_shift = 1;          // augmentation: random shifts of up to this many pixels (0: none)
  std::string dataset_name;   // recorded in the model's metadata
  int background_class = -1;  // recorded as fool.background_class: a class of fooling images, not a real one
  void validate() const;      // throws fool::Error on nonsense values
};

struct TrainResult {
  double test_accuracy = 0.0;  // of the written ONNX file, scored by the OpenCV backend
  double train_seconds = 0.0;
  std::vector<double> epoch_loss;  // mean training cross-entropy per epoch
  std::size_t train_examples = 0;
  std::size_t test_examples = 0;
  std::string model_sha256;
};

// Trains on data.train from scratch, writes the ONNX model to out_path atomically, and measures
// held-out accuracy on data.test with the written file. Same seed and thread count, same weights.
// Every optimisation step is a progress event (status: epoch and the epoch's running mean loss).
TrainResult train_classifier(const DatasetSplits& data, const TrainOptions& options, const std::string& out_path,
                             const RunEvents& events = {});

}  // namespace fool
