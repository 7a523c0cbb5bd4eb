#include "fool/output/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "fool/core/bytes.h"
#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/output/document_checks.h"
#include "fool/output/experiment_file.h"
#include "fool/output/report_sections.h"
#include "fool/output/results.h"
#include "fool/output/run_summary.h"

namespace fool {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace fs = std::filesystem;

namespace report_html {

// Only files inside the directory being reported on are embedded (a summary naming /etc/hostname,
// or a grid.png linking to it, must not put that file in the page).
std::string data_uri(const std::string& dir, const std::string& rel) {
  const auto bytes = read_file(file_inside(dir, rel, dir));
  return "data:image/png;base64," + base64_encode(bytes.data(), bytes.size());
}

std::string num(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string line_chart(const std::string& title, const std::string& xlabel, const std::vector<Series>& series,
                       double y0, double y1, const std::vector<double>& xs) {
  const int w = 640, h = 260, l = 56, r = 130, t = 28, b = 40;
  const double pw = w - l - r, ph = h - t - b;
  const double x0 = xs.empty() ? 0 : xs.front(), x1 = xs.empty() || xs.back() == xs.front() ? x0 + 1 : xs.back();
  auto X = [&](double x) { return l + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) { return t + (1.0 - (y - y0) / (y1 - y0)) * ph; };
  std::ostringstream s;
  s << "<svg class=\"chart\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h
    << "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"" << html_escape(title) << "\">";
  s << "<text x=\"" << l << "\" y=\"16\" class=\"ct\">" << html_escape(title) << "</text>";
  for (int k = 0; k <= 4; ++k) {
    const double yv = y0 + (y1 - y0) * k / 4.0;
    s << "<line x1=\"" << l << "\" x2=\"" << l + pw << "\" y1=\"" << Y(yv) << "\" y2=\"" << Y(yv)
      << "\" class=\"grid\"/>";
    s << "<text x=\"" << l - 6 << "\" y=\"" << Y(yv) + 4 << "\" text-anchor=\"end\" class=\"ax\">" << num(yv, 2)
      << "</text>";
  }
  s << "<text x=\"" << l << "\" y=\"" << h - 8 << "\" class=\"ax\">" << num(x0, 0) << "</text>";
  s << "<text x=\"" << l + pw << "\" y=\"" << h - 8 << "\" text-anchor=\"end\" class=\"ax\">" << num(x1, 0)
    << "</text>";
  s << "<text x=\"" << l + pw / 2 << "\" y=\"" << h - 8 << "\" text-anchor=\"middle\" class=\"ax\">"
    << html_escape(xlabel) << "</text>";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& se = series[k];
    s << "<polyline fill=\"none\" stroke=\"" << se.colour << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < se.y.size() && i < xs.size(); ++i)
      if (!std::isnan(se.y[i])) s << num(X(xs[i]), 1) << "," << num(Y(se.y[i]), 1) << " ";  // NaN: no data
    s << "\"/>";
    s << "<rect x=\"" << l + pw + 12 << "\" y=\"" << t + 18 * k << "\" width=\"12\" height=\"4\" fill=\"" << se.colour
      << "\"/>";
    s << "<text x=\"" << l + pw + 30 << "\" y=\"" << t + 18 * k + 6 << "\" class=\"ax\">" << html_escape(se.name)
      << "</text>";
  }
  s << "</svg>";
  return s.str();
}

}  // namespace report_html

using report_html::data_uri;
using report_html::num;
using report_html::run_section;
using report_html::transfer_section;

namespace {

// The confidence axis (on the confidence_scale) of a chart: it spans the data and at least 1% to
// 99.99% (every threshold of the paper in view), whole units, with room above the top.
std::pair<double, double> confidence_axis(const std::vector<ConfidenceSeries>& series,
                                          const std::vector<double>& thresholds) {
  double lo = confidence_scale(0.01), hi = confidence_scale(0.9999);
  for (const auto& se : series)
    for (double p : se.p)
      if (!std::isnan(p)) {
        lo = std::min(lo, confidence_scale(p));
        hi = std::max(hi, confidence_scale(p));
      }
  for (double th : thresholds) hi = std::max(hi, confidence_scale(th));
  return {std::floor(lo), std::ceil(hi + 0.25)};
}

}  // namespace

