// fool info: what a model file says about itself and which backends can run it.
#include <algorithm>

#include "cli/common.h"
#include "fool/model/factory.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/registry.h"
#include "fool/parallel/mpi_world.h"

namespace fool::cli {

namespace {
// A model with up to kLabelsInFull labels lists them all; one with more (ImageNet's 1000) the first
// kLabelsShown, unless --all-labels.
constexpr std::size_t kLabelsInFull = 20;
constexpr std::size_t kLabelsShown = 10;
std::vector<std::string> shown_labels(const std::vector<std::string>& labels, bool all) {
  if (all || labels.size() <= kLabelsInFull) return labels;
  return {labels.begin(), labels.begin() + kLabelsShown};
}
// The "backends" member: each registered backend on the same seeded probe batch; where several
// run, how far apart they are (OpenCV's importer gets some operator forms wrong without failing);
// and what the default (--backend auto) takes, and why. "gradients": whether the backend gives input
// gradients (fool ascend runs on one that does).
nlohmann::json backends_json(const BackendComparison& cmp) {
  nlohmann::json backends;
  for (const BackendProbe& p : cmp.probes) {
    const bool gradients = registered_backend(p.backend).gives_gradients();
    backends[p.name] = p.runs() ? nlohmann::json{{"ok", true}, {"classes", p.classes}, {"gradients", gradients}}
                                : nlohmann::json{{"ok", false}, {"error", p.error}, {"gradients", gradients}};
  }
  if (cmp.max_difference >= 0.0f) {
    backends["max_difference"] = cmp.max_difference;
    backends["agree"] = cmp.agree;
  }
  backends["auto"] = {
      {"backend", backend_name(cmp.choice.backend)}, {"reason", cmp.choice.reason}, {"probe", cmp.choice.detail}};
  return backends;
}

// The batch sizes the model takes: what the backends' probe found, else what the file says.
std::string batch_text(const ModelSpec& s, const BackendComparison& cmp) {
  if (!cmp.batch.empty()) return cmp.batch;
  if (s.fixed_batch > 0) return std::to_string(s.fixed_batch) + " a call: the file fixes it";
  return "any";
}

nlohmann::json preprocessing_json(const ModelSpec& s) {
  const auto& pre = s.preprocessing;
  return {{"named", pre.preset.empty() ? nlohmann::json(nullptr) : nlohmann::json(pre.preset)},
          {"channel_order", channel_order_name(pre.channel_order)},
          {"scale", pre.scale},
          {"mean", pre.mean},
          {"std", pre.std},
          {"from",
           {{"channel_order", s.origin.channel_order},
            {"scale", s.origin.scale},
            {"mean", s.origin.mean},
            {"std", s.origin.std}}},
          {"assumed", s.origin.guessed()}};
}

// What fool info prints: the model's description, its backends, and the MPI job it ran in.
nlohmann::json info_json(const ModelSpec& s, const BackendComparison& cmp, bool all_labels) {
  const auto& f = s.forms;
  const std::vector<std::string> labels = shown_labels(s.labels, all_labels);
  return {{"model", s.path},
          {"sha256", s.sha256},
          {"producer", s.producer},
          {"opset", s.opset},
          {"input",
           {{"name", s.input_name},
            {"shape", {"N", s.input.channels, s.input.height, s.input.width}},
            {"batch", batch_text(s, cmp)},
            {"layout", input_layout_name(f.layout)},
            {"layout_from", f.layout_origin},
            {"size_from", f.input_size_origin},
            {"type", f.input_type}}},
          {"output",
           {{"name", s.output_name},
            {"kind", s.preprocessing.output_is_probabilities ? "probabilities" : "logits"},
            {"kind_from", s.origin.output},
            {"outputs", f.outputs}}},
          {"weights", f.weights_type},
          {"num_classes", s.num_classes},
          {"labels", labels},
          {"labels_count", s.labels.size()},
          {"labels_shown", std::min(s.labels.size(), labels.size())},
          {"preprocessing", preprocessing_json(s)},
          {"operators", s.operators},
          {"backends", backends_json(cmp)},
          // The MPI job this command runs in (1 without mpirun); under mpirun rank 0 answers alone.
          {"processes", parallel::MpiWorld::instance().processes()},
          {"mpi",
           parallel::MpiWorld::instance().active() ? parallel::MpiWorld::library_version() : "not launched by mpirun"}};
}
}  // namespace

void add_info_command(CLI::App& app, Action& action) {
  auto flags = std::make_shared<ModelFlags>();
  auto all_labels = std::make_shared<bool>(false);
  auto* c = app.add_subcommand("info", "describe an ONNX classifier as JSON");
  flags->add_to(c);
  c->add_flag("--all-labels", *all_labels,
              "list every label (default: all of them up to " + std::to_string(kLabelsInFull) + ", else the first " +
                  std::to_string(kLabelsShown) + " and the count)");
  c->callback([flags, all_labels, &action] {
    action = [flags, all_labels] {
      ClassifierOptions opts = flags->options();
      const ModelSpec s = describe_model(flags->model, opts.overrides);
      for (const auto& w : s.warnings) print_warning(w);
      opts.on_warning = nullptr;  // said once, above
      const BackendComparison cmp = compare_backends(flags->model, opts);
      if (!cmp.chosen) throw Error(cmp.error);  // no backend runs the model
      emit_json(info_json(s, cmp, *all_labels));
      return 0;
    };
  });
}

}  // namespace fool::cli
