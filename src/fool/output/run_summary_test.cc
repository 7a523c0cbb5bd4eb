#include "fool/output/run_summary.h"

#include <gtest/gtest.h>

#include "fool/core/error.h"
#include "fool/core/thresholds.h"

namespace fool {
namespace {

RunSummary example() {
  RunSummary s;
  s.record.command = "ascend";
  s.record.method = "gradient-ascent";
  s.record.progress_unit = ProgressUnit::Step;
  s.record.thresholds = ascent_thresholds();
  s.record.progress = 12;
  s.record.extra = {{"steps_per_second", 3.5}};
  s.classes_at_or_above = {2, 1, 0};
  ClassSummary c;
  c.index = 4;
  c.label = "four";
  c.confidence = 0.995;
  c.image = "images/class_4.png";
  c.first_reached = {3, std::nullopt, std::nullopt};
  c.extra = {{"steps", 12}};
  s.classes.push_back(c);
  return s;
}

TEST(RunSummary, RoundTripsThroughJsonWithItsUnitAndExtras) {
  const nlohmann::json j = example().to_json();
  EXPECT_EQ(j["steps"], 12);  // the progress key follows the unit
  EXPECT_FALSE(j.contains("generations"));
  EXPECT_EQ(j["classes_at_or_above"]["0.999"], 1);
  const RunSummary back = RunSummary::from_json(j, "s.json");
  EXPECT_EQ(back.record.progress_unit, ProgressUnit::Step);
  EXPECT_EQ(back.record.thresholds, ascent_thresholds());
  EXPECT_EQ(back.classes[0].extra["steps"], 12);
  EXPECT_EQ(back.record.extra["steps_per_second"], 3.5);
  EXPECT_EQ(back.to_json(), j);
}

// Every malformed field is a one-line error naming the file and the key.
TEST(RunSummary, MalformedFieldsNameTheFileAndTheKey) {
  const nlohmann::json good = example().to_json();
  auto expect_error = [](const nlohmann::json& j, const std::string& key) {
    try {
      RunSummary::from_json(j, "runs/x/summary.json");
      ADD_FAILURE() << "accepted a summary with a bad " << key;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("runs/x/summary.json", 0), 0u) << what;
      EXPECT_NE(what.find(key), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  nlohmann::json j = good;
  j["classes"][0]["label"] = nullptr;
  expect_error(j, "label");
  j = good;
  j.erase("model");
  expect_error(j, "model");
  j = good;
  j["classes"][0]["first_reached"].erase("0.999");
  expect_error(j, "first_reached");
  j = good;
  j["progress_unit"] = "epoch";
  expect_error(j, "epoch");
  j = good;
  j["classes"] = "none";
  expect_error(j, "classes");
  j = good;
  j["format"] = "fool-run/2";
  expect_error(j, "fool-run/1");
}

// Issue 20: a summary whose seed is 1e300 was read as seed 0 (nlohmann converts a float to an
// integer type without a word); -1 or 2^64 likewise. An integer field holds an integer that fits.
TEST(RunSummary, IntegerFieldsMustHoldIntegersThatFit) {
  const nlohmann::json good = example().to_json();
  for (const char* text : {"1e300", "18446744073709551616", "-1", "1.5", "\"7\""}) {
    nlohmann::json j = good;
    j["seed"] = nlohmann::json::parse(text);
    try {
      RunSummary::from_json(j, "s.json");
      ADD_FAILURE() << "seed " << text << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("s.json: \"seed\""), std::string::npos) << e.what();
    }
  }
  nlohmann::json j = good;
  j["classes"][0]["index"] = 4294967296.0;  // 2^32: beyond an int
  EXPECT_THROW(RunSummary::from_json(j, "s.json"), Error);
  j = good;
  j["seed"] = nlohmann::json::parse("18446744073709551615");  // 2^64 - 1 is a seed
  EXPECT_EQ(RunSummary::from_json(j, "s.json").record.seed, 18446744073709551615ull);
  j["seed"] = 5;  // a signed integer built in memory
  EXPECT_EQ(RunSummary::from_json(j, "s.json").record.seed, 5u);
}

}  // namespace
}  // namespace fool
