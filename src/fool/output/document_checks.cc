#include "fool/output/document_checks.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/output/experiment_file.h"
#include "fool/output/run_summary.h"

namespace fool {

namespace fs = std::filesystem;
namespace jc = json_check;

namespace {

// Runs `check` and prefixes any fool::Error with the file.
template <typename Fn>
void in_file(const std::string& path, Fn check) {
  try {
    check();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

void relative_path(const nlohmann::json& j, const std::string& where, const std::string& key) {
  const std::string rel = jc::string(j, where, key);
  const fs::path p(rel);
  bool ok = !rel.empty() && !p.is_absolute();
  for (const auto& part : p) ok = ok && part != "..";
  if (!ok)
    throw Error("key '" + jc::path_of(where, key) + "' names '" + jc::printable(rel) +
                "', not a file inside the directory");
}

// {"0.99": n, ...} with threshold keys in (0, 1].
void threshold_map(const nlohmann::json& m, const std::string& where, bool nullable_ints, std::int64_t hi) {
  for (const auto& [key, value] : m.items()) {
    std::size_t used = 0;
    double t = 0;
    try {
      t = std::stod(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != key.size() || !(t > 0.0 && t <= 1.0)) {
      throw Error("key '" + where + "' has '" + jc::printable(key) + "', not a confidence threshold");
    }
    if (nullable_ints && value.is_null()) continue;
    jc::integer_value(value, std::string(where).append(".").append(key), 0, hi);
  }
}

}  // namespace

std::string file_inside(const std::string& dir, const std::string& rel, const std::string& what) {
  const fs::path p(rel);
  bool ok = !rel.empty() && !p.is_absolute();
  for (const auto& part : p) ok = ok && part != "..";
  std::error_code ec;
  if (ok) {
    const fs::path base = fs::weakly_canonical(fs::path(dir), ec);
    const fs::path full = fs::weakly_canonical(fs::path(dir) / p, ec);
    const auto mismatch = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
    ok = !ec && mismatch.first == base.end();
  }
  if (!ok) throw Error(what + " names '" + jc::printable(rel) + "', which is not a file inside " + dir);
  return (fs::path(dir) / p).string();
}

namespace {

// A number that must be finite and in [0, hi], named by its key in the error.
void check_unit_number(double v, const std::string& key, double hi) {
  if (!std::isfinite(v) || v < 0.0 || v > hi) {
    throw Error("key '" + key + "' is " + nlohmann::json(v).dump() + ", not in [0, " + nlohmann::json(hi).dump() + "]");
  }
}

// The summary's top-level numbers: no negative seed or count (they would wrap around when read
// unsigned), confidences and thresholds in range.
void check_summary_numbers(const RunSummary& s, const nlohmann::json& j) {
  for (const char* key : {"seed", "evaluations"}) {
    if (j.contains(key) && j[key].is_number_integer() && !j[key].is_number_unsigned() &&
        j[key].get<std::int64_t>() < 0) {
      throw Error(std::string("key '") + key + "' is negative");
    }
  }
  const RunRecord& r = s.record;
  check_unit_number(s.median_confidence, "median_confidence", 1.0);
  check_unit_number(r.seconds, "seconds", 1e12);
  if (r.progress < -1) throw Error("key '" + progress_unit_name(r.progress_unit) + "s' is negative");
  for (std::size_t t = 0; t < r.thresholds.size(); ++t) {
    if (!(r.thresholds[t] > 0.0 && r.thresholds[t] <= 1.0)) {
      throw Error("key 'classes_at_or_above' has threshold " + nlohmann::json(r.thresholds[t]).dump() +
                  ", not in (0, 1]");
    }
  }
}

// One entry of "classes" (the i-th): an index not seen before, confidences in [0, 1], files inside
// the run directory.
void check_class_summary(const ClassSummary& c, std::size_t i, std::set<int>& seen) {
  const std::string where = jc::path_of("classes", i);
  if (c.index < 0 || !seen.insert(c.index).second) {
    throw Error("key '" + where + ".index' is " + std::to_string(c.index) + ", negative or repeated");
  }
  if (c.top_class < 0) throw Error("key '" + where + ".top_class' is negative");
  check_unit_number(c.confidence, where + ".confidence", 1.0);
  check_unit_number(c.search_confidence, where + ".search_confidence", 1.0);
  for (std::size_t t = 0; t < c.first_reached.size(); ++t)
    if (c.first_reached[t] && *c.first_reached[t] < 0) throw Error("key '" + where + ".first_reached' is negative");
  nlohmann::json holder = {{"image", c.image}, {"genome", c.genome}};
  relative_path(holder, where, "image");
  if (!c.genome.empty()) relative_path(holder, where, "genome");
}

}  // namespace

void check_run_summary(const RunSummary& s, const nlohmann::json& j, const std::string& path) {
  in_file(path, [&] {
    check_summary_numbers(s, j);
    std::set<int> seen;
    for (std::size_t i = 0; i < s.classes.size(); ++i) check_class_summary(s.classes[i], i, seen);
  });
}

void validate_transfer(const nlohmann::json& j, const std::string& path) {
  in_file(path, [&] {
    if (!j.is_object() || !(j.contains("format") && j["format"] == "fool-transfer/1"))
      throw Error("not a fool transfer matrix");
    const auto& scorers = jc::array(j, "", "scorers");
    for (std::size_t i = 0; i < scorers.size(); ++i) {
      jc::string(scorers[i], jc::path_of("scorers", i), "model");
      jc::string(scorers[i], jc::path_of("scorers", i), "sha256");
    }
    const auto& sources = jc::array(j, "", "sources");
    for (std::size_t r = 0; r < sources.size(); ++r) {
      const std::string where = jc::path_of("sources", r);
      jc::string(sources[r], where, "source");
      jc::integer(sources[r], where, "runs", 0, kMaxDocumentCount);
      const auto& scores = jc::array(sources[r], where, "scores");
      if (scores.size() != scorers.size()) throw Error("key '" + where + ".scores' does not have one entry per scorer");
      for (std::size_t c = 0; c < scores.size(); ++c) {
        const std::string w = jc::path_of(where + ".scores", c);
        jc::string(scores[c], w, "scorer");
        jc::integer(scores[c], w, "images", 0, kMaxDocumentCount);
        for (const char* k : {"at_99", "at_9999", "median_confidence"}) jc::number(scores[c], w, k, 0.0, 1.0);
      }
    }
  });
}

namespace {

// What the keys experiment steps and results share hold; any other key is walked into.
enum class RecordKey {
  File,
  Text,
  Fraction,
  Seconds,
  Count,
  Confidences,
  Files,
  FractionOrNull,
  ThresholdCounts,
  Other
};

RecordKey record_key(const std::string& key) {
  static const std::map<std::string, RecordKey> kinds = {
      {"model", RecordKey::File},
      {"run", RecordKey::File},
      {"dir", RecordKey::File},
      {"sha256", RecordKey::Text},
      {"arch", RecordKey::Text},
      {"test_accuracy", RecordKey::Fraction},
      {"median_confidence", RecordKey::Fraction},
      {"heldout_real_accuracy", RecordKey::Fraction},
      {"fraction_at_9999", RecordKey::Fraction},
      {"fraction_at_99", RecordKey::Fraction},
      {"seconds", RecordKey::Seconds},
      {"train_examples", RecordKey::Count},
      {"test_examples", RecordKey::Count},
      {"fooling_examples_in_training", RecordKey::Count},
      {"iteration", RecordKey::Count},
      {"epochs", RecordKey::Count},
      {"pairs", RecordKey::Count},
      {"confidences", RecordKey::Confidences},
      {"files", RecordKey::Files},
      {"mean_fraction_at_99", RecordKey::FractionOrNull},
      {"mean_fraction_at_9999", RecordKey::FractionOrNull},
      {"fraction_in_fooling_class", RecordKey::FractionOrNull},
      {"classes_at_or_above", RecordKey::ThresholdCounts},
  };
  const auto it = kinds.find(key);
  return it == kinds.end() ? RecordKey::Other : it->second;
}

// A list of file names (key `w`), each inside the experiment directory.
void check_file_list(const nlohmann::json& list, const std::string& w) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) throw Error("key '" + jc::path_of(w, i) + "' is not a file name");
    nlohmann::json holder = {{"file", list[i]}};
    relative_path(holder, jc::path_of(w, i), "file");
  }
}

// A value under a key check_experiment_record does not know: objects (also inside lists) are records too.
void experiment_children(const nlohmann::json& value, const std::string& w) {
  if (value.is_object()) {
    check_experiment_record(value, w);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i)
      if (value[i].is_object()) check_experiment_record(value[i], jc::path_of(w, i));
  }
}

}  // namespace

