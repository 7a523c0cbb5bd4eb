// load_classifier: one ONNX file -> the registered backend that runs it. Feeds models with a fixed
// batch axis in chunks of their size, and for --backend auto loads every registered backend, runs
// each on a seeded probe batch, and chooses among those that run the model and agree.
#include "fool/model/factory.h"
#include "fool/model/checked_output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "fool/core/cpu_clock.h"
#include "fool/core/error.h"
#include "fool/core/limits.h"
#include "fool/core/rng.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/registry.h"
#include "fool/model/torch/torchscript_classifier.h"

namespace fool {
namespace {

// Splits a batch into calls of exactly spec().fixed_batch images, padding the last call with
// copies of its first image (rows are scored independently, so the padding does not change them).
template <class Base>
class FixedBatchClassifier : public Base {
 public:
  explicit FixedBatchClassifier(std::unique_ptr<Base> inner) : inner_(std::move(inner)) {}
  const ModelSpec& spec() const override { return inner_->spec(); }
  Backend backend() const override { return inner_->backend(); }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec(), images);
    const auto b = static_cast<std::size_t>(spec().fixed_batch);
    Matrix out(0, static_cast<std::size_t>(spec().num_classes));
    for (std::size_t begin = 0; begin < images.size(); begin += b) {
      const std::size_t end = std::min(images.size(), begin + b);
      const Matrix p = inner_->probabilities(padded(images, begin, end));
      out.append_rows(first_rows(p, end - begin));
    }
    return out;
  }

 protected:
  ImageBatch padded(const ImageBatch& images, std::size_t begin, std::size_t end) const {
    const auto b = static_cast<std::size_t>(spec().fixed_batch);
    ImageBatch chunk(b, images.shape());
    const std::size_t per = images.shape().size();
    for (std::size_t i = 0; i < b; ++i) {
      const std::size_t src = begin + i < end ? begin + i : begin;
      std::copy(images.image(src), images.image(src) + per, chunk.image(i));
    }
    return chunk;
  }
  static Matrix first_rows(const Matrix& m, std::size_t n) {
    Matrix r(n, m.cols());
    std::copy(m.data(), m.data() + n * m.cols(), r.data());
    return r;
  }
  std::unique_ptr<Base> inner_;
};

class FixedBatchDifferentiable : public FixedBatchClassifier<DifferentiableClassifier> {
 public:
  using FixedBatchClassifier<DifferentiableClassifier>::FixedBatchClassifier;
  Matrix probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                     ImageBatch* gradients) override {
    return in_chunks(images, targets, gradients, &DifferentiableClassifier::probabilities_and_gradients);
  }
  Matrix log_probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                         ImageBatch* gradients) override {
    return in_chunks(images, targets, gradients, &DifferentiableClassifier::log_probabilities_and_gradients);
  }

 private:
  using GradientCall = Matrix (DifferentiableClassifier::*)(const ImageBatch&, const std::vector<int>&, ImageBatch*);
  Matrix in_chunks(const ImageBatch& images, const std::vector<int>& targets, ImageBatch* gradients,
                   GradientCall call) {
    check_gradient_request(spec(), images, targets);
    const auto b = static_cast<std::size_t>(spec().fixed_batch);
    const std::size_t per = images.shape().size();
    Matrix out(0, static_cast<std::size_t>(spec().num_classes));
    *gradients = ImageBatch(images.size(), images.shape());
    for (std::size_t begin = 0; begin < images.size(); begin += b) {
      const std::size_t end = std::min(images.size(), begin + b);
      std::vector<int> t(b, targets[begin]);
      for (std::size_t i = begin; i < end; ++i) t[i - begin] = targets[i];
      ImageBatch g;
      const Matrix p = ((*inner_).*call)(padded(images, begin, end), t, &g);
      out.append_rows(first_rows(p, end - begin));
      std::copy(g.image(0), g.image(0) + (end - begin) * per, gradients->image(begin));
    }
    return out;
  }
};

