#pragma once
// Reading and writing IDX files (the MNIST container format: big-endian header, unsigned
// bytes), plain or gzip-compressed.
#include <cstdint>
#include <string>
#include <vector>

namespace fool {

struct IdxArray {
  std::vector<std::uint32_t> dims;  // e.g. {N, 28, 28} for images, {N} for labels
  std::vector<std::uint8_t> data;   // product(dims) bytes, row-major
};

// Reads an unsigned-byte IDX file, gzipped or not. Throws fool::Error naming the file on a bad
// magic number, an unsupported element type, or a size that does not match the header.
IdxArray read_idx(const std::string& path);
// Parses IDX bytes already in memory; `name` is used in error messages.
IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& name);
// Serialises an unsigned-byte IDX array (uncompressed).
std::vector<std::uint8_t> encode_idx(const IdxArray& array);
void write_idx(const std::string& path, const IdxArray& array);

}  // namespace fool
