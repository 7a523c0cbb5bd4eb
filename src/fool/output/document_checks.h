#pragma once
// Complete validation of the documents fool reads back from disk (summary.json, experiment.json,
// transfer.json): every key a reader uses is present with its type and range, and every file they
// name stays inside their directory. Errors are one line naming the file and the key, so readers
// can use the documents without meeting nlohmann's exception text.
#include <nlohmann/json.hpp>
#include <string>

namespace fool {

struct RunSummary;

// The ranges RunSummary::from_json's type checks leave open: confidences in [0, 1], thresholds in
// (0, 1], class indices unique and non-negative, first crossings
// non-negative, image and genome paths relative and inside the run directory.
// `j` is the document `s` was read from (for what the typed form cannot show, e.g. a negative seed).
void check_run_summary(const RunSummary& s, const nlohmann::json& j, const std::string& path);
// experiment.json (format fool-experiment/1): kind, config, steps and the result keys readers use.
void validate_experiment(const nlohmann::json& j, const std::string& path);
// transfer.json (format fool-transfer/1).
void validate_transfer(const nlohmann::json& j, const std::string& path);

// `dir`/`rel` if it is a relative path that resolves (symbolic links followed) to a file inside
// `dir`; throws fool::Error naming `what` otherwise. Readers open only files this returns.
std::string file_inside(const std::string& dir, const std::string& rel, const std::string& what);

}  // namespace fool
