#include "fool/experiments/transfer.h"
#include "fool/model/factory.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "fool/core/error.h"
#include "fool/core/stats.h"
#include "fool/core/thresholds.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/io/opencv_image.h"
#include "fool/model/cropping_classifier.h"
#include "fool/output/document_checks.h"
#include "fool/output/results.h"
#include "fool/output/run_summary.h"

namespace fool {

namespace fs = std::filesystem;

nlohmann::json TransferMatrix::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t r = 0; r < sources.size(); ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (std::size_t c = 0; c < scorers.size(); ++c) {
      const auto& x = cells[r][c];
      row.push_back({{"scorer", scorers[c]},
                     {"images", x.images},
                     {"at_99", x.at_99},
                     {"at_9999", x.at_9999},
                     {"median_confidence", x.median}});
    }
    rows.push_back(
        {{"source", sources[r]}, {"source_sha256", source_sha256[r]}, {"runs", source_runs[r]}, {"scores", row}});
  }
  nlohmann::json cols = nlohmann::json::array();
  for (std::size_t c = 0; c < scorers.size(); ++c)
    cols.push_back({{"model", scorers[c]}, {"sha256", scorer_sha256[c]}});
  return {{"format", "fool-transfer/1"}, {"scorers", cols}, {"sources", rows}};
}

std::string TransferMatrix::to_csv() const {
  std::ostringstream out;
  out << "source,scorer,images,fraction_at_99,fraction_at_9999,median_confidence\n";
  for (std::size_t r = 0; r < sources.size(); ++r)
    for (std::size_t c = 0; c < scorers.size(); ++c) {
      const auto& x = cells[r][c];
      out << sources[r] << "," << scorers[c] << "," << x.images << "," << x.at_99 << "," << x.at_9999 << "," << x.median
          << "\n";
    }
  return out.str();
}

namespace {

// The scoring models, each fed as the runs against it were (their recorded model_input) unless
// flags say how; they must share the classes and input of the first. Fills m's scorer columns.
std::vector<std::shared_ptr<Classifier>> load_scorers(const std::vector<std::string>& run_dirs,
                                                      const std::vector<std::string>& models,
                                                      const ClassifierOptions& options, TransferMatrix& m) {
  std::vector<std::shared_ptr<Classifier>> scorers;
  // A run's own model scores as the run fed it (its recorded model_input), unless flags say how.
  std::map<std::string, ModelInputRecord> recorded;  // by model SHA-256
  for (const auto& dir : run_dirs) {
    const RunSummary s = read_summary(dir);
    if (s.record.model_input) recorded.emplace(s.record.model_sha256, *s.record.model_input);
  }
  for (const auto& path : models) {
    scorers.push_back(load_classifier(path, options));
    const auto own = recorded.find(scorers.back()->spec().sha256);
    if (own != recorded.end() && options.overrides.feeds_as_model_says() &&
        ModelInputRecord::of(scorers.back()->spec()) != own->second) {
      ClassifierOptions as_run = options;
      as_run.overrides = own->second.overrides();
      as_run.overrides.labels = options.overrides.labels;
      as_run.on_warning = nullptr;
      scorers.back() = load_classifier(path, as_run);
    }
    const ModelSpec& s = scorers.back()->spec();
    if (s.labels != scorers.front()->spec().labels) {
      throw Error(path + ": its classes (" + std::to_string(s.num_classes) + ") differ from those of " +
                  models.front());
    }
    if (s.input != scorers.front()->spec().input) {
      throw Error(path + ": takes " + s.input.str() + " images, " + models.front() + " takes " +
                  scorers.front()->spec().input.str());
    }
    m.scorers.push_back(fs::path(path).filename().string());
    m.scorer_sha256.push_back(s.sha256);
  }
  return scorers;
}

// The champions of the runs against one network.
struct Source {
  std::string name;
  std::size_t runs = 0;
  std::vector<std::pair<Image8, int>> images;  // image, target class
  ImageShape shape;
  int crops = 1;
};

// The runs' images grouped by the network they were evolved against (by its SHA-256), in the
// order the networks first appear in `order`.
// Refuses a run's class k (named label) that is not the scoring models' class k.
void check_class_of_models(const std::string& dir, int k, const std::string& label,
                           const std::vector<std::string>& labels) {
  if (k >= 0 && k < static_cast<int>(labels.size()) && labels[static_cast<std::size_t>(k)] == label) return;
  throw Error(dir + "/summary.json: class " + std::to_string(k) + " '" + label +
              "' is not a class of the scoring models: runs and models come from different datasets");
}

std::map<std::string, Source> group_by_network(const std::vector<std::string>& run_dirs,
                                               const std::vector<std::string>& labels,
                                               std::vector<std::string>& order) {
  std::map<std::string, Source> by_sha;
  for (const auto& dir : run_dirs) {
    const RunSummary s = read_summary(dir);
    const std::string& sha = s.record.model_sha256;
    auto [it, fresh] = by_sha.try_emplace(sha);
    Source& src = it->second;
    if (fresh) {
      order.push_back(sha);
      src.name = fs::path(s.record.model).filename().string();
    }
    src.runs++;
    const int crops = s.record.settings.is_object() ? s.record.settings.value("crops", 1) : 1;
    for (const auto& c : s.classes) {
      const std::string file = file_inside(dir, c.image, dir + "/summary.json");
      const int k = c.index;
      check_class_of_models(dir, k, c.label, labels);
      Image8 img = read_image(file);
      if (src.images.empty()) {
        src.shape = img.shape;
        src.crops = crops;
      } else if (img.shape != src.shape) {
        throw Error(file + ": image of " + img.shape.str() + " among images of " + src.shape.str());
      }
      src.images.emplace_back(std::move(img), k);
    }
  }
  return by_sha;
}

// How `scorer` scores one network's champions (`batch`), each for its target class.
TransferCell score_cell(const std::shared_ptr<Classifier>& scorer, const Source& src, const ImageBatch& batch) {
  std::shared_ptr<Classifier> clf = scorer;
  if (src.shape != scorer->spec().input || src.crops != 1) {
    clf = make_cropping_classifier(scorer, src.shape, src.crops);
  }
  const Matrix p = score_in_chunks(*clf, batch, 200);
  std::vector<double> conf;
  TransferCell cell;
  cell.images = src.images.size();
  for (std::size_t i = 0; i < src.images.size(); ++i) {
    const double v = p(i, static_cast<std::size_t>(src.images[i].second));
    conf.push_back(v);
    cell.at_99 += v >= kConfident;
    cell.at_9999 += v >= kFoolingConfidence;
  }
  if (!conf.empty()) {
    cell.at_99 /= static_cast<double>(conf.size());
    cell.at_9999 /= static_cast<double>(conf.size());
  }
  cell.median = median(conf);
  return cell;
}

}  // namespace

