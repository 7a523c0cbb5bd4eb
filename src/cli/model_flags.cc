#include "cli/model_flags.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cli/validators.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/core/limits.h"
#include "fool/io/files.h"

namespace fool::cli {

void ModelFlags::add_to(CLI::App* app, bool required) {
  auto* m = app->add_option("--model", model, "ONNX model file");
  if (required) m->required();
  add_backend_option(app, classifier.backend,
                     "inference backend: auto (the fastest of those that run the model and agree on a probe "
                     "batch) or a backend by name (fool info compares them)",
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

// The one number of a comma-separated list (item, of flag); the whole item must be the number.
float parse_float_item(const std::string& flag, const std::string& item) {
  try {
    std::size_t used = 0;
    const float v = std::stof(item, &used);
    if (used != item.size()) throw std::invalid_argument(item);
    return v;
  } catch (const std::exception&) {
    throw Error(flag + ": '" + item + "' is not a number");
  }
}

std::vector<float> parse_floats(const std::string& flag, const std::string& text) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(parse_float_item(flag, item));
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

}  // namespace fool::cli
