// The report's sections of transfer matrices (fool transfer) and experiment directories (fool
// experiment): one function per experiment kind, chosen by experiment_section.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fool/io/files.h"
#include "fool/output/document_checks.h"
#include "fool/output/experiment_file.h"
#include "fool/output/report_sections.h"
#include "fool/output/results.h"

namespace fool::report_html {

namespace fs = std::filesystem;

std::string transfer_section(const std::string& dir) {
  const std::string path = (fs::path(dir) / "transfer.json").string();
  const nlohmann::json j = read_json_file(path);
  validate_transfer(j, path);
  std::ostringstream h;
  h << "<section class=\"transfer\"><h2>transfer between networks <small>" << html_escape(dir) << "</small></h2>";
  h << "<p>Rows: the network the images were evolved against. Columns: the network scoring them, for the class they "
       "were evolved for.</p>";
  if (fs::exists(fs::path(dir) / "transfer.png")) {
    h << "<img class=\"heatmap\" alt=\"transfer heatmap\" src=\"" << data_uri(dir, "transfer.png") << "\">";
  }
  h << "<table class=\"classes\"><tr><th>evolved against</th><th>runs</th>";
  for (const auto& c : j["scorers"]) h << "<th>" << html_escape(c.value("model", "")) << "</th>";
  h << "</tr>";
  for (const auto& row : j["sources"]) {
    h << "<tr><td>" << html_escape(row.value("source", "")) << "</td><td>" << row.value("runs", 0) << "</td>";
    for (const auto& cell : row["scores"]) {
      h << "<td>&ge;99.99%: " << html_escape(percent(cell.value("at_9999", 0.0)))
        << "<br>&ge;99%: " << html_escape(percent(cell.value("at_99", 0.0))) << "<br>median "
        << html_escape(percent(cell.value("median_confidence", 0.0))) << "</td>";
    }
    h << "</tr>";
  }
  h << "</table></section>";
  return h.str();
}

namespace {

std::string retrain_section(const std::string& dir, const nlohmann::json& x) {
  std::ostringstream h;
  h << "<section class=\"retrain\"><h2>retraining with fooling images as an extra class <small>" << html_escape(dir)
    << "</small></h2><p>Settings: <code>" << html_escape(x["config"].dump()) << "</code></p>";
  const auto its = x.value("iterations", nlohmann::json::array());
  std::vector<double> xs, acc, caught, median, top;
  h << "<table class=\"classes\"><tr><th>network</th><th>training examples</th><th>fooling images among them</th>"
       "<th>held-out real accuracy</th><th>held-out fooling images in the extra class</th><th>median confidence of new "
       "fooling images</th><th>fraction &ge; 99.99%</th></tr>";
  for (const auto& r : its) {
    const int i = r.value("iteration", 0);
    const auto& ho = r["heldout_fooling"];
    const double frac = ho.is_null() ? NAN : ho.value("fraction_in_fooling_class", 0.0);
    xs.push_back(i);
    acc.push_back(r.value("heldout_real_accuracy", 0.0));
    caught.push_back(frac);  // NaN for DNN_1, which has no extra class: left out of the chart
    median.push_back(r.value("median_confidence", 0.0));
    top.push_back(r.value("fraction_at_9999", 0.0));
    h << "<tr><td>DNN_" << i << "</td><td>" << r.value("train_examples", 0) << "</td><td>"
      << r.value("fooling_examples_in_training", 0) << "</td><td>" << html_escape(percent(acc.back())) << "</td><td>"
      << (std::isnan(frac) ? std::string("&ndash;") : html_escape(percent(frac))) << "</td><td>"
      << html_escape(percent(median.back())) << "</td><td>" << html_escape(percent(top.back())) << "</td></tr>";
  }
  h << "</table>";
  if (!xs.empty()) {
    h << line_chart("over the iterations", "network",
                    {{"real accuracy", "#1a9850", acc},
                     {"caught fooling", "#762a83", caught},
                     {"median fooled", "#2166ac", median},
                     {"at >= 99.99%", "#b2182b", top}},
                    0.0, 1.0, xs);
  }
  h << "</section>";
  return h.str();
}

std::string transfer_experiment_section(const std::string& dir, const nlohmann::json& x) {
  std::ostringstream h;
  h << "<section class=\"experiment\"><h2>transfer experiment <small>" << html_escape(dir) << "</small></h2>";
  h << "<p>Settings: <code>" << html_escape(x["config"].dump()) << "</code></p>";
  if (x.contains("results")) {
    const auto& r = x["results"];
    h << "<table class=\"facts\"><tr><th>set-up</th><th>pairs</th><th>mean fraction &ge; 99%</th><th>mean fraction "
         "&ge; "
         "99.99%</th></tr>";
    for (const char* key : {"same_architecture", "other_architecture"}) {
      const auto& v = r[key];
      auto cell = [&](const char* k) {
        return v[k].is_null() ? std::string("&ndash;") : html_escape(percent(v[k].get<double>()));
      };
      h << "<tr><td>"
        << (std::string(key) == "same_architecture" ? "same architecture, other seed" : "other architecture")
        << "</td><td>" << v.value("pairs", 0) << "</td><td>" << cell("mean_fraction_at_99") << "</td><td>"
        << cell("mean_fraction_at_9999") << "</td></tr>";
    }
    h << "</table><table class=\"classes\"><tr><th>network</th><th>held-out accuracy</th><th>training "
         "seconds</th></tr>";
    for (const auto& n : r["networks"]) {
      h << "<tr><td>" << html_escape(n.value("model", "")) << "</td><td>"
        << html_escape(percent(n.value("test_accuracy", 0.0))) << "</td><td>" << num(n.value("seconds", 0.0), 1)
        << "</td></tr>";
    }
    h << "</table>";
  }
  if (fs::exists(fs::path(dir) / "transfer.json")) h << transfer_section(dir);
  std::vector<std::string> runs;
  if (fs::is_directory(fs::path(dir) / "runs"))
    for (const auto& e : fs::directory_iterator(fs::path(dir) / "runs"))
      if (fs::exists(e.path() / "summary.json")) runs.push_back(e.path().string());
  std::sort(runs.begin(), runs.end());
  for (const auto& r : runs)
    h << "<details><summary>" << html_escape(fs::path(r).filename().string()) << "</summary>"
      << run_section(r, {}, "h3") << "</details>";
  h << "</section>";
  return h.str();
}

}  // namespace

std::string experiment_section(const std::string& dir, const nlohmann::json& x) {
  // (x has been checked: its kind is one of the table's.)
  switch (parse_name(experiment_kinds(), x["experiment"].get<std::string>(), "experiment")) {
    case ExperimentKind::Transfer:
      return transfer_experiment_section(dir, x);
    case ExperimentKind::Retrain:
      return retrain_section(dir, x);
  }
  return {};
}

}  // namespace fool::report_html
