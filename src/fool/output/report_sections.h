#pragma once
// The parts the HTML report's sections are made of: report.cc builds the page, runs and
// comparisons, report_experiments.cc the section of transfer matrices, and each experiment its own
// section (its ExperimentDocument::section, in its file under fool/experiments) from these.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/output/report.h"

namespace fool::report_html {

// A file inside `dir` (and only there: a summary naming /etc/hostname must not put it in the
// page) as a data: URI of a PNG.
std::string data_uri(const std::string& dir, const std::string& rel);
std::string num(double v, int digits = 4);  // "%.*f"

// One line of a line_chart: values per x, NaN for none.
struct Series {
  std::string name, colour;
  std::vector<double> y;
};
// A line chart of series over xs (one point per entry, NaN for none), y in [y0, y1], as inline SVG.
std::string line_chart(const std::string& title, const std::string& xlabel, const std::vector<Series>& series,
                       double y0, double y1, const std::vector<double>& xs);

// A run directory's section (summary.json, its images and charts), headed at `heading_level`.
std::string run_section(const std::string& dir, const ReportOptions& options = {},
                        const std::string& heading_level = "h2");
// A transfer matrix's section (dir/transfer.json and its heatmap).
std::string transfer_section(const std::string& dir);

}  // namespace fool::report_html