TransferMatrix transfer_matrix(const std::vector<std::string>& run_dirs, const std::vector<std::string>& models,
                               const ClassifierOptions& options) {
  if (run_dirs.empty()) throw Error("no runs given");
  if (models.empty()) throw Error("no models given");
  TransferMatrix m;
  const std::vector<std::shared_ptr<Classifier>> scorers = load_scorers(run_dirs, models, options, m);
  std::vector<std::string> order;
  std::map<std::string, Source> by_sha = group_by_network(run_dirs, scorers.front()->spec().labels, order);
  for (const auto& sha : order) {
    const Source& src = by_sha[sha];
    m.sources.push_back(src.name);
    m.source_sha256.push_back(sha);
    m.source_runs.push_back(src.runs);
    ImageBatch batch(src.images.size(), src.shape);
    for (std::size_t i = 0; i < src.images.size(); ++i) batch.set(i, src.images[i].first);
    std::vector<TransferCell> row;
    row.reserve(scorers.size());
    for (const auto& scorer : scorers) row.push_back(score_cell(scorer, src, batch));
    m.cells.push_back(row);
  }
  return m;
}

Image8 transfer_heatmap(const TransferMatrix& m) {
  const int cw = 150, ch = 64, left = 170, top = 60;
  const int rows = static_cast<int>(m.sources.size()), cols = static_cast<int>(m.scorers.size());
  cv::Mat img(top + rows * ch + 30, left + cols * cw + 10, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  cv::putText(img, "scored by ->", cv::Point(8, 20), font, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  cv::putText(img, "evolved against (rows)", cv::Point(8, top - 8), font, 0.4, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  auto fit = [&](std::string t, int width, double scale) {
    while (t.size() > 3 && cv::getTextSize(t, font, scale, 1, nullptr).width > width) t.pop_back();
    return t;
  };
  for (int c = 0; c < cols; ++c) {
    cv::putText(img, fit(m.scorers[static_cast<std::size_t>(c)], cw - 6, 0.42), cv::Point(left + c * cw + 4, top - 30),
                font, 0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  for (int r = 0; r < rows; ++r) {
    cv::putText(img, fit(m.sources[static_cast<std::size_t>(r)], left - 10, 0.42),
                cv::Point(8, top + r * ch + ch / 2 + 5), font, 0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    for (int c = 0; c < cols; ++c) {
      const TransferCell& x = m.cells[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
      // White (0) to deep red (1) by the fraction at >= 99.99%.
      const double f = x.at_9999;
      const cv::Scalar colour(255 * (1 - f) + 40 * f, 255 * (1 - f) + 40 * f, 255 * (1 - f) + 200 * f);
      const cv::Rect cell(left + c * cw, top + r * ch, cw - 2, ch - 2);
      cv::rectangle(img, cell, colour, cv::FILLED);
      cv::rectangle(img, cell, cv::Scalar(150, 150, 150), 1);
      const cv::Scalar ink = f > 0.55 ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0);
      const std::string lines[3] = {">=99.99%: " + percent(x.at_9999), ">=99%: " + percent(x.at_99),
                                    "median: " + percent(x.median)};
      for (int l = 0; l < 3; ++l) {
        cv::putText(img, lines[l], cv::Point(cell.x + 6, cell.y + 18 + 18 * l), font, 0.4, ink, 1, cv::LINE_AA);
      }
    }
  }
  return image_from_mat(img);
}

namespace {
bool is_transfer_file(const std::string& name) {
  return name == "transfer.json" || name == "transfer.csv" || name == "transfer.png";
}
}  // namespace

RunLock prepare_transfer_out_dir(const std::string& dir) {
  return prepare_output_directory(dir, "transfer", is_transfer_file);
}

void check_transfer_out_dir(const std::string& dir) { check_output_directory(dir, "transfer", is_transfer_file); }

nlohmann::json write_transfer(const std::string& dir, const TransferMatrix& m) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  nlohmann::json j = m.to_json();
  write_file_atomic((fs::path(dir) / "transfer.json").string(), j.dump(2) + "\n");
  write_file_atomic((fs::path(dir) / "transfer.csv").string(), m.to_csv());
  write_png((fs::path(dir) / "transfer.png").string(), transfer_heatmap(m));
  return j;
}

}  // namespace fool
