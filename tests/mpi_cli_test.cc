// End-to-end tests of `mpirun -np N fool evolve`: results do not depend on the number of processes,
// a run resumes with another number of processes, a killed rank ends the job with one line and an
// intact checkpoint, and bad set-ups fail with one line and write nothing. Runs OpenMPI's mpirun with
// --oversubscribe (more ranks than this machine's cores) and --allow-run-as-root (CI runs as root).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli_runner.h"
#include "fool/core/error.h"
#include "fool/io/files.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::expect_one_line_error;
using testing::run_fool;
using testing::shell_quote;

const char* kMpirun = "mpirun -q --oversubscribe --allow-run-as-root";

// Runs a shell command line; stdout and stderr captured like run_fool.
CliResult run_shell(const std::string& cmd) {
  static int counter = 0;
  const fs::path err_path =
      fs::temp_directory_path() / ("fool_mpi_err_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  CliResult r;
  FILE* p = ::popen((cmd + " 2>" + shell_quote(err_path.string()) + " </dev/null").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::error_code ec;
  if (fs::exists(err_path, ec)) r.err = read_text_file(err_path.string());
  fs::remove(err_path, ec);
  return r;
}

std::string fool_line(const std::vector<std::string>& args) {
  std::string cmd = shell_quote(FOOL_BIN);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return cmd;
}

CliResult run_mpi(int processes, const std::vector<std::string>& args) {
  return run_shell(std::string(kMpirun) + " -np " + std::to_string(processes) + " " + fool_line(args));
}

// summary.json without what may differ between process counts: timings, the command line, the count.
nlohmann::json comparable(nlohmann::json j) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [key, value] : j.items()) {
      if (key.find("second") != std::string::npos || key == "command_line" || key == "processes") continue;
      out[key] = comparable(value);
    }
    return out;
  }
  if (j.is_array())
    for (auto& v : j) v = comparable(v);
  return j;
}

// Every image, genome and the grid byte for byte; summary.json apart from timings.
void expect_same_results(const std::string& a, const std::string& b) {
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a)) {
    const auto rel = fs::relative(entry.path(), a);
    const std::string top = rel.begin()->string();
    if (!entry.is_regular_file() || (top != "images" && top != "genomes" && top != "grid.png")) continue;
    ASSERT_TRUE(fs::exists(fs::path(b) / rel)) << rel;
    EXPECT_EQ(read_file(entry.path().string()), read_file((fs::path(b) / rel).string())) << rel;
    ++files;
  }
  EXPECT_GT(files, 10u);
  EXPECT_EQ(comparable(read_json_file(a + "/summary.json")), comparable(read_json_file(b + "/summary.json")));
}

class Mpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fool_mpi_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = testing::cached_test_lenet();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static std::vector<std::string> evolve(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"evolve", "--model", model_, "--out", out, "--quiet", "--threads", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static fs::path dir_;
  static std::string model_;
};
fs::path Mpi::dir_;
std::string Mpi::model_;

TEST_F(Mpi, OneTwoAndThreeProcessesGiveByteIdenticalResults) {
  // Each backend once: an explicit backend, because --backend auto may choose by timing.
  for (const auto& [encoding, backend] :
       std::vector<std::pair<std::string, std::string>>{{"direct", "opencv"}, {"cppn", "torch"}}) {
    if (!backend_registered(backend)) continue;  // the test skips below, once the other pair is done
    SCOPED_TRACE(encoding);
    const std::vector<std::string> settings = {"--encoding",   encoding,      "--backend", backend,  "--generations",
                                               "12",           "--offspring", "90",        "--init", "90",
                                               "--eval-batch", "20",          "--seed",    "3"};
    const std::string plain = path(encoding + "_plain");
    const auto r0 = run_fool(evolve(plain, settings));
    ASSERT_EQ(r0.code, 0) << r0.err;
    EXPECT_EQ(read_json_file(plain + "/summary.json")["processes"], 1);
    for (int np : {1, 2, 3}) {
      const std::string out = path(encoding + "_np" + std::to_string(np));
      const auto r = run_mpi(np, evolve(out, settings));
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_TRUE(r.err.empty()) << r.err;  // no progress or messages from any rank with --quiet
      EXPECT_EQ(read_json_file(out + "/summary.json")["processes"], np);
      expect_same_results(plain, out);
    }
  }
  FOOL_SKIP_WITHOUT_OPENCV();
}

