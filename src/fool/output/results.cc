#include "fool/output/results.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "fool/model/cropping_classifier.h"
#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/io/opencv_image.h"
#include "fool/io/image_io.h"
#include "fool/core/stats.h"

namespace fool {

namespace fs = std::filesystem;

std::string percent(double p) {
  // Rounded down, so that 99.995% never shows as 100.00% (the tolerance keeps 0.17, stored as
  // 0.16999..., at 17.00%).
  const double v = std::floor(p * 10000.0 + 1e-6) / 100.0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", v);
  return buf;
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

nlohmann::json write_results(const std::string& dir, const RunRecord& record, const std::vector<ClassResult>& classes,
                             Classifier& classifier) {
  fs::create_directories(fs::path(dir) / "images");
  bool any_genome = false;
  for (const auto& c : classes) any_genome |= !c.genome.is_null();
  if (any_genome) fs::create_directories(fs::path(dir) / "genomes");

  // Save every image, then read the files back and score them: the reported confidence is the file's.
  ImageBatch saved(classes.size(), classifier.spec().input);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const std::string rel = "images/class_" + std::to_string(classes[i].index) + ".png";
    write_png((fs::path(dir) / rel).string(), classes[i].image);
    saved.set(i, read_image((fs::path(dir) / rel).string()));
    if (!classes[i].genome.is_null()) {
      write_file_atomic((fs::path(dir) / ("genomes/class_" + std::to_string(classes[i].index) + ".json")).string(),
                        classes[i].genome.dump() + "\n");
    }
  }
  const Matrix rescored = score_in_chunks(classifier, saved, 64);

  nlohmann::json list = nlohmann::json::array();
  std::vector<double> conf;
  std::vector<Image8> tiles;
  std::vector<std::string> captions;
  std::vector<std::size_t> at(record.thresholds.size(), 0);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const auto& c = classes[i];
    const double p = rescored(i, static_cast<std::size_t>(c.index));
    conf.push_back(p);
    nlohmann::json reached = nlohmann::json::object();
    for (std::size_t t = 0; t < record.thresholds.size(); ++t) {
      const int first = t < c.first_reached.size() ? c.first_reached[t] : -1;
      reached[nlohmann::json(record.thresholds[t]).dump()] = first < 0 ? nlohmann::json(nullptr) : nlohmann::json(first);
      if (p >= record.thresholds[t]) ++at[t];
    }
    const auto top = top_k(rescored.row(i), rescored.cols(), 1)[0];
    nlohmann::json entry = {{"index", c.index},
                            {"label", c.label},
                            {"confidence", p},
                            {"search_confidence", c.search_confidence},
                            {"top_class", top},
                            {"image", "images/class_" + std::to_string(c.index) + ".png"},
                            {"genome", c.genome.is_null() ? nlohmann::json(nullptr)
                                                          : nlohmann::json("genomes/class_" + std::to_string(c.index) + ".json")},
                            {"first_reached", reached}};
    // Quantisation to 8 bits can drop an image below a threshold the search reached: say so.
    std::vector<std::string> lost;
    for (std::size_t t = 0; t < record.thresholds.size(); ++t)
      if (c.search_confidence >= record.thresholds[t] && p < record.thresholds[t]) lost.push_back(nlohmann::json(record.thresholds[t]).dump());
    if (!lost.empty()) entry["lost_in_quantisation"] = lost;
    if (c.extra.is_object()) entry.update(c.extra);
    list.push_back(entry);
    tiles.push_back(c.image);
    captions.push_back(c.label + "\n" + percent(p));
  }
  write_png((fs::path(dir) / "grid.png").string(), make_grid(tiles, captions));

  nlohmann::json counts = nlohmann::json::object();
  for (std::size_t t = 0; t < record.thresholds.size(); ++t) counts[nlohmann::json(record.thresholds[t]).dump()] = at[t];
  nlohmann::json summary = {{"format", "fool-run/1"},
                            {"command", record.command},
                            {"command_line", record.command_line},
                            {"model", record.model},
                            {"model_sha256", record.model_sha256},
                            {"backend", record.backend},
                            {"method", record.method},
                            {"seed", record.seed},
                            {"settings", record.settings},
                            {"progress_unit", record.progress_unit},
                            {record.progress_unit + "s", record.progress},
                            {"evaluations", record.evaluations},
                            {"seconds", record.seconds},
                            {"complete", record.complete},
                            {"median_confidence", median(conf)},
                            {"classes_at_or_above", counts},
                            {"classes", list}};
  if (record.extra.is_object()) summary.update(record.extra);
  write_file_atomic((fs::path(dir) / "summary.json").string(), summary.dump(2) + "\n");
  return summary;
}

nlohmann::json read_summary(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "summary.json").string();
  const nlohmann::json j = read_json_file(path);
  if (!j.is_object() || j.value("format", "") != "fool-run/1" || !j.contains("classes") || !j["classes"].is_array()) {
    throw Error(path + ": not a fool run summary (format fool-run/1)");
  }
  return j;
}

}  // namespace fool
