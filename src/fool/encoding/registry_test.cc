#include "fool/encoding/registry.h"

#include <gtest/gtest.h>

#include "fool/core/error.h"
#include "fool/core/rng.h"

namespace fool {
namespace {

TEST(Registry, NamesParseAndMakeEveryEncoding) {
  EXPECT_EQ(encoding_names(), (std::vector<std::string>{"direct", "cppn"}));
  for (const auto& name : encoding_names()) {
    EXPECT_EQ(find_encoding(name).name, name);
    const auto enc = make_encoding(name, {3, 12, 10});
    EXPECT_EQ(enc->name(), name);
    EXPECT_EQ(enc->shape(), (ImageShape{3, 12, 10}));
  }
  EXPECT_THROW(find_encoding("dct"), Error);
}

// Options reach the encoding by name and are recorded in its settings; an encoding ignores the
// names it does not take, and refuses a value of the wrong kind or out of range in one line.
TEST(Registry, OptionsByNameReachTheEncodingAndItsSettings) {
  const nlohmann::json params = {
      {"mutation_rate", 0.25}, {"halve_every", 7}, {"eta", 3.0}, {"crossover", "sbx"}, {"coordinates", "normalized"}};
  const auto direct = make_encoding("direct", {1, 4, 4}, params);
  EXPECT_EQ(direct->settings(),
            (nlohmann::json{{"mutation_rate", 0.25}, {"halve_every", 7}, {"eta", 3.0}, {"crossover", "sbx"}}));
  EXPECT_TRUE(direct->uses_crossover());
  const auto cppn = make_encoding("cppn", {1, 4, 4}, params);
  EXPECT_EQ(cppn->settings().at("coordinates"), "normalized");
  EXPECT_EQ(cppn->settings().at("eta"), 3.0);
  EXPECT_EQ(make_encoding("cppn", {1, 4, 4})->settings().at("coordinates"), "raw");
  for (const nlohmann::json& bad :
       {nlohmann::json{{"eta", "x"}}, nlohmann::json{{"crossover", "uniform"}}, nlohmann::json{{"halve_every", 1.5}},
        nlohmann::json{{"mutation_rate", 2.0}}, nlohmann::json{{"eta", 0.0}}}) {
    try {
      make_encoding("direct", {1, 4, 4}, bad);
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

// Every option a flag or keyword may set is listed once, with a default of its own kind.
TEST(Registry, ListsEachOptionOnce) {
  std::vector<std::string> names;
  for (const EncodingOption& o : encoding_options()) names.push_back(o.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mutation_rate", "halve_every", "eta", "crossover", "coordinates"}));
  for (const EncodingEntry& e : encodings()) {
    const auto enc = e.make({1, 5, 5}, nlohmann::json{});
    EXPECT_EQ(enc->name(), e.name);
  }
  EXPECT_EQ(find_encoding("cppn").preset_population.at("imagenet"), 400);
  EXPECT_TRUE(find_encoding("direct").preset_population.empty());
}

// A CPPN draws at any size; a direct genome only at its own (callers resize).
TEST(Registry, RendersSavedGenomesAtAnySide) {
  Rng rng(5);
  for (const auto& name : encoding_names()) {
    const auto enc = make_encoding(name, {1, 6, 6});
    const SavedGenome saved = decode_genome(enc->to_json(*enc->random(rng)));
    const auto stretch = [](const Image8& img, int h, int w) {
      Image8 out;
      out.shape = {img.shape.channels, h, w};
      out.pixels.assign(out.shape.size(), 7);
      return out;
    };
    const Image8 big = render_saved_genome(saved, 12, stretch);
    EXPECT_EQ(big.shape, (ImageShape{1, 12, 12})) << name;
    EXPECT_EQ(render_saved_genome(saved, 0, stretch).pixels, enc->render(*saved.genome).pixels) << name;
    if (!saved.encoding->draws_at_any_size()) {
      EXPECT_EQ(big.pixels, std::vector<std::uint8_t>(144, 7));
      EXPECT_THROW(saved.encoding->render_at(*saved.genome, 12, 12), Error);
    }
  }
}

// The CPPN's render memory grows with the workers; the direct encoding holds none.
TEST(Registry, RenderMemoryEstimate) {
  EXPECT_EQ(find_encoding("direct").render_bytes, nullptr);
  EXPECT_EQ(find_encoding("cppn").render_bytes(ImageShape{1, 10, 10}, 4), 5u * 100u * 64u);
  EXPECT_EQ(find_encoding("cppn").render_bytes(ImageShape{1, 10, 10}, 0), 2u * 100u * 64u);
}

// A genome written by an encoding decodes back to one that renders the same image.
TEST(Registry, DecodesWhatEachEncodingWrites) {
  for (const auto& name : encoding_names()) {
    const auto enc = make_encoding(name, {1, 9, 9});
    Rng rng(3);
    const GenomePtr g = enc->random(rng);
    const SavedGenome back = decode_genome(enc->to_json(*g));
    EXPECT_EQ(back.name, name);
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