std::unique_ptr<Classifier> with_fixed_batch(std::unique_ptr<Classifier> c) {
  c = with_checked_output(std::move(c));  // every backend's output checked (checked_output.h)
  if (c->spec().fixed_batch <= 0) return c;
  return std::make_unique<FixedBatchClassifier<Classifier>>(std::move(c));
}

std::unique_ptr<DifferentiableClassifier> with_fixed_batch(std::unique_ptr<DifferentiableClassifier> c) {
  c = with_checked_output(std::move(c));  // every backend's output checked (checked_output.h)
  if (c->spec().fixed_batch <= 0) return c;
  return std::make_unique<FixedBatchDifferentiable>(std::move(c));
}

std::unique_ptr<Classifier> make_backend(const BackendRegistration& r, OnnxModel model,
                                         const ClassifierOptions& options) {
  return with_fixed_batch(r.load(std::move(model), options));
}

// A backend's error without the model path that starts it (the caller's line names the file).
std::string without_path(const std::string& message, const std::string& path) {
  if (message.rfind(path + ": ", 0) == 0) return message.substr(path.size() + 2);
  return message;
}

std::string ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1e3);
  return buf;
}

std::string short_float(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}

float max_abs_difference(const Matrix& a, const Matrix& b) {
  float worst = 0.0f;
  for (std::size_t i = 0; i < a.rows() * a.cols(); ++i) {
    const float d = std::abs(a.data()[i] - b.data()[i]);
    if (!(d <= worst)) worst = d;  // a NaN difference stays NaN: never "agrees"
  }
  return worst;
}

// "a", "a and b", "a, b and c".
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return out;
}

// One registered backend loaded and run on the probe batch.
struct Candidate {
  const BackendRegistration* reg;
  std::unique_ptr<Classifier> classifier;  // null: it cannot run the model
  Matrix output;
  BackendProbe probe;
};

// The probe: seeded uniform images, more than one (OpenCV 4.6 gets some graphs right only for
// batches of one).
std::size_t probe_batch_size(const ModelSpec& spec) {
  return spec.fixed_batch > 1 ? static_cast<std::size_t>(spec.fixed_batch) : 4;
}
// n seeded uniform images of `shape`.
ImageBatch seeded_images(const ImageShape& shape, std::size_t n, std::uint64_t seed) {
  ImageBatch images(n, shape);
  Rng rng(seed);
  for (std::size_t i = 0; i < images.size() * shape.size(); ++i) images.data()[i] = static_cast<float>(rng.uniform());
  return images;
}
ImageBatch probe_batch(const ModelSpec& spec) { return seeded_images(spec.input, probe_batch_size(spec), 7); }

// The batch auto times: the probe batch, or for a small network (the probe batch's activations
// under kTimingBytes by the graph's estimate) as many probe batches as that allows, up to
// kMaxTimingImages images, so that a call's fixed cost does not decide for a network that evolve
// feeds hundreds of images a call (the paper's LeNet: 4 images take a fraction of a millisecond).
constexpr std::uint64_t kTimingBytes = 16ull << 20;
constexpr std::size_t kMaxTimingImages = 64;
std::size_t timing_batch_size(const OnnxModel& model, const ModelSpec& spec) {
  const std::size_t probe = probe_batch_size(spec);
  if (spec.fixed_batch > 0) return probe;
  const ActivationEstimate e = model.activation_estimate();
  if (!e.inferred || e.total_bytes == 0) return probe;
  const std::uint64_t batches = kTimingBytes / mul_saturated(e.total_bytes, probe);
  return probe * static_cast<std::size_t>(std::clamp<std::uint64_t>(batches, 1, kMaxTimingImages / probe));
}

