#pragma once
// File helpers: whole-file reads with one-line errors, atomic writes (temporary file in the
// same directory, then rename, so an interrupted run never leaves a half-written file), and
// SHA-256 digests for recording which model a run used.
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
std::string sha256_hex(const void* data, std::size_t size);
std::string sha256_file(const std::string& path);
std::string base64_encode(const std::uint8_t* data, std::size_t size);
// Throws fool::Error on characters outside the base64 alphabet.
std::vector<std::uint8_t> base64_decode(const std::string& text);

}  // namespace fool
