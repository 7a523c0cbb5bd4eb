// fool info: what a model file says about itself and which backends can run it.
#include "cli/common.h"
#include "fool/parallel/mpi_world.h"
#include "fool/model/factory.h"
#include "fool/core/error.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/core/rng.h"

#include <cmath>

namespace fool::cli {

void add_info_command(CLI::App& app, Action& action) {
  auto flags = std::make_shared<ModelFlags>();
  auto* c = app.add_subcommand("info", "describe an ONNX classifier as JSON");
  flags->add_to(c);
  c->callback([flags, &action] {
    action = [flags] {
      ClassifierOptions opts = flags->options();
      const ModelSpec s = describe_model(flags->model, opts.overrides);
      for (const auto& w : s.warnings) print_warning(w);
      opts.on_warning = nullptr;  // said once, above
      // Run each backend on the same seeded random probe batch; where both run, say how far apart
      // they are (OpenCV's importer gets some operator forms wrong without failing).
      ImageBatch probe(4, s.input);
      Rng rng(7);
      for (std::size_t i = 0; i < probe.size() * s.input.size(); ++i) probe.data()[i] = static_cast<float>(rng.uniform());
      nlohmann::json backends;
      std::vector<Matrix> outputs;
      for (Backend b : {Backend::OpenCv, Backend::Torch}) {
        opts.backend = b;
        try {
          auto clf = load_classifier(flags->model, opts);
          outputs.push_back(clf->probabilities(probe));
          backends[backend_name(b)] = {{"ok", true}, {"classes", outputs.back().cols()}};
        } catch (const Error& e) {
          backends[backend_name(b)] = {{"ok", false}, {"error", e.what()}};
        }
      }
      if (outputs.empty()) {
        throw Error(flags->model + ": no backend runs this model (opencv: " +
                    backends["opencv"]["error"].get<std::string>() + "; torch: " +
                    backends["torch"]["error"].get<std::string>() + ")");
      }
      if (outputs.size() == 2) {
        float worst = 0.0f;
        for (std::size_t i = 0; i < outputs[0].rows() * outputs[0].cols(); ++i)
          worst = std::max(worst, std::abs(outputs[0].data()[i] - outputs[1].data()[i]));
        backends["max_difference"] = worst;
        backends["agree"] = worst <= kBackendTolerance;
      }
      // What the default (--backend auto) would use, and why.
      opts.backend = Backend::Auto;
      try {
        BackendChoice ch;
        load_classifier(flags->model, opts, &ch);
        backends["auto"] = {{"backend", backend_name(ch.backend)}, {"reason", ch.reason}, {"probe", ch.detail}};
      } catch (const Error& e) {
        backends["auto"] = {{"backend", nullptr}, {"reason", e.what()}};
      }
      const auto& pre = s.preprocessing;
      const auto& f = s.forms;
      emit_json({{"model", s.path},
                 {"sha256", s.sha256},
                 {"producer", s.producer},
                 {"opset", s.opset},
                 {"input",
                  {{"name", s.input_name},
                   {"shape", {"N", s.input.channels, s.input.height, s.input.width}},
                   {"layout", input_layout_name(f.layout)},
                   {"layout_from", f.layout_origin},
                   {"size_from", f.input_size_origin},
                   {"type", f.input_type}}},
                 {"output",
                  {{"name", s.output_name},
                   {"kind", pre.output_is_probabilities ? "probabilities" : "logits"},
                   {"kind_from", s.origin.output},
                   {"outputs", f.outputs}}},
                 {"weights", f.weights_type},
                 {"num_classes", s.num_classes},
                 {"labels", s.labels},
                 {"preprocessing",
                  {{"named", pre.preset.empty() ? nlohmann::json(nullptr) : nlohmann::json(pre.preset)},
                   {"channel_order", channel_order_name(pre.channel_order)},
                   {"scale", pre.scale},
                   {"mean", pre.mean},
                   {"std", pre.std},
                   {"from",
                    {{"channel_order", s.origin.channel_order},
                     {"scale", s.origin.scale},
                     {"mean", s.origin.mean},
                     {"std", s.origin.std}}},
                   {"assumed", s.origin.guessed()}}},
                 {"operators", s.operators},
                 {"backends", backends},
                 // The MPI job this command runs in (1 without mpirun); under mpirun rank 0 answers alone.
                 {"processes", parallel::MpiWorld::instance().processes()},
                 {"mpi", parallel::MpiWorld::instance().active() ? parallel::MpiWorld::library_version()
                                                                 : "not launched by mpirun"}});
      return 0;
    };
  });
}

}  // namespace fool::cli
