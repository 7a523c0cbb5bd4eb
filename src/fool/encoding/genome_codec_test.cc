// The binary genome codec: exact round trips, and one-line errors for every kind of broken input.
#include "fool/encoding/genome_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"

namespace fool {
namespace {

std::vector<std::uint8_t> encode(const Encoding& e, const Genome& g) {
  std::vector<std::uint8_t> out;
  encode_genome(e, g, out);
  return out;
}

std::string decode_error(const Encoding& e, const std::vector<std::uint8_t>& bytes) {
  try {
    decode_genome(e, bytes.data(), bytes.size());
  } catch (const Error& err) {
    return err.what();
  }
  return "";
}

TEST(GenomeCodec, DirectRoundTripIsExactAndCompact) {
  DirectOptions o;
  o.shape = {3, 16, 16};
  DirectEncoding enc(o);
  Rng rng(3);
  const GenomePtr g = enc.mutate(*enc.random(rng), rng, 5);
  const auto bytes = encode(enc, *g);
  EXPECT_EQ(bytes.size(), 14u + o.shape.size());
  const GenomePtr back = decode_genome(enc, bytes.data(), bytes.size());
  EXPECT_EQ(enc.to_json(*back), enc.to_json(*g));
  EXPECT_EQ(enc.render(*back).pixels, enc.render(*g).pixels);
}

TEST(GenomeCodec, CppnRoundTripIsExact) {
  CppnOptions o;
  o.shape = {3, 20, 20};
  CppnEncoding enc(o);
  Rng rng(4);
  GenomePtr g = enc.random(rng);
  for (int i = 0; i < 30; ++i) g = enc.mutate(*g, rng, i);
  const auto bytes = encode(enc, *g);
  const GenomePtr back = decode_genome(enc, bytes.data(), bytes.size());
  EXPECT_EQ(enc.to_json(*back).dump(), enc.to_json(*g).dump());
  EXPECT_EQ(enc.render(*back).pixels, enc.render(*g).pixels);
  EXPECT_LT(bytes.size(), enc.to_json(*g).dump().size() / 2);
}

TEST(GenomeCodec, RefusesBrokenInputWithOneLine) {
  DirectOptions d;
  DirectEncoding direct(d);
  CppnEncoding cppn(CppnOptions{});
  Rng rng(5);
  const auto good_direct = encode(direct, *direct.random(rng));
  const auto good_cppn = encode(cppn, *cppn.random(rng));
  auto expect = [](const std::string& message, const std::string& part) {
    EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  };
  expect(decode_error(direct, {}), "truncated");
  expect(decode_error(direct, good_cppn), "CPPN genome, the run uses direct");
  expect(decode_error(cppn, good_direct), "direct genome, the run uses cppn");
  auto truncated = good_direct;
  truncated.pop_back();
  expect(decode_error(direct, truncated), "gene bytes");
  auto longer = good_direct;
  longer.push_back(0);
  expect(decode_error(direct, longer), "gene bytes");
  DirectOptions other;
  other.shape = {1, 14, 14};
  expect(decode_error(DirectEncoding(other), good_direct), "expected 1x14x14");
  auto bad_tag = good_direct;
  bad_tag[0] = 'X';
  expect(decode_error(direct, bad_tag), "not a binary genome");
  auto bad_version = good_direct;
  bad_version[1] = 9;
  expect(decode_error(direct, bad_version), "unknown version");
  // CPPN: counts that do not fit the bytes, a node of unknown kind, a link that is not feed-forward.
  auto bad_count = good_cppn;
  bad_count[18] = 0xff;
  expect(decode_error(cppn, bad_count), "do not fit");
  auto bad_kind = good_cppn;
  bad_kind[26 + 4] = 7;
  expect(decode_error(cppn, bad_kind), "unknown kind");
  // Point the first link back at itself (to == from): not feed-forward, refused by from_json.
  const std::size_t nodes = good_cppn[18];
  const std::size_t first_link = 26 + nodes * 14;
  ASSERT_LT(first_link + 8, good_cppn.size());
  auto cycle = good_cppn;
  std::copy(cycle.begin() + static_cast<long>(first_link), cycle.begin() + static_cast<long>(first_link) + 4,
            cycle.begin() + static_cast<long>(first_link) + 4);
  expect(decode_error(cppn, cycle), "not feed-forward");
}

}  // namespace
}  // namespace fool
