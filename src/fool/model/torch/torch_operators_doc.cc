// fool_operators_doc: writes docs/operators.md (the torch backend's supported operators) from the
// operator table, atomically. `cmake --build build --target operators_doc` runs it.
#include <cstdio>
#include <exception>

#include "fool/io/files.h"
#include "fool/model/torch/torch_classifier.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fool_operators_doc OUTPUT.md\n");
    return 2;
  }
  try {
    fool::write_file_atomic(argv[1], fool::torch_operators_markdown());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fool_operators_doc: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
