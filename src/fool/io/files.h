#pragma once
// File helpers: whole-file reads with one-line errors, atomic writes (temporary file in the
// same directory, then rename, so an interrupted run never leaves a half-written file), and the
// SHA-256 digest of a file, for recording which model a run used.
//
// Every file fool reads goes through check_regular_file: it must be a regular file (a symbolic link
// is followed and its target must be one), never a FIFO, device, socket or directory, so that
// /dev/zero or a named pipe is a one-line error instead of a hang or an out-of-memory kill. Whole
// reads are bounded (max_bytes) before a byte is read; JSON is checked for nesting depth before
// nlohmann's recursive parser sees it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fool {

// The most bytes a whole-file read takes unless the caller says otherwise (models of the paper's
// scale are a few hundred MB).
constexpr std::uint64_t kMaxReadBytes = std::uint64_t{4} << 30;
// The largest JSON document fool parses (summary.json, checkpoint.json, experiment files, genomes).
constexpr std::uint64_t kMaxJsonBytes = std::uint64_t{1} << 30;
// The deepest nesting of arrays and objects fool parses; fool's own files nest a handful deep.
constexpr int kMaxJsonDepth = 128;

// Throws fool::Error "<path>: ..." unless path names a regular file (links followed); returns its
// size in bytes.
std::uint64_t check_regular_file(const std::string& path);

std::vector<std::uint8_t> read_file(const std::string& path, std::uint64_t max_bytes = kMaxReadBytes);
std::string read_text_file(const std::string& path, std::uint64_t max_bytes = kMaxReadBytes);
// Reads and parses a JSON file (at most kMaxJsonBytes, nesting at most kMaxJsonDepth); throws
// fool::Error "<path>: not valid JSON (...)" otherwise.
nlohmann::json read_json_file(const std::string& path);
// Throws fool::Error "<what>: JSON nested deeper than <max_depth> levels" if the text's arrays and
// objects (outside strings) nest deeper than max_depth; a linear scan, no recursion.
void check_json_depth(const std::string& text, const std::string& what, int max_depth = kMaxJsonDepth);
// nlohmann::json::parse(text, nullptr, false) after the depth check: a discarded value for text that
// is not JSON or nests too deep (for line-by-line logs, where a damaged line is skipped).
nlohmann::json parse_json_or_discarded(const std::string& text);

void write_file_atomic(const std::string& path, const void* data, std::size_t size);
void write_file_atomic(const std::string& path, const std::string& text);
// write_file_atomic without the fsync: readers (and a kill -9) still see the old file or the new one,
// never half of one, but a power failure may lose it. For files rewritten every few seconds whose
// loss costs nothing (the live view), where an fsync per file would slow the run.
void write_file_replace(const std::string& path, const void* data, std::size_t size);
// write_file_atomic for a file that must stay inside `root` (a run directory): throws before
// writing if a directory on the way to `path` is a symbolic link leaving root.
void write_file_inside(const std::string& root, const std::string& path, const void* data, std::size_t size);
void write_file_inside(const std::string& root, const std::string& path, const std::string& text);
// Throws fool::Error naming `path` if it, or a directory between root and it, is a symbolic link
// that resolves outside root (or root itself is missing). Does not require path to exist.
void check_no_link_leaving(const std::string& root, const std::string& path);
// Creates `dir` (and parents) inside root, refusing links that leave root on the way.
void create_directories_inside(const std::string& root, const std::string& dir);

// Checks that a file can be created in `dir` (an existing directory) by creating and removing a
// hidden temporary there (named kWriteTestPrefix + six random characters); throws fool::Error
// "<flag> <shown>: cannot write in <dir> (...)".
inline constexpr const char* kWriteTestPrefix = ".fool-write-test.";
void check_writable_directory(const std::string& dir, const std::string& flag, const std::string& shown);

std::string sha256_file(const std::string& path);  // hex digest of the file's bytes

// True for the hidden temporary name write_file_atomic uses (".<name>.XXXXXX"); a process killed
// mid-write leaves one behind.
bool is_atomic_temporary(const std::string& filename);
// The start of the temporary names write_file_atomic uses for a file called `filename`: "." +
// filename + "." (six random characters follow).
std::string atomic_temporary_prefix(const std::string& filename);
// Removes such temporaries from `dir` (and its subdirectories if `recursive`); returns how many.
std::size_t remove_atomic_temporaries(const std::string& dir, bool recursive);
}  // namespace fool
