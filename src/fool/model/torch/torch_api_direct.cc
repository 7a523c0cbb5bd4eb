// torch_api() where the torch code is linked into the executable (torch_api.h): libtorch was
// loaded with the program.
#include "fool/model/torch/torch_api.h"

namespace fool {

const TorchApi& torch_api() { return *fool_torch_api(); }

}  // namespace fool
