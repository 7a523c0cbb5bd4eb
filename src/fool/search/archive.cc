#include "fool/search/archive.h"

#include <algorithm>

#include "fool/core/error.h"
#include "fool/core/stats.h"

namespace fool {

EliteArchive::EliteArchive(std::vector<int> classes, std::vector<double> thresholds)
    : classes_(std::move(classes)),
      thresholds_(std::move(thresholds)),
      elites_(classes_.size()),
      first_(classes_.size(), std::vector<int>(thresholds_.size(), -1)) {
  if (classes_.empty()) throw Error("the archive needs at least one class");
}

std::size_t EliteArchive::add(const std::vector<GenomePtr>& solutions, const Matrix& scores, int generation) {
  if (scores.rows() != solutions.size()) throw Error("one row of scores is needed per solution");
  std::size_t improved = 0;
  for (std::size_t cell = 0; cell < classes_.size(); ++cell) {
    const auto k = static_cast<std::size_t>(classes_[cell]);
    if (k >= scores.cols()) throw Error("class " + std::to_string(k) + " is outside the score matrix");
    Elite& e = elites_[cell];
    bool changed = false;
    for (std::size_t i = 0; i < solutions.size(); ++i) {
      const float p = scores(i, k);
      if (p > e.fitness) {
        e = {solutions[i], p, generation};
        changed = true;
      }
    }
    if (!changed) continue;
    ++improved;
    for (std::size_t t = 0; t < thresholds_.size(); ++t)
      if (first_[cell][t] < 0 && e.fitness >= thresholds_[t]) first_[cell][t] = generation;
  }
  return improved;
}

GenomePtr EliteArchive::sample(Rng& rng) const {
  std::vector<std::size_t> filled;
  for (std::size_t c = 0; c < elites_.size(); ++c)
    if (elites_[c].genome) filled.push_back(c);
  if (filled.empty()) throw Error("cannot draw a parent from an empty archive");
  return elites_[filled[rng.below(filled.size())]].genome;
}

std::size_t EliteArchive::occupied() const {
  return static_cast<std::size_t>(
      std::count_if(elites_.begin(), elites_.end(), [](const Elite& e) { return e.genome != nullptr; }));
}

std::size_t EliteArchive::count_at_least(double confidence) const {
  return static_cast<std::size_t>(
      std::count_if(elites_.begin(), elites_.end(), [&](const Elite& e) { return e.fitness >= confidence; }));
}

namespace {
std::vector<double> fitnesses(const std::vector<Elite>& elites) {
  std::vector<double> f;
  f.reserve(elites.size());
  for (const auto& e : elites) f.push_back(std::max(0.0f, e.fitness));
  std::sort(f.begin(), f.end());
  return f;
}
}  // namespace

double EliteArchive::median_fitness() const { return median(fitnesses(elites_)); }
double EliteArchive::min_fitness() const { return fitnesses(elites_).front(); }
double EliteArchive::max_fitness() const { return fitnesses(elites_).back(); }

void EliteArchive::restore(std::size_t cell, Elite elite, std::vector<int> first_reached) {
  if (cell >= elites_.size() || first_reached.size() != thresholds_.size())
    throw Error("checkpoint does not fit the archive");
  elites_[cell] = std::move(elite);
  first_[cell] = std::move(first_reached);
}

}  // namespace fool
