#include "fool/output/run_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fool/core/bytes.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/encoding/genome_codec.h"
#include "fool/io/files.h"

namespace fool {

namespace fs = std::filesystem;

namespace {
constexpr const char* kCheckpointFormat = "fool-evolve-checkpoint/1";
const char* kFreeSettings[] = {"generations", "threads", "checkpoint_every"};

// The elite genomes of a checkpoint live beside checkpoint.json in a binary file named after the
// generation it was written at, so that a crash between the two atomic writes leaves the previous
// checkpoint.json pointing at its own, still present, genome file.
std::string genome_file_name(int next_generation) {
  return "checkpoint-g" + std::to_string(next_generation) + ".genomes";
}
bool is_genome_file(const std::string& name) {
  return name.rfind("checkpoint-g", 0) == 0 && name.size() > 8 && name.substr(name.size() - 8) == ".genomes";
}
void remove_genome_files(const std::string& dir, const std::string& keep) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (is_genome_file(name) && name != keep) fs::remove(entry.path(), ec);
  }
}
}  // namespace

int check_checkpoint_progress(const nlohmann::json& j, const nlohmann::json& saved, const EvolutionConfig& config) {
  namespace jc = json_check;
  // A checkpoint is written after a generation (next >= 1) or before the first one (next 0), never
  // beyond the generations its own run asked for.
  const std::int64_t generations = jc::integer(saved, "settings", "generations", 0, 1 << 30);
  const int next = static_cast<int>(jc::integer(j, "", "next_generation", 0, generations + 1));
  // Generation 0 evaluates `init` genomes, every later one `offspring`: the count is exact.
  const std::uint64_t want =
      next == 0 ? 0
                : static_cast<std::uint64_t>(config.init) +
                      static_cast<std::uint64_t>(next - 1) * static_cast<std::uint64_t>(config.offspring);
  const std::uint64_t evaluations = jc::unsigned_integer(j, "", "evaluations", ~std::uint64_t{0});
  if (evaluations != want) {
    throw Error("checkpoint counts " + std::to_string(evaluations) + " evaluations; " + std::to_string(next) +
                " generations of this run make " + std::to_string(want));
  }
  return next;
}

Elite check_checkpoint_cell(const nlohmann::json& cell, std::size_t c, const EliteArchive& archive, int next) {
  namespace jc = json_check;
  const std::string where = jc::path_of("cells", c);
  const std::int64_t cls = jc::integer(cell, where, "class", 0, 1 << 30);
  if (cls != archive.class_of(c)) {
    throw Error(where + " is class " + std::to_string(cls) + "; this run's cell " + std::to_string(c) + " is class " +
                std::to_string(archive.class_of(c)));
  }
  // A genome is in the checkpoint's binary genome file (genome_offset) or, in older checkpoints, inline.
  const bool empty = !cell.contains("genome_offset") && (!cell.contains("genome") || cell["genome"].is_null());
  // After generation 0 every cell holds an elite (each genome competes for every cell); before it, none does.
  if (empty != (next == 0)) {
    throw Error(where + (empty ? " has no genome after generation 0" : " has a genome before generation 0"));
  }
  Elite e;
  e.fitness = empty ? static_cast<float>(jc::number(cell, where, "fitness", -1.0, -1.0))
                    : static_cast<float>(jc::number(cell, where, "fitness", 0.0, 1.0));
  e.generation = static_cast<int>(jc::integer(cell, where, "generation", empty ? -1 : 0, empty ? -1 : next - 1));
  const auto& first = jc::array(cell, where, "first_reached");
  if (first.size() != archive.thresholds().size()) {
    throw Error(where + ".first_reached has " + std::to_string(first.size()) + " entries, not " +
                std::to_string(archive.thresholds().size()));
  }
  for (std::size_t t = 0; t < first.size(); ++t) {
    const auto g = jc::integer_value(first[t], jc::path_of(where + ".first_reached", t), -1, next - 1);
    const bool reached = e.fitness >= archive.thresholds()[t];
    if (reached && g < 0) {
      throw Error(where + " holds an elite at " + std::to_string(e.fitness) + " but never reached " +
                  nlohmann::json(archive.thresholds()[t]).dump());
    }
  }
  return e;
}

