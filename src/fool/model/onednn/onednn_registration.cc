// The onednn backend's registration (fool_backend in CMakeLists.txt): registered last, so auto
// takes it only where it is kSpeedMargin times faster than the preferred backend that agrees (and
// never without timing, as under MPI).
#include "fool/model/onednn/onednn_classifier.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/registry.h"

namespace fool {

BackendRegistration onednn_backend_registration() {
  return {"onednn",
          "fool's planner for oneDNN: blocked layouts, weights packed once, BatchNorm folded, convolution + "
          "activation + residual add fused; CNNs only (declines other operators), no gradients",
          [](OnnxModel m, const ClassifierOptions& o) { return make_onednn_classifier(std::move(m), o); }, nullptr,
          false};
}

}  // namespace fool
