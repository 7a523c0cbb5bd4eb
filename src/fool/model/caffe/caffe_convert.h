#pragma once
// Caffe -> ONNX conversion (`fool convert caffe`): a deploy prototxt, its .caffemodel weights and
// an optional mean image become one ONNX classifier that carries Caffe's preprocessing in its first
// nodes, so every fool command runs the converted model exactly as Caffe ran the original. fool
// feeds models images in [0,1]; the graph starts with (x * 255 - mean[c][y][x]) * scale, Caffe's
// "(pixel - mean) * scale on 0..255 pixels", and 3-channel models are marked BGR
// (fool.channel_order), Caffe's channel order. Caffe's protobuf types stay inside the .cc files.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fool/model/classifier.h"

namespace fool {

// A mean image in Caffe's units: C x H x W floats on the 0..255 scale, channels in the model's
// order (BGR for colour Caffe models).
struct CaffeMean {
  ImageShape shape;
  std::vector<float> values;  // shape.size() values, planar
};

// Reads a mean file: a Caffe .binaryproto (BlobProto, 1 x C x H x W), or a PNG (RGB channels are
// reversed to Caffe's BGR). Throws fool::Error naming the file.
CaffeMean read_caffe_mean(const std::string& path);
// Parses .binaryproto bytes; `path` is named in errors.
CaffeMean parse_caffe_mean(const std::uint8_t* data, std::size_t size, const std::string& path);

// The centre crop of `mean` to `shape` (Caffe's test-time crop offsets, (H - h) / 2 rounded down),
// or `mean` itself when the sizes match. Throws naming `path` if the channels differ or the mean is
// smaller than the input.
CaffeMean fit_caffe_mean(const CaffeMean& mean, const ImageShape& shape, const std::string& path);

// Output size of a Caffe Pooling layer along one axis: Caffe rounds up, then drops a last window
// that would start in the padding (only when the layer pads).
std::int64_t caffe_pooled_size(std::int64_t in, std::int64_t kernel, std::int64_t pad, std::int64_t stride);
// Output size of a Caffe Convolution along one axis (rounded down, like ONNX Conv).
std::int64_t caffe_conv_size(std::int64_t in, std::int64_t kernel, std::int64_t pad, std::int64_t stride,
                             std::int64_t dilation);

// Inputs of one conversion, in memory (the fuzz target and the tests use this form).
struct CaffeSources {
  std::string prototxt_text;
  std::string prototxt_path;  // named in errors
  std::string weights_bytes;
  std::string weights_path;       // named in errors
  std::optional<CaffeMean> mean;  // 0..255 units, any size >= the input (centre-cropped)
  std::string mean_path;
  float scale = 1.0f;  // Caffe's transform_param scale, applied after the mean
};

// What a conversion made, for the CLI to print.
struct CaffeConversion {
  std::string onnx_bytes;  // a serialised onnx::ModelProto
  std::string net_name;
  std::string format;  // "V1" (2014 `layers`) or "V2" (`layer`)
  int layers = 0;      // Caffe layers converted
  ImageShape input;
  int num_classes = 0;
  std::vector<std::string> operators;  // ONNX operator types used, sorted
};

// Converts in memory. Throws fool::Error (one line, naming the prototxt, weights or mean file, the
// layer and what is wrong) for anything it cannot convert exactly.
CaffeConversion caffe_to_onnx(const CaffeSources& sources);

struct CaffeConvertOptions {
  std::string prototxt;
  std::string weights;
  std::string mean_image;  // "" for none
  float scale = 1.0f;
  std::string out;  // .onnx path
};

// Reads the files, converts, writes `out` atomically after loading the result back with fool's
// own ONNX loader (so a file that is written is one every command accepts). Nothing is written on
// error. Returns what fool's loader says about the written model.
ModelSpec convert_caffe(const CaffeConvertOptions& options, CaffeConversion* conversion = nullptr);

}  // namespace fool
