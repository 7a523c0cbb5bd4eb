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
#include "fool/search/class_result.h"

namespace fool {

struct RunRecord {
  std::string command;       // "evolve" or "ascend"
  std::string command_line;  // as the user typed it
  std::string model;
  std::string model_sha256;
  std::string backend;
  std::string method;  // encoding name, or "gradient-ascent"
  std::uint64_t seed = 0;
  nlohmann::json settings;
  std::string progress_unit = "generation";  // what first_reached counts
  std::vector<double> thresholds = {0.99, 0.9999};
  int progress = 0;  // generations or steps done
  std::size_t evaluations = 0;
  double seconds = 0.0;
  bool complete = true;
  nlohmann::json extra;  // further top-level summary fields (an object, or null)
};

// The 8-bit images of a list of results tiled in a grid with label and confidence under each.
Image8 make_grid(const std::vector<Image8>& images, const std::vector<std::string>& captions);

// Writes the result files into dir (which must exist) and returns the summary it wrote.
nlohmann::json write_results(const std::string& dir, const RunRecord& record, const std::vector<ClassResult>& classes,
                             Classifier& classifier);

// Reads and checks a summary.json; throws fool::Error naming the file if it is missing or malformed.
nlohmann::json read_summary(const std::string& run_dir);

// Formats a confidence for people: "99.99%", "87.3%".
std::string percent(double p);

}  // namespace fool
