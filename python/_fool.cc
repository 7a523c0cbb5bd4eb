// _fool: the C++ half of the Python package `fool` (python/fool/__init__.py is the other half and
// the one users call). It binds the library's entry points (load_classifier, run_evolve_with,
// run_ascend_with, decode_genome, read_image) and implements fool::Classifier over a Python
// callable. The GIL is released while the library works and taken only around Python callbacks.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "callable_classifier.h"
#include "fool/core/error.h"
#include "fool/core/image.h"
#include "fool/core/limits.h"
#include "fool/encoding/registry.h"
#include "fool/experiments/analyze.h"
#include "fool/experiments/ascend.h"
#include "fool/experiments/evolve.h"
#include "fool/experiments/registry.h"
#include "fool/experiments/transfer.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/output/report.h"
#include "fool/output/results.h"
#include "numpy_convert.h"

namespace py = pybind11;

namespace {

using namespace fool;
using namespace fool::python;

// A model file loaded by one of fool's backends (fool.load).
struct LoadedModel {
  std::string path;
  ClassifierOptions options;
  std::shared_ptr<Classifier> classifier;
  BackendChoice choice;
  std::shared_ptr<DifferentiableClassifier> differentiable;  // loaded on first use (the torch backend)

  DifferentiableClassifier& gradients_model() {
    if (!differentiable) {
      ClassifierOptions o = options;
      o.backend = kAscendBackend;
      differentiable = load_differentiable_classifier(path, o);
    }
    return *differentiable;
  }
};

nlohmann::json model_info(const LoadedModel& m) {
  const ModelSpec& s = m.classifier->spec();
  const auto& pre = s.preprocessing;
  return {
      {"model", s.path},
      {"sha256", s.sha256},
      {"producer", s.producer},
      {"opset", s.opset},
      {"input", {{"name", s.input_name}, {"shape", {"N", s.input.channels, s.input.height, s.input.width}}}},
      {"output", {{"name", s.output_name}, {"kind", pre.output_is_probabilities ? "probabilities" : "logits"}}},
      {"num_classes", s.num_classes},
      {"labels", s.labels},
      {"background_class", s.background_class},
      {"preprocessing",
       {{"channel_order", channel_order_name(pre.channel_order)},
        {"scale", pre.scale},
        {"mean", pre.mean},
        {"std", pre.std}}},
      {"operators", s.operators},
      {"backend", {{"name", backend_name(m.choice.backend)}, {"reason", m.choice.reason}, {"probe", m.choice.detail}}}};
}

// SIGINT during a run sets the run's stop flag (the run ends after its generation, checkpointed and
// with its results written, as the CLI's Ctrl-C); a second SIGINT goes to the handler that was
// there before (Python's: KeyboardInterrupt at the next callback). Installed only in the main
// thread, where Python handles signals.
std::atomic<bool>* g_run_stop = nullptr;
std::atomic<bool> g_sigint_seen{false};
using SignalHandler = void (*)(int);
SignalHandler g_previous_handler = SIG_DFL;

extern "C" void on_run_sigint(int sig) {
  if (g_run_stop != nullptr && !g_sigint_seen.load()) {
    g_sigint_seen.store(true);
    g_run_stop->store(true);
    return;
  }
  std::signal(SIGINT, g_previous_handler);
  if (g_previous_handler != SIG_DFL && g_previous_handler != SIG_IGN) g_previous_handler(sig);
}

class SigintStops {
 public:
  explicit SigintStops(std::atomic<bool>& stop) {
    const bool main_thread = py::module_::import("threading")
                                 .attr("current_thread")()
                                 .is(py::module_::import("threading").attr("main_thread")());
    if (!main_thread || g_run_stop != nullptr) return;
    g_run_stop = &stop;
    g_sigint_seen = false;
    g_previous_handler = std::signal(SIGINT, on_run_sigint);
    active_ = true;
  }
  ~SigintStops() {
    if (!active_) return;
    std::signal(SIGINT, g_previous_handler);
    g_run_stop = nullptr;
  }
  // Whether a SIGINT stopped the run.
  bool interrupted() const { return active_ && g_sigint_seen.load(); }
  SigintStops(const SigintStops&) = delete;
  SigintStops& operator=(const SigintStops&) = delete;

