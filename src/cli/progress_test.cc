#include "cli/progress.h"

#include <gtest/gtest.h>

namespace fool::cli {
namespace {

TEST(Progress, DurationsAndRatesForPeople) {
  EXPECT_EQ(format_duration(0.4), "0s");
  EXPECT_EQ(format_duration(59.9), "59s");
  EXPECT_EQ(format_duration(187), "3m07s");
  EXPECT_EQ(format_duration(7500), "2h05m");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_rate(2097.4), "2097");
  EXPECT_EQ(format_rate(85.34), "85.3");
  EXPECT_EQ(format_rate(0.41234), "0.412");
}

TEST(Progress, NumbersShowEvaluationsRateCropsAndTimeLeft) {
  ProgressEvent e("evolve", 3, 200, "", nullptr);
  e.evaluations = 1200;
  e.evaluations_total = 40200;
  e.crops = 10;
  // 39000 evaluations left at 100/s: 390 s.
  EXPECT_EQ(progress_numbers(e, 12.0, 100.0),
            "3/200 · 1200/40200 evals · 100 evals/s avg (1000 crops/s) · 12s · ETA 6m30s");
  e.crops = 1;
  EXPECT_EQ(progress_numbers(e, 12.0, 0.0), "3/200 · 1200/40200 evals · 12s");  // no rate yet: no ETA
  e.evaluations = e.evaluations_total;
  EXPECT_EQ(progress_numbers(e, 30.0, 50.0), "3/200 · 40200/40200 evals · 50 evals/s avg · 30s");
  // No evaluations counted (a training): the time left at the pace of the units so far.
  const ProgressEvent train("train lenet", 30, 120);
  EXPECT_EQ(progress_numbers(train, 10.0, 0.0), "30/120 · 10s · ETA 30s");
  EXPECT_EQ(progress_numbers(ProgressEvent("train lenet", 11, 120), 10.0, 0.0), "11/120 · 10s");  // under a tenth
  EXPECT_EQ(progress_numbers(ProgressEvent("train lenet", 120, 120), 40.0, 0.0), "120/120 · 40s");
}

}  // namespace
}  // namespace fool::cli
