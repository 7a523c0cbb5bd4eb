#pragma once
// The one place that knows every backend: reads an ONNX file once and builds the chosen backend
// behind the Classifier interface.
#include <memory>
#include <string>

#include "fool/model/classifier.h"

namespace fool {

// Reads the ONNX file once and builds the chosen backend. Throws fool::Error for a missing,
// corrupt or non-image model, naming the file.
std::unique_ptr<Classifier> load_classifier(const std::string& path, const ClassifierOptions& options);
std::unique_ptr<DifferentiableClassifier> load_differentiable_classifier(const std::string& path,
                                                                         const ClassifierOptions& options);

}  // namespace fool
