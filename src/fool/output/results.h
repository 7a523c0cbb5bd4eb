#pragma once
// Writing a run's results in the layout every search command shares (fool evolve, fool ascend):
// images/class_<k>.png, genomes/class_<k>.json (when the search has genomes), grid.png and
// summary.json. Confidences in the summary are those of the saved 8-bit PNGs read back and scored
// again, never of the float image that produced them.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/image.h"
#include "fool/core/run_events.h"
#include "fool/model/classifier.h"
#include "fool/output/run_summary.h"
#include "fool/search/class_result.h"

namespace fool {

// The 8-bit images of a list of results tiled in a grid with label and confidence under each.
Image8 make_grid(const std::vector<Image8>& images, const std::vector<std::string>& captions);

// Writes the result files into dir (which must exist): each image as a PNG, read back and scored
// again with `classifier` (the reported confidence is the file's), genomes, grid.png and
// summary.json. Returns the summary it wrote.
// `events` hear "re-score" phase events (task `task`) while the saved images are scored again.
RunSummary write_results(const std::string& dir, const RunRecord& record, const std::vector<ClassResult>& classes,
                         Classifier& classifier, const RunEvents& events = {}, const std::string& task = "");

// Formats a probability as a percentage for people: two decimals, and more near 100% so that the
// distance to 100% keeps two significant digits ("87.30%", "99.95%", "99.9999%", "99.999998%");
// scientific below 0.01% ("1.8e-14%"); rounded down, so only 1 is "100%" and only 0 is "0%".
std::string percent(double p);

// The confidence charts' vertical scale: log10(p / (1 - p)), which spreads 99%, 99.9%, 99.99% (2,
// 3, 4) as far apart as 1%, 0.1%, 0.01% (-2, -3, -4); p is clamped to [1e-12, 1 - 1e-12].
double confidence_scale(double p);

}  // namespace fool
