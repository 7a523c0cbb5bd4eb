#pragma once
// Encoding: how a genome becomes an image, with the genome's variation operators beside it
// (genotype and phenotype kept apart, as in sferes2's gen/ and phen/). Implementations:
// DirectEncoding (one gene per pixel and channel) and CppnEncoding (a pattern-producing network).
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "fool/core/image.h"
#include "fool/core/rng.h"

namespace fool {

// A genotype. Immutable once made: operators return new genomes.
class Genome {
 public:
  virtual ~Genome() = default;
};
using GenomePtr = std::shared_ptr<const Genome>;

class Encoding {
 public:
  virtual ~Encoding() = default;
  virtual std::string name() const = 0;
  // Shape of the images render() makes.
  virtual ImageShape shape() const = 0;
  virtual GenomePtr random(Rng& rng) const = 0;
  // A mutated copy of parent. `generation` lets rates decay over a run.
  virtual GenomePtr mutate(const Genome& parent, Rng& rng, int generation) const = 0;
  // Whether offspring are made by crossover of two parents before mutation.
  virtual bool uses_crossover() const { return false; }
  virtual GenomePtr crossover(const Genome& a, const Genome& b, Rng& rng) const;
  // The 8-bit image of a genome: exactly what is scored and what is saved.
  virtual Image8 render(const Genome& genome) const = 0;
  virtual nlohmann::json to_json(const Genome& genome) const = 0;
  // Whether a run saves its champions' genomes beside their images (a CPPN's genome is small and
  // renders at any size; a direct genome is the image itself).
  virtual bool saves_genomes() const { return false; }
  // Throws fool::Error if the JSON is not a genome of this encoding.
  virtual GenomePtr from_json(const nlohmann::json& j) const = 0;
  // The options that decide a run's outcome, recorded in its summary and checkpoint under the
  // encoding's name (the image shape is recorded apart). A resumed run must match them.
  virtual nlohmann::json settings() const;
  // Whether render_at draws a genome at any size (a CPPN); otherwise only at shape().
  virtual bool draws_at_any_size() const { return false; }
  // The image of a genome at height x width; throws fool::Error for another size than shape()
  // unless draws_at_any_size().
  virtual Image8 render_at(const Genome& genome, int height, int width) const;
};

// Deb's polynomial mutation of x within [lo, hi] with distribution index eta.
double polynomial_mutation(double x, double lo, double hi, double eta, Rng& rng);

// Converts H, L, S bytes (hue 0..255 spanning the full circle, so it wraps) to R, G, B bytes.
void hls_to_rgb(std::uint8_t h, std::uint8_t l, std::uint8_t s, std::uint8_t* r, std::uint8_t* g, std::uint8_t* b);
// Turns a planar 3-channel HLS image into planar RGB in place.
void hls_image_to_rgb(Image8& image);

}  // namespace fool
