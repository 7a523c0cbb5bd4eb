#pragma once
// The HTML report: one self-contained page (every image inlined, no network, no server) for a set
// of run directories, transfer outputs and experiment directories.
#include <string>
#include <vector>

#include "fool/output/experiment_file.h"

namespace fool {

// A <script> for fool's pages (the report, live.html) that, once the page has loaded, leaves on <body>
// the images that loaded and failed and the script errors (data-images-loaded, data-images-broken,
// data-errors, data-checked="yes"), for people and tests.
const char* page_self_check();

// Text made safe inside HTML elements and attribute values (& < > ").
std::string html_escape(const std::string& s);

struct ReportOptions {
  // Class labels to show instead of those the runs recorded (e.g. a model without labels, whose
  // classes are named by their number); empty: the runs' own.
  std::vector<std::string> labels;
  // The kinds of experiment directory the report reads, each with its section (the experiments
  // registry's experiment_documents(), fool/experiments/registry.h); an experiment of another kind
  // is a fool::Error naming the file.
  ExperimentDocuments experiments;
};

// Builds the page. Each directory may hold a run (summary.json), a transfer matrix (transfer.json)
// or an experiment (experiment.json); anything else is a fool::Error naming it. Two runs or more
// are also compared side by side in a table at the top.
std::string build_report(const std::vector<std::string>& dirs, const ReportOptions& options = {});

// The confidence chart of a run (inline SVG): each series (probabilities, NaN for none) over xs on
// the confidence_scale axis, labelled in percent, with the thresholds drawn as dashed lines.
struct ConfidenceSeries {
  std::string name, colour;
  std::vector<double> p;
};
std::string confidence_chart(const std::string& title, const std::string& xlabel,
                             const std::vector<ConfidenceSeries>& series, const std::vector<double>& xs,
                             const std::vector<double>& thresholds);

}  // namespace fool
