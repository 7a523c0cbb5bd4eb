#pragma once
// The confidence thresholds fool reports against, in one place: the paper's 99% and 99.99%, and
// 99.9% for gradient ascent's finer report.
#include <vector>

namespace fool {

constexpr double kConfident = 0.99;  // "fooled": the paper's first bar
constexpr double kVeryConfident = 0.999;
constexpr double kFoolingConfidence = 0.9999;  // the paper's headline bar

// Thresholds an evolution run tracks (first generation at or above each).
inline std::vector<double> evolution_thresholds() { return {kConfident, kFoolingConfidence}; }
// Thresholds gradient ascent tracks.
inline std::vector<double> ascent_thresholds() { return {kConfident, kVeryConfident, kFoolingConfidence}; }

}  // namespace fool