std::string confidence_chart(const std::string& title, const std::string& xlabel,
                             const std::vector<ConfidenceSeries>& series, const std::vector<double>& xs,
                             const std::vector<double>& thresholds) {
  const int w = 640, h = 300, l = 86, r = 130, t = 28, b = 40;
  const double pw = w - l - r, ph = h - t - b;
  const std::pair<double, double> axis = confidence_axis(series, thresholds);
  const double lo = axis.first, hi = axis.second;
  const double x0 = xs.empty() ? 0 : xs.front(), x1 = xs.empty() || xs.back() == xs.front() ? x0 + 1 : xs.back();
  auto X = [&](double x) { return l + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double p) { return t + (1.0 - (confidence_scale(p) - lo) / (hi - lo)) * ph; };
  std::ostringstream s;
  s << "<svg class=\"chart\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h
    << "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"" << html_escape(title) << "\">";
  s << "<text x=\"" << l << "\" y=\"16\" class=\"ct\">" << html_escape(title)
    << " <tspan class=\"ax\">(log-odds scale)</tspan></text>";
  // Ticks at 50% and at 10^-k and 1 - 10^-k, as many as fit (at most one per scale unit).
  std::vector<double> ticks = {0.5};
  for (int k = 1; k <= 12; ++k) {
    ticks.push_back(std::pow(10.0, -k));
    ticks.push_back(1.0 - std::pow(10.0, -k));
  }
  const double step = std::max(1.0, std::ceil((hi - lo) / 10.0));
  for (double p : ticks) {
    const double v = confidence_scale(p);
    if (v < lo - 1e-9 || v > hi + 1e-9) continue;
    if (p != 0.5 && std::fmod(std::round(std::fabs(v)), step) != 0.0) continue;
    s << "<line x1=\"" << l << "\" x2=\"" << l + pw << "\" y1=\"" << num(Y(p), 1) << "\" y2=\"" << num(Y(p), 1)
      << "\" class=\"grid\"/><text x=\"" << l - 6 << "\" y=\"" << num(Y(p) + 4, 1)
      << "\" text-anchor=\"end\" class=\"ax\">" << html_escape(percent(p)) << "</text>";
  }
  for (double th : thresholds) {
    s << "<line x1=\"" << l << "\" x2=\"" << l + pw << "\" y1=\"" << num(Y(th), 1) << "\" y2=\"" << num(Y(th), 1)
      << "\" class=\"threshold\"/><text x=\"" << l + pw + 4 << "\" y=\"" << num(Y(th) + 4, 1) << "\" class=\"ax\">&ge; "
      << html_escape(percent(th)) << "</text>";
  }
  s << "<text x=\"" << l << "\" y=\"" << h - 8 << "\" class=\"ax\">" << num(x0, 0) << "</text>";
  s << "<text x=\"" << l + pw << "\" y=\"" << h - 8 << "\" text-anchor=\"end\" class=\"ax\">" << num(x1, 0)
    << "</text>";
  s << "<text x=\"" << l + pw / 2 << "\" y=\"" << h - 8 << "\" text-anchor=\"middle\" class=\"ax\">"
    << html_escape(xlabel) << "</text>";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& se = series[k];
    s << "<polyline fill=\"none\" stroke=\"" << se.colour << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < se.p.size() && i < xs.size(); ++i)
      if (!std::isnan(se.p[i])) s << num(X(xs[i]), 1) << "," << num(Y(se.p[i]), 1) << " ";
    s << "\"/>";
    const int ly = t + 40 + 18 * static_cast<int>(k);
    s << "<rect x=\"" << l + pw + 60 << "\" y=\"" << ly << "\" width=\"12\" height=\"4\" fill=\"" << se.colour
      << "\"/><text x=\"" << l + pw + 78 << "\" y=\"" << ly + 6 << "\" class=\"ax\">" << html_escape(se.name)
      << "</text>";
  }
  s << "</svg>";
  return s.str();
}

