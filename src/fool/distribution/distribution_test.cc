// The distribution of a plain run: one process, rank 0, classifiers used as they are, tasks run in
// order on the calling thread.
#include "fool/distribution/distribution.h"

#include <gtest/gtest.h>

#include "fool/testing/test_support.h"

namespace fool {
namespace {

TEST(SingleProcess, IsAJobOfOneProcess) {
  SingleProcess one;
  Distribution& d = one;
  EXPECT_EQ(d.processes(), 1);
  EXPECT_EQ(d.rank(), 0);
  EXPECT_EQ(d.local_processes(), 1);
  EXPECT_TRUE(d.is_root());
  EXPECT_EQ(d.from_rank0("torch"), "torch");
  const auto local = std::make_shared<testing::FakeClassifier>(ImageShape{1, 4, 4}, 3);
  EXPECT_EQ(d.share_classifier(local, 2, "identity").get(), local.get());
}

TEST(SingleProcess, RunsEachTaskOnceInOrder) {
  SingleProcess one;
  std::vector<Task> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back({{{"kind", "train"}, {"n", i}}, {{"in.txt", {std::uint8_t(i)}}}});
  std::vector<int> ran;
  std::vector<std::size_t> done;
  one.run_tasks(
      tasks,
      [&](const Task& t) {
        ran.push_back(t.params["n"].get<int>());
        return TaskOutcome{{{"square", t.params["n"].get<int>() * t.params["n"].get<int>()}}, t.files};
      },
      [&](std::size_t i, TaskOutcome outcome) {
        done.push_back(i);
        EXPECT_EQ(outcome.result["square"], static_cast<int>(i * i));
        EXPECT_EQ(outcome.files.at("in.txt"), std::vector<std::uint8_t>{std::uint8_t(i)});
      });
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(done, (std::vector<std::size_t>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace fool