// Refuses, before any backend allocates them, a model whose activations for the probe batch (the
// fixed batch, else 4 images: the fewest a probe or auto's choice runs), or for the larger batch
// the run will score (options.call_batch), need more than the budget:
// --max-memory, else the memory available now. The estimate adds up every node output of the
// graph (onnx_model.h ActivationEstimate); a graph whose shapes cannot be inferred is not refused.
void check_activation_memory(const OnnxModel& model, const ClassifierOptions& options) {
  ModelSpec spec;
  try {
    spec = model.spec(options.overrides);
  } catch (const Error&) {
    return;  // not an image classifier: the backend's load says so
  }
  const ActivationEstimate e = model.activation_estimate();
  if (!e.inferred || e.total_bytes == 0) return;
  std::uint64_t images = spec.fixed_batch > 0 ? 1 : probe_batch_size(spec);  // a fixed batch is in the shapes
  std::string why;
  if (spec.fixed_batch <= 0 && options.call_batch) {  // a fixed batch is fed in calls of that batch
    const ClassifierOptions::CallBatch run = options.call_batch(spec);
    if (run.images > images) images = run.images, why = run.why;
  }
  const std::uint64_t need = mul_saturated(e.total_bytes, images);
  const std::uint64_t budget = options.max_memory > 0 ? options.max_memory : available_memory_bytes();
  if (need <= budget) return;
  std::string dims;
  for (std::size_t i = 0; i < e.largest_dims.size(); ++i) dims += (i ? "x" : "") + std::to_string(e.largest_dims[i]);
  throw Error(model.path() + ": node " + e.largest_node + " outputs " + dims + " (" +
              memory_size_text(e.largest_bytes) + (spec.fixed_batch > 0 ? " per call" : " per image") +
              "); the graph's activations need " + memory_size_text(need) + " for " +
              std::to_string(spec.fixed_batch > 0 ? spec.fixed_batch : images) + " images" +
              (why.empty() ? "" : " (" + why + ")") + ", more than the " + memory_size_text(budget) +
              (options.max_memory > 0 ? " of --max-memory" : " available (--max-memory to change)"));
}

// Why a backend failed, for the comparison: its error without the model's path ("failed" if
// nothing is left).
std::string failure(const Error& e, const std::string& path) {
  std::string why = without_path(e.what(), path);
  return why.empty() ? "failed" : why;
}

// Backend r loaded with `model` and run on the probe batch (and on the timed batch if that differs,
// to warm it up for that size).
Candidate load_and_probe(const std::string& path, const BackendRegistration& r, OnnxModel model,
                         const ClassifierOptions& options, const ImageBatch& probe, const ImageBatch& timed) {
  Candidate k{&r, nullptr, {}, {}};
  k.probe.backend = r.backend();
  k.probe.name = r.name;
  try {
    k.classifier = make_backend(r, std::move(model), options);
    k.output = k.classifier->probabilities(probe);  // also warms the backend up
    for (std::size_t j = 0; j < k.output.rows() * k.output.cols(); ++j)
      if (!std::isfinite(k.output.data()[j])) throw Error("non-finite probabilities on the probe batch");
    if (timed.size() != probe.size()) k.classifier->probabilities(timed);  // warms up for that size
    k.probe.classes = static_cast<int>(k.output.cols());
  } catch (const Error& e) {
    k.classifier.reset();
    k.probe.error = failure(e, path);
  }
  return k;
}

// One timed call of every candidate that runs, in registry order; one whose call fails no longer runs.
void time_round(const std::string& path, const ImageBatch& timed, std::vector<Candidate>* candidates) {
  for (Candidate& k : *candidates) {
    if (!k.classifier) continue;
    try {
      const double t0 = process_cpu_seconds();
      k.classifier->probabilities(timed);
      k.probe.rounds.push_back(process_cpu_seconds() - t0);
    } catch (const Error& e) {
      k.classifier.reset();
      k.probe.rounds.clear();
      k.probe.classes = 0;
      k.probe.error = failure(e, path);
    }
  }
}

