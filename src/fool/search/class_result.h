#pragma once
// ClassResult: what a search found for one class: its best image, the confidence the search saw,
// and when it first crossed each threshold. The output writers turn a list of these into files.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/image.h"

namespace fool {

struct ClassResult {
  int index = 0;
  std::string label;
  Image8 image;
  float search_confidence = 0.0f;  // what the search saw
  std::vector<int> first_reached;  // per threshold: first generation/step at or above it, -1 if never
  nlohmann::json genome;           // null if the search has no genome to save
  nlohmann::json extra;            // further fields for this class's summary entry (an object, or null)
};

}  // namespace fool
