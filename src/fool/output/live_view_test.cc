// The live view writes only what changed: a champion's image when its version changes, grid.png
// when any champion changed, live.html at every update; every file whole.
#include "fool/output/live_view.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "fool/io/files.h"
#include "fool/io/image_io.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

// The inode of a file: a file replaced by rename gets a new one.
ino_t inode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

TEST(LiveView, RewritesOnlyTheChampionsThatChangedAndTheGridWhenAnyDid) {
  const fs::path dir = fs::temp_directory_path() / ("fool_live_view_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  int renders = 0;
  const auto champion = [&renders](int index, long long version, std::uint8_t shade) {
    LiveChampion c;
    c.index = index;
    c.label = "c" + std::to_string(index);
    c.confidence = 0.5 + 0.01 * static_cast<double>(version);
    c.version = version;
    c.render = [&renders, shade] {
      ++renders;
      return Image8{{1, 8, 8}, std::vector<std::uint8_t>(64, shade)};
    };
    return c;
  };
  LiveStatus status;
  status.title = "evolve · direct · test";
  status.progress = "generation 1 of 9";
  LiveView live(dir.string(), 0);
  live.write({champion(0, 1, 10), champion(3, 1, 200)}, status);
  EXPECT_EQ(renders, 2);
  const ino_t grid = inode(dir / "grid.png"), zero = inode(dir / "images/class_0.png"),
              three = inode(dir / "images/class_3.png");
  EXPECT_EQ(read_image((dir / "images/class_3.png").string()).pixels[0], 200);
  EXPECT_GT(read_image((dir / "grid.png").string()).shape.width, 2 * 8);

  // Nothing changed but the status: only live.html is written again.
  status.progress = "generation 2 of 9";
  live.write({champion(0, 1, 10), champion(3, 1, 200)}, status);
  EXPECT_EQ(renders, 2);
  EXPECT_EQ(inode(dir / "grid.png"), grid);
  EXPECT_EQ(inode(dir / "images/class_0.png"), zero);
  EXPECT_NE(read_text_file((dir / kLivePage).string()).find("generation 2 of 9"), std::string::npos);

  // Class 3's champion changed: its image and the grid are new, class 0's image is the same file.
  live.write({champion(0, 1, 10), champion(3, 4, 90)}, status);
  EXPECT_EQ(renders, 3);
  EXPECT_NE(inode(dir / "images/class_3.png"), three);
  EXPECT_EQ(read_image((dir / "images/class_3.png").string()).pixels[0], 90);
  EXPECT_NE(inode(dir / "grid.png"), grid);
  EXPECT_EQ(inode(dir / "images/class_0.png"), zero);
  EXPECT_EQ(live.writes(), 3u);
  for (const auto& e : fs::recursive_directory_iterator(dir))
    EXPECT_FALSE(is_atomic_temporary(e.path().filename().string()));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fool
