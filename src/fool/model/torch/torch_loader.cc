// torch_api() for a fool that loads libtorch on first use (torch_api.h): the first call opens the
// module libfool_torch.so, which holds the torch code and needs libtorch, and takes its table.
// The module's own references to fool's code bind to the executable's (linked with
// fool_lazy_torch: ENABLE_EXPORTS and fool's libraries whole), so there is one copy of it.
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/model/torch/torch_api.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

const char* const kModule = "libfool_torch.so";

// Where the module is looked for, first found wins: $FOOL_TORCH_LIBRARY alone where it is set;
// otherwise beside the executable, the install layout's <prefix>/<libdir> above the executable's
// <prefix>/bin, and the build tree that built this executable.
std::vector<std::string> module_candidates() {
  if (const char* env = std::getenv("FOOL_TORCH_LIBRARY"); env != nullptr && *env != '\0') return {env};
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / kModule).string());
    out.push_back((exe.parent_path().parent_path() / FOOL_TORCH_INSTALL_LIBDIR / kModule).string());
  }
  out.push_back(FOOL_TORCH_BUILD_MODULE);
  return out;
}

const TorchApi& load_module() {
  const std::vector<std::string> candidates = module_candidates();
  std::string path;
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) {
      path = c;
      break;
    }
  }
  if (path.empty()) {
    std::string looked;
    for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c;
    throw Error(std::string(kModule) + " (fool's torch backend, TorchScript and training) not found at " + looked +
                " (FOOL_TORCH_LIBRARY may name its path)");
  }
  // RTLD_GLOBAL: libtorch's own libraries (OpenBLAS) become visible to dlsym(RTLD_DEFAULT, ...), as
  // they were when libtorch was linked into the executable (torch_classifier.cc looks OpenBLAS up).
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw Error(path + ": cannot load fool's torch library (" + json_check::printable(why ? why : "", 300) + ")");
  }
  const auto table = reinterpret_cast<const TorchApi* (*)()>(dlsym(handle, "fool_torch_api"));
  if (table == nullptr) throw Error(path + ": not fool's torch library (it has no fool_torch_api)");
  return *table();
}

}  // namespace

const TorchApi& torch_api() {
  static const TorchApi& api = load_module();  // once; a failed load throws and is tried again next call
  return api;
}

}  // namespace fool