std::vector<Candidate> run_all(const std::string& path, OnnxModel model, const ClassifierOptions& options,
                               const ImageBatch& probe, const ImageBatch& timed) {
  const auto& registry = backend_registry();
  std::vector<Candidate> out;
  out.reserve(registry.size());
  // Each backend but the last gets a copy of the model; the last gets the model itself.
  for (std::size_t i = 0; i + 1 < registry.size(); ++i)
    out.push_back(load_and_probe(path, registry[i], model.copy(), options, probe, timed));
  if (!registry.empty()) out.push_back(load_and_probe(path, registry.back(), std::move(model), options, probe, timed));
  // Timed in interleaved rounds (each round one call of every backend that runs, in registry
  // order) by the CPU time the process spends in the call (every thread's), which other work on
  // the machine does not lengthen as it does wall time (on a loaded machine a call of a few
  // milliseconds is mostly waiting for a core); each keeps its best call.
  // Without a speed comparison one call is timed (fool info still shows it).
  const int rounds = options.auto_compares_speed ? kTimingRounds : 1;
  for (int round = 0; round < rounds; ++round) time_round(path, timed, &out);
  for (Candidate& k : out)
    k.probe.seconds = k.classifier ? *std::min_element(k.probe.rounds.begin(), k.probe.rounds.end()) : -1.0;
  return out;
}

// A model whose file fixes the batch axis at B images: the copy that takes any batch
// (OnnxModel::with_free_batch) if backend `r` gives it the same scores as the file's graph fed B
// images a call, on 2B + 1 seeded probe images; else the model as it is. *note says which, for
// `fool info`.
OnnxModel batch_checked(OnnxModel model, const BackendRegistration& r, const ClassifierOptions& options,
                        std::string* note) {
  const ModelSpec spec = model.spec(options.overrides);
  if (spec.fixed_batch <= 0) return model;
  const std::string fixed = "the file fixes a batch of " + std::to_string(spec.fixed_batch);
  std::optional<OnnxModel> free = model.with_free_batch();
  if (!free) return model;
  const ImageBatch probe = seeded_images(spec.input, 2 * static_cast<std::size_t>(spec.fixed_batch) + 1, 11);
  try {
    const Matrix want = make_backend(r, model.copy(), options)->probabilities(probe);
    const Matrix got = make_backend(r, free->copy(), options)->probabilities(probe);
    const float d = max_abs_difference(want, got);
    if (d <= kBackendTolerance) {
      *note = "any: " + fixed + "; " + r.name + " gives the same scores for " + std::to_string(probe.size()) +
              " probe images at once (max difference " + short_float(d) + ")";
      return std::move(*free);
    }
    *note = std::to_string(spec.fixed_batch) + " a call: " + fixed + ", and larger batches change " + r.name +
            "'s scores (max difference " + short_float(d) + ")";
  } catch (const std::exception& e) {  // the backend's own exceptions too: the relaxed graph is fool's guess
    std::string why = without_path(e.what(), model.path());
    why = why.substr(0, why.find('\n'));
    *note = std::to_string(spec.fixed_batch) + " a call: " + fixed + ", and " + r.name +
            " cannot run it on larger batches (" + why + ")";
  }
  return model;
}

const BackendRegistration& reference_backend() {
  for (const auto& r : backend_registry())
    if (r.reference) return r;
  return backend_registry().front();
}

const Candidate& at(const std::vector<Candidate>& c, int i) { return c[static_cast<std::size_t>(i)]; }

std::string names(const std::vector<Candidate>& c, const std::vector<int>& which) {
  std::vector<std::string> out;
  out.reserve(which.size());
  for (int i : which) out.push_back(at(c, i).reg->name);
  return joined(out);
}

// The backend auto trusts among those that run: the first registered as reference, else the most
// preferred.
int reference_of(const std::vector<Candidate>& c, const std::vector<int>& runs) {
  for (int i : runs)
    if (at(c, i).reg->reference) return i;
  return runs[0];
}