TEST_F(Mpi, AutoBackendIsRankZerosChoiceOnEveryRank) {
  // Rank 0 times the backends; the others load what it chose. Ranks that chose for themselves would
  // differ in the settings they check at start-up (the backend is part of them) and stop the job.
  const std::vector<std::string> settings = {"--encoding", "direct", "--generations", "3",  "--offspring", "60",
                                             "--init",     "60",     "--eval-batch",  "20", "--seed",      "4"};
  const std::string job = path("auto_np3");
  auto loud = evolve(job, settings);
  loud.erase(std::find(loud.begin(), loud.end(), "--quiet"));
  const auto r = run_mpi(3, loud);
  ASSERT_EQ(r.code, 0) << r.err;
  // Chosen by timing, as in one process ("torch is faster" / "torch is not faster").
  EXPECT_NE(r.err.find("faster"), std::string::npos) << r.err;
  const std::string backend = read_json_file(job + "/summary.json")["backend"].get<std::string>();
  ASSERT_TRUE(backend == "opencv" || backend == "torch" || backend == "onednn") << backend;
  // The recorded backend reproduces the job in one process.
  auto again = evolve(path("auto_again"), settings);
  again.insert(again.end(), {"--backend", backend});
  ASSERT_EQ(run_fool(again).code, 0);
  expect_same_results(path("auto_again"), job);
}

