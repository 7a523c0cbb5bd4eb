#pragma once
// The flags that name a dataset, and where its files are by default.
#include <CLI/CLI.hpp>
#include <string>

#include "fool/io/dataset.h"

namespace fool::cli {

// The data directory for a dataset when --data-dir is not given: $FOOL_DATA_DIR/<name> or
// data/<name> for MNIST (made by scripts/setup.sh), Debian's dataset-fashion-mnist for Fashion-MNIST.
std::string default_data_dir(const std::string& dataset);

// Adds the dataset flags every command that reads a dataset shares: --dataset (mnist, fashion-mnist,
// idx), --data-dir, --train-images/--train-labels/--test-images/--test-labels (each replaces one
// file of the data directory) and --class-names.
void add_dataset_options(CLI::App* app, DatasetSource& source);
// The source with its data directory filled in: --data-dir, or the default directory of mnist and
// fashion-mnist (none for idx, whose files come from --data-dir or the four file flags).
DatasetSource with_default_dir(DatasetSource source);

}  // namespace fool::cli
