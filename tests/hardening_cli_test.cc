// Hostile inputs to the real binary (issue 10): flags asking for more than the machine has, damaged
// PNGs, and the directories an interrupted run leaves. Each is one line on stderr (nothing else:
// no libpng or TBB chatter), and no half-made directory is left that fool then refuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/io/files.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::run_fool;

const std::string kModel = std::string(FOOL_FIXTURES_DIR) + "/mnist_bn_cnn.onnx";

class Hardening : public testing::CliTest {};

// Stricter than expect_one_line_error: stderr is exactly one line, the fool: error: line.
void expect_only_one_line(const testing::CliResult& r, const std::string& needle) {
  EXPECT_NE(r.code, 0);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_EQ(r.err.rfind("fool: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 300u) << r.err;
}

TEST_F(Hardening, FlagsBeyondTheMachineOrOutOfRangeAreOneLine) {
  const std::string out = path("run");
  expect_only_one_line(run_fool({"score", "--model", kModel, "--threads", "100000", "x.png"}), "--threads");
  expect_only_one_line(run_fool({"info", "--model", kModel, "--threads", "100000"}), "--threads");
  expect_only_one_line(run_fool({"evolve", "--model", kModel, "--threads", "100000", "--out", out}), "--threads");
  expect_only_one_line(run_fool({"evolve", "--model", kModel, "--seed", "-1", "--out", out}), "--seed");
  expect_only_one_line(run_fool({"evolve", "--model", kModel, "--eval-batch", "-1", "--out", out}), "--eval-batch");
  expect_only_one_line(run_fool({"evolve", "--model", kModel, "--image-size", "100000", "--quiet", "--out", out}), "GiB");
  expect_only_one_line(run_fool({"evolve", "--model", kModel, "--offspring", "2000000000", "--quiet", "--out", out}), "GiB");
  EXPECT_FALSE(fs::exists(out)) << "a refused run left its directory";
  expect_only_one_line(run_fool({"data", "export", "--count", "0", "--out", path("x")}), "--count");
  expect_only_one_line(run_fool({"train", "--epochs", "0", "--out", path("m.onnx")}), "--epochs");
}

TEST_F(Hardening, OutputsAreCheckedBeforeAnyWork) {
  fs::create_directories(path("reportdir"));
  expect_only_one_line(run_fool({"train", "--data-dir", path("none"), "--out", path("m.onnx"), "--report",
                                 path("reportdir")}), "--report");
  EXPECT_FALSE(fs::exists(path("m.onnx")));
  expect_only_one_line(run_fool({"render", path("g.json"), "--out", path("x.jpg")}), ".png");
  fs::create_directories(path("mine"));
  write_file_atomic(path("mine/notes.txt"), std::string("keep"));
  expect_only_one_line(run_fool({"transfer", "--runs", path("r"), "--models", kModel, "--out", path("mine")}),
                       "notes.txt");
  EXPECT_EQ(read_text_file(path("mine/notes.txt")), "keep");
}

TEST_F(Hardening, DamagedPngsAreOneLineNamingTheFile) {
  // A valid 2x2 gray PNG, then damaged copies: cut short, a broken CRC, a header claiming 60000^2.
  const std::string png_hex =
      "89504e470d0a1a0a0000000d494844520000000200000002080000000057dd52f80000000b49444154789c63600001000006"
      "0001fe8c67c80000000049454e44ae426082";
  std::string png;
  for (std::size_t i = 0; i < png_hex.size(); i += 2) png.push_back(static_cast<char>(std::stoi(png_hex.substr(i, 2), nullptr, 16)));
  write_file_atomic(path("cut.png"), png.substr(0, 40));
  std::string crc = png;
  crc[29] ^= 0x55;
  write_file_atomic(path("crc.png"), crc);
  std::string huge = png;
  huge[16] = '\0', huge[17] = '\0', huge[18] = '\xea', huge[19] = '\x60';  // width 60000 (CRC now wrong too)
  write_file_atomic(path("huge.png"), huge);
  for (const char* name : {"cut.png", "crc.png", "huge.png"}) {
    expect_only_one_line(run_fool({"score", "--model", kModel, path(name)}), path(name));
  }
}

TEST_F(Hardening, WhatAKilledRunLeavesIsAcceptedByRerunResumeAndOverwrite) {
  const std::vector<std::string> evolve = {"evolve", "--model", kModel, "--generations", "2", "--offspring", "8",
                                           "--init", "8", "--quiet", "--out"};
  auto run = [&](const std::string& dir, std::vector<std::string> extra) {
    std::vector<std::string> args = evolve;
    args.push_back(dir);
    args.insert(args.end(), extra.begin(), extra.end());
    return run_fool(args);
  };
  // Killed in its write test; killed writing its first checkpoint; the disk full at generation 0.
  const std::vector<std::vector<std::string>> debris = {
      {"..fool-write-test.a1B2c3"}, {"log.jsonl", ".checkpoint.json.Zz9yX8"}, {"log.jsonl"}};
  for (const auto& files : debris)
    for (const std::vector<std::string>& how : {std::vector<std::string>{}, {"--resume"}, {"--overwrite"}}) {
      const std::string dir = path("killed");
      fs::remove_all(dir);
      fs::create_directories(dir);
      for (const auto& f : files) write_file_atomic(dir + "/" + f, std::string("{\"generation\": 0, \"half"));
      const auto r = run(dir, how);
      EXPECT_EQ(r.code, 0) << files[0] << (how.empty() ? "" : " " + how[0]) << ": " << r.err;
      for (const auto& e : fs::recursive_directory_iterator(dir))
        EXPECT_NE(e.path().filename().string()[0], '.') << "stray " << e.path();
      EXPECT_TRUE(fs::exists(dir + "/summary.json"));
    }
  // A stray temporary beside a real checkpoint is removed by --resume.
  const std::string dir = path("stopped");
  ASSERT_EQ(run(dir, {}).code, 0);
  write_file_atomic(dir + "/images/.class_3.png.Qw3rTy", std::string("half a png"));
  write_file_atomic(dir + "/.checkpoint.json.Qw3rTy", std::string("{"));
  const auto r = run(dir, {"--resume"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/images/.class_3.png.Qw3rTy"));
  EXPECT_FALSE(fs::exists(dir + "/.checkpoint.json.Qw3rTy"));
}

}  // namespace
}  // namespace fool
