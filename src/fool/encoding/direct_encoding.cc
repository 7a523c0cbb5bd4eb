#include "fool/encoding/direct_encoding.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "fool/core/bytes.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/core/rounding.h"
#include "fool/encoding/registry.h"

namespace fool {

void DirectOptions::validate() const {
  if (shape.channels != 1 && shape.channels != 3) throw Error("direct encoding: images have 1 or 3 channels");
  if (shape.height < 1 || shape.width < 1) throw Error("direct encoding: image size must be positive");
  if (!(mutation_rate > 0.0 && mutation_rate <= 1.0)) throw Error("direct encoding: mutation rate must be in (0, 1]");
  if (halve_every < 0) throw Error("direct encoding: halve-every must not be negative");
  if (!(eta > 0.0)) throw Error("direct encoding: mutation strength (eta) must be positive");
}

DirectEncoding::DirectEncoding(DirectOptions options) : options_(options) { options_.validate(); }

double DirectEncoding::rate_at(int generation) const {
  if (options_.halve_every <= 0) return options_.mutation_rate;
  return options_.mutation_rate * std::pow(0.5, generation / options_.halve_every);
}

namespace {
const DirectGenome& as_direct(const Genome& g) {
  const auto* d = dynamic_cast<const DirectGenome*>(&g);
  if (d == nullptr) throw Error("direct encoding was given a genome of another encoding");
  return *d;
}
}  // namespace

GenomePtr DirectEncoding::random(Rng& rng) const {
  std::vector<std::uint8_t> genes(options_.shape.size());
  for (auto& g : genes) g = static_cast<std::uint8_t>(rng.below(256));
  return std::make_shared<DirectGenome>(std::move(genes));
}

GenomePtr DirectEncoding::mutate(const Genome& parent, Rng& rng, int generation) const {
  std::vector<std::uint8_t> genes = as_direct(parent).genes;
  const double rate = rate_at(generation);
  // Each gene is chosen with probability `rate`: walk from chosen gene to chosen gene by geometric
  // gaps, which is the same distribution as one coin per gene with far fewer random draws.
  const double log_miss = std::log1p(-rate);
  std::size_t i = 0;
  while (true) {
    if (rate < 1.0) {
      const double u = 1.0 - rng.uniform();  // (0, 1]
      const double gap = std::floor(std::log(u) / log_miss);
      if (gap >= static_cast<double>(genes.size() - i)) break;
      i += static_cast<std::size_t>(gap);
    }
    if (i >= genes.size()) break;
    genes[i] = round_to_byte(polynomial_mutation(genes[i], 0.0, 255.0, options_.eta, rng));
    ++i;
  }
  return std::make_shared<DirectGenome>(std::move(genes));
}

GenomePtr DirectEncoding::crossover(const Genome& a, const Genome& b, Rng& rng) const {
  const auto& x = as_direct(a).genes;
  const auto& y = as_direct(b).genes;
  std::vector<std::uint8_t> child = x;
  const double eta = options_.sbx_eta, lo = 0.0, hi = 255.0;
  for (std::size_t i = 0; i < child.size(); ++i) {
    if (!rng.bernoulli(0.5) || x[i] == y[i]) continue;  // identical genes stay as they are
    const double y1 = std::min(x[i], y[i]), y2 = std::max(x[i], y[i]);
    const double u = rng.uniform();
    auto betaq = [&](double beta) {
      const double alpha = 2.0 - std::pow(beta, -(eta + 1.0));
      return u <= 1.0 / alpha ? std::pow(u * alpha, 1.0 / (eta + 1.0))
                              : std::pow(1.0 / (2.0 - u * alpha), 1.0 / (eta + 1.0));
    };
    const double c1 = 0.5 * ((y1 + y2) - betaq(1.0 + 2.0 * (y1 - lo) / (y2 - y1)) * (y2 - y1));
    const double c2 = 0.5 * ((y1 + y2) + betaq(1.0 + 2.0 * (hi - y2) / (y2 - y1)) * (y2 - y1));
    const double c = rng.bernoulli(0.5) ? c1 : c2;
    child[i] = round_to_byte(std::clamp(c, lo, hi));
  }
  return std::make_shared<DirectGenome>(std::move(child));
}

Image8 DirectEncoding::render(const Genome& genome) const {
  Image8 img{options_.shape, as_direct(genome).genes};
  hls_image_to_rgb(img);
  return img;
}

nlohmann::json DirectEncoding::to_json(const Genome& genome) const {
  const auto& g = as_direct(genome).genes;
  return {{"encoding", "direct"},
          {"shape", {options_.shape.channels, options_.shape.height, options_.shape.width}},
          {"genes_base64", base64_encode(g.data(), g.size())}};
}

void validate_direct_shape(const nlohmann::json& shape, const ImageShape& expected) {
  if (!shape.is_array() || shape.size() != 3) throw Error("direct genome: shape is not [channels, height, width]");
  const ImageShape got{static_cast<int>(json_check::integer_value(shape[0], "shape[0]", 1, 3)),
                       static_cast<int>(json_check::integer_value(shape[1], "shape[1]", 1, 1 << 16)),
                       static_cast<int>(json_check::integer_value(shape[2], "shape[2]", 1, 1 << 16))};
  if (got != expected) throw Error("direct genome has shape " + got.str() + ", expected " + expected.str());
}

GenomePtr DirectEncoding::from_json(const nlohmann::json& j) const {
  if (json_check::string(j, "", "encoding") != "direct") throw Error("not a direct-encoding genome");
  validate_direct_shape(json_check::member(j, "", "shape"), options_.shape);
  auto genes = base64_decode(json_check::string(j, "", "genes_base64"));
  if (genes.size() != options_.shape.size()) {
    throw Error("direct genome has " + std::to_string(genes.size()) + " genes, expected " +
                std::to_string(options_.shape.size()) + " for " + options_.shape.str());
  }
  return std::make_shared<DirectGenome>(std::move(genes));
}

nlohmann::json DirectEncoding::settings() const {
  return {{"mutation_rate", options_.mutation_rate},
          {"halve_every", options_.halve_every},
          {"eta", options_.eta},
          {"crossover", options_.sbx ? "sbx" : "none"}};
}

namespace {

std::unique_ptr<Encoding> make_direct(const ImageShape& shape, const EncodingParams& params) {
  DirectOptions o;
  o.shape = shape;
  o.mutation_rate = param_number(params, "mutation_rate", o.mutation_rate);
  o.halve_every = param_integer(params, "halve_every", o.halve_every);
  o.eta = param_number(params, "eta", o.eta);
  o.sbx = param_choice(params, "crossover", {"none", "sbx"}, "none") == "sbx";
  return std::make_unique<DirectEncoding>(o);
}

std::unique_ptr<Encoding> decode_direct(const nlohmann::json& j) {
  const auto& shape = json_check::array(j, "", "shape");
  if (shape.size() != 3) throw Error("shape is not [channels, height, width]");
  DirectOptions opt;
  opt.shape = {static_cast<int>(json_check::integer_value(shape[0], "shape[0]", 1, 3)),
               static_cast<int>(json_check::integer_value(shape[1], "shape[1]", 1, 8192)),
               static_cast<int>(json_check::integer_value(shape[2], "shape[2]", 1, 8192))};
  return std::make_unique<DirectEncoding>(opt);
}

}  // namespace

EncodingEntry direct_encoding_entry() {
  const DirectOptions d;
  return {"direct",
          "direct (one gene per pixel)",
          {{"mutation_rate", "direct encoding: per-gene mutation probability", d.mutation_rate, {}, 0.0, 1.0},
           {"halve_every",
            "direct encoding: halve the rate every N generations (0: never)",
            d.halve_every,
            {},
            0.0,
            2147483647.0},
           {"eta", "polynomial mutation index, the paper's mutation strength", d.eta, {}, 1e-6, 1e6},
           {"crossover",
            "direct encoding: none (the paper's text) or sbx (its code)",
            d.sbx ? "sbx" : "none",
            {"none", "sbx"}}},
          make_direct,
          decode_direct,
          {}};
}

}  // namespace fool
