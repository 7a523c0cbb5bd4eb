#pragma once
// LiveView: the pictures of a run while it goes. Every few seconds (and at every checkpoint) the run
// directory gets the current champions as images/class_<k>.png, their grid.png and live.html, a
// small page that reloads itself; write_results later overwrites the images and the grid with the
// final ones, and finish() leaves live.html as a still page of the results. Every file is written
// atomically (temporary + rename), so a browser or a kill -9 never sees half a file.
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fool/core/image.h"
#include "fool/output/run_summary.h"

namespace fool {

// The live page's file name in a run directory.
inline constexpr const char* kLivePage = "live.html";

// One class's current champion. `version` changes whenever the image does (the generation or step
// it was found at); the image is only made (render()) when the version differs from the last write.
struct LiveChampion {
  int index = 0;
  std::string label;
  double confidence = 0.0;  // what the search sees now
  long long version = 0;
  std::function<Image8()> render;
};

// Where the run stands, shown above the grid.
struct LiveStatus {
  std::string title;     // e.g. "evolve · direct · lenet.onnx"
  std::string progress;  // e.g. "generation 40 of 200"
  std::size_t evaluations = 0;
  double seconds = 0.0;
  std::vector<double> thresholds;  // counted: classes at or above each
};

class LiveView {
 public:
  // every_seconds: the least time between two writes that are not forced (<= 0: only forced ones).
  LiveView(std::string dir, double every_seconds);
  // Whether every_seconds have passed since the last write.
  bool due() const;
  // Writes the changed champions' images, grid.png if any champion changed, and live.html
  // (reloading itself).
  void write(const std::vector<LiveChampion>& champions, const LiveStatus& status);
  // Replaces live.html with a still page of the final results (the images and grid.png of
  // write_results); the page depends only on the summary, so equal runs leave equal pages.
  void finish(const RunSummary& summary);
  std::size_t writes() const { return writes_; }
  // Wall seconds spent in write() and finish() so far: what the live view cost the run.
  double seconds() const { return seconds_; }

 private:
  std::string dir_;
  double every_;
  std::chrono::steady_clock::time_point last_;
  std::size_t writes_ = 0;
  double seconds_ = 0.0;
  struct Tile {
    long long version;
    Image8 image;
  };
  std::map<int, Tile> tiles_;  // by class
  // The (class, version) pairs grid.png was last made of: an update that changes no champion
  // leaves the grid as it is (its captions change only with the champions).
  std::vector<std::pair<int, long long>> grid_of_;
};

// The live page's HTML (exposed for tests): `refresh_seconds` > 0 makes it reload itself;
// `version` is appended to image addresses so that a reloaded page fetches new pictures.
struct LivePageRow {
  int index = 0;
  std::string label, image;
  double confidence = 0.0;
};
std::string live_page(const LiveStatus& status, const std::vector<LivePageRow>& rows, int refresh_seconds,
                      std::size_t version, bool finished);

}  // namespace fool
