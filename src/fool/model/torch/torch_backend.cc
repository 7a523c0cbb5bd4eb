// The torch backend's torch-free front (torch_api.h): its registration, the TorchScript file test
// and load_torchscript_classifier. Each load goes through torch_api(), so that a fool that loads
// libtorch on first use (the CLI) loads it here, when a model is first put on torch.
#include <filesystem>
#include <fstream>

#include "fool/model/onnx/onnx_model.h"
#include "fool/model/registry.h"
#include "fool/model/torch/torch_api.h"
#include "fool/model/torch/torchscript_classifier.h"

namespace fool {

bool is_torchscript_file(const std::string& path) {
  // Only a regular file is opened here (a FIFO would block); anything else goes to the ONNX reader,
  // which refuses it in one line.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

std::unique_ptr<DifferentiableClassifier> load_torchscript_classifier(const std::string& path,
                                                                      const ClassifierOptions& options) {
  return torch_api().load_torchscript(path, options);
}

// The registration (fool_backend in CMakeLists.txt): the reference auto trusts, with gradients.
BackendRegistration torch_backend_registration() {
  return {"torch",
          "fool's interpreter of the ONNX graph on libtorch (ATen operations): every documented operator, input "
          "gradients",
          [](OnnxModel m, const ClassifierOptions& o) -> std::unique_ptr<Classifier> {
            return torch_api().make_classifier(std::move(m), o);
          },
          [](OnnxModel m, const ClassifierOptions& o) { return torch_api().make_classifier(std::move(m), o); }, true};
}

}  // namespace fool
