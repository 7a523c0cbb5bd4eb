// ONNX model loading through one backend (FOOL_FUZZ_BACKEND: 0 OpenCV, 1 libtorch): parse,
// validate, build the network and run one image through it.
#include "fool/model/factory.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fool;
  const std::string path = fuzz::write_input("model.onnx", data, size);
  try {
    ClassifierOptions o;
    o.backend = FOOL_FUZZ_BACKEND == 0 ? Backend("opencv") : Backend("torch");
    o.threads = 1;
    auto clf = load_classifier(path, o);
    const ImageShape shape = clf->spec().input;
    if (shape.size() > (1u << 20)) return 0;  // a valid model too large to run per input
    ImageBatch batch(1, shape);
    clf->probabilities(batch);
  } catch (const Error& e) {
    fuzz::expect_one_line(e);
  }
  return 0;
}
