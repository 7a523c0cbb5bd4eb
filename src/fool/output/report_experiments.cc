// The report's section of a transfer matrix (fool transfer's output, and the transfer experiment's
// transfer.json). Each experiment's section is in its own file (fool/experiments/*_experiment.cc).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fool/io/files.h"
#include "fool/output/document_checks.h"
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

}  // namespace fool::report_html
