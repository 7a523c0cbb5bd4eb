#pragma once
// File helpers: whole-file reads with one-line errors, atomic writes (temporary file in the
// same directory, then rename, so an interrupted run never leaves a half-written file), and the
// SHA-256 digest of a file, for recording which model a run used.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fool {

std::vector<std::uint8_t> read_file(const std::string& path);
std::string read_text_file(const std::string& path);
// Reads and parses a JSON file; throws fool::Error "<path>: not valid JSON (...)" otherwise.
nlohmann::json read_json_file(const std::string& path);
void write_file_atomic(const std::string& path, const void* data, std::size_t size);
void write_file_atomic(const std::string& path, const std::string& text);
std::string sha256_file(const std::string& path);  // hex digest of the file's bytes

// True for the hidden temporary name write_file_atomic uses (".<name>.XXXXXX"); a process killed
// mid-write leaves one behind.
bool is_atomic_temporary(const std::string& filename);
// Removes such temporaries from `dir` (and its subdirectories if `recursive`); returns how many.
std::size_t remove_atomic_temporaries(const std::string& dir, bool recursive);
}  // namespace fool