// The keys experiment steps and results share, checked wherever they appear.
void check_experiment_record(const nlohmann::json& r, const std::string& where) {
  if (!r.is_object()) throw Error("key '" + where + "' is not an object");
  for (const auto& [key, value] : r.items()) {
    const std::string w = jc::path_of(where, key);
    switch (record_key(key)) {
      case RecordKey::File:
        relative_path(r, where, key);
        break;
      case RecordKey::Text:
        jc::string(r, where, key);
        break;
      case RecordKey::Fraction:
        jc::number(r, where, key, 0.0, 1.0);
        break;
      case RecordKey::Seconds:
        jc::number(r, where, key, 0.0, 1e12);
        break;
      case RecordKey::Count:
        jc::integer(r, where, key, 0, kMaxDocumentCount);
        break;
      case RecordKey::Confidences: {
        const auto& list = jc::array(r, where, key);
        for (std::size_t i = 0; i < list.size(); ++i) jc::number_value(list[i], jc::path_of(w, i), 0.0, 1.0);
        break;
      }
      case RecordKey::Files:
        check_file_list(jc::array(r, where, key), w);
        break;
      case RecordKey::FractionOrNull:
        if (!value.is_null()) jc::number(r, where, key, 0.0, 1.0);
        break;
      case RecordKey::ThresholdCounts:
        threshold_map(jc::object(r, where, key), w, false, kMaxDocumentCount);
        break;
      case RecordKey::Other:
        experiment_children(value, w);
        break;
    }
  }
}

void validate_experiment(const nlohmann::json& j, const std::string& path, const ExperimentDocuments& kinds) {
  in_file(path, [&] {
    if (!j.is_object() || !(j.contains("format") && j["format"] == "fool-experiment/1")) {
      throw Error("not a fool experiment (format fool-experiment/1)");
    }
    const std::string name = jc::string(j, "", "experiment");
    const ExperimentDocument* kind = find_experiment_kind(kinds, name);
    if (kind == nullptr)
      throw Error("key 'experiment' is '" + jc::printable(name) + "', not " + experiment_kind_list(kinds));
    jc::object(j, "", "config");
    const auto& steps = jc::object(j, "", "steps");
    for (const auto& [key, value] : steps.items()) check_experiment_record(value, jc::path_of("steps", key));
    if (kind->check != nullptr) kind->check(j);
    if (j.contains("results")) check_experiment_record(jc::object(j, "", "results"), "results");
  });
}

}  // namespace fool
