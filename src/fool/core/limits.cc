#include "fool/core/limits.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <limits>
#include <thread>

#include "fool/core/error.h"

namespace fool {

int max_threads() { return std::max(64, 4 * static_cast<int>(std::thread::hardware_concurrency())); }

void check_threads(int threads, const std::string& what) {
  if (threads < 0) throw Error(what + " must not be negative, got " + std::to_string(threads));
  if (threads > max_threads()) {
    throw Error(what + " " + std::to_string(threads) + " is more than this machine can use (at most " +
                std::to_string(max_threads()) + ")");
  }
}

std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  std::uint64_t bytes = pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
                                              : std::numeric_limits<std::uint64_t>::max();
  // A container's memory limit (cgroup v2, then v1) is what the process can really have.
  for (const char* f : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(f);
    unsigned long long v = 0;
    if (in >> v && v > 0) bytes = std::min<std::uint64_t>(bytes, v);
  }
  return bytes;
}

std::uint64_t available_memory_bytes() {
  std::uint64_t bytes = physical_memory_bytes();
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    unsigned long long kib = 0;
    if (key == "MemAvailable:" && in >> kib) {
      bytes = std::min<std::uint64_t>(bytes, mul_saturated(kib, 1024));
      break;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return bytes;
}

std::string memory_size_text(std::uint64_t bytes) {
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 5) v /= 1024.0, ++u;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::uint64_t parse_memory_size(const std::string& text, const std::string& what) {
  const std::string bad = what + ": '" + text + "' is not a memory size (a number of bytes, or e.g. 512M, 8G)";
  std::size_t end = 0;
  double v = 0.0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    throw Error(bad);
  }
  std::string unit = text.substr(end);
  for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double scale = 1.0;
  if (unit == "K")
    scale = 1024.0;
  else if (unit == "M")
    scale = 1024.0 * 1024.0;
  else if (unit == "G")
    scale = 1024.0 * 1024.0 * 1024.0;
  else if (unit == "T")
    scale = 1024.0 * 1024.0 * 1024.0 * 1024.0;
  else if (!unit.empty() && unit != "B")
    throw Error(bad);
  const double bytes = v * scale;
  if (!(bytes >= 1.0 && bytes <= 1152921504606846976.0)) {  // 2^60
    throw Error(what + ": '" + text + "' is not between 1 byte and 2^60 bytes");
  }
  return static_cast<std::uint64_t>(bytes);
}

std::uint64_t mul_saturated(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}

void check_memory(std::uint64_t bytes, const std::string& what) {
  const std::uint64_t have = physical_memory_bytes();
  if (bytes <= have) return;
  auto gib = [](std::uint64_t b) {
    char buf[64];
    const double g = static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0);
    if (g >= 1e6)
      std::snprintf(buf, sizeof buf, "%.1e", g);
    else
      std::snprintf(buf, sizeof buf, "%.1f", g);
    return std::string(buf);
  };
  throw Error(what + " needs about " + gib(bytes) + " GiB; this machine has " + gib(have) + " GiB");
}

}  // namespace fool