// Rule 3: of backends that agree (registry order), the most preferred, unless (timing allowed)
// another is kSpeedMargin times faster. `who` names them in the reason ("both", or their names).
int choose_among_agreeing(const std::vector<Candidate>& c, const std::vector<int>& agree, const std::string& who,
                          const ClassifierOptions& options, BackendChoice* ch) {
  const int preferred = agree[0];
  const std::string& pref = at(c, preferred).reg->name;
  if (!options.auto_compares_speed) {
    ch->reason = pref + ": " + who + " agree on the probe batch (chosen without timing them)";
    return preferred;
  }
  int fastest = preferred;
  for (int i : agree)
    if (at(c, i).probe.seconds < at(c, fastest).probe.seconds) fastest = i;
  if (fastest != preferred && clearly_faster(at(c, fastest).probe, at(c, preferred).probe)) {
    const std::string& name = at(c, fastest).reg->name;
    ch->reason = name + ": " + who + " agree on the probe batch and " + name + " is faster";
    return fastest;
  }
  std::vector<int> others(agree.begin() + 1, agree.end());
  ch->reason =
      pref + ": " + who + " agree on the probe batch and " +
      (others.size() == 1 ? names(c, others) + " is not faster" : "none of " + names(c, others) + " is faster");
  return preferred;
}

// Rule 1: the only one that runs (c[only]), with the others' reasons.
int choose_only_runner(const std::vector<Candidate>& c, int only, const std::vector<int>& fails, BackendChoice* ch) {
  std::string why;
  for (int i : fails)
    why += (why.empty() ? "" : "; ") + at(c, i).reg->name + " cannot run the model (" + at(c, i).probe.error + ")";
  ch->reason = at(c, only).reg->name + ": " + why;
  return only;
}

// Rule 2: drop those that disagree with the reference; the reference if none agrees with it, else
// rule 3 among those that agree.
int choose_by_agreement(const std::vector<Candidate>& c, const std::vector<int>& runs, const ClassifierOptions& options,
                        BackendChoice* ch) {
  const int ref = reference_of(c, runs);
  std::vector<int> agree, disagree;
  float worst = 0.0f;
  for (int i : runs) {
    const float d = i == ref ? 0.0f : max_abs_difference(at(c, i).output, at(c, ref).output);
    (d <= kBackendTolerance ? agree : disagree).push_back(i);
    if (i != ref && !(d <= kBackendTolerance) && !(d <= worst)) worst = d;
  }
  if (agree.size() > 1) {
    return choose_among_agreeing(c, agree, agree.size() == 2 && runs.size() == 2 ? "both" : names(c, agree), options,
                                 ch);
  }
  // The reference runs each ONNX node as the operation that defines it; the others (OpenCV's
  // importer) are the ones known to mis-compute some forms silently.
  ch->reason = at(c, ref).reg->name + ": " + names(c, disagree) + (disagree.size() == 1 ? " disagrees" : " disagree") +
               " with it on the probe batch (max difference " + short_float(worst) + ")";
  return ref;
}

// Auto's rules over the candidates in registry order (docs/design.md, "Choosing a backend").
// Returns the index of the chosen one and fills *ch; -1 when none runs.
int choose(const std::vector<Candidate>& c, const ClassifierOptions& options, BackendChoice* ch) {
  std::vector<int> runs, fails;
  for (std::size_t i = 0; i < c.size(); ++i) (c[i].classifier ? runs : fails).push_back(static_cast<int>(i));
  if (runs.empty()) return -1;
  const int pick =
      runs.size() == 1 ? choose_only_runner(c, runs[0], fails, ch) : choose_by_agreement(c, runs, options, ch);
  ch->backend = at(c, pick).reg->backend();
  return pick;
}

// The largest difference between the probe outputs of two backends that run (`none` if fewer than
// two run).
float largest_difference(const std::vector<Candidate>& c, float none) {
  float largest = none;
  for (std::size_t i = 0; i < c.size(); ++i)
    for (std::size_t j = i + 1; j < c.size(); ++j)
      if (c[i].classifier && c[j].classifier) {
        const float d = max_abs_difference(c[i].output, c[j].output);
        if (!(d <= largest)) largest = d;
      }
  return largest;
}