namespace {

// Files fool writes at the top of a run directory (besides checkpoint-g*.genomes and temporaries).
const char* kTopFiles[] = {"summary.json", "checkpoint.json", "log.jsonl", "grid.png", "live.html"};
// Folders fool writes in a run directory, and whether a file in one is fool's.
bool is_class_file(const std::string& name, const std::string& ext) {
  // class_<k>.<ext> or class_<k>_<what>.<ext>
  if (name.rfind("class_", 0) != 0 || name.size() <= 6 + ext.size() || name.substr(name.size() - ext.size()) != ext) {
    return false;
  }
  std::size_t i = 6;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
  if (i == 6) return false;
  const std::string rest = name.substr(i, name.size() - ext.size() - i);
  if (rest.empty()) return true;
  if (rest[0] != '_') return false;
  for (char ch : rest.substr(1))
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  return rest.size() > 1;
}
bool is_fool_file_in(const std::string& folder, const std::string& name) {
  if (is_atomic_temporary(name)) return true;
  if (folder == "images") return is_class_file(name, ".png");
  if (folder == "genomes") return is_class_file(name, ".json");
  if (folder == "analysis") return name == "repetition.json" || name == "occlusion.json";
  return false;
}
const char* kFolders[] = {"images", "genomes", "analysis"};

// What a fool process killed before it wrote the marker can leave: the marker's temporary and the
// write test's.
bool is_start_up_debris(const std::string& name) {
  return is_atomic_temporary(name) &&
         (name.rfind(atomic_temporary_prefix(kRunMarker), 0) == 0 || name.rfind(kWriteTestPrefix, 0) == 0);
}

// Empty, or holding only what an earlier start left before it wrote the marker: the lock file
// and those temporaries.
bool effectively_empty(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name != kRunLockFile && !is_start_up_debris(name)) return false;
  }
  return !ec;
}

bool is_link(const fs::path& p) {
  std::error_code ec;
  return fs::is_symlink(fs::symlink_status(p, ec));
}

void refuse_link(const fs::path& p) {
  throw Error(p.string() + ": is a symbolic link, which fool never makes; it leaves it alone (remove it yourself)");
}

void remove_one(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  if (ec) throw Error(p.string() + ": " + ec.message());
}

std::string foreign(const std::string& dir) {
  return dir + ": directory is not empty and has no " + std::string(kRunMarker) +
         " marker (fool did not make it); fool removes nothing there, even with --overwrite; choose another --out";
}

}  // namespace

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

namespace {
// The pid holding a flock on the file (dev, ino), from /proc/locks ("1: FLOCK  ADVISORY  WRITE
// <pid> <major hex>:<minor hex>:<inode> 0 EOF"); "" if not found. The lock file itself stays empty,
// so that it is the same in every run directory (directories are compared byte for byte).
std::string lock_holder(dev_t dev, ino_t ino) {
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream in(line);
    std::string id, kind, mode, access, pid, where;
    if (!(in >> id >> kind >> mode >> access >> pid >> where) || kind != "FLOCK") continue;  // "->": a waiter
    unsigned maj = 0, min = 0;
    unsigned long long inode = 0;
    if (std::sscanf(where.c_str(), "%x:%x:%llu", &maj, &min, &inode) != 3) continue;
    if (inode == static_cast<unsigned long long>(ino) && maj == major(dev) && min == minor(dev)) return pid;
  }
  return "";
}
}  // namespace

