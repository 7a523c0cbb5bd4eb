#include "fool/output/run_directory.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fool/core/error.h"
#include "fool/core/bytes.h"
#include "fool/encoding/genome_codec.h"
#include "fool/io/files.h"

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

void prepare_run_directory(const std::string& dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw Error(dir + ": exists and is not a directory");
  if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec)) {
    const bool is_run = fs::exists(fs::path(dir) / "summary.json") || fs::exists(fs::path(dir) / "checkpoint.json");
    if (!is_run) throw Error(dir + ": directory is not empty and holds no fool run; choose another --out");
    if (!overwrite) throw Error(dir + ": holds another run; use --resume to continue it or --overwrite to replace it");
    for (const char* name : kRunFiles) fs::remove_all(fs::path(dir) / name, ec);
    remove_genome_files(dir, "");
  }
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  // Fail now, not after the search, if the directory is not writable.
  write_file_atomic((fs::path(dir) / ".fool-write-test").string(), std::string("ok"));
  fs::remove(fs::path(dir) / ".fool-write-test", ec);
}

void resume_from_checkpoint(const std::string& dir, Evolution& evolution, const nlohmann::json& settings) {
  const std::string path = (fs::path(dir) / "checkpoint.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no checkpoint to resume from");
  nlohmann::json j;
  try {
    j = read_json_file(path);
  } catch (const Error&) {
    throw Error(path + ": corrupt checkpoint (not valid JSON)");
  }
  try {
    if (j.at("format").get<std::string>() != kCheckpointFormat) throw Error(path + ": not a fool evolution checkpoint");
    const nlohmann::json& saved = j.at("settings");
    // Name the most telling difference: model, encoding and backend first, then the rest.
    std::vector<std::string> keys = {"model_sha256", "encoding", "backend"};
    for (const auto& item : settings.items())
      if (std::find(keys.begin(), keys.end(), item.key()) == keys.end()) keys.push_back(item.key());
    for (const std::string& key : keys) {
      if (!settings.contains(key)) continue;
      const nlohmann::json& value = settings[key];
      if (std::find(std::begin(kFreeSettings), std::end(kFreeSettings), key) != std::end(kFreeSettings)) continue;
      if (!saved.contains(key) || saved[key] != value) {
        throw Error(path + ": checkpoint was made with another " + key + " (" +
                    (saved.contains(key) ? saved[key].dump() : std::string("none")) + ", now " + value.dump() + ")");
      }
    }
    EliteArchive archive(evolution.config().classes);
    const auto& cells = j.at("cells");
    if (cells.size() != archive.cells()) throw Error(path + ": checkpoint has another number of classes");
    // Binary genomes (written since the genome codec); JSON genomes of older checkpoints are still read.
    std::vector<std::uint8_t> blob;
    std::string blob_path;
    if (j.contains("genomes")) {
      const auto& g = j["genomes"];
      const std::string name = g.at("file").get<std::string>();
      if (!is_genome_file(name) || name.find('/') != std::string::npos) throw Error(path + ": bad genome file name");
      blob_path = (fs::path(dir) / name).string();
      if (!fs::exists(blob_path, ec)) throw Error(blob_path + ": genome file of the checkpoint is missing");
      blob = read_file(blob_path);
      if (blob.size() != g.at("bytes").get<std::size_t>() || sha256_hex(blob.data(), blob.size()) != g.at("sha256")) {
        throw Error(blob_path + ": genome file does not match checkpoint.json (size or SHA-256)");
      }
    }
    std::map<std::size_t, GenomePtr> decoded;  // by offset: cells that shared a genome share it again
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const auto& cell = cells[c];
      Elite e;
      e.fitness = cell.at("fitness").get<float>();
      e.generation = cell.at("generation").get<int>();
      if (cell.contains("genome_offset")) {
        const std::size_t offset = cell.at("genome_offset").get<std::size_t>();
        const std::size_t bytes = cell.at("genome_bytes").get<std::size_t>();
        if (offset > blob.size() || bytes > blob.size() - offset) {
          throw Error(path + ": cell " + std::to_string(c) + " points outside the genome file");
        }
        auto& slot = decoded[offset];
        if (!slot) {
          try {
            slot = decode_genome(evolution.encoding(), blob.data() + offset, bytes);
          } catch (const Error& err) {
            throw Error(blob_path + ": genome of cell " + std::to_string(c) + ": " + err.what());
          }
        }
        e.genome = slot;
      } else if (cell.contains("genome") && !cell.at("genome").is_null()) {
        e.genome = evolution.encoding().from_json(cell["genome"]);
      }
      archive.restore(c, e, cell.at("first_reached").get<std::vector<int>>());
    }
    const int next = j.at("next_generation").get<int>();
    evolution.restore(next, j.at("evaluations").get<std::size_t>(), j.at("seconds").get<double>(), std::move(archive));
    // Drop log lines of generations after the checkpoint: they will be run again.
    const fs::path log = fs::path(dir) / "log.jsonl";
    if (fs::exists(log, ec)) {
      std::stringstream in(read_text_file(log.string())), out;
      for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        const auto entry = nlohmann::json::parse(line, nullptr, false);
        if (!entry.is_discarded() && entry.value("generation", next) < next) out << line << "\n";
      }
      write_file_atomic(log.string(), out.str());
    }
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
