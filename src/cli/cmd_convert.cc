// fool convert caffe: a Caffe deploy prototxt + .caffemodel (+ mean image) becomes one ONNX file
// that carries Caffe's preprocessing, so every command runs it through fool's one model path.
#include "cli/common.h"
#include "fool/model/caffe/caffe_convert.h"

namespace fool::cli {

void add_convert_command(CLI::App& app, Action& action) {
  auto* convert = app.add_subcommand("convert", "convert a model from another framework to ONNX");
  convert->require_subcommand(1);
  auto o = std::make_shared<CaffeConvertOptions>();
  auto* c = convert->add_subcommand(
      "caffe",
      "a Caffe prototxt + caffemodel (+ mean image) to an ONNX model that computes (pixel*255 - mean) * scale first");
  c->add_option("--prototxt", o->prototxt, "deploy prototxt (the network; V1 'layers' or current 'layer' form)")
      ->required();
  c->add_option("--weights", o->weights, ".caffemodel with the trained weights")->required();
  c->add_option(
      "--mean-image", o->mean_image,
      "mean image subtracted pixel by pixel from 0..255 pixels: a .binaryproto, or a PNG of at least the input's size "
      "(a larger mean is centre-cropped as Caffe does)");
  c->add_option("--scale", o->scale,
                "Caffe's transform_param scale, applied after the mean (0.00390625 for the paper's LeNet)")
      ->check(positive());
  c->add_option("--out", o->out, "ONNX file to write")->required();
  c->callback([o, &action] {
    action = [o] {
      check_output_file(o->out, "--out", ".onnx");
      CaffeConversion conv;
      const ModelSpec spec = convert_caffe(*o, &conv);
      emit_json({{"out", o->out},
                 {"sha256", spec.sha256},
                 {"net", conv.net_name},
                 {"format", conv.format},
                 {"layers", conv.layers},
                 {"input", {spec.input.channels, spec.input.height, spec.input.width}},
                 {"channel_order", channel_order_name(spec.preprocessing.channel_order)},
                 {"classes", spec.num_classes},
                 {"output", spec.preprocessing.output_is_probabilities ? "probabilities" : "logits"},
                 {"mean_image", o->mean_image},
                 {"scale", o->scale},
                 {"operators", conv.operators}});
      return 0;
    };
  });
}

}  // namespace fool::cli
