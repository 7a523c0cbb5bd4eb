// The table of the torch code (torch_api.h): compiled into fool_model_torch and into the module
// libfool_torch.so, whose loader looks up fool_torch_api by name.
#include "fool/model/torch/torch_api.h"

#include "fool/model/onnx/onnx_model.h"
#include "fool/model/torch/torch_classifier.h"

extern "C" const fool::TorchApi* fool_torch_api() {
  static const fool::TorchApi table = {fool::make_torch_classifier, fool::make_torchscript_classifier,
                                       fool::train_torch_classifier};
  return &table;
}
