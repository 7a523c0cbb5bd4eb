// Contract tests every Encoding must pass, and each encoding's own rules.
#include "fool/encoding/encoding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"

namespace fool {
namespace {

struct EncodingCase {
  std::string name;
  std::function<std::unique_ptr<Encoding>()> make;
};

std::vector<EncodingCase> cases() {
  return {
      {"direct_gray", [] { return std::make_unique<DirectEncoding>(DirectOptions{}); }},
      {"direct_color",
       [] {
         DirectOptions o;
         o.shape = {3, 16, 16};
         return std::make_unique<DirectEncoding>(o);
       }},
      {"direct_sbx",
       [] {
         DirectOptions o;
         o.sbx = true;
         return std::make_unique<DirectEncoding>(o);
       }},
      {"cppn_gray_raw", [] { return std::make_unique<CppnEncoding>(CppnOptions{}); }},
      {"cppn_color_normalized",
       [] {
         CppnOptions o;
         o.shape = {3, 20, 20};
         o.raw_coordinates = false;
         return std::make_unique<CppnEncoding>(o);
       }},
  };
}

class EncodingContract : public ::testing::TestWithParam<EncodingCase> {};

TEST_P(EncodingContract, RendersItsShapeDeterministically) {
  auto enc = GetParam().make();
  Rng a(3), b(3);
  const GenomePtr g1 = enc->random(a), g2 = enc->random(b);
  const Image8 i1 = enc->render(*g1), i2 = enc->render(*g2);
  EXPECT_EQ(i1.shape, enc->shape());
  EXPECT_EQ(i1.pixels.size(), enc->shape().size());
  EXPECT_EQ(i1.pixels, i2.pixels);
}

TEST_P(EncodingContract, MutationMakesANewGenomeAndLeavesTheParent) {
  auto enc = GetParam().make();
  Rng rng(5);
  const GenomePtr parent = enc->random(rng);
  const Image8 before = enc->render(*parent);
  int changed = 0;
  GenomePtr g = parent;
  for (int i = 0; i < 20; ++i) {
    GenomePtr child = enc->mutate(*g, rng, i);
    if (enc->uses_crossover()) child = enc->mutate(*enc->crossover(*child, *enc->random(rng), rng), rng, i);
    changed += enc->render(*child).pixels != enc->render(*g).pixels;
    g = child;
  }
  EXPECT_EQ(enc->render(*parent).pixels, before.pixels);
  EXPECT_GE(changed, 10);
}

TEST_P(EncodingContract, JsonRoundTripRendersTheSame) {
  auto enc = GetParam().make();
  Rng rng(9);
  GenomePtr g = enc->random(rng);
  for (int i = 0; i < 30; ++i) g = enc->mutate(*g, rng, i);
  const nlohmann::json j = enc->to_json(*g);
  const GenomePtr back = enc->from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(enc->render(*back).pixels, enc->render(*g).pixels);
  EXPECT_EQ(enc->to_json(*back), j);
  EXPECT_THROW(enc->from_json(nlohmann::json::parse("{\"encoding\": \"other\"}")), Error);
  EXPECT_THROW(enc->from_json(nlohmann::json::parse("[1, 2]")), Error);
}

INSTANTIATE_TEST_SUITE_P(Encodings, EncodingContract, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(PolynomialMutation, StaysInBoundsCentredAndNarrowsWithEta) {
  Rng rng(1);
  double sum15 = 0, abs15 = 0, abs50 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double y = polynomial_mutation(128.0, 0.0, 255.0, 15.0, rng);
    ASSERT_GE(y, 0.0);
    ASSERT_LE(y, 255.0);
    sum15 += y - 128.0;
    abs15 += std::abs(y - 128.0);
    abs50 += std::abs(polynomial_mutation(128.0, 0.0, 255.0, 50.0, rng) - 128.0);
    const double edge = polynomial_mutation(0.0, 0.0, 255.0, 15.0, rng);
    ASSERT_GE(edge, 0.0);
  }
  // Away from the bounds, the mean |change| of Deb's operator is range / (eta + 2).
  EXPECT_NEAR(sum15 / n, 0.0, 0.5);
  EXPECT_NEAR(abs15 / n, 255.0 / 17.0, 0.5);
  EXPECT_NEAR(abs50 / n, 255.0 / 52.0, 0.3);
}

TEST(DirectEncoding, MutationRateAndItsHalving) {
  DirectEncoding enc(DirectOptions{});
  EXPECT_DOUBLE_EQ(enc.rate_at(0), 0.1);
  EXPECT_DOUBLE_EQ(enc.rate_at(999), 0.1);
  EXPECT_DOUBLE_EQ(enc.rate_at(1000), 0.05);
  EXPECT_DOUBLE_EQ(enc.rate_at(2500), 0.025);
  Rng rng(2);
  const GenomePtr p = enc.random(rng);
  const auto& genes = static_cast<const DirectGenome&>(*p).genes;
  double changed = 0;
  const int trials = 200;
  for (int t = 0; t < trials; ++t) {
    const auto child = enc.mutate(*p, rng, 0);
    const auto& c = static_cast<const DirectGenome&>(*child).genes;
    for (std::size_t i = 0; i < c.size(); ++i) changed += c[i] != genes[i];
  }
  const double frac = changed / (trials * 784.0);
  EXPECT_GT(frac, 0.07);  // 0.1 chosen, a few round back to the same value
  EXPECT_LT(frac, 0.105);
}

TEST(DirectEncoding, RejectsNonsenseOptions) {
  DirectOptions o;
  o.mutation_rate = 0;
  EXPECT_THROW(DirectEncoding{o}, Error);
  o = {};
  o.shape = {2, 28, 28};
  EXPECT_THROW(DirectEncoding{o}, Error);
  o = {};
  o.eta = -1;
  EXPECT_THROW(DirectEncoding{o}, Error);
}

TEST(HlsToRgb, KnownColours) {
  std::uint8_t r, g, b;
  hls_to_rgb(0, 128, 255, &r, &g, &b);  // pure hue 0 at half lightness: red
  EXPECT_EQ(r, 255);
  EXPECT_LE(g, 1);
  EXPECT_LE(b, 1);
  hls_to_rgb(85, 128, 255, &r, &g, &b);  // a third of the circle: green
  EXPECT_LE(r, 3);
  EXPECT_GE(g, 253);
  hls_to_rgb(200, 77, 0, &r, &g, &b);  // no saturation: gray of the lightness
  EXPECT_EQ(r, 77);
  EXPECT_EQ(g, 77);
  EXPECT_EQ(b, 77);
  hls_to_rgb(255, 128, 255, &r, &g, &b);  // hue wraps: 255 is next to 0
  EXPECT_EQ(r, 255);
}

// hls_to_rgb as it was written first (branches, std::lround): every one of the 2^24 inputs must
// give the same bytes, or seeded runs would change.
double reference_hue(double p, double q, double t) {
  if (t < 0.0) t += 1.0;
  if (t > 1.0) t -= 1.0;
  if (t < 1.0 / 6.0) return p + (q - p) * 6.0 * t;
  if (t < 0.5) return q;
  if (t < 2.0 / 3.0) return p + (q - p) * (2.0 / 3.0 - t) * 6.0;
  return p;
}

std::uint8_t reference_byte(double v) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

TEST(HlsToRgb, EveryInputGivesTheBytesOfTheFirstImplementation) {
  int differences = 0;
  for (int s8 = 0; s8 < 256; ++s8)
    for (int l8 = 0; l8 < 256; ++l8)
      for (int h8 = 0; h8 < 256; ++h8) {
        const double h = h8 / 255.0, l = l8 / 255.0, s = s8 / 255.0;
        std::uint8_t want[3];
        if (s8 == 0) {
          want[0] = want[1] = want[2] = reference_byte(l);
        } else {
          const double q = l < 0.5 ? l * (1.0 + s) : l + s - l * s;
          const double p = 2.0 * l - q;
          want[0] = reference_byte(reference_hue(p, q, h + 1.0 / 3.0));
          want[1] = reference_byte(reference_hue(p, q, h));
          want[2] = reference_byte(reference_hue(p, q, h - 1.0 / 3.0));
        }
        std::uint8_t got[3];
        hls_to_rgb(static_cast<std::uint8_t>(h8), static_cast<std::uint8_t>(l8), static_cast<std::uint8_t>(s8), &got[0],
                   &got[1], &got[2]);
        if (got[0] != want[0] || got[1] != want[1] || got[2] != want[2]) {
          if (++differences <= 5) ADD_FAILURE() << "h " << h8 << " l " << l8 << " s " << s8;
        }
      }
  EXPECT_EQ(differences, 0);
}

// A CPPN with one output fed only by the bias input through weight w and a chosen activation.
GenomePtr bias_only(Activation a, double w) {
  auto g = std::make_shared<CppnGenome>();
  g->native_height = g->native_width = 28;
  for (int i = 0; i < 4; ++i) g->nodes.push_back({i, CppnNode::Input, Activation::Linear, 0.0});
  g->nodes.push_back({4, CppnNode::Output, a, 1.0});
  g->next_id = 5;
  g->links.push_back({3, 4, w});
  return g;
}

TEST(Cppn, ActivationFunctionsAsInThePapersCode) {
  CppnEncoding enc(CppnOptions{});
  auto value = [&](Activation a, double w) { return enc.render(*bias_only(a, w)).pixels[0]; };
  EXPECT_EQ(value(Activation::Linear, 1.5), std::lround(0.5 * 255));  // clip(s,-3,3)/3
  EXPECT_EQ(value(Activation::Linear, -9.0), 255);                    // |v|, clipped
  EXPECT_EQ(value(Activation::Sine, 0.5), std::lround(std::sin(0.5) * 255));
  EXPECT_EQ(value(Activation::Gaussian, 1.0), std::lround(std::exp(-1.0) * 255));
  EXPECT_EQ(value(Activation::Sigmoid, 1.0), std::lround((2.0 / (1.0 + std::exp(-1.0)) - 1.0) * 255));
}

TEST(Cppn, StaysFeedForwardThroughManyMutations) {
  CppnOptions o;
  o.shape = {3, 12, 12};
  CppnEncoding enc(o);
  Rng rng(17);
  GenomePtr g = enc.random(rng);
  std::size_t max_nodes = 0;
  for (int i = 0; i < 500; ++i) {
    g = enc.mutate(*g, rng, i);
    const auto& c = static_cast<const CppnGenome&>(*g);
    std::map<int, double> order;
    for (const auto& n : c.nodes) {
      ASSERT_FALSE(order.count(n.id)) << "duplicate id";
      order[n.id] = n.order;
    }
    for (int id = 0; id < 7; ++id) ASSERT_TRUE(order.count(id));
    for (const auto& l : c.links) ASSERT_LT(order.at(l.from), order.at(l.to));
    for (const auto& l : c.links) ASSERT_LE(std::abs(l.weight), 10.0);
    max_nodes = std::max(max_nodes, c.nodes.size());
  }
  EXPECT_GT(max_nodes, 8u);  // nodes were added along the way
  enc.render(*g);
}

TEST(Cppn, RawAndNormalizedCoordinatesDifferAndRenderAtScalesTheSameRange) {
  CppnOptions raw;
  CppnOptions norm;
  norm.raw_coordinates = false;
  CppnEncoding a(raw), b(norm);
  Rng rng(4);
  const GenomePtr g = a.random(rng);
  EXPECT_NE(a.render(*g).pixels, b.render(*g).pixels);
  EXPECT_EQ(a.render_at(*g, 28, 28).pixels, a.render(*g).pixels);
  const Image8 big = a.render_at(*g, 55, 55);  // pixel 2k of 55 samples the coordinate of pixel k of 28
  EXPECT_EQ(big.shape, (ImageShape{1, 55, 55}));
  const Image8 small = a.render(*g);
  int same = 0;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      same += big.pixels[static_cast<std::size_t>(2 * y * 55 + 2 * x)] ==
              small.pixels[static_cast<std::size_t>(y * 28 + x)];
  EXPECT_GT(same, 700);
}

}  // namespace
}  // namespace fool