RunLock lock_run_directory(const std::string& dir) {
  const std::string file = (fs::path(dir) / kRunLockFile).string();
  if (is_link(file)) refuse_link(file);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw Error(dir + ": cannot lock (" + std::strerror(errno) + ")");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    struct stat st {};
    const bool known = ::fstat(fd, &st) == 0;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      const std::string pid = known ? lock_holder(st.st_dev, st.st_ino) : std::string();
      throw Error(dir + ": is being written by another fool process (pid " +
                  (pid.empty() ? std::string("unknown") : pid) + ")");
    }
    throw Error(dir + ": cannot lock (" + std::strerror(err) + ")");
  }
  return RunLock(fd);
}

bool has_run_marker(const std::string& dir) {
  const fs::path marker = fs::path(dir) / kRunMarker;
  if (is_link(marker)) return false;  // fool writes a plain file
  try {
    const nlohmann::json j = parse_json_or_discarded(read_text_file(marker.string(), 1 << 16));
    return j.is_object() && j.contains("format") && j["format"] == "fool-run-marker/1";
  } catch (const Error&) {
    return false;  // missing, not a regular file, or too large: not fool's marker
  }
}

void write_run_marker(const std::string& dir, const std::string& command) {
  const nlohmann::json j = {{"format", "fool-run-marker/1"}, {"command", command}, {"version", FOOL_VERSION}};
  write_file_atomic((fs::path(dir) / kRunMarker).string(), j.dump() + "\n");
}

namespace {
bool is_top_file_of_a_run(const std::string& name) {
  return std::find_if(std::begin(kTopFiles), std::end(kTopFiles), [&](const char* f) { return name == f; }) !=
             std::end(kTopFiles) ||
         is_genome_file(name) || (is_atomic_temporary(name) && !is_start_up_debris(name));
}

bool is_folder_of_a_run(const std::string& name) {
  return std::find_if(std::begin(kFolders), std::end(kFolders), [&](const char* f) { return name == f; }) !=
         std::end(kFolders);
}

// Removes fool's files in the run's folder p (named name), and the folder once it is empty.
void remove_run_folder(const fs::path& p, const std::string& name) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return;  // a file under a folder's name is not fool's
  std::vector<fs::path> inside;
  for (const auto& entry : fs::directory_iterator(p, ec)) {
    const std::string n = entry.path().filename().string();
    if (is_fool_file_in(name, n) && !is_link(entry.path()) && entry.is_regular_file(ec)) inside.push_back(entry.path());
  }
  for (const fs::path& q : inside) remove_one(q);
  if (fs::is_empty(p, ec)) remove_one(p);
}
}  // namespace

void remove_run_files(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> top;
  for (const auto& entry : fs::directory_iterator(dir, ec)) top.push_back(entry.path());
  if (ec) throw Error(dir + ": " + ec.message());
  for (const fs::path& p : top) {
    const std::string name = p.filename().string();
    const bool file = is_top_file_of_a_run(name);
    if (!file && !is_folder_of_a_run(name)) continue;
    if (is_link(p)) refuse_link(p);
    if (!file) {
      remove_run_folder(p, name);
    } else if (!fs::is_directory(p, ec)) {  // a folder under a file's name is not fool's
      remove_one(p);
    }
  }
}

void remove_stray_temporaries(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  remove_atomic_temporaries(dir, true);
}

bool is_unfinished_run_without_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  if (fs::exists(fs::path(dir) / "checkpoint.json", ec) || fs::exists(fs::path(dir) / "summary.json", ec)) return false;
  return effectively_empty(dir) || has_run_marker(dir);
}

RunLock prepare_run_directory(const std::string& dir, bool overwrite, const std::string& command) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw Error(dir + ": exists and is not a directory");
  if (fs::is_directory(dir, ec) && !effectively_empty(dir) && !has_run_marker(dir)) throw Error(foreign(dir));
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  RunLock lock = lock_run_directory(dir);
  // Judged again under the lock: another process may have written there since.
  if (!effectively_empty(dir)) {
    if (!has_run_marker(dir)) throw Error(foreign(dir));
    const bool is_run =
        fs::exists(fs::path(dir) / "summary.json", ec) || fs::exists(fs::path(dir) / "checkpoint.json", ec);
    if (is_run && !overwrite) {
      throw Error(dir + ": holds another run; use --resume to continue it or --overwrite to replace it");
    }
    // A marked run killed before its first checkpoint holds nothing to keep or resume.
    remove_run_files(dir);
  }
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (is_start_up_debris(entry.path().filename().string())) fs::remove(entry.path(), ec);
  // The marker first: whatever follows is fool's. Writing it also shows that the directory is
  // writable, now rather than after the search.
  write_run_marker(dir, command);
  return lock;
}

