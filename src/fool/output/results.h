#pragma once
// Writing a run's results in the layout every search command shares (fool evolve, fool ascend):
// images/class_<k>.png, genomes/class_<k>.json (when the search has genomes), grid.png and
// summary.json. Confidences in the summary are those of the saved 8-bit PNGs read back and scored
// again, never of the float image that produced them.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/model/classifier.h"
#include "fool/core/image.h"
#include "fool/output/run_summary.h"
#include "fool/search/class_result.h"

namespace fool {

// The 8-bit images of a list of results tiled in a grid with label and confidence under each.
Image8 make_grid(const std::vector<Image8>& images, const std::vector<std::string>& captions);

// Writes the result files into dir (which must exist): each image as a PNG, read back and scored
// again with `classifier` (the reported confidence is the file's), genomes, grid.png and
// summary.json. Returns the summary it wrote.
RunSummary write_results(const std::string& dir, const RunRecord& record, const std::vector<ClassResult>& classes,
                             Classifier& classifier);

// Formats a confidence for people: "99.99%", "87.3%".
std::string percent(double p);

}  // namespace fool
