#include "fool/output/results.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/core/stats.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/io/opencv_image.h"
#include "fool/model/cropping_classifier.h"

namespace fool {

namespace fs = std::filesystem;

std::string percent(double p) {
  if (std::isnan(p)) return "nan";
  if (p <= 0.0) return "0%";
  if (p >= 1.0) return "100%";
  char buf[48];
  // Near 0: scientific, so that 1.8e-16 is never "0.00%".
  if (p < 1e-4) {
    std::snprintf(buf, sizeof buf, "%.1e%%", p * 100.0);
    return buf;
  }
  // Enough decimals for two significant digits of the distance to 100% (at least 2, at most 10):
  // 99.99%, 99.9999%, 99.999998%. Rounded down, so that 99.995% never shows as 100.00% (the
  // tolerance keeps 0.17, stored as 0.16999..., at 17.00%).
  const double gap = 100.0 * (1.0 - p);
  const int digits = std::clamp(static_cast<int>(std::ceil(-std::log10(gap))) + 1, 2, 10);
  const double scale = std::pow(10.0, digits);
  double v = std::floor(p * 100.0 * scale + 1e-6) / scale;
  if (v >= 100.0) v = 100.0 - 1.0 / scale;  // below 1: never "100"
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  std::string out = buf;
  // Trailing zeros beyond the second decimal say nothing.
  const std::size_t dot = out.find('.');
  while (out.size() > dot + 3 && out.back() == '0') out.pop_back();
  return out + "%";
}

double confidence_scale(double p) {
  constexpr double kLimit = 1e-12;  // past 99.9999999999% (and below 1e-12) the chart is flat
  const double q = std::clamp(p, kLimit, 1.0 - kLimit);
  return std::log10(q / (1.0 - q));
}

Image8 make_grid(const std::vector<Image8>& images, const std::vector<std::string>& captions) {
  if (images.empty()) throw Error("nothing to put in a grid");
  const std::size_t n = images.size();
  const int cols = n <= 10 ? static_cast<int>(n) : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n) * 1.6)));
  const int rows = static_cast<int>((n + static_cast<std::size_t>(cols) - 1) / static_cast<std::size_t>(cols));
  const int tile = n <= 100 ? 112 : 64;
  const int caption_h = n <= 100 ? 34 : 22;
  const double font = n <= 100 ? 0.42 : 0.3;
  const int pad = 6;
  cv::Mat canvas(rows * (tile + caption_h + pad) + pad, cols * (tile + pad) + pad, CV_8UC3, cv::Scalar(255, 255, 255));
  for (std::size_t i = 0; i < n; ++i) {
    const Image8 rgb = convert_channels(images[i], 3);
    const auto& s = rgb.shape;
    const cv::Mat tile_src = mat_from_image(rgb);
    cv::Mat scaled;
    cv::resize(tile_src, scaled, cv::Size(tile, tile), 0, 0, s.height < tile ? cv::INTER_NEAREST : cv::INTER_AREA);
    const int r = static_cast<int>(i) / cols, c = static_cast<int>(i) % cols;
    const int x0 = pad + c * (tile + pad), y0 = pad + r * (tile + caption_h + pad);
    scaled.copyTo(canvas(cv::Rect(x0, y0, tile, tile)));
    cv::rectangle(canvas, cv::Rect(x0 - 1, y0 - 1, tile + 2, tile + 2), cv::Scalar(160, 160, 160), 1);
    // Caption: up to two lines, split at the first newline.
    const std::string& text = i < captions.size() ? captions[i] : std::string();
    const auto nl = text.find('\n');
    const std::string lines[2] = {text.substr(0, nl), nl == std::string::npos ? "" : text.substr(nl + 1)};
    for (int l = 0; l < 2; ++l) {
      std::string t = lines[l];
      while (t.size() > 3 && cv::getTextSize(t, cv::FONT_HERSHEY_SIMPLEX, font, 1, nullptr).width > tile) t.pop_back();
      cv::putText(canvas, t, cv::Point(x0, y0 + tile + 13 + l * (caption_h / 2)), cv::FONT_HERSHEY_SIMPLEX, font,
                  cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
  }
  return image_from_mat(canvas);
}

RunSummary write_results(const std::string& dir, const RunRecord& record, const std::vector<ClassResult>& classes,
                         Classifier& classifier, const RunEvents& events, const std::string& task) {
  // images/ and genomes/ are plain folders of the run (never a link leading out of it).
  create_directories_inside(dir, (fs::path(dir) / "images").string());
  bool any_genome = false;
  for (const auto& c : classes) any_genome |= !c.genome.is_null();
  if (any_genome) create_directories_inside(dir, (fs::path(dir) / "genomes").string());

  // Save every image, then read the files back and score them: the reported confidence is the file's.
  RunSummary summary;
  summary.record = record;
  ImageBatch saved(classes.size(), classifier.spec().input);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    ClassSummary s;
    s.index = classes[i].index;
    s.label = classes[i].label;
    s.search_confidence = classes[i].search_confidence;
    s.image = "images/class_" + std::to_string(s.index) + ".png";
    write_png((fs::path(dir) / s.image).string(), classes[i].image);
    saved.set(i, read_image((fs::path(dir) / s.image).string()));
    if (!classes[i].genome.is_null()) {
      s.genome = "genomes/class_" + std::to_string(s.index) + ".json";
      write_file_atomic((fs::path(dir) / s.genome).string(), classes[i].genome.dump() + "\n");
    }
    for (std::size_t t = 0; t < record.thresholds.size(); ++t) {
      const int first = t < classes[i].first_reached.size() ? classes[i].first_reached[t] : -1;
      s.first_reached.push_back(first < 0 ? std::nullopt : std::optional<int>(first));
    }
    s.extra = classes[i].extra;
    summary.classes.push_back(std::move(s));
  }
  // In chunks of 64, each told to `events` (1000 ImageNet classes with 10 crops take minutes).
  constexpr std::size_t kChunk = 64;
  Matrix rescored;
  ProgressEvent e;
  e.task = task;
  e.phase = "re-score";
  e.phase_total = saved.size();
  events.progress(e);
  for (std::size_t b = 0; b < saved.size(); b += kChunk) {
    const std::size_t end = std::min(saved.size(), b + kChunk);
    rescored.append_rows(classifier.probabilities(saved.slice(b, end)));
    e.phase_done = end;
    events.progress(e);
  }

  std::vector<double> conf;
  std::vector<Image8> tiles;
  std::vector<std::string> captions;
  summary.classes_at_or_above.assign(record.thresholds.size(), 0);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    ClassSummary& s = summary.classes[i];
    s.confidence = rescored(i, static_cast<std::size_t>(s.index));
    s.top_class = top_k(rescored.row(i), rescored.cols(), 1)[0];
    conf.push_back(s.confidence);
    for (std::size_t t = 0; t < record.thresholds.size(); ++t) {
      if (s.confidence >= record.thresholds[t]) ++summary.classes_at_or_above[t];
      // Quantisation to 8 bits can drop an image below a threshold the search reached: say so.
      if (s.search_confidence >= record.thresholds[t] && s.confidence < record.thresholds[t]) {
        s.lost_in_quantisation.push_back(record.thresholds[t]);
      }
    }
    tiles.push_back(classes[i].image);
    captions.push_back(s.label + "\n" + percent(s.confidence));
  }
  write_png((fs::path(dir) / "grid.png").string(), make_grid(tiles, captions));
  summary.median_confidence = median(conf);
  write_file_atomic((fs::path(dir) / "summary.json").string(), summary.to_json().dump(2) + "\n");
  return summary;
}

}  // namespace fool
