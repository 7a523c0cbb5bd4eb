#pragma once
// Complete validation of the documents fool reads back from disk (summary.json, experiment.json,
// transfer.json): every key a reader uses is present with its type and range, and every file they
// name stays inside their directory. Errors are one line naming the file and the key, so readers
// can use the documents without meeting nlohmann's exception text.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fool/output/experiment_file.h"

namespace fool {

struct RunSummary;

// The ranges RunSummary::from_json's type checks leave open: confidences in [0, 1], thresholds in
// (0, 1], class indices unique and non-negative, first crossings
// non-negative, image and genome paths relative and inside the run directory.
// `j` is the document `s` was read from (for what the typed form cannot show, e.g. a negative seed).
void check_run_summary(const RunSummary& s, const nlohmann::json& j, const std::string& path);
// experiment.json (format fool-experiment/1): kind (one of `kinds`), config, steps, the keys the
// kind adds (its ExperimentDocument::check) and the result keys readers use.
void validate_experiment(const nlohmann::json& j, const std::string& path, const ExperimentDocuments& kinds);
// A record of experiment.json (a finished step's result, the results, a row): each key by its name's
// kind (files inside the directory, fractions, seconds, counts, confidences, ...), for the checks of
// a kind's own keys; throws fool::Error naming `where`.key.
void check_experiment_record(const nlohmann::json& r, const std::string& where);
// The largest count a document may hold (2^53: exact as a JSON number).
constexpr std::int64_t kMaxDocumentCount = std::int64_t{1} << 53;
// transfer.json (format fool-transfer/1).
void validate_transfer(const nlohmann::json& j, const std::string& path);

// `dir`/`rel` if it is a relative path that resolves (symbolic links followed) to a file inside
// `dir`; throws fool::Error naming `what` otherwise. Readers open only files this returns.
std::string file_inside(const std::string& dir, const std::string& rel, const std::string& what);

}  // namespace fool
