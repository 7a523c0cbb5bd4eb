#include "fool/io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "fool/core/bytes.h"
#include "fool/core/error.h"

namespace fool {

namespace {
std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory, not a file";
  if (S_ISFIFO(mode)) return "is a named pipe (FIFO), not a regular file";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device, not a regular file";
  if (S_ISSOCK(mode)) return "is a socket, not a regular file";
  return "is not a regular file";
}
std::string too_large(const std::string& path, std::uint64_t size, std::uint64_t max_bytes) {
  return path + ": " + std::to_string(size) + " bytes, more than fool reads here (at most " +
         std::to_string(max_bytes) + ")";
}
// "<path>: <what> (<the system's reason for errno err>)".
std::string failure(const std::string& path, const char* what, int err) {
  return path + ": " + what + " (" + std::strerror(err) + ")";
}
}  // namespace

std::uint64_t check_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": " + kind_of(st.st_mode));
  return static_cast<std::uint64_t>(st.st_size);
}

std::vector<std::uint8_t> read_file(const std::string& path, std::uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw Error(path + ": cannot read (" + why + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": " + kind_of(st.st_mode));
  }
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    throw Error(too_large(path, size, max_bytes));
  }
  std::vector<std::uint8_t> bytes;
  bytes.reserve(static_cast<std::size_t>(size));
  std::uint8_t buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(failure(path, "read failed", err));
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<std::size_t>(n) > max_bytes) {  // the file grew while being read
      ::close(fd);
      throw Error(too_large(path, bytes.size() + static_cast<std::size_t>(n), max_bytes));
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
  ::close(fd);
  return bytes;
}

std::string read_text_file(const std::string& path, std::uint64_t max_bytes) {
  const auto bytes = read_file(path, max_bytes);
  return std::string(bytes.begin(), bytes.end());
}

void check_json_depth(const std::string& text, const std::string& what, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\') {
        ++i;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) {
        throw Error(what + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
      }
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
}

nlohmann::json parse_json_or_discarded(const std::string& text) {
  try {
    check_json_depth(text, "");
  } catch (const Error&) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return nlohmann::json::parse(text, nullptr, false);
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_text_file(path, kMaxJsonBytes);
  try {
    check_json_depth(text, "");
  } catch (const Error& e) {
    throw Error(path + ": not valid JSON (" + std::string(e.what()).substr(2) + ")");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string why = e.what();
    if (why.size() > 160) why = why.substr(0, 160);
    throw Error(path + ": not valid JSON (" + why + ")");
  }
}

namespace {
void write_via_rename(const std::string& path, const void* data, std::size_t size, bool sync) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / (atomic_temporary_prefix(target.filename().string()) + "XXXXXX")).string();
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(name.data());
      throw Error(failure(path, "write failed", err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0) {
    ::unlink(name.data());
    throw Error(path + ": write failed (" + std::strerror(errno) + ")");
  }
  ::chmod(name.data(), 0644);
  if (std::rename(name.data(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(name.data());
    throw Error(path + ": cannot write (" + why + ")");
  }
}
}  // namespace

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  write_via_rename(path, data, size, true);
}

void write_file_replace(const std::string& path, const void* data, std::size_t size) {
  write_via_rename(path, data, size, false);
}

std::string atomic_temporary_prefix(const std::string& filename) { return "." + filename + "."; }

bool is_atomic_temporary(const std::string& name) {
  if (name.size() < 9 || name[0] != '.' || name[name.size() - 7] != '.') return false;
  for (std::size_t i = name.size() - 6; i < name.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

std::size_t remove_atomic_temporaries(const std::string& dir, bool recursive) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> stray;
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (is_atomic_temporary(it->path().filename().string())) stray.push_back(it->path());
  } else {
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (is_atomic_temporary(entry.path().filename().string())) stray.push_back(entry.path());
  }
  std::size_t removed = 0;
  for (const auto& p : stray) removed += fs::remove(p, ec) ? 1 : 0;
  return removed;
}

void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

namespace {
bool is_inside(const std::filesystem::path& root, const std::filesystem::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}
}  // namespace

void check_no_link_leaving(const std::string& root, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) throw Error(root + ": cannot open (" + ec.message() + ")");
  // Every existing prefix of path is resolved, links included; what does not exist yet is made by
  // fool itself, as a plain directory or file.
  const fs::path real = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) throw Error(path + ": cannot resolve (" + ec.message() + ")");
  if (!is_inside(real_root, real)) {
    throw Error(path + ": leads outside " + root + " through a symbolic link; fool does not write through it");
  }
}

void create_directories_inside(const std::string& root, const std::string& dir) {
  check_no_link_leaving(root, dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
}

void write_file_inside(const std::string& root, const std::string& path, const void* data, std::size_t size) {
  check_no_link_leaving(root, path);
  write_file_atomic(path, data, size);
}

void write_file_inside(const std::string& root, const std::string& path, const std::string& text) {
  write_file_inside(root, path, text.data(), text.size());
}

void check_writable_directory(const std::string& dir, const std::string& flag, const std::string& shown) {
  std::string tmpl =
      (std::filesystem::path(dir.empty() ? "." : dir) / (std::string(kWriteTestPrefix) + "XXXXXX")).string();
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    throw Error(flag + " " + shown + ": cannot write in " + (dir.empty() ? std::string(".") : dir) + " (" +
                std::strerror(errno) + ")");
  }
  ::close(fd);
  ::unlink(name.data());
}

std::string sha256_file(const std::string& path) {
  const auto bytes = read_file(path);
  return sha256_hex(bytes.data(), bytes.size());
}

}  // namespace fool
