#pragma once
// CppnEncoding: a Compositional Pattern-Producing Network maps each pixel's coordinates
// (x, y, distance d from the centre, bias 1) to its value; the network is evolved by weight and
// activation mutation and by adding/removing links and nodes (no crossover), as in the paper's code.
#include <vector>

#include "fool/encoding/encoding.h"

namespace fool {

enum class Activation { Sine, Sigmoid, Gaussian, Linear };
std::string activation_name(Activation a);
Activation parse_activation(const std::string& name);

struct CppnOptions {
  ImageShape shape{1, 28, 28};   // 1 output (gray) or 3 (H, L, S read as colour)
  bool raw_coordinates = true;   // x, y as pixel indices (the released code); false: [-1, 1]
  double weight_rate = 0.1;      // per link: polynomial mutation
  double activation_rate = 0.1;  // per node: new random activation
  double add_link = 0.5, delete_link = 0.3, add_node = 0.5, delete_node = 0.2;
  double weight_range = 10.0;  // weights in [-range, range]
  double eta = 15.0;
  void validate() const;
};

struct CppnNode {
  enum Kind { Input, Output, Hidden };
  int id = 0;
  Kind kind = Hidden;
  Activation activation = Activation::Linear;
  double order = 0.0;  // inputs 0, outputs 1; links only go from lower to higher order
};

struct CppnLink {
  int from = 0, to = 0;
  double weight = 0.0;
};

class CppnGenome : public Genome {
 public:
  std::vector<CppnNode> nodes;  // inputs first (x, y, d, bias), then outputs, then hidden
  std::vector<CppnLink> links;
  int next_id = 0;
  int native_height = 0, native_width = 0;  // the size it was evolved at (raw coordinates scale with it)
};

// Limits on what a genome file may ask for: node ids (a run adds at most one node per generation)
// and the native size (render allocates a plane per node at it).
constexpr int kMaxCppnNodeId = 1000000;
constexpr int kMaxCppnNativeSize = 8192;

// Throws fool::Error naming the first broken reference or range in `g`: ids 0-3 inputs, the next
// `channels` outputs, the rest hidden, all below next_id; orders 0 / 1 / between; links between
// existing nodes, feed-forward, once each, with finite weights. Kept apart from the JSON decoding so
// that any genome format is held to the same rules.
void validate_cppn_genome(const CppnGenome& g, int channels);

class CppnEncoding : public Encoding {
 public:
  explicit CppnEncoding(CppnOptions options);
  std::string name() const override { return "cppn"; }
  bool saves_genomes() const override { return true; }
  ImageShape shape() const override { return options_.shape; }
  GenomePtr random(Rng& rng) const override;
  GenomePtr mutate(const Genome& parent, Rng& rng, int generation) const override;
  Image8 render(const Genome& genome) const override;
  // Renders at another resolution, sampling the same coordinate range as the native size.
  bool draws_at_any_size() const override { return true; }
  Image8 render_at(const Genome& genome, int height, int width) const override;
  nlohmann::json to_json(const Genome& genome) const override;
  GenomePtr from_json(const nlohmann::json& j) const override;
  nlohmann::json settings() const override;
  const CppnOptions& options() const { return options_; }

 private:
  // x, y, d and bias planes (4 x H x W) for a render of height x width of a genome evolved at
  // native_height x native_width.
  std::vector<float> input_planes(int height, int width, int native_height, int native_width) const;

  CppnOptions options_;
  std::vector<float> native_inputs_;  // input_planes at the native size, computed once
};

}  // namespace fool
