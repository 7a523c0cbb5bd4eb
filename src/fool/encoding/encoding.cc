#include "fool/encoding/encoding.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/core/rounding.h"

namespace fool {

nlohmann::json Encoding::settings() const { return nlohmann::json::object(); }

Image8 Encoding::render_at(const Genome& genome, int height, int width) const {
  const ImageShape own = shape();
  if (height != own.height || width != own.width) {
    throw Error("encoding '" + name() + "' draws only at its own size " + own.str());
  }
  return render(genome);
}

GenomePtr Encoding::crossover(const Genome&, const Genome&, Rng&) const {
  throw Error("encoding '" + name() + "' has no crossover");
}

double polynomial_mutation(double x, double lo, double hi, double eta, Rng& rng) {
  const double range = hi - lo;
  if (range <= 0.0) return x;
  const double d1 = (x - lo) / range, d2 = (hi - x) / range;
  const double r = rng.uniform();
  const double power = 1.0 / (eta + 1.0);
  double dq;
  if (r < 0.5) {
    const double v = 2.0 * r + (1.0 - 2.0 * r) * std::pow(1.0 - d1, eta + 1.0);
    dq = std::pow(v, power) - 1.0;
  } else {
    const double v = 2.0 * (1.0 - r) + 2.0 * (r - 0.5) * std::pow(1.0 - d2, eta + 1.0);
    dq = 1.0 - std::pow(v, power);
  }
  return std::clamp(x + dq * range, lo, hi);
}

namespace {

// Written without branches on t (the hue of random genomes makes them unpredictable), each
// expression as before, so the bytes are the same.
double hue_component(double p, double q, double t) {
  t = t < 0.0 ? t + 1.0 : t;
  t = t > 1.0 ? t - 1.0 : t;
  const double rising = p + (q - p) * 6.0 * t;
  const double falling = p + (q - p) * (2.0 / 3.0 - t) * 6.0;
  const double upper = t < 2.0 / 3.0 ? falling : p;
  const double middle = t < 0.5 ? q : upper;
  return t < 1.0 / 6.0 ? rising : middle;
}

std::uint8_t to_byte(double v) { return round_to_byte(std::clamp(v, 0.0, 1.0) * 255.0); }

// b / 255.0 for every byte b, computed once (the same doubles as the division, without its cost per pixel).
const std::array<double, 256>& byte_fractions() {
  static const std::array<double, 256> table = [] {
    std::array<double, 256> t{};
    for (int b = 0; b < 256; ++b) t[static_cast<std::size_t>(b)] = b / 255.0;
    return t;
  }();
  return table;
}

}  // namespace

void hls_to_rgb(std::uint8_t h8, std::uint8_t l8, std::uint8_t s8, std::uint8_t* r, std::uint8_t* g, std::uint8_t* b) {
  const auto& unit = byte_fractions();
  const double h = unit[h8], l = unit[l8], s = unit[s8];
  if (s8 == 0) {
    *r = *g = *b = to_byte(l);
    return;
  }
  const double q = l < 0.5 ? l * (1.0 + s) : l + s - l * s;
  const double p = 2.0 * l - q;
  *r = to_byte(hue_component(p, q, h + 1.0 / 3.0));
  *g = to_byte(hue_component(p, q, h));
  *b = to_byte(hue_component(p, q, h - 1.0 / 3.0));
}

void hls_image_to_rgb(Image8& image) {
  if (image.shape.channels != 3) return;
  const std::size_t plane = static_cast<std::size_t>(image.shape.height) * static_cast<std::size_t>(image.shape.width);
  std::uint8_t* h = image.pixels.data();
  std::uint8_t* l = h + plane;
  std::uint8_t* s = l + plane;
  for (std::size_t i = 0; i < plane; ++i) hls_to_rgb(h[i], l[i], s[i], &h[i], &l[i], &s[i]);
}

}  // namespace fool
