// fool annotate: a copy of an ONNX model with fool's metadata (preprocessing, labels, input size,
// layout, output), so that later commands need no flags.
#include <filesystem>

#include "cli/common.h"
#include "fool/core/error.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool::cli {

void add_annotate_command(CLI::App& app, Action& action) {
  struct Opts {
    ModelFlags model;
    std::string out;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand(
      "annotate",
      "write a copy of an ONNX model with fool's metadata (--preprocess and the other model flags), so that later "
      "commands need no flags; the graph is copied unchanged");
  o->model.add_to(c);
  c->add_option("--out", o->out, "the annotated copy (.onnx; never the model itself)")->required();
  // Backend and threads do not apply to a copy.
  c->remove_option(c->get_option("--backend"));
  c->remove_option(c->get_option("--threads"));
  c->callback([o, &action] {
    action = [o] {
      check_output_file(o->out, "--out", ".onnx");
      namespace fs = std::filesystem;
      std::error_code ec;
      if (fs::exists(o->out, ec) && fs::equivalent(o->out, o->model.model, ec)) {
        throw Error("--out " + o->out + ": is the model itself; fool annotate writes a copy");
      }
      if (!o->model.any_model_override()) {
        throw Error(
            "fool annotate: nothing to write; give --preprocess (or --scale/--mean/--std/--channel-order), "
            "--labels, --layout, --input-size or --output");
      }
      const ClassifierOptions opts = o->model.options();
      const ModelSpec s = write_annotated_model(o->model.model, opts.overrides, o->out);
      const auto& pre = s.preprocessing;
      emit_json(
          {{"model", o->model.model},
           {"out", o->out},
           {"sha256", s.sha256},
           {"preprocessing",
            {{"named", pre.preset.empty() ? nlohmann::json(nullptr) : nlohmann::json(pre.preset)},
             {"channel_order", channel_order_name(pre.channel_order)},
             {"scale", pre.scale},
             {"mean", pre.mean},
             {"std", pre.std}}},
           {"output", {{"name", s.output_name}, {"kind", pre.output_is_probabilities ? "probabilities" : "logits"}}},
           {"input",
            {{"shape", {"N", s.input.channels, s.input.height, s.input.width}},
             {"layout", input_layout_name(s.forms.layout)}}},
           {"num_classes", s.num_classes}});
      return 0;
    };
  });
}

}  // namespace fool::cli
