#pragma once
// What this machine can do: the most threads worth asking for and the memory there is, so that
// requests beyond them (--threads 100000, --offspring 2e9, --image-size 100000) are refused with one
// line before any work starts, instead of ending in a TBB crash or std::bad_alloc.
#include <cstdint>
#include <string>

namespace fool {

// max(64, 4 x the hardware threads): more workers than that only add contention.
int max_threads();
// Throws fool::Error "<what> <n> is more than this machine can use (at most N)" if threads > max_threads().
void check_threads(int threads, const std::string& what);
// Physical memory in bytes (the cgroup limit where one is set and smaller).
std::uint64_t physical_memory_bytes();
// Memory a new allocation can have now: /proc/meminfo's MemAvailable, at most physical_memory_bytes().
std::uint64_t available_memory_bytes();
// "1.5 GiB", "512.0 MiB", "64 bytes".
std::string memory_size_text(std::uint64_t bytes);
// Parses a memory size: a number of bytes, or with a suffix K/M/G/T (powers of 1024; "KiB", "KB"
// mean the same), e.g. "8G", "512M", "1.5GiB". Throws fool::Error "<what>: ..." if it is not one,
// is 0, or is more than 2^60 bytes.
std::uint64_t parse_memory_size(const std::string& text, const std::string& what);
// Throws fool::Error "<what> needs about X GiB; this machine has Y GiB" when bytes exceed the
// physical memory. `bytes` saturates rather than overflows: pass the result of mul_saturated.
void check_memory(std::uint64_t bytes, const std::string& what);
std::uint64_t mul_saturated(std::uint64_t a, std::uint64_t b);

}  // namespace fool
