#include "fool/output/run_directory.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fool/core/error.h"
#include "fool/core/bytes.h"
#include "fool/encoding/genome_codec.h"
#include "fool/io/files.h"
#include "fool/core/json_check.h"

namespace fool {

namespace fs = std::filesystem;

namespace {
constexpr const char* kCheckpointFormat = "fool-evolve-checkpoint/1";
const char* kRunFiles[] = {"summary.json", "checkpoint.json", "log.jsonl", "grid.png", "images", "genomes"};
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
  const std::uint64_t want = next == 0 ? 0
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

// Names fool itself puts at the top of a run directory (results, checkpoint, log, write test, and
// their temporaries); a directory holding nothing else is a run that fool may clean up and restart.
bool is_run_file(const std::string& name) {
  if (std::find_if(std::begin(kRunFiles), std::end(kRunFiles), [&](const char* f) { return name == f; }) !=
      std::end(kRunFiles)) {
    return true;
  }
  return name == ".fool-write-test" || is_atomic_temporary(name);
}

bool holds_only_run_files(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (!is_run_file(entry.path().filename().string())) return false;
  return !ec;
}

std::string fs_error(const std::string& dir, const std::error_code& ec) { return dir + ": " + ec.message(); }

}  // namespace

void remove_stray_temporaries(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  remove_atomic_temporaries(dir, true);
  fs::remove(fs::path(dir) / ".fool-write-test", ec);
}

bool is_unfinished_run_without_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  if (fs::exists(fs::path(dir) / "checkpoint.json", ec) || fs::exists(fs::path(dir) / "summary.json", ec)) return false;
  return holds_only_run_files(dir);
}

void prepare_run_directory(const std::string& dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw Error(dir + ": exists and is not a directory");
  if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec)) {
    const bool is_run = fs::exists(fs::path(dir) / "summary.json") || fs::exists(fs::path(dir) / "checkpoint.json");
    // A run killed before its first checkpoint leaves only fool's own files: nothing to keep or resume.
    const bool unfinished = !is_run && holds_only_run_files(dir);
    if (!is_run && !unfinished) throw Error(dir + ": directory is not empty and holds no fool run; choose another --out");
    if (is_run && !overwrite) throw Error(dir + ": holds another run; use --resume to continue it or --overwrite to replace it");
    std::vector<fs::path> remove;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (is_run_file(entry.path().filename().string())) remove.push_back(entry.path());
    for (const auto& p : remove) {
      fs::remove_all(p, ec);
      if (ec) throw Error(fs_error(p.string(), ec));
    }
    remove_genome_files(dir, "");
  }
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  // Fail now, not after the search, if the directory is not writable.
  write_file_atomic((fs::path(dir) / ".fool-write-test").string(), std::string("ok"));
  fs::remove(fs::path(dir) / ".fool-write-test", ec);
}

namespace {

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
    if (!saved.contains(key) || saved[key] != value) {
      throw Error(path + ": checkpoint was made with another " + key + " (" +
                  (saved.contains(key) ? saved[key].dump() : std::string("none")) + ", now " + value.dump() + ")");
    }
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
  if (out.blob.size() != g.at("bytes").get<std::size_t>() || sha256_hex(out.blob.data(), out.blob.size()) != g.at("sha256")) {
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
    const auto entry = nlohmann::json::parse(line, nullptr, false);
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
    if (json_check::string(j, "", "format") != kCheckpointFormat) throw Error(path + ": not a fool evolution checkpoint");
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
    evolution.restore(next, static_cast<std::size_t>(json_check::unsigned_integer(j, "", "evaluations", ~std::uint64_t{0})),
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
    nlohmann::json cell = {{"class", a.class_of(c)}, {"fitness", e.fitness}, {"generation", e.generation}, {"first_reached", first}};
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
  const nlohmann::json j = {{"format", kCheckpointFormat},
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
