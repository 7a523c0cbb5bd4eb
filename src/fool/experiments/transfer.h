#pragma once
// Transfer of fooling images between networks (the paper's Section 3.3): every champion image of
// some runs is scored by every model for the class it was evolved for, giving a matrix of source
// network (the model a run evolved against) x scoring network.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/image.h"
#include "fool/model/classifier.h"
#include "fool/output/run_directory.h"

namespace fool {

struct TransferCell {
  std::size_t images = 0;
  double at_99 = 0.0;    // fraction of images at >= 99% for their class
  double at_9999 = 0.0;  // fraction at >= 99.99%
  double median = 0.0;   // median confidence
};

struct TransferMatrix {
  std::vector<std::string> sources;  // one row per source network: its model file name
  std::vector<std::string> source_sha256;
  std::vector<std::size_t> source_runs;  // runs per row
  std::vector<std::string> scorers;      // one column per scoring model: its file name
  std::vector<std::string> scorer_sha256;
  std::vector<std::vector<TransferCell>> cells;  // [row][column]

  nlohmann::json to_json() const;
  std::string to_csv() const;
};

// Reads each run's summary.json and images, and scores them with each model. Throws fool::Error
// (one line, naming the file) for a missing or corrupt summary, models whose classes differ from
// each other or from the runs', or images of another shape.
TransferMatrix transfer_matrix(const std::vector<std::string>& run_dirs, const std::vector<std::string>& models,
                               const ClassifierOptions& options);

// A heatmap of the fraction at >= 99.99% with the three numbers written in every cell.
Image8 transfer_heatmap(const TransferMatrix& m);

// Writes transfer.json, transfer.csv and transfer.png into dir; returns the JSON.
nlohmann::json write_transfer(const std::string& dir, const TransferMatrix& m);
// Makes `dir` ready for `fool transfer --out` and returns its lock (prepare_output_directory):
// absent or empty (then created and marked), or marked by fool and holding only a previous
// transfer's files (transfer.json/.csv/.png), which are replaced. Anything else throws fool::Error:
// fool transfer never mixes its files into, or overwrites files of, a directory it did not make
// (an experiment writes its own transfer matrix into its directory on purpose).
RunLock prepare_transfer_out_dir(const std::string& dir);
// The same checks without making, locking or marking anything (check_output_directory): before
// the matrix is computed, so that a refused --out costs nothing and a failed transfer leaves nothing.
void check_transfer_out_dir(const std::string& dir);

}  // namespace fool
