#pragma once
// RunSummary: the typed form of a run's summary.json, the one result every search command writes
// (fool evolve, fool ascend) and that the experiments, fool transfer and fool report read, in
// memory or back from disk. Confidences are those of the saved 8-bit PNGs, re-scored.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fool {

struct ModelSpec;
struct SpecOverrides;

// How a run fed its model: everything needed to score its images again exactly as it did
// (summary.json's "model_input", the checkpoint's settings). Re-scoring, analysis and --resume
// take these values instead of flags.
struct ModelInputRecord {
  std::string preprocess;  // the named preprocessing the values started from ("" if none was named)
  std::string channel_order = "rgb";
  double scale = 1.0;
  std::vector<double> mean, std;
  std::string output = "probabilities";  // or "logits": whether fool applied the softmax
  std::string layout = "nchw";           // the model file's input layout
  int height = 0, width = 0;             // the model's input size
  std::string output_name;               // the graph output read

  static ModelInputRecord of(const ModelSpec& spec);
  nlohmann::json to_json() const;
  // Checks every field; throws fool::Error naming `source` and the key.
  static ModelInputRecord from_json(const nlohmann::json& j, const std::string& source);
  // Overrides that make a model load with exactly these settings.
  SpecOverrides overrides() const;
  // One line for reports and errors: "torchvision: rgb, scale 1, mean [...], std [...], nchw 224x224".
  std::string describe() const;
  bool operator==(const ModelInputRecord& o) const;
  bool operator!=(const ModelInputRecord& o) const { return !(*this == o); }
};

// What progress counts in a run: evolution generations or gradient-ascent steps.
enum class ProgressUnit { Generation, Step };
std::string progress_unit_name(ProgressUnit unit);  // "generation" | "step"
ProgressUnit parse_progress_unit(const std::string& name);

// What describes a run before its results: who ran it, with what, how far.
struct RunRecord {
  std::string command;       // "evolve" or "ascend"
  std::string command_line;  // as the user typed it
  std::string model;
  std::string model_sha256;
  std::string backend;
  std::string method;  // encoding name, or "gradient-ascent"
  std::uint64_t seed = 0;
  nlohmann::json settings;
  ProgressUnit progress_unit = ProgressUnit::Generation;
  std::vector<double> thresholds;  // confidences whose first crossing is recorded
  int progress = 0;                // generations or steps done
  std::size_t evaluations = 0;
  double seconds = 0.0;
  bool complete = true;
  std::optional<ModelInputRecord> model_input;  // absent in summaries of fool before 2026-12
  nlohmann::json extra;                         // further top-level summary fields (an object, or null)
};

// One class's champion in summary.json.
struct ClassSummary {
  int index = 0;
  std::string label;
  double confidence = 0.0;                        // of the saved PNG, re-scored
  double search_confidence = 0.0;                 // what the search saw
  int top_class = 0;                              // the class the saved PNG scores highest
  std::string image;                              // path of the PNG, relative to the run directory
  std::string genome;                             // path of the genome file, relative; empty if none was saved
  std::vector<std::optional<int>> first_reached;  // per threshold: first generation/step at or above it
  std::vector<double> lost_in_quantisation;       // thresholds the search reached but the PNG does not
  nlohmann::json extra;                           // further fields (an object, or null)
};

struct RunSummary {
  RunRecord record;
  double median_confidence = 0.0;
  std::vector<std::size_t> classes_at_or_above;  // per threshold of record.thresholds
  std::vector<ClassSummary> classes;

  nlohmann::json to_json() const;
  // classes_at_or_above as summary.json writes it: {"0.99": n, "0.9999": m}.
  nlohmann::json threshold_counts() const;
  // Checks every field; throws fool::Error naming `source` (the file) and the bad key.
  static RunSummary from_json(const nlohmann::json& j, const std::string& source);
};

// Reads and checks run_dir/summary.json; throws fool::Error naming the file if missing or malformed.
RunSummary read_summary(const std::string& run_dir);

}  // namespace fool
