// Caffe conversion (`fool convert caffe`): the input is a prototxt, a .caffemodel and a mean
// .binaryproto, separated by kSeparator lines (missing parts are empty). Parse, convert, and if the
// conversion succeeds, load the ONNX it made with fool's own loader: a converted model that fool
// then refuses is a finding, as is anything but a one-line fool::Error.
#include <string_view>

#include "fool/model/caffe/caffe_convert.h"
#include "fool/model/onnx/onnx_model.h"
#include "fuzz_common.h"

namespace {
constexpr std::string_view kSeparator = "\n#@@fool-caffe@@\n";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fool;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  std::size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    const std::size_t end = i == 2 ? std::string_view::npos : all.find(kSeparator, start);
    parts[i] = start >= all.size()
                   ? std::string_view()
                   : all.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (end == std::string_view::npos) break;
    start = end + kSeparator.size();
  }
  try {
    CaffeSources s;
    s.prototxt_text = std::string(parts[0]);
    s.prototxt_path = "fuzz.prototxt";
    s.weights_bytes = std::string(parts[1]);
    s.weights_path = "fuzz.caffemodel";
    if (!parts[2].empty()) {
      s.mean =
          parse_caffe_mean(reinterpret_cast<const std::uint8_t*>(parts[2].data()), parts[2].size(), "fuzz.binaryproto");
      s.mean_path = "fuzz.binaryproto";
    }
    const CaffeConversion c = caffe_to_onnx(s);
    const std::string path = fuzz::write_input(
        "converted.onnx", reinterpret_cast<const std::uint8_t*>(c.onnx_bytes.data()), c.onnx_bytes.size());
    try {
      OnnxModel::load(path).spec();
    } catch (const Error&) {
      __builtin_trap();  // the converter made a model fool does not accept
    }
  } catch (const Error& e) {
    fuzz::expect_one_line(e);
  }
  return 0;
}
