#pragma once
// Rounding to the nearest integer, halves away from zero, for values known to be non-negative: the
// result of std::lround without its library call (it is the hot step of turning every rendered
// pixel into a byte). Exact: for 0 <= x < 2^63 the truncation t is floor(x), and x - t, the fraction
// of a double, is representable, so the comparison with 0.5 is the one lround makes. NaN and
// negative values give 0 (std::lround's result for NaN is unspecified; cast to a byte it was 0).
#include <cstdint>

namespace fool {

template <typename Real>
inline long round_nonnegative(Real x) {
  if (!(x >= Real(0))) return 0;
  const long t = static_cast<long>(x);
  return t + (x - static_cast<Real>(t) >= Real(0.5) ? 1 : 0);
}

// A value in [0, 255] (clamped by the caller) rounded to a byte.
template <typename Real>
inline std::uint8_t round_to_byte(Real x) {
  return static_cast<std::uint8_t>(round_nonnegative(x));
}

}  // namespace fool