namespace {

// Reading fool analyze's files for the page: a key that is missing or holds another type than
// the page shows (a damaged or hand-edited file) shows the default instead, never reads out of
// bounds or throws.
nlohmann::json get_or(const nlohmann::json& j, const char* key, const nlohmann::json& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  if (it == j.end() || it->type() != fallback.type()) return fallback;
  return *it;
}
double get_or(const nlohmann::json& j, const char* key, double fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_number() && std::isfinite(it->get<double>()) ? it->get<double>() : fallback;
}
long long get_or(const nlohmann::json& j, const char* key, int fallback) {
  const double v = get_or(j, key, static_cast<double>(fallback));
  return v >= -9e15 && v <= 9e15 ? static_cast<long long>(v) : fallback;
}
bool get_or(const nlohmann::json& j, const char* key, bool fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}
std::string get_or(const nlohmann::json& j, const char* key, const char* fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

// fool analyze repetition's table (analysis/repetition.json): per class the period, the copies,
// the confidence with all, half and one copy, and the one-copy image.
std::string repetition_table(const std::string& dir, const fs::path& rep) {
  std::ostringstream h;
  const nlohmann::json j = read_json_file(rep.string());
  const nlohmann::json m = get_or(j, "repeating_median", nlohmann::json::object());
  h << "<details open><summary>repetition (fool analyze repetition)</summary><p>" << get_or(j, "repeating", 0) << " of "
    << get_or(j, "images", 0) << " champions repeat a motif; over those, median confidence with all copies "
    << html_escape(percent(get_or(m, "all_copies", 0.0))) << ", with half "
    << html_escape(percent(get_or(m, "half_copies", 0.0))) << ", with one "
    << html_escape(percent(get_or(m, "one_copy", 0.0))) << ".</p><table class=\"classes\"><tr><th>class</th>"
    << "<th>period (dy, dx)</th><th>copies</th><th>all copies</th><th>half</th><th>one copy</th><th>one copy "
       "left</th></tr>";
  for (const auto& c : get_or(j, "classes", nlohmann::json::array())) {
    const nlohmann::json p = get_or(c, "period", nlohmann::json::object());
    h << "<tr><td>" << get_or(c, "class", 0) << "</td><td>";
    if (get_or(c, "repeats", false)) {
      h << get_or(p, "dy", 0) << ", " << get_or(p, "dx", 0);
    } else {
      h << "no repetition";
    }
    h << "</td><td>" << get_or(c, "copies", 1) << "</td><td>"
      << html_escape(percent(get_or(c, "confidence_all_copies", 0.0))) << "</td><td>"
      << html_escape(percent(get_or(c, "confidence_half_copies", 0.0))) << "</td><td>"
      << html_escape(percent(get_or(c, "confidence_one_copy", 0.0))) << "</td><td>";
    const nlohmann::json img = get_or(c, "one_copy_image", "");
    if (!img.get<std::string>().empty() && fs::exists(fs::path(dir) / img.get<std::string>())) {
      h << "<img class=\"thumb\" alt=\"class " << get_or(c, "class", 0) << " with one copy\" src=\""
        << data_uri(dir, img.get<std::string>()) << "\">";
    }
    h << "</td></tr>";
  }
  h << "</table></details>";
  return h.str();
}

// fool analyze occlusion's table (analysis/occlusion.json): per class the image, its occlusion
// map, the drops, and the confidence with shares of the tiles filled.
std::string occlusion_table(const std::string& dir, const fs::path& occ) {
  std::ostringstream h;
  const nlohmann::json j = read_json_file(occ.string());
  const nlohmann::json cfg = get_or(j, "config", nlohmann::json::object());
  h << "<details open><summary>occlusion (fool analyze occlusion)</summary><p>Patch " << get_or(cfg, "patch", 0)
    << " px, stride " << get_or(cfg, "stride", 0) << " px; red: the confidence drops when the patch covers the region, "
    << "blue: it rises. Median confidence " << html_escape(percent(get_or(j, "median_confidence", 0.0)));
  for (const auto& f : get_or(j, "filled", nlohmann::json::array()))
    h << "; with " << html_escape(percent(get_or(f, "fraction", 0.0))) << " of the tiles filled "
      << html_escape(percent(get_or(f, "median_confidence", 0.0)));
  h << ".</p><table class=\"classes\"><tr><th>class</th><th>image</th><th>occlusion map</th><th>confidence</th>"
    << "<th>largest drop</th><th>mean drop</th>";
  for (const auto& f : get_or(j, "filled", nlohmann::json::array()))
    h << "<th>" << html_escape(percent(get_or(f, "fraction", 0.0))) << " filled</th>";
  h << "</tr>";
  for (const auto& c : get_or(j, "classes", nlohmann::json::array())) {
    const fs::path img = fs::path(dir) / get_or(c, "image", "");
    const fs::path map = fs::path(dir) / get_or(c, "heatmap", "");
    h << "<tr><td>" << get_or(c, "class", 0) << "</td><td>";
    if (fs::is_regular_file(img))
      h << "<img class=\"thumb\" alt=\"class image\" src=\"" << data_uri(dir, get_or(c, "image", "")) << "\">";
    h << "</td><td>";
    if (fs::is_regular_file(map))
      h << "<img class=\"thumb\" alt=\"occlusion map\" src=\"" << data_uri(dir, get_or(c, "heatmap", "")) << "\">";
    h << "</td><td>" << html_escape(percent(get_or(c, "confidence", 0.0))) << "</td><td>"
      << num(get_or(c, "max_drop", 0.0)) << "</td><td>" << num(get_or(c, "mean_drop", 0.0)) << "</td>";
    for (const auto& f : get_or(c, "filled", nlohmann::json::array()))
      h << "<td>" << html_escape(percent(get_or(f, "median_confidence", 0.0))) << "</td>";
    h << "</tr>";
  }
  h << "</table></details>";
  return h.str();
}

// The outputs of fool analyze in a run directory (analysis/*.json), if any: a table per analysis and
// the occlusion heat maps beside their images.
std::string analysis_section(const std::string& dir) {
  const fs::path rep = fs::path(dir) / "analysis" / "repetition.json";
  const fs::path occ = fs::path(dir) / "analysis" / "occlusion.json";
  std::string h;
  if (fs::exists(rep)) h += repetition_table(dir, rep);
  if (fs::exists(occ)) h += occlusion_table(dir, occ);
  return h;
}

// The label to show for class k: --labels' if given, else the run's, unless that only repeats the
// number (a model without labels).
std::string label_of(int k, const std::string& recorded, const ReportOptions& o) {
  if (k >= 0 && static_cast<std::size_t>(k) < o.labels.size()) return o.labels[static_cast<std::size_t>(k)];
  return recorded == std::to_string(k) ? std::string() : recorded;
}

std::string short_hash(const std::string& sha) { return sha.size() > 12 ? sha.substr(0, 12) : sha; }

// The run's champion confidence (evolve) or target probability (ascend) over its log.jsonl, as a
// chart ("" without a usable log).
std::string run_confidence_chart(const std::string& dir, const RunRecord& r, const std::string& unit) {
  // Read through fool's reader: a FIFO or device in its place is an error, not a hang.
  std::error_code ec;
  std::istringstream log(fs::exists(fs::path(dir) / "log.jsonl", ec)
                             ? read_text_file((fs::path(dir) / "log.jsonl").string(), kMaxJsonBytes)
                             : std::string());
  std::vector<double> xs, mn, md, mx;
  for (std::string line; std::getline(log, line);) {
    const auto j = parse_json_or_discarded(line);
    // A damaged log line is left out of the chart rather than failing the page.
    auto number = [&j](const std::string& key, double& out) {
      if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return false;
      out = j[key].get<double>();
      return std::isfinite(out);
    };
    double x = 0, lo = 0, mid = 0, hi = 0;
    if (!number(unit, x) || !number("min", lo) || !number("median", mid) || !number("max", hi)) continue;
    xs.push_back(x);
    mn.push_back(lo);
    md.push_back(mid);
    mx.push_back(hi);
  }
  if (!xs.empty()) {
    const bool evolve = r.progress_unit == ProgressUnit::Generation;
    return confidence_chart(
        evolve ? "champion confidence per generation" : "target probability of the current images per step", unit,
        {{"max", "#b2182b", mx}, {"median", "#2166ac", md}, {"min", "#999999", mn}}, xs, r.thresholds);
  }
  return "";
}

}  // namespace

std::string report_html::run_section(const std::string& dir, const ReportOptions& options,
                                     const std::string& heading_level) {
  const RunSummary s = read_summary(dir);
  const RunRecord& r = s.record;
  const std::string unit = progress_unit_name(r.progress_unit);
  std::ostringstream h;
  h << "<section class=\"run\"><" << heading_level << ">" << html_escape(r.command) << " · " << html_escape(r.method)
    << " · " << html_escape(fs::path(r.model).filename().string()) << " · seed " << r.seed << " <small>"
    << html_escape(dir) << "</small></" << heading_level << ">";
  h << "<p><code>" << html_escape(r.command_line) << "</code></p>";
  h << "<table class=\"facts\"><tr><th>" << html_escape(unit) << "s</th><th>evaluations</th><th>seconds</th><th>median "
    << "confidence</th>";
  for (double t : r.thresholds) h << "<th>classes &ge; " << html_escape(percent(t)) << "</th>";
  h << "<th>complete</th></tr><tr><td>" << r.progress << "</td><td>" << r.evaluations << "</td><td>"
    << num(r.seconds, 2) << "</td><td>" << html_escape(percent(s.median_confidence)) << "</td>";
  const std::size_t total = s.classes.size();
  for (std::size_t n : s.classes_at_or_above) h << "<td>" << n << " / " << total << "</td>";
  const bool stalled = r.extra.is_object() && r.extra.contains("stalled") && r.extra["stalled"].is_array() &&
                       !r.extra["stalled"].empty();
  h << "<td>" << (r.complete ? "yes" : stalled ? "no (classes stalled)" : "no (interrupted)") << "</td></tr></table>";
  // How the run fed its model (runs of fool before 2026-12 did not record it).
  h << "<p class=\"model-input\">backend " << html_escape(r.backend) << " · model sha256 <code title=\""
    << html_escape(r.model_sha256) << "\">" << html_escape(short_hash(r.model_sha256)) << "</code> · seed " << r.seed
    << " · model input: " << (r.model_input ? html_escape(r.model_input->describe()) : std::string("not recorded"))
    << "</p>";
  if (fs::exists(fs::path(dir) / "grid.png")) {
    h << "<img class=\"grid\" alt=\"champions of every class\" src=\"" << data_uri(dir, "grid.png") << "\">";
  }
  h << run_confidence_chart(dir, r, unit);
  h << analysis_section(dir);
  h << "<details open><summary>classes</summary><table class=\"classes\"><tr><th>class</th><th>label</th>"
       "<th>image</th><th>confidence</th><th>top class</th>";
  for (double t : r.thresholds)
    h << "<th>first " << html_escape(unit) << " &ge; " << html_escape(percent(t)) << "</th>";
  h << "</tr>";
  for (const auto& c : s.classes) {
    const std::string top_label =
        label_of(c.top_class, c.top_class == c.index ? c.label : std::to_string(c.top_class), options);
    h << "<tr><td>" << c.index << "</td><td>" << html_escape(label_of(c.index, c.label, options))
      << "</td><td><img class=\"thumb\" alt=\"class " << c.index << "\" src=\"" << data_uri(dir, c.image)
      << "\"></td><td class=\"confidence\">" << html_escape(percent(c.confidence)) << "</td><td>" << c.top_class
      << (top_label.empty() ? std::string() : " " + html_escape(top_label)) << "</td>";
    for (const auto& v : c.first_reached) h << "<td>" << (v ? std::to_string(*v) : std::string("&ndash;")) << "</td>";
    h << "</tr>";
  }
  h << "</table></details></section>";
  return h.str();
}

namespace {

// "&ge; 99.00%: 12<br>&ge; 99.99%: &ndash;": the first generation (or step) at each threshold.
std::string first_reached_cell(const std::vector<double>& thresholds, const std::vector<std::optional<int>>& first) {
  std::string out;
  for (std::size_t t = 0; t < thresholds.size() && t < first.size(); ++t)
    out += "&ge; " + html_escape(percent(thresholds[t])) + ": " + (first[t] ? std::to_string(*first[t]) : "&ndash;") +
           "<br>";
  return out;
}

// When each class of each run first reached each threshold, runs side by side: a first row for all
// classes (the generation by which every class had, or how many did) and one row per class.
// A run's classes at each threshold: "&ge; 99.00%: all by 12<br>" when every class reached it, else
// "&ge; 99.00%: 3/10<br>".
std::string all_classes_cell(const RunSummary& s) {
  std::ostringstream h;
  for (std::size_t t = 0; t < s.record.thresholds.size(); ++t) {
    std::size_t n = 0;
    int last = -1;
    for (const auto& c : s.classes) {
      if (t < c.first_reached.size() && c.first_reached[t]) {
        ++n;
        last = std::max(last, *c.first_reached[t]);
      }
    }
    h << "&ge; " << html_escape(percent(s.record.thresholds[t])) << ": ";
    if (n == s.classes.size() && n > 0)
      h << "all by " << last;
    else
      h << n << "/" << s.classes.size();
    h << "<br>";
  }
  return h.str();
}

std::string first_reached_comparison(const std::vector<RunSummary>& summaries, const std::vector<std::string>& runs) {
  std::map<int, std::string> labels;  // every class of any run, in index order
  for (const auto& s : summaries)
    for (const auto& c : s.classes) labels.emplace(c.index, c.label);
  if (labels.empty()) return "";
  std::ostringstream h;
  h << "<table class=\"classes compare first-reached\"><caption>first generation (or step) at each threshold, per "
       "class</caption><tr><th>class</th><th>label</th>";
  for (const auto& dir : runs)
    h << "<th title=\"" << html_escape(dir) << "\">" << html_escape(fs::path(dir).filename().string()) << "</th>";
  h << "</tr><tr><td>all</td><td></td>";
  for (const auto& s : summaries) h << "<td>" << all_classes_cell(s) << "</td>";
  h << "</tr>";
  for (const auto& [index, label] : labels) {
    h << "<tr><td>" << index << "</td><td>" << (label == std::to_string(index) ? std::string() : html_escape(label))
      << "</td>";
    for (const auto& s : summaries) {
      const int k = index;  // (a lambda may not capture a structured binding in C++17)
      const auto it =
          std::find_if(s.classes.begin(), s.classes.end(), [k](const ClassSummary& c) { return c.index == k; });
      h << "<td>"
        << (it == s.classes.end() ? std::string("not a target")
                                  : first_reached_cell(s.record.thresholds, it->first_reached))
        << "</td>";
    }
    h << "</tr>";
  }
  h << "</table>";
  return h.str();
}

// Runs side by side: one row per run directory, what it ran and how far it got.
std::string comparison_section(const std::vector<std::string>& runs) {
  std::ostringstream h;
  h << "<section class=\"compare\"><h2>runs side by side</h2><table class=\"classes compare\"><tr><th>run</th>"
       "<th>grid</th><th>method</th><th>model</th><th>backend</th><th>model input</th><th>seed</th><th>progress</th>"
       "<th>evaluations</th><th>seconds</th><th>median confidence</th><th>classes at thresholds</th></tr>";
  std::vector<RunSummary> summaries;
  for (const auto& dir : runs) {
    summaries.push_back(read_summary(dir));
    const RunSummary& s = summaries.back();
    const RunRecord& r = s.record;
    h << "<tr><td title=\"" << html_escape(dir) << "\">" << html_escape(fs::path(dir).filename().string())
      << "</td><td>";
    if (fs::exists(fs::path(dir) / "grid.png"))
      h << "<img class=\"cmpgrid\" alt=\"grid of " << html_escape(dir) << "\" src=\"" << data_uri(dir, "grid.png")
        << "\">";
    h << "</td><td>" << html_escape(r.command) << " · " << html_escape(r.method) << "</td><td>"
      << html_escape(fs::path(r.model).filename().string()) << "<br><code>" << html_escape(short_hash(r.model_sha256))
      << "</code></td><td>" << html_escape(r.backend) << "</td><td>"
      << "<small>" << (r.model_input ? html_escape(r.model_input->describe()) : std::string("not recorded"))
      << "</small></td><td>" << r.seed << "</td><td>" << r.progress << " "
      << html_escape(progress_unit_name(r.progress_unit)) << "s" << (r.complete ? "" : " (incomplete)") << "</td><td>"
      << r.evaluations << "</td><td>" << num(r.seconds, 1) << "</td><td>" << html_escape(percent(s.median_confidence))
      << "</td><td>";
    for (std::size_t t = 0; t < r.thresholds.size() && t < s.classes_at_or_above.size(); ++t)
      h << "&ge; " << html_escape(percent(r.thresholds[t])) << ": " << s.classes_at_or_above[t] << "/"
        << s.classes.size() << "<br>";
    h << "</td></tr>";
  }
  h << "</table>" << first_reached_comparison(summaries, runs) << "</section>";
  return h.str();
}

const char* kStyle = R"(
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 2em; }
small { color: #777; font-weight: normal; } code { background: #f4f4f4; padding: 2px 4px; word-break: break-all; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; font-size: 0.9em; text-align: left; }
img.grid, img.heatmap { max-width: 100%; display: block; margin: 8px 0; }
img.thumb { width: 56px; height: 56px; image-rendering: pixelated; }
svg.chart { display: block; margin: 8px 0; } .grid { stroke: #eee; } .ax { font-size: 11px; fill: #555; } .ct { font-size: 13px; }
.threshold { stroke: #d95f02; stroke-dasharray: 5 4; } img.cmpgrid { max-width: 170px; display: block; }
table.compare td { max-width: 180px; overflow-wrap: break-word; vertical-align: top; }
td.confidence { font-variant-numeric: tabular-nums; text-align: right; }
caption { text-align: left; padding: 4px 0; color: #555; }
)";

// Counts, once the page has loaded, the images that failed and the script errors, and leaves the
// numbers on <body> (data-images-loaded, data-images-broken, data-errors) for people and tests.
const char* kSelfCheck = R"(<script>
(function () {
  var errors = 0;
  window.addEventListener('error', function () { errors++; }, true);
  var original = console.error;
  console.error = function () { errors++; original.apply(console, arguments); };
  window.addEventListener('load', function () {
    var ok = 0, broken = 0;
    for (var i = 0; i < document.images.length; i++) {
      var im = document.images[i];
      if (im.complete && im.naturalWidth > 0) ok++; else broken++;
    }
    document.body.setAttribute('data-images-loaded', ok);
    document.body.setAttribute('data-images-broken', broken);
    document.body.setAttribute('data-errors', errors);
    document.body.setAttribute('data-checked', 'yes');
  });
})();
</script>)";

}  // namespace

const char* page_self_check() { return kSelfCheck; }

std::string build_report(const std::vector<std::string>& dirs, const ReportOptions& options) {
  if (dirs.empty()) throw Error("no directories to report on");
  std::ostringstream body;
  std::vector<std::string> runs;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": no such directory");
    if (fs::exists(fs::path(dir) / "experiment.json")) {
      const nlohmann::json x = read_experiment(dir, options.experiments);
      const ExperimentDocument* kind = find_experiment_kind(options.experiments, x["experiment"].get<std::string>());
      if (kind->section != nullptr) body << kind->section(dir, x);
    } else if (fs::exists(fs::path(dir) / "summary.json")) {
      body << run_section(dir, options);
      runs.push_back(dir);
    } else if (fs::exists(fs::path(dir) / "transfer.json")) {
      body << transfer_section(dir);
    } else {
      throw Error(dir +
                  ": holds no run (summary.json), transfer matrix (transfer.json) or experiment (experiment.json)");
    }
  }
  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fool report</title>"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>" << kStyle << "</style>"
       << kSelfCheck << "</head><body><h1>fool report</h1><p>Fooling images and the experiments around them. "
       << "Confidences are those of the saved 8-bit PNGs. Whether an image is recognisable is for you to judge.</p>"
       << (runs.size() >= 2 ? comparison_section(runs) : std::string()) << body.str() << "</body></html>\n";
  return page.str();
}

}  // namespace fool
