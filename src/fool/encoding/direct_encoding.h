#pragma once
// DirectEncoding: one integer gene 0..255 per pixel and channel (gray, or H, L, S for colour).
// Mutation: each gene with probability rate (halved every `halve_every` generations) gets Deb's
// polynomial mutation with index eta, bounded to [0,255]. Optional SBX crossover (off by default,
// as in the paper's text; the released code used it).
#include "fool/encoding/encoding.h"

namespace fool {

struct DirectOptions {
  ImageShape shape{1, 28, 28};
  double mutation_rate = 0.1;
  int halve_every = 1000;  // generations; 0: no decay
  double eta = 15.0;       // polynomial mutation index ("mutation strength")
  bool sbx = false;        // simulated binary crossover before mutation
  double sbx_eta = 10.0;
  void validate() const;
};

class DirectGenome : public Genome {
 public:
  explicit DirectGenome(std::vector<std::uint8_t> genes) : genes(std::move(genes)) {}
  std::vector<std::uint8_t> genes;  // C x H x W
};

// Throws fool::Error unless `shape` is a [channels, height, width] list equal to `expected`
// (a genome of another size would be rendered as the wrong image).
void validate_direct_shape(const nlohmann::json& shape, const ImageShape& expected);

class DirectEncoding : public Encoding {
 public:
  explicit DirectEncoding(DirectOptions options);
  std::string name() const override { return "direct"; }
  ImageShape shape() const override { return options_.shape; }
  GenomePtr random(Rng& rng) const override;
  GenomePtr mutate(const Genome& parent, Rng& rng, int generation) const override;
  bool uses_crossover() const override { return options_.sbx; }
  GenomePtr crossover(const Genome& a, const Genome& b, Rng& rng) const override;
  Image8 render(const Genome& genome) const override;
  nlohmann::json to_json(const Genome& genome) const override;
  GenomePtr from_json(const nlohmann::json& j) const override;
  nlohmann::json settings() const override;
  // The per-gene mutation probability at a generation.
  double rate_at(int generation) const;

 private:
  DirectOptions options_;
};

}  // namespace fool