namespace {
// The first entry of a non-empty output directory that is not fool's output of this command.
std::string first_foreign_entry(const std::string& dir, bool (*owned)(const std::string&)) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name == kRunMarker || name == kRunLockFile || is_atomic_temporary(name)) continue;
    if (!owned(name)) return name;
    if (is_link(entry.path())) refuse_link(entry.path());
    if (!entry.is_regular_file(ec)) return name;  // a folder under a file's name is not fool's
  }
  if (ec) throw Error(dir + ": cannot read directory (" + ec.message() + ")");
  return "";
}
}  // namespace

void check_output_directory(const std::string& dir, const std::string& command,
                            bool (*owned)(const std::string& name)) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw Error(dir + ": exists and is not a directory");
  // It (or, while it does not exist, the nearest folder above it) takes new files now: a read-only
  // or full disk is refused before the work, not after it.
  fs::path at = fs::absolute(dir, ec);
  while (at.has_relative_path() && !fs::exists(at, ec)) at = at.parent_path();
  check_writable_directory(at.string(), "--out", dir);
  if (!fs::is_directory(dir, ec) || effectively_empty(dir)) return;
  if (!has_run_marker(dir)) {
    std::string first;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name != kRunLockFile && !is_start_up_debris(name)) {
        first = name;
        break;
      }
    }
    throw Error(dir + ": holds " + json_check::printable(first) + " and has no " + std::string(kRunMarker) +
                " marker (fool did not make it); fool overwrites nothing there; choose another --out");
  }
  const std::string other = first_foreign_entry(dir, owned);
  if (!other.empty()) {
    throw Error(dir + ": holds files that are not fool " + command + "'s (" + json_check::printable(other) +
                "); fool overwrites nothing there; choose another --out");
  }
}

RunLock prepare_output_directory(const std::string& dir, const std::string& command,
                                 bool (*owned)(const std::string& name)) {
  check_output_directory(dir, command, owned);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  RunLock lock = lock_run_directory(dir);
  check_output_directory(dir, command, owned);  // again under the lock: another process may have written there
  if (!has_run_marker(dir)) write_run_marker(dir, command);  // also proves the directory writable
  return lock;
}

RunLock open_run_directory(const std::string& dir, const std::string& command, bool recognised) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": no such directory");
  const bool marked = has_run_marker(dir);
  if (!marked && !recognised) {
    throw Error(dir + ": has no " + std::string(kRunMarker) +
                " marker and holds no run fool can read; fool writes nothing there");
  }
  RunLock lock = lock_run_directory(dir);
  if (!marked) write_run_marker(dir, command);
  return lock;
}

bool holds_fool_checkpoint(const std::string& dir) {
  const std::string path = (fs::path(dir) / "checkpoint.json").string();
  if (is_link(path)) return false;
  try {
    const nlohmann::json j = read_json_file(path);
    return j.is_object() && j.contains("format") && j["format"] == kCheckpointFormat;
  } catch (const Error&) {
    return false;
  }
}

