#pragma once
// EliteArchive: the MAP-Elites archive of the paper, one cell per target class. Every solution
// competes for every cell with its probability for that cell's class (multi-cell insertion); a
// cell keeps the strictly better one. It stores genomes and scores only: no images, models or files.
#include <vector>

#include "fool/core/image.h"
#include "fool/core/thresholds.h"
#include "fool/encoding/encoding.h"

namespace fool {

struct Elite {
  GenomePtr genome;
  float fitness = -1.0f;  // probability of the cell's class; -1 while empty
  int generation = -1;    // generation at which this elite entered (0: initial population)
};

class EliteArchive {
 public:
  // classes: the class index of each cell. thresholds: confidences whose first crossing is recorded.
  explicit EliteArchive(std::vector<int> classes, std::vector<double> thresholds = evolution_thresholds());

  std::size_t cells() const { return classes_.size(); }
  int class_of(std::size_t cell) const { return classes_[cell]; }
  const Elite& elite(std::size_t cell) const { return elites_[cell]; }
  const std::vector<double>& thresholds() const { return thresholds_; }
  // Generation at which cell first held an elite at or above thresholds()[t]; -1 if never.
  int first_reached(std::size_t cell, std::size_t t) const { return first_[cell][t]; }

  // Offers each solution (row i of scores, an N x K probability matrix) to every cell. Returns how
  // many cells improved.
  std::size_t add(const std::vector<GenomePtr>& solutions, const Matrix& scores, int generation);
  // A genome drawn uniformly from the occupied cells (one that holds several cells is likelier).
  GenomePtr sample(Rng& rng) const;

  std::size_t occupied() const;
  // Cells whose elite is at or above a confidence.
  std::size_t count_at_least(double confidence) const;
  // Median, minimum and maximum elite fitness over all cells (empty cells count as 0).
  double median_fitness() const;
  double min_fitness() const;
  double max_fitness() const;

  // Restores one cell from a checkpoint.
  void restore(std::size_t cell, Elite elite, std::vector<int> first_reached);

 private:
  std::vector<int> classes_;
  std::vector<double> thresholds_;
  std::vector<Elite> elites_;
  std::vector<std::vector<int>> first_;
};

}  // namespace fool