 private:
  bool active_ = false;
};

// Run events to Python: on_generation(stats) for each progress event (returning False stops the
// run), message and info lines kept for Run.messages. Exceptions in on_generation stop the run and
// are raised once it has ended.
class PythonObserver : public RunObserver {
 public:
  PythonObserver(py::object fn, std::atomic<bool>& stop, std::shared_ptr<PythonFailure> failure)
      : fn_(std::move(fn)), stop_(stop), failure_(std::move(failure)) {}
  void on_progress(const ProgressEvent& e) override {
    // Phase events (loading, images of a generation scored so far) are not generations or steps.
    if (fn_.is_none() || !e.phase.empty()) return;
    py::gil_scoped_acquire gil;
    if (failure_->error) return;
    try {
      py::dict stats = e.record.is_object() ? py::dict(json_to_py(e.record)) : py::dict();
      stats["task"] = e.task;
      stats["done"] = e.done;
      stats["total"] = e.total;
      stats["status"] = e.status;
      py::object r = fn_(stats);
      if (r.ptr() == Py_False) stop_ = true;
    } catch (py::error_already_set& err) {
      failure_->error = err;
      stop_ = true;
    }
  }
  void on_message(const std::string& line) override { lines_.push_back(line); }
  void on_info(const std::string& line) override { lines_.push_back(line); }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  py::object fn_;
  std::atomic<bool>& stop_;
  std::shared_ptr<PythonFailure> failure_;
  std::vector<std::string> lines_;
};

struct PythonRun {
  std::vector<std::string> lines;  // message and info lines of the run
  bool interrupted = false;        // stopped by SIGINT
};

// Runs `body` without the GIL, with SIGINT and on_generation able to stop it; re-raises a
// callback's Python exception.
template <typename Body>
PythonRun run_from_python(const std::shared_ptr<PythonFailure>& failure, const py::object& on_generation, Body body) {
  std::atomic<bool> stop{false};
  // on_generation's failure stops the run, which then ends normally (results written, the
  // classifier still scoring); the classifier's own failure ends it at once.
  const auto observer_failure = std::make_shared<PythonFailure>();
  PythonObserver observer(on_generation, stop, observer_failure);
  PythonRun run;
  {
    SigintStops sigint(stop);
    try {
      py::gil_scoped_release release;
      body(RunEvents({&observer}), &stop);
    } catch (const CallbackFailed&) {
      // the Python exception is re-raised below
    }
    run.interrupted = sigint.interrupted();
  }
  for (const auto& f : {failure, observer_failure}) {
    if (f->error) {
      py::error_already_set e = *f->error;
      f->error.reset();
      throw e;
    }
  }
  run.lines = observer.lines();
  return run;
}

template <typename T>
std::optional<T> get(const py::dict& d, const char* key) {
  if (!d.contains(key) || d[key].is_none()) return std::nullopt;
  return d[key].cast<T>();
}

EvolveRunConfig evolve_config(const py::dict& o) {
  EvolveRunConfig c;
  c.out_dir = o["out"].cast<std::string>();
  if (auto v = get<std::string>(o, "encoding")) c.encoding = find_encoding(*v).name;
  if (auto v = get<std::string>(o, "preset")) c.preset = *v;
  c.generations = get<int>(o, "generations");
  c.offspring = get<int>(o, "offspring");
  c.init = get<int>(o, "init");
  if (auto v = get<std::uint64_t>(o, "seed")) c.evolution.seed = *v;
  if (auto v = get<std::vector<int>>(o, "classes")) c.evolution.classes = *v;
  if (auto v = get<int>(o, "image_size")) c.image_size = *v;
  if (auto v = get<int>(o, "channels")) c.channels = *v;
  if (auto v = get<int>(o, "crops")) c.crops = *v;
  // As the CLI: 0 (the default) is every core, for mutation, rendering and the network.
  c.evolution.threads = get<int>(o, "threads").value_or(0);
  if (auto v = get<std::size_t>(o, "eval_batch")) c.evolution.eval_batch = *v;
  if (auto v = get<int>(o, "checkpoint_every")) c.evolution.checkpoint_every = *v;
  // The encodings' options by their registry names (mutation_rate, crossover, coordinates, ...).
  for (const EncodingOption& option : encoding_options()) {
    const char* name = option.name.c_str();
    if (option.default_value.is_string()) {
      if (auto v = get<std::string>(o, name)) c.encoding_options[option.name] = *v;
    } else if (option.default_value.is_number_float()) {
      if (auto v = get<double>(o, name)) c.encoding_options[option.name] = *v;
    } else if (auto v = get<int>(o, name)) {
      c.encoding_options[option.name] = *v;
    }
  }
  if (auto v = get<bool>(o, "resume")) c.resume = *v;
  if (auto v = get<bool>(o, "overwrite")) c.overwrite = *v;
  if (auto v = get<std::string>(o, "command_line")) c.command_line = *v;
  return c;
}

py::dict evolve_result(const EvolveRunResult& r, const PythonRun& run) {
  py::dict d;
  d["complete"] = r.complete;
  d["backend"] = r.backend;
  d["backend_choice"] = r.backend_choice;
  d["messages"] = run.lines;
  d["interrupted"] = run.interrupted;
  d["has_summary"] = r.summary.has_value();
  return d;
}

}  // namespace

