#include "cli/common.h"

#include <algorithm>

#include <cmath>
#include <cstdio>
#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/core/limits.h"
#include "fool/io/files.h"

namespace fool::cli {

void ModelFlags::add_to(CLI::App* app, bool required) {
  auto* m = app->add_option("--model", model, "ONNX model file");
  if (required) m->required();
  add_backend_option(app, classifier.backend,
                     "inference backend: auto (the faster of those that run the model and agree on a probe "
                     "batch), opencv, or torch (differentiable)",
                     &backend_given);
  app->add_option("--threads", classifier.threads, "worker threads for the backend (0: its default)")
      ->check(thread_count());
  app->add_option(
      "--max-memory", max_memory,
      "memory the model's activations may need for the largest batch the command scores at once (the probe's 4 "
      "images, evolve's --eval-batch, ascend's classes), e.g. 8G or 512M (default: "
      "the memory available at load); a model needing more is refused before it runs");
  app->add_option("--preprocess", preprocess,
                  "how the model was trained to see pixels: none (RGB [0,1]), torchvision (ImageNet mean/std), "
                  "caffe (BGR [0,255] minus 104,117,123), tf ([-1,1]), mnist (gray, mean 0.1307, std 0.3081); "
                  "--channel-order/--scale/--mean/--std refine it (default: the model's metadata, else none with "
                  "a warning)")
      ->check(CLI::IsMember(names_of(preprocess_preset_names())));
  app->add_option("--layout", layout, "the model input's layout: nchw or nhwc (default: from its shape)")
      ->check(CLI::IsMember(names_of(input_layout_names())));
  app->add_option("--input-size", input_size,
                  "HxW for a model with a dynamic height/width (must agree with a fixed one), e.g. 224x224");
  app->add_option("--output", output, "the output that holds the class scores, for a model with several");
  app->add_option("--channel-order", channel_order, "override: rgb or bgr")
      ->check(CLI::IsMember(names_of(channel_order_names())));
  app->add_option("--scale", scale, "override: multiply [0,1] pixels by this before mean/std (e.g. 255)");
  app->add_option("--mean", mean, "override: per-channel mean, comma-separated, subtracted after scaling");
  app->add_option("--std", std, "override: per-channel std, comma-separated");
  app->add_option("--labels", labels_file, "override: class labels, one per line");
  app->add_flag("--logits", logits, "override: the model outputs logits (fool applies softmax)");
  app->add_flag("--probabilities", probabilities, "override: the model outputs probabilities");
}

CLI::Option* add_backend_option(CLI::App* app, Backend& target, const std::string& help, bool* given) {
  return app
      ->add_option_function<std::string>(
          "--backend",
          [&target, given](const std::string& name) {
            target = parse_backend(name);
            if (given != nullptr) *given = true;
          },
          help)
      ->check(CLI::IsMember(names_of(backend_names())))
      ->default_str(backend_name(target));
}

namespace {

std::vector<float> parse_floats(const std::string& flag, const std::string& text) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      std::size_t used = 0;
      out.push_back(std::stof(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw Error(flag + ": '" + item + "' is not a number");
    }
  }
  if (out.empty()) throw Error(flag + ": expected comma-separated numbers");
  return out;
}

}  // namespace

void print_warning(const std::string& line) {
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (rank == nullptr) rank = std::getenv("PMI_RANK");
  if (rank != nullptr && std::string(rank) != "0") return;
  std::fprintf(stderr, "fool: warning: %s\n", line.c_str());
}

bool ModelFlags::any_model_override() const {
  return !preprocess.empty() || !channel_order.empty() || !scale.empty() || !mean.empty() || !std.empty() ||
         !labels_file.empty() || !layout.empty() || !input_size.empty() || !output.empty() || logits || probabilities;
}

