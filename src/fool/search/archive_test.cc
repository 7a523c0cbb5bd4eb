#include "fool/search/archive.h"

#include <gtest/gtest.h>

#include <map>

#include "fool/core/error.h"

namespace fool {
namespace {

struct Tag : Genome {
  explicit Tag(int id) : id(id) {}
  int id;
};
GenomePtr tag(int id) { return std::make_shared<Tag>(id); }
int id_of(const GenomePtr& g) { return static_cast<const Tag&>(*g).id; }

Matrix scores(std::vector<std::vector<float>> rows) {
  Matrix m(rows.size(), rows[0].size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < rows[r].size(); ++c) m(r, c) = rows[r][c];
  return m;
}

TEST(EliteArchive, EverySolutionCompetesForEveryCell) {
  EliteArchive a({0, 1, 2});
  // Solution 0 is best for classes 1 and 2 although its top class is 0: it takes both cells.
  EXPECT_EQ(a.add({tag(0), tag(1)}, scores({{0.5f, 0.3f, 0.2f}, {0.9f, 0.05f, 0.05f}}), 0), 3u);
  EXPECT_EQ(id_of(a.elite(0).genome), 1);
  EXPECT_EQ(id_of(a.elite(1).genome), 0);
  EXPECT_EQ(id_of(a.elite(2).genome), 0);
  EXPECT_FLOAT_EQ(a.elite(1).fitness, 0.3f);
}

TEST(EliteArchive, OnlyStrictlyBetterReplaces) {
  EliteArchive a({0});
  a.add({tag(0)}, scores({{0.5f, 0.5f}}), 0);
  EXPECT_EQ(a.add({tag(1)}, scores({{0.5f, 0.5f}}), 1), 0u);
  EXPECT_EQ(id_of(a.elite(0).genome), 0);
  EXPECT_EQ(a.add({tag(2)}, scores({{0.6f, 0.4f}}), 2), 1u);
  EXPECT_EQ(id_of(a.elite(0).genome), 2);
  EXPECT_EQ(a.elite(0).generation, 2);
}

TEST(EliteArchive, CellsMapToTheirClassesAndRecordThresholdCrossings) {
  EliteArchive a({3, 1});
  a.add({tag(0)}, scores({{0.0f, 0.2f, 0.0f, 0.995f}}), 4);
  EXPECT_EQ(a.first_reached(0, 0), 4);   // class 3 passed 0.99 at generation 4
  EXPECT_EQ(a.first_reached(0, 1), -1);  // but not 0.9999
  a.add({tag(1)}, scores({{0.0f, 0.2f, 0.0f, 0.99995f}}), 7);
  EXPECT_EQ(a.first_reached(0, 0), 4);
  EXPECT_EQ(a.first_reached(0, 1), 7);
  EXPECT_EQ(a.count_at_least(0.99), 1u);
  EXPECT_NEAR(a.median_fitness(), (0.2 + 0.99995) / 2, 1e-6);
  EXPECT_FLOAT_EQ(static_cast<float>(a.min_fitness()), 0.2f);
  EXPECT_THROW(a.add({tag(2)}, scores({{0.1f, 0.9f}}), 8), Error);  // no column for class 3
}

TEST(EliteArchive, ParentsAreDrawnUniformlyOverOccupiedCells) {
  EliteArchive a({0, 1, 2, 3});
  Rng rng(1);
  EXPECT_THROW(a.sample(rng), Error);
  // Genome 7 holds cells 0, 1 and 2; genome 8 holds cell 3: 7 should be drawn ~3/4 of the time.
  a.add({tag(7), tag(8)}, scores({{0.9f, 0.9f, 0.9f, 0.1f}, {0.0f, 0.0f, 0.0f, 0.5f}}), 0);
  std::map<int, int> counts;
  for (int i = 0; i < 8000; ++i) counts[id_of(a.sample(rng))]++;
  EXPECT_NEAR(counts[7] / 8000.0, 0.75, 0.03);
  EXPECT_NEAR(counts[8] / 8000.0, 0.25, 0.03);
}

}  // namespace
}  // namespace fool
