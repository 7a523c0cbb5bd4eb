#include "fool/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/core/limits.h"
#include "fool/io/files.h"

namespace fool {

namespace {
// Appends up to `want` more decompressed bytes to `bytes`; returns false at the end of the stream.
bool read_some(gzFile f, std::vector<std::uint8_t>& bytes, std::uint64_t want, const std::string& path) {
  std::uint8_t buf[1 << 16];
  while (want > 0) {
    const int n = gzread(f, buf, static_cast<unsigned>(std::min<std::uint64_t>(want, sizeof buf)));
    if (n < 0) throw Error(path + ": corrupt gzip stream");
    if (n == 0) return false;
    bytes.insert(bytes.end(), buf, buf + n);
    want -= static_cast<std::uint64_t>(n);
  }
  return true;
}
}  // namespace

IdxArray read_idx(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such IDX file");
  check_regular_file(path);  // a FIFO or device would hang or never end
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<std::uint8_t> bytes;
  try {
    // The header first; then no more than the size it declares (and one byte to tell a longer
    // file), so that a small .gz inflating to gigabytes is refused before it is inflated.
    read_some(f, bytes, 4, path);
    if (bytes.size() == 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[3] >= 1 && bytes[3] <= 4) {
      read_some(f, bytes, 4 * std::uint64_t{bytes[3]}, path);
      std::uint64_t total = 1;
      for (std::size_t d = 0; 4 + 4 * d + 3 < bytes.size(); ++d) {
        const std::uint8_t* q = &bytes[4 + 4 * d];
        total = mul_saturated(total, (std::uint64_t{q[0]} << 24) | (std::uint64_t{q[1]} << 16) |
                                         (std::uint64_t{q[2]} << 8) | std::uint64_t{q[3]});
      }
      check_memory(total, path + ": the data its IDX header declares");
      read_some(f, bytes, total + 1, path);
    } else {
      read_some(f, bytes, 64, path);  // enough for parse_idx to say what is wrong
    }
  } catch (...) {
    gzclose(f);
    throw;
  }
  int errnum = 0;
  gzerror(f, &errnum);
  gzclose(f);
  if (errnum != Z_OK && errnum != Z_BUF_ERROR) throw Error(path + ": corrupt gzip stream");
  return parse_idx(bytes, path);
}

IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (bytes.size() < 4) throw Error(name + ": not an IDX file (too short for a header)");
  if (bytes[0] != 0 || bytes[1] != 0) throw Error(name + ": not an IDX file (bad magic number)");
  if (bytes[2] != 0x08) {
    throw Error(name + ": unsupported IDX element type 0x" + std::to_string(bytes[2]) + " (only unsigned bytes, 0x08)");
  }
  const int ndims = bytes[3];
  if (ndims < 1 || ndims > 4) throw Error(name + ": IDX header claims " + std::to_string(ndims) + " dimensions");
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndims);
  if (bytes.size() < header) throw Error(name + ": truncated IDX header");
  IdxArray out;
  std::uint64_t total = 1;  // saturates: a header whose product overflows is never "0 bytes"
  for (int d = 0; d < ndims; ++d) {
    const std::uint8_t* p = &bytes[4 + 4 * d];
    const std::uint32_t v =
        (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
    out.dims.push_back(v);
    total = mul_saturated(total, v);
  }
  const std::size_t have = bytes.size() - header;
  if (have < total) {
    throw Error(name + ": truncated IDX data (header says " + std::to_string(total) + " bytes, file has " +
                std::to_string(have) + ")");
  }
  if (have > total) {
    throw Error(name + ": IDX file has " + std::to_string(have - total) + " bytes past the size in its header");
  }
  out.data.assign(bytes.begin() + static_cast<long>(header), bytes.end());
  return out;
}

std::vector<std::uint8_t> encode_idx(const IdxArray& array) {
  std::vector<std::uint8_t> out = {0, 0, 0x08, static_cast<std::uint8_t>(array.dims.size())};
  for (std::uint32_t v : array.dims) {
    out.push_back(static_cast<std::uint8_t>(v >> 24));
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
  }
  out.insert(out.end(), array.data.begin(), array.data.end());
  return out;
}

void write_idx(const std::string& path, const IdxArray& array) {
  const auto bytes = encode_idx(array);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace fool