namespace {

namespace {
[[noreturn]] void refuse_other_setting(const std::string& path, const std::string& key, const nlohmann::json& saved,
                                       const nlohmann::json& value) {
  throw Error(path + ": checkpoint was made with another " + key + " (" +
              (saved.contains(key) ? saved[key].dump() : std::string("none")) + ", now " + value.dump() + ")");
}
}  // namespace

// Throws unless the checkpoint's settings match the run's in every key that defines the outcome,
// naming the most telling difference: model, encoding and backend first, then the rest.
void check_same_settings(const std::string& path, const nlohmann::json& saved, const nlohmann::json& settings) {
  std::vector<std::string> keys = {"model_sha256", "encoding", "backend"};
  for (const auto& item : settings.items())
    if (std::find(keys.begin(), keys.end(), item.key()) == keys.end()) keys.push_back(item.key());
  for (const std::string& key : keys) {
    if (!settings.contains(key)) continue;
    const nlohmann::json& value = settings[key];
    if (std::find(std::begin(kFreeSettings), std::end(kFreeSettings), key) != std::end(kFreeSettings)) continue;
    if (key == "model_input" && !saved.contains(key)) continue;  // checkpoints of fool before it was recorded
    if (!saved.contains(key) || saved[key] != value) refuse_other_setting(path, key, saved, value);
  }
}

// The checkpoint's binary genome file (written since the genome codec), checked against the size
// and SHA-256 that checkpoint.json records; empty for older checkpoints with JSON genomes.
struct CheckpointGenomes {
  std::vector<std::uint8_t> blob;
  std::string path;
  std::map<std::size_t, GenomePtr> decoded;  // by offset: cells that shared a genome share it again
};

CheckpointGenomes read_checkpoint_genomes(const std::string& dir, const std::string& path, const nlohmann::json& j) {
  CheckpointGenomes out;
  if (!j.contains("genomes")) return out;
  const auto& g = j["genomes"];
  const std::string name = g.at("file").get<std::string>();
  if (!is_genome_file(name) || name.find('/') != std::string::npos) throw Error(path + ": bad genome file name");
  out.path = (fs::path(dir) / name).string();
  std::error_code ec;
  if (!fs::exists(out.path, ec)) throw Error(out.path + ": genome file of the checkpoint is missing");
  out.blob = read_file(out.path);
  if (out.blob.size() != g.at("bytes").get<std::size_t>() ||
      sha256_hex(out.blob.data(), out.blob.size()) != g.at("sha256")) {
    throw Error(out.path + ": genome file does not match checkpoint.json (size or SHA-256)");
  }
  return out;
}

// The genome of cell c: a range of the binary genome file, or (older checkpoints) inline JSON;
// nullptr for an empty cell.
GenomePtr checkpoint_cell_genome(const nlohmann::json& cell, std::size_t c, const std::string& path,
                                 const Encoding& encoding, CheckpointGenomes& genomes) {
  if (cell.contains("genome_offset")) {
    const std::vector<std::uint8_t>& blob = genomes.blob;
    const std::size_t offset = json_check::unsigned_integer(cell, "", "genome_offset", blob.size());
    const std::size_t bytes = json_check::unsigned_integer(cell, "", "genome_bytes", blob.size());
    if (offset > blob.size() || bytes > blob.size() - offset) {
      throw Error(path + ": cell " + std::to_string(c) + " points outside the genome file");
    }
    auto& slot = genomes.decoded[offset];
    if (!slot) {
      try {
        slot = decode_genome(encoding, blob.data() + offset, bytes);
      } catch (const Error& err) {
        throw Error(genomes.path + ": genome of cell " + std::to_string(c) + ": " + err.what());
      }
    }
    return slot;
  }
  if (cell.contains("genome") && !cell.at("genome").is_null()) {
    try {
      return encoding.from_json(cell["genome"]);
    } catch (const Error& bad) {
      throw Error("cells[" + std::to_string(c) + "].genome: " + bad.what());
    }
  }
  return nullptr;
}

// Drops the log lines of generations from `next` on: the resumed run writes them again.
void trim_log(const std::string& dir, int next) {
  const fs::path log = fs::path(dir) / "log.jsonl";
  std::error_code ec;
  if (!fs::exists(log, ec)) return;
  std::stringstream in(read_text_file(log.string())), out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto entry = parse_json_or_discarded(line);
    if (entry.is_object() && entry.contains("generation") && entry["generation"].is_number_integer() &&
        entry["generation"].get<std::int64_t>() < next) {
      out << line << "\n";
    }
  }
  write_file_atomic(log.string(), out.str());
}

}  // namespace