PYBIND11_MODULE(_fool, m) {
  m.doc() = "the C++ half of the fool package; use `import fool`";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fool::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  py::class_<LoadedModel, std::shared_ptr<LoadedModel>>(m, "LoadedModel")
      .def_property_readonly("path", [](const LoadedModel& l) { return l.path; })
      .def_property_readonly("labels", [](const LoadedModel& l) { return l.classifier->spec().labels; })
      .def_property_readonly("input_shape",
                             [](const LoadedModel& l) {
                               const ImageShape& s = l.classifier->spec().input;
                               return py::make_tuple(s.channels, s.height, s.width);
                             })
      .def_property_readonly("background_class",
                             [](const LoadedModel& l) { return l.classifier->spec().background_class; })
      .def_property_readonly("backend", [](const LoadedModel& l) { return backend_name(l.choice.backend); })
      .def_property_readonly("warnings", [](const LoadedModel& l) { return l.classifier->spec().warnings; })
      .def("info", [](const LoadedModel& l) { return json_to_py(model_info(l)); })
      .def("probabilities",
           [](LoadedModel& l, const py::array_t<float, py::array::c_style | py::array::forcecast>& x) {
             const ImageBatch b = numpy_to_batch(x);
             Matrix p;
             {
               py::gil_scoped_release release;
               check_batch_shape(l.classifier->spec(), b);
               p = l.classifier->probabilities(b);
             }
             return matrix_to_numpy(p);
           })
      .def("gradients", [](LoadedModel& l, const py::array_t<float, py::array::c_style | py::array::forcecast>& x,
                           const std::vector<int>& targets) {
        const ImageBatch b = numpy_to_batch(x);
        ImageBatch g;
        Matrix p;
        {
          py::gil_scoped_release release;
          DifferentiableClassifier& d = l.gradients_model();
          check_batch_shape(d.spec(), b);
          p = d.probabilities_and_gradients(b, targets, &g);
        }
        return py::make_tuple(matrix_to_numpy(p), batch_to_numpy(g));
      });

  m.def(
      "load",
      [](const std::string& path, const std::string& backend, int threads, const std::string& preprocess,
         const std::string& input_size, const std::string& output, const std::string& layout) {
        auto l = std::make_shared<LoadedModel>();
        l->path = path;
        l->options.backend = parse_backend(backend);
        check_threads(threads, "threads");
        l->options.threads = threads;
        auto& ov = l->options.overrides;
        if (!preprocess.empty()) ov.preset = parse_preprocess_preset(preprocess);
        if (!input_size.empty()) ov.input_size = parse_input_size(input_size, "input_size");
        if (!layout.empty()) ov.layout = parse_input_layout(layout);
        ov.output = output;
        py::gil_scoped_release release;
        l->classifier = load_classifier(path, l->options, &l->choice);
        return l;
      },
      py::arg("path"), py::arg("backend"), py::arg("threads"), py::arg("preprocess"), py::arg("input_size"),
      py::arg("output"), py::arg("layout"));

  py::class_<CallableClassifier, std::shared_ptr<CallableClassifier>>(m, "CallableClassifier")
      .def(py::init([](py::object score, py::object gradients, int c, int h, int w, std::vector<std::string> labels,
                       std::string name, bool logits) {
             return std::make_shared<CallableClassifier>(std::move(score), std::move(gradients), ImageShape{c, h, w},
                                                         std::move(labels), std::move(name), logits);
           }),
           py::arg("score"), py::arg("gradients"), py::arg("channels"), py::arg("height"), py::arg("width"),
           py::arg("labels"), py::arg("name"), py::arg("logits"))
      .def_property_readonly("differentiable", &CallableClassifier::differentiable)
      .def_property_readonly("labels", [](const CallableClassifier& c) { return c.spec().labels; });

  m.def("evolve", [](py::object classifier, const py::dict& options, py::object on_generation) {
    EvolveRunConfig c = evolve_config(options);
    ReadyClassifier ready;
    std::shared_ptr<PythonFailure> failure = std::make_shared<PythonFailure>();
    if (py::isinstance<LoadedModel>(classifier)) {
      auto l = classifier.cast<std::shared_ptr<LoadedModel>>();
      ready = {l->classifier, backend_name(l->choice.backend), l->choice.reason, l->choice.detail};
      c.model = l->path;
      c.classifier = l->options;
    } else {
      auto k = classifier.cast<std::shared_ptr<CallableClassifier>>();
      failure = k->begin_run();
      ready = {k, "python", "python: a Python callable", ""};
      c.model = k->spec().path;
    }
    EvolveRunResult result;
    const PythonRun run =
        run_from_python(failure, on_generation, [&](const RunEvents& events, const std::atomic<bool>* stop) {
          result = run_evolve_with(ready, c, events, stop);
        });
    return evolve_result(result, run);
  });

  m.def("ascend", [](py::object classifier, const py::dict& o, py::object on_generation) {
    AscendRunConfig c;
    c.out_dir = o["out"].cast<std::string>();
    if (auto v = get<std::vector<int>>(o, "classes")) c.ascent.classes = *v;
    if (auto v = get<int>(o, "steps")) c.ascent.steps = *v;
    if (auto v = get<std::uint64_t>(o, "seed")) c.ascent.seed = *v;
    if (auto v = get<std::string>(o, "start")) c.ascent.start = parse_ascent_start(*v);
    if (auto v = get<double>(o, "start_noise")) c.ascent.start_noise = *v;
    if (auto v = get<double>(o, "max_gain")) c.ascent.max_gain = *v;
    if (auto v = get<double>(o, "gain_fraction")) c.ascent.gain_fraction = *v;
    if (auto v = get<double>(o, "decay")) c.ascent.decay = *v;
    if (auto v = get<double>(o, "blur_sigma")) c.ascent.blur_sigma = *v;
    if (auto v = get<int>(o, "blur_every")) c.ascent.blur_every = *v;
    if (auto v = get<double>(o, "target")) c.ascent.target = *v;
    if (auto v = get<bool>(o, "overwrite")) c.overwrite = *v;
    if (auto v = get<std::string>(o, "command_line")) c.command_line = *v;
    std::shared_ptr<PythonFailure> failure = std::make_shared<PythonFailure>();
    std::shared_ptr<DifferentiableClassifier> clf;
    std::string backend;
    std::shared_ptr<LoadedModel> loaded;
    if (py::isinstance<LoadedModel>(classifier)) {
      loaded = classifier.cast<std::shared_ptr<LoadedModel>>();
      c.model = loaded->path;
      backend = backend_name(kAscendBackend);
    } else {
      auto k = classifier.cast<std::shared_ptr<CallableClassifier>>();
      if (!k->differentiable()) {
        throw Error(k->spec().path + " gives no gradients; pass gradients= or use fool.torch_classifier");
      }
      failure = k->begin_run();
      clf = k;
      backend = "python";
      c.model = k->spec().path;
    }
    AscendRunResult result;
    const PythonRun run =
        run_from_python(failure, on_generation, [&](const RunEvents& events, const std::atomic<bool>* stop) {
          DifferentiableClassifier& d = loaded ? loaded->gradients_model() : *clf;
          result = run_ascend_with(d, backend, c, events, stop);
        });
    py::dict d;
    d["complete"] = result.complete;
    d["backend"] = backend;
    d["errors"] = result.errors;
    d["messages"] = run.lines;
    d["interrupted"] = run.interrupted;
    d["has_summary"] = true;
    return d;
  });

  m.def(
      "render",
      [](const py::object& genome, int size) {
        const nlohmann::json j = py_to_json(genome);
        return image_to_numpy(render_saved_genome(decode_genome(j), size, resize_image));
      },
      py::arg("genome"), py::arg("size"));

  m.def(
      "transfer",
      [](const std::vector<std::string>& runs, const std::vector<std::string>& models, const std::string& backend,
         int threads, const std::optional<std::string>& out) {
        ClassifierOptions options;
        options.backend = parse_backend(backend);
        check_threads(threads, "threads");
        options.threads = threads;
        if (out) check_transfer_out_dir(*out);
        nlohmann::json j;
        {
          py::gil_scoped_release release;
          const TransferMatrix matrix = transfer_matrix(runs, models, options);
          RunLock lock;  // checked again, locked and marked, then written
          if (out) lock = prepare_transfer_out_dir(*out);
          j = out ? write_transfer(*out, matrix) : matrix.to_json();
        }
        return json_to_py(j);
      },
      py::arg("runs"), py::arg("models"), py::arg("backend"), py::arg("threads"), py::arg("out"));

  m.def(
      "analyze",
      [](const std::string& run, const std::string& kind, const py::dict& o) {
        AnalysisModelOptions model;
        if (auto v = get<std::string>(o, "model")) model.model = *v;
        if (auto v = get<std::string>(o, "backend")) model.backend = *v;
        if (auto v = get<int>(o, "threads")) model.threads = *v;
        nlohmann::json j;
        if (kind == "repetition") {
          RepetitionConfig c;
          c.model = model;
          if (auto v = get<double>(o, "threshold")) c.threshold = *v;
          if (auto v = get<double>(o, "prominence")) c.prominence = *v;
          if (auto v = get<int>(o, "min_period")) c.min_period = *v;
          if (auto v = get<int>(o, "max_steps")) c.max_steps = *v;
          py::gil_scoped_release release;
          j = analyze_repetition(run, c).to_json();
        } else if (kind == "occlusion") {
          OcclusionConfig c;
          c.model = model;
          if (auto v = get<int>(o, "patch")) c.patch = *v;
          if (auto v = get<int>(o, "stride")) c.stride = *v;
          if (auto v = get<std::vector<double>>(o, "fractions")) c.fractions = *v;
          if (auto v = get<int>(o, "masks")) c.masks = *v;
          if (auto v = get<std::uint64_t>(o, "seed")) c.seed = *v;
          py::gil_scoped_release release;
          j = analyze_occlusion(run, c).to_json();
        } else {
          throw Error("unknown analysis '" + kind + "' (known: repetition, occlusion)");
        }
        return json_to_py(j);
      },
      py::arg("run"), py::arg("kind"), py::arg("options"));

  m.def(
      "report",
      [](const std::vector<std::string>& dirs, const std::string& out) {
        std::string html;
        {
          py::gil_scoped_release release;
          ReportOptions options;
          options.experiments = experiment_documents();
          html = build_report(dirs, options);
          write_file_atomic(out, html);
        }
        return html.size();
      },
      py::arg("dirs"), py::arg("out"));

  m.def(
      "read_image", [](const std::string& path) { return image_to_numpy(read_image(path)); }, py::arg("path"));
  m.def("encoding_names", [] { return encoding_names(); });
  m.def("backend_names", [] { return names_of(backend_names()); });
  m.def("evolve_preset_names", [] { return evolve_preset_names(); });
  m.def("ascent_start_names", [] { return ascent_start_names(); });
}
