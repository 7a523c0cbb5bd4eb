// The scheduler: determinism across threads and batch splits, resume equivalence, and that it finds
// what it is asked for (on a fake classifier whose classes are brightness levels).
#include "fool/search/evolution.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/output/json_log.h"
#include "fool/output/run_directory.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::FakeClassifier;

EvolutionConfig small_config() {
  EvolutionConfig c;
  c.generations = 12;
  c.offspring = 30;
  c.init = 20;
  c.seed = 77;
  c.checkpoint_every = 0;
  return c;
}

std::vector<std::string> fingerprint(const Evolution& e) {
  std::vector<std::string> out;
  for (std::size_t c = 0; c < e.archive().cells(); ++c) {
    const Elite& el = e.archive().elite(c);
    out.push_back(std::to_string(el.fitness) + "@" + std::to_string(el.generation) + ":" +
                  e.encoding().to_json(*el.genome).dump());
  }
  return out;
}

TEST(Evolution, SameSeedSameArchiveWhateverTheThreadsAndBatchSplit) {
  FakeClassifier clf({1, 28, 28}, 5);
  DirectEncoding enc(DirectOptions{});
  auto run = [&](int threads, std::size_t batch) {
    auto c = small_config();
    c.threads = threads;
    c.eval_batch = batch;
    Evolution e(enc, clf, c);
    e.run({});
    return fingerprint(e);
  };
  const auto base = run(1, 0);
  EXPECT_EQ(run(2, 0), base);
  EXPECT_EQ(run(2, 7), base);
  auto other = small_config();
  other.seed = 78;
  Evolution e(enc, clf, other);
  e.run({});
  EXPECT_NE(fingerprint(e), base);
}

TEST(Evolution, ScoresEachGenerationInOneBatchedCall) {
  FakeClassifier clf({1, 28, 28}, 5);
  DirectEncoding enc(DirectOptions{});
  Evolution e(enc, clf, small_config());
  e.run({});
  EXPECT_EQ(clf.calls, 13);  // generation 0 plus 12
  EXPECT_EQ(e.evaluations(), 20u + 12u * 30u);
}

TEST(Evolution, FindsEveryClassOfTheFakeModel) {
  // Classes are brightness levels, so every class needs a very different image: the multi-cell
  // archive must carry the search to each of them.
  FakeClassifier clf({1, 16, 16}, 5, 400.0f);
  CppnOptions o;
  o.shape = {1, 16, 16};
  CppnEncoding enc(o);
  auto c = small_config();
  c.generations = 60;
  c.offspring = 60;
  Evolution e(enc, clf, c);
  e.run({});
  EXPECT_GE(e.archive().count_at_least(0.9), 5u);
}

TEST(Evolution, ResumedRunEndsWithTheSameArchive) {
  const fs::path dir = fs::temp_directory_path() / ("fool_resume_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  FakeClassifier clf({1, 16, 16}, 4);
  CppnOptions o;
  o.shape = {1, 16, 16};
  CppnEncoding enc(o);
  auto full_cfg = small_config();
  Evolution full(enc, clf, full_cfg);
  full.run({});

  const nlohmann::json settings = {{"seed", 77}, {"encoding", "cppn"}, {"generations", 12}};
  prepare_run_directory(dir.string(), false);
  std::atomic<bool> stop{false};
  // An observer that asks to stop after generation 5, as Ctrl-C would.
  struct StopAt : RunObserver {
    std::atomic<bool>* flag;
    void on_progress(const ProgressEvent& e) override {
      if (e.phase.empty() && e.record["generation"] == 5) *flag = true;
    }
  } stopper;
  stopper.flag = &stop;
  const CheckpointFn checkpoint = [&](const Evolution& e) { write_checkpoint(dir.string(), e, settings); };
  JsonLog log_writer((dir / "log.jsonl").string(), false);
  Evolution first(enc, clf, full_cfg);
  EXPECT_FALSE(first.run(RunEvents({&log_writer, &stopper}), checkpoint, &stop));
  EXPECT_EQ(first.next_generation(), 6);

  Evolution second(enc, clf, full_cfg);
  resume_from_checkpoint(dir.string(), second, settings);
  EXPECT_EQ(second.next_generation(), 6);
  JsonLog log_writer2((dir / "log.jsonl").string(), true);
  EXPECT_TRUE(second.run(RunEvents({&log_writer2}), checkpoint));
  EXPECT_EQ(fingerprint(second), fingerprint(full));
  EXPECT_EQ(second.evaluations(), full.evaluations());

  // The log has one line per generation, none repeated; its newly_reached lists, across the two
  // processes, give each class's first generation at each threshold as the archive holds it.
  std::ifstream log(dir / "log.jsonl");
  int lines = 0, expect = 0;
  std::map<std::pair<std::string, int>, int> first_seen;  // (threshold, class) -> generation
  for (std::string line; std::getline(log, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["generation"], expect++);
    ASSERT_EQ(j["newly_reached"].size(), 2u) << line;
    for (const auto& [key, classes] : j["newly_reached"].items())
      for (const auto& k : classes)
        EXPECT_TRUE(first_seen.emplace(std::make_pair(key, k.get<int>()), j["generation"]).second);
  }
  EXPECT_EQ(lines, 13);
  std::size_t reached = 0;
  for (std::size_t c = 0; c < full.archive().cells(); ++c) {
    for (std::size_t t = 0; t < full.archive().thresholds().size(); ++t) {
      const auto it =
          first_seen.find({nlohmann::json(full.archive().thresholds()[t]).dump(), full.archive().class_of(c)});
      const int want = full.archive().first_reached(c, t);
      EXPECT_EQ(it == first_seen.end() ? -1 : it->second, want) << "cell " << c << " threshold " << t;
      reached += want >= 0;
    }
  }
  EXPECT_GT(reached, 0u);  // the comparison covers some crossings

  // A checkpoint from other settings is refused, naming the setting.
  Evolution third(enc, clf, full_cfg);
  try {
    resume_from_checkpoint(dir.string(), third, {{"seed", 78}, {"encoding", "cppn"}, {"generations", 12}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos);
  }
  fs::remove_all(dir);
}

TEST(Evolution, RejectsNonsenseConfigs) {
  FakeClassifier clf({1, 28, 28}, 5);
  DirectEncoding enc(DirectOptions{});
  auto c = small_config();
  c.classes = {0, 9};
  EXPECT_THROW(Evolution(enc, clf, c), Error);
  c = small_config();
  c.offspring = 0;
  EXPECT_THROW(Evolution(enc, clf, c), Error);
  c = small_config();
  c.classes = {1, 1};
  EXPECT_THROW(Evolution(enc, clf, c), Error);
  DirectOptions big;
  big.shape = {1, 32, 32};
  DirectEncoding wrong(big);
  EXPECT_THROW(Evolution(wrong, clf, small_config()), Error);
}

}  // namespace
}  // namespace fool
