#pragma once
// Rng: a seedable, serialisable random-number generator (xoshiro256**) with its own
// distributions, so that a seed gives the same numbers on every compiler and machine
// (std::uniform_*_distribution differ between standard libraries).
#include <array>
#include <cstdint>

namespace fool {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);
  // A generator for a sub-stream identified by (seed, a, b): used to give every child of
  // every generation its own stream, so results do not depend on threading or batching.
  static Rng derive(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0);

  std::uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n), n > 0
  bool bernoulli(double p);
  double normal();  // standard normal (Box-Muller)

  std::array<std::uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<std::uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace fool
