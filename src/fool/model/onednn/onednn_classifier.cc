// OnednnClassifier: the lowered graph (onednn_graph.h) planned for oneDNN once per batch size
// (onednn_plan.h: blocked layouts, weights packed once and shared by every plan, one arena per plan
// and worker with buffers reused by liveness), plans kept by batch size. Batches are split over
// threads as the torch backend does (ranges that depend on the batch size alone, oneDNN
// single-threaded inside each), so results do not depend on the thread count.
#include "fool/model/onednn/onednn_classifier.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "fool/core/error.h"
#include "fool/model/onednn/onednn_graph.h"
#include "fool/model/onednn/onednn_plan.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool {
namespace {

using dnnl::memory;
using onednn::Instance;
using onednn::Packed;
using onednn::Plan;
using onednn::Step;

// OpenMP's thread count of the calling thread (oneDNN's OpenMP runtime reads it) set to 1 while it
// lives and restored after, so that oneDNN runs sequentially in the thread and the caller's own
// setting (the torch backend's, in the same thread) is kept. The functions are found at run time
// so that the backend links no OpenMP library itself; a no-op for a oneDNN built on another
// threading runtime.
class SingleThreaded {
 public:
  SingleThreaded() {
    if (set_ && get_) {
      saved_ = get_();
      set_(1);
    }
  }
  ~SingleThreaded() {
    if (set_ && get_ && saved_ > 0) set_(saved_);
  }
  SingleThreaded(const SingleThreaded&) = delete;
  SingleThreaded& operator=(const SingleThreaded&) = delete;

