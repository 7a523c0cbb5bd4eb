// Damaged genomes (as `fool render` and checkpoints read them): every broken reference or range is
// refused with one line, never read out of bounds or silently reinterpreted.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"

namespace fool {
namespace {

class CppnGenomeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(5);
    GenomePtr g = enc_.random(rng);
    for (int i = 0; i < 40; ++i) g = enc_.mutate(*g, rng, i);
    good_ = enc_.to_json(*g);
    ASSERT_GT(good_["nodes"].size(), 5u);  // has hidden nodes
  }
  void expect_refused(const std::function<void(nlohmann::json&)>& edit, const std::string& needle) {
    nlohmann::json j = good_;
    edit(j);
    try {
      enc_.from_json(j);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  }
  nlohmann::json& hidden_node(nlohmann::json& j) {
    for (auto& n : j["nodes"])
      if (n["kind"] == "hidden") return n;
    throw std::logic_error("no hidden node");
  }
  CppnEncoding enc_{CppnOptions{}};
  nlohmann::json good_;
};

TEST_F(CppnGenomeFile, RoundTripsAndRendersTheSame) {
  const GenomePtr g = enc_.from_json(good_);
  EXPECT_EQ(enc_.to_json(*g), good_);
}

TEST_F(CppnGenomeFile, AnInputKindNodeOutsideTheCoordinateIds) {
  expect_refused([&](nlohmann::json& j) { hidden_node(j)["kind"] = "input"; }, "declared input");
  expect_refused([&](nlohmann::json& j) { j["nodes"][0]["kind"] = "hidden"; }, "declared hidden");
}

TEST_F(CppnGenomeFile, AHiddenNodeDeclaredAsOutput) {
  expect_refused([&](nlohmann::json& j) { hidden_node(j)["kind"] = "output"; }, "declared output");
}

TEST_F(CppnGenomeFile, NextIdBeyondTheLimitOrBelowAnId) {
  expect_refused([&](nlohmann::json& j) { j["next_id"] = 2147483647; }, "next_id");
  expect_refused([&](nlohmann::json& j) { j["next_id"] = 5; }, "outside 0..next_id-1");
  expect_refused([&](nlohmann::json& j) { j["next_id"] = -3; }, "next_id");
}

TEST_F(CppnGenomeFile, UnknownKindsAndCoordinateNames) {
  expect_refused([&](nlohmann::json& j) { j["nodes"][5]["kind"] = "inputt"; }, "is not input, output or hidden");
  expect_refused([&](nlohmann::json& j) { j["coordinates"] = "rawx"; }, "is not raw or normalized");
  expect_refused([&](nlohmann::json& j) { j["nodes"][5]["activation"] = "tanh"; }, "tanh");
}

TEST_F(CppnGenomeFile, BrokenLinksOrdersAndTypes) {
  expect_refused([&](nlohmann::json& j) { j["links"][0]["to"] = 999; }, "a node it lacks");
  expect_refused([&](nlohmann::json& j) { j["links"].push_back(j["links"][0]); }, "twice");
  expect_refused([&](nlohmann::json& j) { hidden_node(j)["order"] = 1.0; }, "order");
  expect_refused([&](nlohmann::json& j) { j["links"][0]["weight"] = "x"; }, "links[0].weight");
  expect_refused([&](nlohmann::json& j) { j["nodes"][2]["id"] = nullptr; }, "nodes[2].id");
  expect_refused([&](nlohmann::json& j) { j["native_size"] = {28, 100000}; }, "native_size[1]");
  expect_refused([&](nlohmann::json& j) { j.erase("links"); }, "'links' is missing");
}

TEST(DirectGenomeFile, ShapeMustBeTheRunsShape) {
  DirectOptions o;
  const DirectEncoding enc(o);
  Rng rng(1);
  nlohmann::json j = enc.to_json(*enc.random(rng));
  EXPECT_NO_THROW(enc.from_json(j));
  j["shape"] = {1, 14, 56};  // the same number of genes, another image
  EXPECT_THROW(enc.from_json(j), Error);
  j["shape"] = "28x28";
  EXPECT_THROW(enc.from_json(j), Error);
  j = enc.to_json(*enc.random(rng));
  j["genes_base64"] = 7;
  try {
    enc.from_json(j);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("genes_base64"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fool
