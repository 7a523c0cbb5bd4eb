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
// Throws fool::Error "<what> needs about X GiB; this machine has Y GiB" when bytes exceed the
// physical memory. `bytes` saturates rather than overflows: pass the result of mul_saturated.
void check_memory(std::uint64_t bytes, const std::string& what);
std::uint64_t mul_saturated(std::uint64_t a, std::uint64_t b);

}  // namespace fool
