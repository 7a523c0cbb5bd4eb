#pragma once
// The check at the boundary of every backend: what a classifier returns must be probabilities.
// Any NaN or infinity is refused; for a model that says it outputs probabilities (no --logits), so
// is a value below 0 or above 1 beyond rounding (kProbabilityTolerance): softmax x 30, or logits
// labelled as probabilities, would otherwise become confidences of 9.19 in a summary that can be
// neither reported nor resumed. The error is one line naming the model and the first bad output.
#include <memory>

#include "fool/model/classifier.h"

namespace fool {

inline constexpr double kProbabilityTolerance = 1e-4;
// How far a row of probabilities may add up from 1 (float softmax over 1,000 classes: about 1e-5).
inline constexpr double kProbabilitySumTolerance = 1e-3;

// Throws fool::Error "<model>: output [row r, class k] is <v>, ..." for the first bad value of `m`
// (rows x spec.num_classes), scanning rows in order; for a model that says it outputs
// probabilities, also "<model>: the outputs of image r add up to <s>, not 1 ..." for a row whose
// values are each in [0, 1] but do not add up to 1 (x / x, a sigmoid per class).
void check_probabilities(const ModelSpec& spec, const Matrix& m);

// The classifier with every probabilities() result passed through check_probabilities (gradient
// ascent's probabilities_and_gradients checks each row itself, stopping only that row's class).
std::unique_ptr<Classifier> with_checked_output(std::unique_ptr<Classifier> inner);
std::unique_ptr<DifferentiableClassifier> with_checked_output(std::unique_ptr<DifferentiableClassifier> inner);

}  // namespace fool
