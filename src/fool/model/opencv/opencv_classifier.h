#pragma once
// The OpenCV DNN backend's factory, and the bare forward pass the benchmarks compare against.
#include <memory>
#include <string>

#include "fool/model/classifier.h"

namespace fool {

class OnnxModel;
std::unique_ptr<Classifier> make_opencv_classifier(const OnnxModel& model, const ClassifierOptions& options);

// OpenCV DNN's own readNetFromONNX + setInput + forward on a prepared NCHW blob, with no fool
// code in the path: the reference rate that benchmarks divide by.
class BareOpenCvNet {
 public:
  explicit BareOpenCvNet(const std::string& path);
  ~BareOpenCvNet();
  void forward(const float* nchw, int n, const ImageShape& shape);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fool
