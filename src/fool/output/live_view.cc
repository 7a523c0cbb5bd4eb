#include "fool/output/live_view.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/output/report.h"
#include "fool/output/results.h"

namespace fool {

namespace fs = std::filesystem;

namespace {

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[48];
  const long t = static_cast<long>(s);
  if (t < 60) {
    std::snprintf(buf, sizeof buf, "%lds", t);
  } else if (t < 3600) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  }
  return buf;
}

const char* kLiveStyle =
    "body{font-family:system-ui,sans-serif;margin:16px;color:#222}h1{font-size:1.2em}"
    ".status{font-size:.95em}img.grid{max-width:100%;display:block;margin:8px 0;border:1px solid #ddd}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;font-size:.85em;text-align:left}"
    "img.thumb{width:48px;height:48px;image-rendering:pixelated}";

// Atomic but not synced: the live files are rewritten every few seconds (see write_file_replace).
void replace_file(const std::string& root, const std::string& path, const std::string& text) {
  check_no_link_leaving(root, path);
  write_file_replace(path, text.data(), text.size());
}
void replace_png(const std::string& root, const std::string& path, const Image8& image) {
  check_no_link_leaving(root, path);
  const auto bytes = encode_png(image);
  write_file_replace(path, bytes.data(), bytes.size());
}

}  // namespace

std::string live_page(const LiveStatus& status, const std::vector<LivePageRow>& rows, int refresh_seconds,
                      std::size_t version, bool finished) {
  const std::string v = finished ? "" : "?v=" + std::to_string(version);
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fool live: "
    << html_escape(status.title) << "</title>";
  if (refresh_seconds > 0 && !finished) h << "<meta http-equiv=\"refresh\" content=\"" << refresh_seconds << "\">";
  h << "<style>" << kLiveStyle << "</style>" << page_self_check() << "</head><body data-finished=\""
    << (finished ? "yes" : "no") << "\" data-version=\"" << version << "\" data-classes=\"" << rows.size() << "\"><h1>"
    << html_escape(status.title) << "</h1><p class=\"status\">" << (finished ? "finished: " : "running: ")
    << html_escape(status.progress);
  if (!finished) {
    h << " · " << status.evaluations << " evaluations · " << duration(status.seconds);
    if (refresh_seconds > 0) h << " · this page reloads every " << refresh_seconds << " s";
  }
  for (double t : status.thresholds) {
    std::size_t n = 0;
    for (const auto& r : rows) n += r.confidence >= t ? 1 : 0;
    h << " · &ge; " << html_escape(percent(t)) << ": " << n << "/" << rows.size();
  }
  h << "</p>";
  if (!rows.empty()) h << "<img class=\"grid\" alt=\"current champions\" src=\"grid.png" << v << "\">";
  h << "<table><tr><th>class</th><th>label</th><th>image</th><th>confidence</th></tr>";
  for (const auto& r : rows) {
    // A label that only repeats the number (a model without labels) is left out.
    h << "<tr><td>" << r.index << "</td><td>"
      << (r.label == std::to_string(r.index) ? std::string() : html_escape(r.label))
      << "</td><td><img class=\"thumb\" alt=\"class " << r.index << "\" src=\"" << html_escape(r.image) << v
      << "\"></td><td>" << html_escape(percent(r.confidence)) << "</td></tr>";
  }
  h << "</table></body></html>\n";
  return h.str();
}

LiveView::LiveView(std::string dir, double every_seconds)
    : dir_(std::move(dir)), every_(every_seconds), last_(std::chrono::steady_clock::now()) {}

bool LiveView::due() const {
  return every_ > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count() >= every_;
}

namespace {
// Adds the time from its making to its end to `total`.
struct Stopwatch {
  double& total;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~Stopwatch() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};
}  // namespace

void LiveView::write(const std::vector<LiveChampion>& champions, const LiveStatus& status) {
  const Stopwatch watch{seconds_};
  last_ = watch.start;
  if (champions.empty()) return;
  create_directories_inside(dir_, (fs::path(dir_) / "images").string());
  std::vector<Image8> images;
  std::vector<std::string> captions;
  std::vector<LivePageRow> rows;
  std::vector<std::pair<int, long long>> grid_of;
  for (const auto& c : champions) {
    grid_of.emplace_back(c.index, c.version);
    auto it = tiles_.find(c.index);
    const std::string rel = "images/class_" + std::to_string(c.index) + ".png";
    if (it == tiles_.end() || it->second.version != c.version) {
      Tile t{c.version, c.render()};
      replace_png(dir_, (fs::path(dir_) / rel).string(), t.image);
      it = tiles_.insert_or_assign(c.index, std::move(t)).first;
    }
    images.push_back(it->second.image);
    captions.push_back(c.label + "\n" + percent(c.confidence));
    rows.push_back({c.index, c.label, rel, c.confidence});
  }
  if (grid_of != grid_of_) {
    replace_png(dir_, (fs::path(dir_) / "grid.png").string(), make_grid(images, captions));
    grid_of_ = std::move(grid_of);
  }
  ++writes_;
  const int refresh = static_cast<int>(std::clamp(std::ceil(every_), 2.0, 600.0));
  replace_file(dir_, (fs::path(dir_) / kLivePage).string(), live_page(status, rows, refresh, writes_, false));
}

void LiveView::finish(const RunSummary& summary) {
  const Stopwatch watch{seconds_};
  const RunRecord& r = summary.record;
  LiveStatus status;
  status.title = r.command + " · " + r.method + " · " + fs::path(r.model).filename().string();
  status.progress = std::string(r.complete ? "complete" : "stopped") + " after " + std::to_string(r.progress) + " " +
                    progress_unit_name(r.progress_unit) + "s; see summary.json, and fool report for the full page";
  status.thresholds = r.thresholds;
  std::vector<LivePageRow> rows;
  for (const auto& c : summary.classes) rows.push_back({c.index, c.label, c.image, c.confidence});
  replace_file(dir_, (fs::path(dir_) / kLivePage).string(), live_page(status, rows, 0, 0, true));
}

}  // namespace fool
