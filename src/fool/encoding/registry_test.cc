#include "fool/encoding/registry.h"

#include <gtest/gtest.h>

#include "fool/core/error.h"
#include "fool/core/rng.h"

namespace fool {
namespace {

TEST(Registry, NamesParseAndMakeEveryEncoding) {
  EXPECT_EQ(encoding_names(), (std::vector<std::string>{"direct", "cppn"}));
  for (const auto& name : encoding_names()) {
    const EncodingKind kind = parse_encoding(name);
    EXPECT_EQ(encoding_name(kind), name);
    const auto enc = make_encoding(kind, {3, 12, 10}, {}, {});
    EXPECT_EQ(enc->name(), name);
    EXPECT_EQ(enc->shape(), (ImageShape{3, 12, 10}));
  }
  EXPECT_THROW(parse_encoding("dct"), Error);
}

// A genome written by an encoding decodes back to one that renders the same image.
TEST(Registry, DecodesWhatEachEncodingWrites) {
  for (const auto& name : encoding_names()) {
    const auto enc = make_encoding(parse_encoding(name), {1, 9, 9}, {}, {});
    Rng rng(3);
    const GenomePtr g = enc->random(rng);
    const SavedGenome back = decode_genome(enc->to_json(*g));
    EXPECT_EQ(encoding_name(back.kind), name);
    EXPECT_EQ(back.encoding->render(*back.genome).pixels, enc->render(*g).pixels) << name;
  }
}

TEST(Registry, RefusesWhatIsNotAGenomeInOneLine) {
  for (const nlohmann::json& j : {nlohmann::json(3), nlohmann::json{{"encoding", "dct"}},
                                  nlohmann::json{{"encoding", "direct"}, {"shape", {1, 2}}},
                                  nlohmann::json{{"encoding", "cppn"}, {"channels", "three"}}}) {
    try {
      decode_genome(j);
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace fool