ClassifierOptions ModelFlags::options() const {
  ClassifierOptions o = classifier;
  o.on_warning = print_warning;
  if (!max_memory.empty()) o.max_memory = parse_memory_size(max_memory, "--max-memory");
  auto& ov = o.overrides;
  if (!preprocess.empty()) ov.preset = parse_preprocess_preset(preprocess);
  if (!layout.empty()) ov.layout = parse_input_layout(layout);
  if (!input_size.empty()) ov.input_size = parse_input_size(input_size, "--input-size");
  ov.output = output;
  if (!channel_order.empty()) ov.channel_order = parse_channel_order(channel_order);
  if (!scale.empty()) ov.scale = parse_floats("--scale", scale).at(0);
  if (!mean.empty()) ov.mean = parse_floats("--mean", mean);
  if (!std.empty()) ov.std = parse_floats("--std", std);
  if (logits && probabilities) throw Error("--logits and --probabilities contradict each other");
  if (logits) ov.output_is_probabilities = false;
  if (probabilities) ov.output_is_probabilities = true;
  if (!labels_file.empty()) {
    std::stringstream ss(read_text_file(labels_file));
    std::vector<std::string> labels;
    std::size_t number = 0;
    for (std::string line; std::getline(ss, line);) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      json_check::check_utf8(line, labels_file + ": line " + std::to_string(number));
      if (!line.empty()) labels.push_back(line);
    }
    if (labels.empty()) throw Error(labels_file + ": no labels in this file");
    ov.labels = labels;
  }
  return o;
}

namespace {
std::string g_command_line;
}

void set_command_line(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) {
    std::string a = i == 0 ? std::string("fool") : std::string(argv[i]);
    const bool plain = !a.empty() && a.find_first_of(" \t'\"\\$`") == std::string::npos;
    g_command_line += (i ? " " : "") + (plain ? a : "'" + a + "'");
  }
}

const std::string& command_line() { return g_command_line; }

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

namespace {
std::atomic<bool> g_stop{false};
void on_sigint(int) {
  g_stop = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}
}  // namespace

InterruptGuard::InterruptGuard() {
  g_stop = false;
  previous_ = std::signal(SIGINT, on_sigint);
}
InterruptGuard::~InterruptGuard() { std::signal(SIGINT, previous_); }
const std::atomic<bool>* InterruptGuard::stop() const { return &g_stop; }

namespace {
// The value of a numeric flag, or NaN if the text is not entirely a number.
double flag_number(const std::string& text) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  return std::nan("");
}
}  // namespace

// Finite numbers only: "inf" would be accepted by > 0 and make a run that cannot be resumed.
CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const double v = flag_number(text);
        return v > 0 && std::isfinite(v) ? std::string() : "'" + text + "' is not a positive number";
      },
      "POSITIVE");
}

CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const double v = flag_number(text);
        return v >= 0 && std::isfinite(v) ? std::string() : "'" + text + "' is not a number >= 0";
      },
      "NON-NEGATIVE");
}

CLI::Validator in_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const double v = flag_number(text);
        if (v >= lo && v <= hi) return std::string();
        std::ostringstream range;
        range << "'" << text << "' is not a number in [" << lo << ", " << hi << "]";
        return range.str();
      },
      "NUMBER");
}

CLI::Validator seed_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        // Digits only, and at most 2^64 - 1: a larger seed must not be saturated silently.
        const bool digits = !text.empty() && text.size() <= 20 &&
                            std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (digits) {
          try {
            std::stoull(text);
            return std::string();
          } catch (const std::exception&) {
          }
        }
        return "'" + text + "' is not a seed (an integer from 0 to 18446744073709551615)";
      },
      "SEED");
}

CLI::Validator thread_count() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const double v = flag_number(text);
        if (!(v >= 0) || v != std::floor(v)) return "'" + text + "' is not a thread count";
        if (v > max_threads()) {
          return text + " is more than this machine can use (at most " + std::to_string(max_threads()) + ")";
        }
        return std::string();
      },
      "THREADS");
}

void check_output_file(const std::string& path, const std::string& flag, const std::string& extension) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) throw Error(flag + ": no file given");
  if (fs::is_directory(path, ec)) throw Error(flag + " " + path + ": is a directory, not a file");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    throw Error(flag + " " + path + ": directory " + parent.string() + " does not exist");
  }
  if (!extension.empty() && fs::path(path).extension() != extension) {
    throw Error(flag + " " + path + ": fool writes " + extension + " files here; name it *" + extension);
  }
  check_writable_directory(parent.empty() ? "." : parent.string(), flag, path);  // a read-only or full disk: now
}

void emit_json(const nlohmann::json& j, const std::string& path) {
  const std::string text = j.dump(2) + "\n";
  if (!path.empty()) write_file_atomic(path, text);
  std::cout << text << std::flush;
}

}  // namespace fool::cli