// Each candidate's probe in the comparison: its time or failure in ch's detail, its error, its
// difference from the chosen one (c[pick]; -1: none).
void add_probes(std::vector<Candidate>* candidates, int pick, BackendComparison* out, std::string* errors) {
  std::vector<Candidate>& c = *candidates;
  BackendChoice& ch = out->choice;
  for (std::size_t i = 0; i < c.size(); ++i) {
    ch.detail += (i == 0 ? " " : ", ") + c[i].reg->name + " " + (c[i].classifier ? ms(c[i].probe.seconds) : "fails");
    *errors += (i == 0 ? "" : "; ") + c[i].reg->name + ": " + c[i].probe.error;
    if (pick >= 0 && c[i].classifier) {
      const bool chosen = static_cast<int>(i) == pick;
      c[i].probe.max_difference = chosen ? 0.0f : max_abs_difference(c[i].output, at(c, pick).output);
      if (!chosen && !(c[i].probe.max_difference <= ch.max_difference)) ch.max_difference = c[i].probe.max_difference;
    }
    out->probes.push_back(c[i].probe);
  }
}

// Probes every backend and fills the comparison; the candidates keep their classifiers.
std::vector<Candidate> compare(const std::string& path, const ClassifierOptions& options, BackendComparison* out) {
  OnnxModel model = OnnxModel::load(path, options.overrides);
  report_warnings(model.spec(options.overrides), options);  // a model that is not an image classifier fails here
  check_activation_memory(model, options);                  // before anything runs it
  model = batch_checked(std::move(model), reference_backend(), options, &out->batch);
  const ModelSpec spec = model.spec(options.overrides);
  const ImageBatch probe = probe_batch(spec);
  const std::size_t timed_images = options.auto_compares_speed ? timing_batch_size(model, spec) : probe.size();
  const ImageBatch timed = timed_images == probe.size() ? probe : seeded_images(spec.input, timed_images, 7);
  std::vector<Candidate> c = run_all(path, std::move(model), options, probe, timed);
  out->probe_images = probe.size();
  out->max_difference = largest_difference(c, out->max_difference);
  out->agree = out->max_difference >= 0.0f && out->max_difference <= kBackendTolerance;
  BackendChoice& ch = out->choice;
  const int pick = choose(c, options, &ch);
  out->chosen = pick >= 0;
  ch.detail = "probe batch of " + std::to_string(probe.size()) +
              (timed.size() != probe.size() ? ", timed on " + std::to_string(timed.size()) + " images:" : ":");
  const std::string rounds = options.auto_compares_speed
                                 ? " (CPU time, best of " + std::to_string(kTimingRounds) + " interleaved calls each)"
                                 : "";
  std::string errors;
  add_probes(&c, pick, out, &errors);
  ch.detail += rounds;
  if (pick < 0) out->error = path + ": no backend runs this model (" + errors + ")";
  ch.probes = out->probes;
  return c;
}

// A TorchScript file: the torch backend alone runs it.
std::unique_ptr<DifferentiableClassifier> load_torchscript(const std::string& path, const ClassifierOptions& options,
                                                           BackendChoice* choice) {
  if (options.backend != Backend::Auto && options.backend != torchscript_backend()) {
    throw Error(path + ": a TorchScript file runs on the torch backend only (--backend torch or auto)");
  }
  auto c = load_torchscript_classifier(path, options);
  if (choice) {
    *choice = BackendChoice{};
    choice->backend = torchscript_backend();
    choice->reason = "torch: a TorchScript file runs on torch alone";
  }
  report_warnings(c->spec(), options);
  return c;
}

