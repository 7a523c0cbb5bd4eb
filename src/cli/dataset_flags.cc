#include "cli/dataset_flags.h"

#include <cstdlib>

namespace fool::cli {

std::string default_data_dir(const std::string& dataset) {
  if (const char* env = std::getenv("FOOL_DATA_DIR"); env != nullptr && *env != '\0') {
    return std::string(env) + "/" + dataset;
  }
  if (dataset == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  return "data/" + dataset;
}

void add_dataset_options(CLI::App* app, DatasetSource& source) {
  app->add_option("--dataset", source.name,
                  "mnist, fashion-mnist, or idx (any IDX files; classes counted from the labels, named 0..K-1)")
      ->check(CLI::IsMember(dataset_names()));
  app->add_option("--data-dir", source.dir,
                  "directory with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                  "t10k-labels-idx1-ubyte (each may end in .gz)");
  app->add_option("--train-images", source.train_images, "training images IDX file (N x H x W bytes; .gz or not)");
  app->add_option("--train-labels", source.train_labels, "training labels IDX file (N bytes)");
  app->add_option("--test-images", source.test_images, "test images IDX file");
  app->add_option("--test-labels", source.test_labels, "test labels IDX file");
  app->add_option("--class-names", source.class_names_file,
                  "file with one class name a line (default: the dataset's; idx: 0..K-1)");
}

DatasetSource with_default_dir(DatasetSource source) {
  const bool all_files = !source.train_images.empty() && !source.train_labels.empty() && !source.test_images.empty() &&
                         !source.test_labels.empty();
  if (source.dir.empty() && source.name != "idx" && !all_files) source.dir = default_data_dir(source.name);
  return source;
}

}  // namespace fool::cli