void resume_from_checkpoint(const std::string& dir, Evolution& evolution, const nlohmann::json& settings) {
  const std::string path = (fs::path(dir) / "checkpoint.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no checkpoint to resume from");
  remove_stray_temporaries(dir);
  nlohmann::json j;
  try {
    j = read_json_file(path);
  } catch (const Error&) {
    throw Error(path + ": corrupt checkpoint (not valid JSON)");
  }
  try {
    if (json_check::string(j, "", "format") != kCheckpointFormat)
      throw Error(path + ": not a fool evolution checkpoint");
    const nlohmann::json& saved = json_check::object(j, "", "settings");
    check_same_settings(path, saved, settings);
    const int next = check_checkpoint_progress(j, saved, evolution.config());
    EliteArchive archive(evolution.config().classes);
    const auto& cells = json_check::array(j, "", "cells");
    if (cells.size() != archive.cells()) throw Error(path + ": checkpoint has another number of classes");
    CheckpointGenomes genomes = read_checkpoint_genomes(dir, path, j);
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const auto& cell = cells[c];
      Elite e = check_checkpoint_cell(cell, c, archive, next);
      if (GenomePtr genome = checkpoint_cell_genome(cell, c, path, evolution.encoding(), genomes)) e.genome = genome;
      archive.restore(c, e, json_check::member(cell, "", "first_reached").get<std::vector<int>>());
    }
    evolution.restore(next,
                      static_cast<std::size_t>(json_check::unsigned_integer(j, "", "evaluations", ~std::uint64_t{0})),
                      json_check::number(j, "", "seconds", 0.0, 1e12), std::move(archive));
    trim_log(dir, next);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": corrupt checkpoint (" + std::string(e.what()) + ")");
  } catch (const Error& e) {
    const std::string msg = e.what();
    throw Error(msg.rfind(path, 0) == 0 ? msg : path + ": " + msg);
  }
}

void write_checkpoint(const std::string& dir, const Evolution& evolution, const nlohmann::json& settings) {
  const EliteArchive& a = evolution.archive();
  nlohmann::json cells = nlohmann::json::array();
  std::vector<std::uint8_t> blob;
  std::map<const Genome*, std::pair<std::size_t, std::size_t>> written;  // a genome held by several cells: once
  for (std::size_t c = 0; c < a.cells(); ++c) {
    const Elite& e = a.elite(c);
    std::vector<int> first;
    for (std::size_t t = 0; t < a.thresholds().size(); ++t) first.push_back(a.first_reached(c, t));
    nlohmann::json cell = {
        {"class", a.class_of(c)}, {"fitness", e.fitness}, {"generation", e.generation}, {"first_reached", first}};
    if (e.genome) {
      auto [it, fresh] = written.try_emplace(e.genome.get());
      if (fresh) {
        const std::size_t offset = blob.size();
        encode_genome(evolution.encoding(), *e.genome, blob);
        it->second = {offset, blob.size() - offset};
      }
      cell["genome_offset"] = it->second.first;
      cell["genome_bytes"] = it->second.second;
    }
    cells.push_back(std::move(cell));
  }
  const std::string genome_file = genome_file_name(evolution.next_generation());
  write_file_atomic((fs::path(dir) / genome_file).string(), blob.data(), blob.size());
  const nlohmann::json j = {
      {"format", kCheckpointFormat},
      {"settings", settings},
      {"next_generation", evolution.next_generation()},
      {"evaluations", evolution.evaluations()},
      {"seconds", evolution.seconds()},
      {"genomes", {{"file", genome_file}, {"bytes", blob.size()}, {"sha256", sha256_hex(blob.data(), blob.size())}}},
      {"cells", cells}};
  write_file_atomic((fs::path(dir) / "checkpoint.json").string(), j.dump() + "\n");
  remove_genome_files(dir, genome_file);
}

}  // namespace fool