 private:
  static inline const auto set_ = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  static inline const auto get_ = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  int saved_ = 0;
};

class OnednnClassifier : public Classifier {
 public:
  OnednnClassifier(OnnxModel model, const ClassifierOptions& options)
      : spec_(model.spec(options.overrides)),
        graph_(onednn::lower_graph_consuming(model, spec_)),
        eng_(dnnl::engine::kind::cpu, 0),
        packed_(graph_.layers.size()),
        threads_(options.threads) {
    const ChannelAffine affine = channel_affine(spec_.preprocessing, spec_.input.channels);
    scale_ = affine.scale;
    shift_ = affine.shift;
    flip_ = spec_.input.channels == 3 && spec_.preprocessing.channel_order == ChannelOrder::Bgr;
    {
      const OnnxModel release = std::move(model);  // the lowering took the weights out of it
    }
    plan_for(1);  // declines at load what oneDNN cannot plan; the weights now live packed (packed_)
  }

  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend::Onednn; }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    const std::size_t n = images.size();
    const auto k = static_cast<std::size_t>(spec_.num_classes);
    Matrix m(n, k);
    if (n == 0) return m;
    const std::size_t threads =
        threads_ > 0 ? static_cast<std::size_t>(threads_) : std::max(1u, std::thread::hardware_concurrency());
    const std::size_t parts = std::clamp<std::size_t>(n / kMinPartRows, 1, kBatchParts);
    const std::size_t workers = std::min(threads, parts);
    // Plans and worker instances are made here, on the calling thread; workers only run them.
    // At most two part sizes; room for both first, so that no plan taken below is dropped.
    if (plans_.size() + 2 > kMaxPlans) plans_.clear();  // calls are not concurrent: no plan is in use
    std::vector<std::pair<Plan*, Instance*>> work(parts);
    for (std::size_t p = 0; p < parts; ++p) {
      Plan& plan = plan_for(static_cast<int>((p + 1) * n / parts - p * n / parts));
      work[p] = {&plan, &instance(plan, p % workers)};
    }
    std::vector<std::exception_ptr> failures(workers);
    auto work_on = [&](std::size_t w) {
      try {
        const SingleThreaded sequential;  // oneDNN runs sequentially in this worker
        for (std::size_t p = w; p < parts; p += workers)
          run(*work[p].first, *work[p].second, images, p * n / parts, (p + 1) * n / parts, &m);
      } catch (const dnnl::error& e) {
        failures[w] = std::make_exception_ptr(Error(spec_.path + ": onednn backend failed (" + e.what() + ")"));
      } catch (...) {
        failures[w] = std::current_exception();
      }
    };
    // Worker 0 is the calling thread: a call with one range (a small batch, one thread) hands
    // nothing to another thread, whose start-up would cost more than a small network's pass.
    std::vector<std::thread> pool;
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work_on, w);
    work_on(0);
    for (auto& t : pool) t.join();
    for (auto& f : failures)
      if (f) std::rethrow_exception(f);
    if (!spec_.preprocessing.output_is_probabilities) softmax_rows(m);
    return m;
  }

  std::vector<std::string> plan_lines() const {
    std::vector<std::string> out;
    for (const auto& l : graph_.layers) out.push_back(l.what);
    return out;
  }

 private:
  static constexpr std::size_t kBatchParts = 8;
  static constexpr std::size_t kMinPartRows = 5;
  static constexpr std::size_t kMaxPlans = 8;

  Plan& plan_for(int n) {
    auto it = plans_.find(n);
    if (it != plans_.end()) return *it->second;
    // Made single-threaded: oneDNN sizes a primitive's work split by the threads OpenMP offers when
    // it is created and starts that many when it runs, whatever the running thread's setting.
    const SingleThreaded sequential;
    auto plan = std::make_unique<Plan>(onednn::plan_graph(graph_, packed_, eng_, n));
    return *plans_.emplace(n, std::move(plan)).first->second;
  }

  Instance& instance(Plan& plan, std::size_t worker) {
    if (plan.instances.size() <= worker) plan.instances.resize(worker + 1);
    auto& slot = plan.instances[worker];
    if (slot) return *slot;
    slot = std::make_unique<Instance>();
    Instance& in = *slot;
    in.arena.reset(static_cast<char*>(std::aligned_alloc(64, std::max<std::size_t>(plan.arena_bytes, 64))));
    if (!in.arena) throw Error(spec_.path + ": out of memory for the onednn backend's buffers");
    in.stream = dnnl::stream(eng_);
    for (const Step& st : plan.steps) {
      std::unordered_map<int, memory> args = st.fixed;
      for (const auto& a : st.args)
        args.emplace(a.arg,
                     memory(a.md, eng_, in.arena.get() + plan.buffers[static_cast<std::size_t>(a.buffer)].offset));
      in.args.push_back(std::move(args));
    }
    return in;
  }

  void run(Plan& plan, Instance& in, const ImageBatch& images, std::size_t begin, std::size_t end, Matrix* m) const {
    const std::size_t per = images.shape().size();
    const std::size_t plane = per / static_cast<std::size_t>(spec_.input.channels);
    float* x =
        reinterpret_cast<float*>(in.arena.get() + plan.buffers[static_cast<std::size_t>(plan.input_buffer)].offset);
    const int c = spec_.input.channels;
    for (std::size_t i = begin; i < end; ++i) {
      const float* src = images.image(i);
      float* dst = x + (i - begin) * per;
      for (int ch = 0; ch < c; ++ch) {
        const float* s = src + static_cast<std::size_t>(flip_ ? c - 1 - ch : ch) * plane;
        float* d = dst + static_cast<std::size_t>(ch) * plane;
        const float a = scale_[static_cast<std::size_t>(ch)], b = shift_[static_cast<std::size_t>(ch)];
        for (std::size_t j = 0; j < plane; ++j) d[j] = s[j] * a + b;
      }
    }
    for (std::size_t s = 0; s < plan.steps.size(); ++s) plan.steps[s].prim.execute(in.stream, in.args[s]);
    in.stream.wait();
    const float* y = reinterpret_cast<const float*>(in.arena.get() +
                                                    plan.buffers[static_cast<std::size_t>(plan.output_buffer)].offset);
    std::copy(y, y + (end - begin) * m->cols(), &(*m)(begin, 0));
  }

  ModelSpec spec_;
  onednn::Graph graph_;
  dnnl::engine eng_;
  std::vector<std::vector<Packed>> packed_;
  std::map<int, std::unique_ptr<Plan>> plans_;
  std::vector<float> scale_, shift_;
  bool flip_ = false;
  int threads_ = 0;
};

}  // namespace

const std::vector<std::string>& onednn_supported_operators() { return onednn::supported_operators(); }

std::vector<std::string> onednn_plan(const OnnxModel& model) {
  const ModelSpec spec = model.spec();
  std::vector<std::string> out;
  for (const auto& l : onednn::lower_graph(model, spec).layers) out.push_back(l.what);
  return out;
}

std::unique_ptr<Classifier> make_onednn_classifier(OnnxModel model, const ClassifierOptions& options) {
  return std::make_unique<OnednnClassifier>(std::move(model), options);
}

}  // namespace fool