TEST_F(Mpi, ResumesWithAnotherNumberOfProcesses) {
  const std::vector<std::string> settings = {
      "--encoding", "direct",       "--backend", testing::opencv_or_torch(), "--offspring", "60",     "--init",
      "60",         "--eval-batch", "20",        "--checkpoint-every",       "4",           "--seed", "5"};
  auto with = [&](std::vector<std::string> a, std::vector<std::string> more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  const std::string whole = path("resume_whole"), parts = path("resume_parts");
  ASSERT_EQ(run_fool(evolve(whole, with(settings, {"--generations", "16"}))).code, 0);
  ASSERT_EQ(run_mpi(3, evolve(parts, with(settings, {"--generations", "8"}))).code, 0);
  // The checkpoint's genomes are in a binary file beside it, named after its generation.
  const auto checkpoint = read_json_file(parts + "/checkpoint.json");
  EXPECT_TRUE(fs::exists(parts + "/" + checkpoint["genomes"]["file"].get<std::string>()));
  const auto r = run_mpi(2, evolve(parts, with(settings, {"--generations", "16", "--resume"})));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_results(whole, parts);
}

// The pid of the `fool` process of a rank whose command line mentions `out`.
pid_t find_rank(int rank, const std::string& out) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline, environ;
    try {
      cmdline = read_text_file(entry.path().string() + "/cmdline");
      environ = read_text_file(entry.path().string() + "/environ");
    } catch (const Error&) {
      continue;
    }
    if (cmdline.find(out) == std::string::npos || cmdline.find("mpirun") != std::string::npos) continue;
    const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
    const auto at = environ.find(want);
    if (at != std::string::npos && (at == 0 || environ[at - 1] == '\0') &&
        (at + want.size() == environ.size() || environ[at + want.size()] == '\0')) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

TEST_F(Mpi, AKilledRankEndsTheJobWithOneLineAndTheCheckpointResumes) {
  const std::vector<std::string> settings = {
      "--encoding", "direct",       "--backend", testing::opencv_or_torch(), "--offspring", "60",     "--init",
      "60",         "--eval-batch", "20",        "--checkpoint-every",       "2",           "--seed", "7"};
  const std::string out = path("killed"), err = path("killed.err");
  std::vector<std::string> args = evolve(out, settings);
  args.insert(args.end(), {"--generations", "100000"});
  const std::string cmd = std::string(kMpirun) + " -np 3 " + fool_line(args) + " >/dev/null 2>" + shell_quote(err);
  const pid_t job = ::fork();
  ASSERT_GE(job, 0);
  if (job == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Guards against a hang only (generous; no timing is asserted): poll the job until it is gone.
  auto wait_job = [&](int seconds, int* status) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (::waitpid(job, status, WNOHANG) == job) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  int status = 0;
  pid_t victim = -1;
  for (int i = 0; i < 1200 && victim < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (fs::exists(out + "/checkpoint.json")) victim = find_rank(2, out);
  }
  if (victim < 0) {
    ::kill(-job, SIGKILL);
    wait_job(60, &status);
    FAIL() << "no checkpoint or no rank 2 appeared: " << (fs::exists(err) ? read_text_file(err) : "");
  }
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  if (!wait_job(120, &status)) {
    ::kill(-job, SIGKILL);
    wait_job(60, &status);
    FAIL() << "the job did not end after rank 2 was killed";
  }
  EXPECT_NE(status, 0);
  const std::string text = read_text_file(err);
  const auto lines = testing::error_lines(text);
  ASSERT_EQ(lines.size(), 1u) << text;
  EXPECT_NE(lines[0].find("rank 2 ended"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(out + "/checkpoint.json after generation"), std::string::npos) << lines[0];
  // The checkpoint is intact: a plain process continues it to the end and matches a run never killed.
  const auto checkpoint = read_json_file(out + "/checkpoint.json");
  const int next = checkpoint["next_generation"].get<int>();
  const std::string generations = std::to_string(next + 3);
  auto finish = evolve(out, settings);
  finish.insert(finish.end(), {"--generations", generations, "--resume"});
  const auto resumed = run_fool(finish);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  auto straight = evolve(path("never_killed"), settings);
  straight.insert(straight.end(), {"--generations", generations});
  ASSERT_EQ(run_fool(straight).code, 0);
  expect_same_results(path("never_killed"), out);
}

TEST_F(Mpi, MoreProcessesThanWorkIsOneLineAndWritesNothing) {
  const std::string out = path("too_many");
  const auto r = run_mpi(3, evolve(out, {"--offspring", "2", "--init", "2", "--generations", "1"}));
  expect_one_line_error(r, "3 processes but a generation of 2 offspring");
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(Mpi, RanksWithDifferentModelsAreRefusedWithOneLine) {
  const std::string out = path("two_models");
  const std::string other = std::string(FOOL_FIXTURES_DIR) + "/mnist_bn_cnn.onnx";
  auto a = evolve(out, {"--generations", "1"});
  auto b = a;
  b[2] = other;
  const auto r = run_shell(std::string(kMpirun) + " -np 1 " + fool_line(a) + " : -np 1 " + fool_line(b));
  expect_one_line_error(r, "rank 1 runs fool");
  EXPECT_NE(r.err.find("every process of a job needs the same fool, model and settings"), std::string::npos);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(Mpi, ResumingAnotherModelsCheckpointIsOneLineAndChangesNothing) {
  const std::string out = path("other_model");
  ASSERT_EQ(run_fool(evolve(out, {"--generations", "2", "--offspring", "40", "--init", "40"})).code, 0);
  std::map<std::string, std::vector<std::uint8_t>> before;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file()) before[e.path().string()] = read_file(e.path().string());
  auto args =
      evolve(out, {"--generations", "4", "--offspring", "40", "--init", "40", "--eval-batch", "20", "--resume"});
  args[2] = std::string(FOOL_FIXTURES_DIR) + "/mnist_bn_cnn.onnx";
  expect_one_line_error(run_mpi(2, args), "another model_sha256");
  std::map<std::string, std::vector<std::uint8_t>> after;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file()) after[e.path().string()] = read_file(e.path().string());
  EXPECT_EQ(before, after);
}

// Two directories hold the same files with the same bytes, except for timings in JSON files.
void expect_same_tree(const std::string& a, const std::string& b) {
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a)) {
    if (!entry.is_regular_file()) continue;
    const auto rel = fs::relative(entry.path(), a);
    const fs::path other = fs::path(b) / rel;
    ASSERT_TRUE(fs::exists(other)) << rel;
    ++files;
    const std::string ext = entry.path().extension().string();
    if (ext == ".json" || ext == ".jsonl") {
      // Paths inside name each experiment's own directory.
      auto text = [&](const fs::path& file, const std::string& dir) {
        std::string t = read_text_file(file.string());
        for (std::size_t at = t.find(dir); at != std::string::npos; at = t.find(dir, at))
          t.replace(at, dir.size(), "DIR");
        return t;
      };
      if (ext == ".json") {
        EXPECT_EQ(comparable(nlohmann::json::parse(text(entry.path(), a))),
                  comparable(nlohmann::json::parse(text(other, b))))
            << rel;
        continue;
      }
      std::stringstream x(text(entry.path(), a)), y(text(other, b));
      for (std::string lx, ly; std::getline(x, lx) && std::getline(y, ly);)
        EXPECT_EQ(comparable(nlohmann::json::parse(lx)), comparable(nlohmann::json::parse(ly))) << rel;
    } else {
      EXPECT_EQ(read_file(entry.path().string()), read_file(other.string())) << rel;
    }
  }
  std::size_t other_files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(b)) other_files += entry.is_regular_file();
  EXPECT_EQ(files, other_files);
}