// compare_backends for a TorchScript file: torch, or nothing.
BackendComparison compare_torchscript(const std::string& path, const ClassifierOptions& options) {
  BackendComparison out;
  std::string torch_error;
  try {
    ClassifierOptions quiet = options;
    quiet.backend = torchscript_backend();
    out.probe_images = 0;
    const auto c = load_torchscript(path, quiet, &out.choice);
    out.chosen = true;
    out.choice.detail = "";
    for (const auto& r : backend_registry()) {
      BackendProbe p;
      p.backend = r.backend();
      p.name = r.name;
      if (r.backend() == torchscript_backend()) {
        p.classes = c->spec().num_classes;
        p.max_difference = 0.0f;
      } else {
        p.error = "a TorchScript file runs on the torch backend only";
      }
      out.probes.push_back(p);
    }
  } catch (const Error& e) {
    out.error = e.what();
  }
  out.choice.probes = out.probes;
  return out;
}

std::unique_ptr<Classifier> load_auto(const std::string& path, const ClassifierOptions& options,
                                      BackendChoice* choice) {
  BackendComparison cmp;
  std::vector<Candidate> c = compare(path, options, &cmp);
  if (!cmp.chosen) throw Error(cmp.error);
  if (choice) *choice = cmp.choice;
  for (auto& k : c)
    if (k.classifier && k.reg->backend() == cmp.choice.backend) return std::move(k.classifier);
  throw Error("internal: the chosen backend has no classifier");
}

}  // namespace

bool clearly_faster(const BackendProbe& candidate, const BackendProbe& preferred) {
  if (candidate.seconds < 0.0 || preferred.seconds < 0.0) return false;
  return candidate.seconds * kSpeedMargin < preferred.seconds;
}

ModelSpec describe_model(const std::string& path, const SpecOverrides& overrides) {
  if (is_torchscript_file(path)) {
    ClassifierOptions o;
    o.overrides = overrides;
    return load_torchscript_classifier(path, o)->spec();
  }
  return OnnxModel::load(path, overrides).spec(overrides);
}

BackendComparison compare_backends(const std::string& path, const ClassifierOptions& options) {
  check_threads(options.threads, "threads");
  if (is_torchscript_file(path)) return compare_torchscript(path, options);
  BackendComparison out;
  compare(path, options, &out);
  return out;
}

std::unique_ptr<Classifier> load_classifier(const std::string& path, const ClassifierOptions& options,
                                            BackendChoice* choice) {
  check_threads(options.threads, "threads");
  if (is_torchscript_file(path)) return load_torchscript(path, options, choice);
  if (options.backend == Backend::Auto) return load_auto(path, options, choice);
  const BackendRegistration& r = registered_backend(options.backend);
  std::string batch;
  OnnxModel model = OnnxModel::load(path, options.overrides);
  check_activation_memory(model, options);
  std::unique_ptr<Classifier> c = make_backend(r, batch_checked(std::move(model), r, options, &batch), options);
  if (choice) {
    *choice = BackendChoice{};
    choice->backend = options.backend;
    choice->reason = backend_name(options.backend) + ": asked for with --backend";
  }
  report_warnings(c->spec(), options);
  return c;
}

std::unique_ptr<DifferentiableClassifier> load_differentiable_classifier(const std::string& path,
                                                                         const ClassifierOptions& options) {
  check_threads(options.threads, "threads");
  if (is_torchscript_file(path)) return load_torchscript(path, options, nullptr);
  const BackendRegistration* r = nullptr;
  if (options.backend == Backend::Auto) {
    for (const auto& k : backend_registry())
      if (k.gives_gradients()) {
        r = &k;
        break;
      }
    if (r == nullptr) throw Error("no registered backend gives input gradients");
  } else {
    r = &registered_backend(options.backend);
    if (!r->gives_gradients()) throw Error("the " + r->name + " backend gives no input gradients");
  }
  std::string batch;
  OnnxModel model = OnnxModel::load(path, options.overrides);
  check_activation_memory(model, options);
  auto c = with_fixed_batch(r->load_differentiable(batch_checked(std::move(model), *r, options, &batch), options));
  report_warnings(c->spec(), options);
  return c;
}

}  // namespace fool
