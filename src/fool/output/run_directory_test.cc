// The run directory's ownership rules (issue 20): fool's marker, what --overwrite removes, the lock.
#include "fool/output/run_directory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <iterator>

#include "fool/core/error.h"
#include "fool/io/files.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

class RunDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_run_directory_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void put(const std::string& name, const std::string& text = "x") const {
    fs::create_directories(fs::path(path(name)).parent_path());
    write_file_atomic(path(name), text);
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(RunDirectory, ANewDirectoryIsMarkedFirst) {
  const RunLock lock = prepare_run_directory(path("run"), false, "ascend");
  EXPECT_TRUE(lock.held());
  EXPECT_TRUE(has_run_marker(path("run")));
  const auto marker = read_json_file(path("run/.fool-run"));
  EXPECT_EQ(marker["format"], "fool-run-marker/1");
  EXPECT_EQ(marker["command"], "ascend");
  EXPECT_TRUE(marker["version"].is_string());
}

TEST_F(RunDirectory, WithoutTheMarkerNothingIsRemovedEvenWithOverwrite) {
  for (const char* name : {"images/a/b.png", "genomes/g.json", "log.jsonl", "grid.png", "summary.json"}) {
    fs::remove_all(path("user"));
    put(std::string("user/") + name, "mine");
    for (bool overwrite : {false, true}) {
      const std::string e = error_of([&] { prepare_run_directory(path("user"), overwrite); });
      EXPECT_NE(e.find("has no .fool-run marker"), std::string::npos) << name << ": " << e;
      EXPECT_EQ(read_text_file(path(std::string("user/") + name)), "mine");
      EXPECT_FALSE(fs::exists(path("user/.fool-lock"))) << "wrote into a directory that is not fool's";
    }
    EXPECT_FALSE(is_unfinished_run_without_checkpoint(path("user")));
  }
  // A marker that is not fool's (another format, a directory) does not count.
  fs::remove_all(path("user"));
  put("user/.fool-run", "{\"format\": \"other\"}");
  put("user/log.jsonl");
  EXPECT_FALSE(has_run_marker(path("user")));
  EXPECT_THROW(prepare_run_directory(path("user"), true), Error);
}

TEST_F(RunDirectory, OverwriteRemovesFoolsNamesOnly) {
  { const RunLock lock = prepare_run_directory(path("run"), false); }
  for (const char* name : {"summary.json", "checkpoint.json", "checkpoint-g3.genomes", "log.jsonl", "grid.png",
                           "live.html", ".live.html.Xy12Zw", "images/class_0.png", "images/class_12_one_copy.png",
                           "genomes/class_0.json", "analysis/occlusion.json", "images/.class_1.png.Ab12Cd"}) {
    put(std::string("run/") + name);
  }
  for (const char* name : {"notes.txt", "images/mine.png", "images/class_x.png", "genomes/keep/class_0.json",
                           "analysis/mine.json", "summary.json.bak", "live.html.old"}) {
    put(std::string("run/") + name, "mine");
  }
  EXPECT_NE(error_of([&] { prepare_run_directory(path("run"), false); }).find("holds another run"), std::string::npos);
  { const RunLock lock = prepare_run_directory(path("run"), true); }
  for (const char* name : {"summary.json", "checkpoint.json", "checkpoint-g3.genomes", "log.jsonl", "grid.png",
                           "live.html", ".live.html.Xy12Zw", "images/class_0.png", "images/class_12_one_copy.png",
                           "genomes/class_0.json", "analysis/occlusion.json", "images/.class_1.png.Ab12Cd"}) {
    EXPECT_FALSE(fs::exists(path(std::string("run/") + name))) << name;
  }
  for (const char* name : {"notes.txt", "images/mine.png", "images/class_x.png", "genomes/keep/class_0.json",
                           "analysis/mine.json", "summary.json.bak", "live.html.old"}) {
    EXPECT_EQ(read_text_file(path(std::string("run/") + name)), "mine") << name;
  }
  EXPECT_TRUE(has_run_marker(path("run")));
}

TEST_F(RunDirectory, AMarkedRunWithoutCheckpointIsStartedAgain) {
  { const RunLock lock = prepare_run_directory(path("run"), false); }
  put("run/log.jsonl");
  put("run/images/class_0.png");
  EXPECT_TRUE(is_unfinished_run_without_checkpoint(path("run")));
  { const RunLock lock = prepare_run_directory(path("run"), false); }
  EXPECT_FALSE(fs::exists(path("run/log.jsonl")));
  EXPECT_FALSE(fs::exists(path("run/images")));
  // Killed while writing the marker: only its temporary (named as write_file_atomic names it,
  // "..fool-run.XXXXXX") is there.
  const std::string temporary = "killed/" + atomic_temporary_prefix(kRunMarker) + "Zx81Qa";
  EXPECT_EQ(temporary, "killed/..fool-run.Zx81Qa");
  put(temporary);
  EXPECT_TRUE(is_unfinished_run_without_checkpoint(path("killed")));
  { const RunLock lock = prepare_run_directory(path("killed"), false); }
  EXPECT_FALSE(fs::exists(path(temporary)));
  EXPECT_TRUE(has_run_marker(path("killed")));
  // Killed during the write test of an empty folder: the folder is still fool's to use.
  put(std::string("tested/") + kWriteTestPrefix + "Qw12er");
  EXPECT_TRUE(is_unfinished_run_without_checkpoint(path("tested")));
  { const RunLock lock = prepare_run_directory(path("tested"), false); }
  EXPECT_EQ(std::distance(fs::directory_iterator(path("tested")), fs::directory_iterator()), 2);  // marker, lock
}

TEST_F(RunDirectory, LinksInPlaceOfFoolsFilesAreRefused) {
  { const RunLock lock = prepare_run_directory(path("run"), false); }
  put("outside/class_0.png", "theirs");
  fs::create_directory_symlink(path("outside"), path("run/images"));
  put("run/summary.json");
  EXPECT_NE(error_of([&] { prepare_run_directory(path("run"), true); }).find("symbolic link"), std::string::npos);
  EXPECT_EQ(read_text_file(path("outside/class_0.png")), "theirs");
}

TEST_F(RunDirectory, OneProcessAtATime) {
  RunLock first = prepare_run_directory(path("run"), false);
  const std::string e = error_of([&] { prepare_run_directory(path("run"), true); });
  EXPECT_EQ(e, path("run") + ": is being written by another fool process (pid " + std::to_string(::getpid()) + ")");
  EXPECT_THROW(open_run_directory(path("run"), "evolve", true), Error);
  EXPECT_THROW(lock_run_directory(path("run")), Error);
  first = RunLock();
  EXPECT_TRUE(lock_run_directory(path("run")).held());
}

TEST_F(RunDirectory, OpenRequiresTheMarkerOrAFileOfFools) {
  put("old/summary.json");
  EXPECT_NE(error_of([&] { open_run_directory(path("old"), "evolve", false); }).find("no .fool-run marker"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path("old/.fool-lock")));
  { const RunLock lock = open_run_directory(path("old"), "evolve", true); }
  EXPECT_TRUE(has_run_marker(path("old")));
  put("old2/checkpoint.json", "{\"format\": \"fool-evolve-checkpoint/1\"}");
  EXPECT_TRUE(holds_fool_checkpoint(path("old2")));
  put("old3/checkpoint.json", "{\"format\": \"x\"}");
  EXPECT_FALSE(holds_fool_checkpoint(path("old3")));
}

}  // namespace
}  // namespace fool
