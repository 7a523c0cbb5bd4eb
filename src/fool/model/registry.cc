// The registered backends, most preferred first, and the backend name table built from them.
#include "fool/model/registry.h"

#include "fool/core/error.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/opencv/opencv_classifier.h"
#include "fool/model/torch/torch_classifier.h"
#ifdef FOOL_HAVE_ONEDNN
#include "fool/model/onednn/onednn_classifier.h"
#endif

namespace fool {

const std::vector<BackendRegistration>& backend_registry() {
  static const std::vector<BackendRegistration> registry = {
      {Backend::OpenCv, "opencv", "OpenCV's DNN module: fast batched inference, no gradients",
       [](OnnxModel m, const ClassifierOptions& o) { return make_opencv_classifier(m, o); }, nullptr, false},
      {Backend::Torch, "torch",
       "fool's interpreter of the ONNX graph on libtorch (ATen operations): every documented operator, input gradients",
       [](OnnxModel m, const ClassifierOptions& o) -> std::unique_ptr<Classifier> {
         return make_torch_classifier(std::move(m), o);
       },
       [](OnnxModel m, const ClassifierOptions& o) { return make_torch_classifier(std::move(m), o); }, true},
#ifdef FOOL_HAVE_ONEDNN
      // Last: auto takes it only where it is kSpeedMargin times faster than the preferred backend
      // that agrees (and never without timing, as under MPI).
      {Backend::Onednn, "onednn",
       "fool's planner for oneDNN: blocked layouts, weights packed once, BatchNorm folded, convolution + "
       "activation + residual add fused; CNNs only (declines other operators), no gradients",
       [](OnnxModel m, const ClassifierOptions& o) { return make_onednn_classifier(std::move(m), o); }, nullptr, false},
#endif
  };
  return registry;
}

const BackendRegistration& registered_backend(Backend backend) {
  for (const auto& r : backend_registry())
    if (r.backend == backend) return r;
  throw Error("internal: backend '" + backend_name(backend) + "' is not registered");
}

// Declared in classifier.h: "auto", then the registered names (the CLI's --backend choices).
const NameTable<Backend>& backend_names() {
  static const NameTable<Backend> table = [] {
    NameTable<Backend> t = {{Backend::Auto, "auto"}};
    for (const auto& r : backend_registry()) t.emplace_back(r.backend, r.name);
    return t;
  }();
  return table;
}
std::string backend_name(Backend b) { return name_of(backend_names(), b); }
Backend parse_backend(const std::string& name) { return parse_name(backend_names(), name, "backend"); }

}  // namespace fool