TEST_F(Mpi, TransferExperimentSpreadsTrainingsAndRunsOverProcesses) {
  const std::vector<std::string> settings = {"--data-dir",
                                             FOOL_MNIST_DIR,
                                             "--epochs",
                                             "1",
                                             "--other-archs",
                                             "mlp",
                                             "--runs-per-network",
                                             "1",
                                             "--generations",
                                             "4",
                                             "--offspring",
                                             "30",
                                             "--init",
                                             "30",
                                             "--threads",
                                             "1"};
  auto args = [&](const std::string& out) {
    std::vector<std::string> a = {"experiment", "transfer", "--out", out};
    a.insert(a.end(), settings.begin(), settings.end());
    return a;
  };
  const auto plain = run_fool(args(path("transfer_plain")));
  ASSERT_EQ(plain.code, 0) << plain.err;
  // Without core binding: libtorch sizes some thread pools from the CPU affinity mpirun would set,
  // which changes trained weights in their last bits (evolution's scoring is not affected).
  const auto shared =
      run_shell(std::string(kMpirun) + " --bind-to none -np 3 " + fool_line(args(path("transfer_np3"))));
  ASSERT_EQ(shared.code, 0) << shared.err;
  EXPECT_EQ(testing::error_lines(shared.err).size(), 0u) << shared.err;
  expect_same_tree(path("transfer_plain"), path("transfer_np3"));
}

TEST_F(Mpi, RetrainExperimentSpreadsEachIterationsRunsOverProcesses) {
  const std::vector<std::string> settings = {"--data-dir",     FOOL_MNIST_DIR,
                                             "--iterations",   "2",
                                             "--epochs",       "1",
                                             "--generations",  "3",
                                             "--offspring",    "30",
                                             "--init",         "30",
                                             "--first-images", "40",
                                             "--eval-runs",    "2",
                                             "--threads",      "1"};
  auto args = [&](const std::string& out) {
    std::vector<std::string> a = {"experiment", "retrain", "--out", out};
    a.insert(a.end(), settings.begin(), settings.end());
    return a;
  };
  const auto plain = run_fool(args(path("retrain_plain")));
  ASSERT_EQ(plain.code, 0) << plain.err;
  const auto shared = run_shell(std::string(kMpirun) + " --bind-to none -np 3 " + fool_line(args(path("retrain_np3"))));
  ASSERT_EQ(shared.code, 0) << shared.err;
  expect_same_tree(path("retrain_plain"), path("retrain_np3"));
}

TEST_F(Mpi, InfoRecordsTheProcessCount) {
  const auto plain = run_fool({"info", "--model", model_});
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out)["processes"], 1);
  const auto job = run_mpi(2, {"info", "--model", model_});
  ASSERT_EQ(job.code, 0) << job.err;
  const auto j = nlohmann::json::parse(job.out);  // one JSON document: rank 0 answers alone
  EXPECT_EQ(j["processes"], 2);
  EXPECT_NE(j["mpi"].get<std::string>().find("Open MPI"), std::string::npos);
}

}  // namespace
}  // namespace fool
