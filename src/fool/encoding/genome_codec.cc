#include "fool/encoding/genome_codec.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "fool/core/error.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"

namespace fool {

namespace {

// Tags open every genome so that a file of one encoding is never read as another.
constexpr std::uint8_t kDirectTag = 'D';
constexpr std::uint8_t kCppnTag = 'C';
constexpr std::uint8_t kVersion = 1;

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
}
void put_i32(std::vector<std::uint8_t>& out, std::int32_t v) { put_u32(out, static_cast<std::uint32_t>(v)); }
void put_f64(std::vector<std::uint8_t>& out, double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<std::uint8_t>(bits >> (8 * b)));
}

// Bounds-checked little-endian reader over one genome's bytes.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  const std::uint8_t* take(std::size_t n) {
    if (n > size_ - pos_) throw Error("binary genome is truncated");
    const std::uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  std::uint8_t u8() { return *take(1); }
  std::uint32_t u32() {
    const std::uint8_t* p = take(4);
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  double f64() {
    const std::uint8_t* p = take(8);
    std::uint64_t bits = 0;
    for (int b = 7; b >= 0; --b) bits = bits << 8 | p[b];
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) throw Error("binary genome holds a non-finite number");
    return v;
  }
  std::size_t left() const { return size_ - pos_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

const char* kind_name(std::uint8_t kind) {
  static const char* kinds[] = {"input", "output", "hidden"};
  if (kind > 2) throw Error("binary CPPN genome has a node of unknown kind " + std::to_string(kind));
  return kinds[kind];
}

}  // namespace

void encode_genome(const Encoding& encoding, const Genome& genome, std::vector<std::uint8_t>& out) {
  if (const auto* d = dynamic_cast<const DirectGenome*>(&genome)) {
    const ImageShape s = encoding.shape();
    if (d->genes.size() != s.size()) throw Error("direct genome does not fit its encoding's shape " + s.str());
    out.push_back(kDirectTag);
    out.push_back(kVersion);
    put_u32(out, static_cast<std::uint32_t>(s.channels));
    put_u32(out, static_cast<std::uint32_t>(s.height));
    put_u32(out, static_cast<std::uint32_t>(s.width));
    out.insert(out.end(), d->genes.begin(), d->genes.end());
    return;
  }
  if (const auto* c = dynamic_cast<const CppnGenome*>(&genome)) {
    out.push_back(kCppnTag);
    out.push_back(kVersion);
    put_u32(out, static_cast<std::uint32_t>(encoding.shape().channels));
    put_i32(out, c->native_height);
    put_i32(out, c->native_width);
    put_i32(out, c->next_id);
    put_u32(out, static_cast<std::uint32_t>(c->nodes.size()));
    put_u32(out, static_cast<std::uint32_t>(c->links.size()));
    for (const auto& n : c->nodes) {
      put_i32(out, n.id);
      out.push_back(static_cast<std::uint8_t>(n.kind));
      static const Activation all[] = {Activation::Sine, Activation::Sigmoid, Activation::Gaussian, Activation::Linear};
      std::uint8_t a = 0;
      while (all[a] != n.activation) ++a;
      out.push_back(a);
      put_f64(out, n.order);
    }
    for (const auto& l : c->links) {
      put_i32(out, l.from);
      put_i32(out, l.to);
      put_f64(out, l.weight);
    }
    return;
  }
  throw Error("genome of encoding " + encoding.name() + " has no binary form");
}

namespace {

// A direct genome after its tag and version: C, H, W (u32 each) and the C x H x W gene bytes.
GenomePtr decode_direct(const Encoding& encoding, Reader& r) {
  if (encoding.name() != "direct") throw Error("binary genome is a direct genome, the run uses " + encoding.name());
  const ImageShape want = encoding.shape();
  const std::uint32_t c = r.u32(), h = r.u32(), w = r.u32();
  if (c != static_cast<std::uint32_t>(want.channels) || h != static_cast<std::uint32_t>(want.height) ||
      w != static_cast<std::uint32_t>(want.width)) {
    throw Error("direct genome is " + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w) +
                ", expected " + want.str());
  }
  if (r.left() != want.size()) {
    throw Error("direct genome has " + std::to_string(r.left()) + " gene bytes, expected " +
                std::to_string(want.size()));
  }
  const std::uint8_t* genes = r.take(want.size());
  return std::make_shared<DirectGenome>(std::vector<std::uint8_t>(genes, genes + want.size()));
}

// Appends `count` nodes (id i32, kind u8, activation u8, order f64) to j["nodes"].
void decode_cppn_nodes(Reader& r, std::uint32_t count, nlohmann::json& j) {
  static const Activation all[] = {Activation::Sine, Activation::Sigmoid, Activation::Gaussian, Activation::Linear};
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::int32_t id = r.i32();
    const char* kind = kind_name(r.u8());
    const std::uint8_t a = r.u8();
    if (a > 3) throw Error("binary CPPN genome has an unknown activation " + std::to_string(a));
    j["nodes"].push_back({{"id", id}, {"kind", kind}, {"activation", activation_name(all[a])}, {"order", r.f64()}});
  }
}

// A CPPN genome after its tag and version, rebuilt as its JSON form so that the encoding's own
// from_json validates it.
GenomePtr decode_cppn(const Encoding& encoding, Reader& r) {
  if (encoding.name() != "cppn") throw Error("binary genome is a CPPN genome, the run uses " + encoding.name());
  const std::uint32_t channels = r.u32();
  const std::int32_t height = r.i32(), width = r.i32(), next_id = r.i32();
  const std::uint32_t nodes = r.u32(), links = r.u32();
  // Sizes are checked against the bytes present before anything is allocated.
  if (static_cast<std::uint64_t>(nodes) * 14 + static_cast<std::uint64_t>(links) * 16 != r.left()) {
    throw Error("binary CPPN genome: " + std::to_string(nodes) + " nodes and " + std::to_string(links) +
                " links do not fit its " + std::to_string(r.left()) + " bytes");
  }
  if (height < 1 || width < 1) throw Error("binary CPPN genome has a non-positive native size");
  // The binary form leaves out what the run's encoding fixes: its coordinates.
  const auto* cppn = dynamic_cast<const CppnEncoding*>(&encoding);
  if (cppn == nullptr) throw Error("binary genome is a CPPN genome, the run uses " + encoding.name());
  nlohmann::json j = {{"encoding", "cppn"},
                      {"coordinates", cppn->options().raw_coordinates ? "raw" : "normalized"},
                      {"channels", channels},
                      {"native_size", {height, width}},
                      {"next_id", next_id},
                      {"nodes", nlohmann::json::array()},
                      {"links", nlohmann::json::array()}};
  decode_cppn_nodes(r, nodes, j);
  for (std::uint32_t i = 0; i < links; ++i) {
    const std::int32_t from = r.i32(), to = r.i32();
    j["links"].push_back({{"from", from}, {"to", to}, {"weight", r.f64()}});
  }
  return encoding.from_json(j);
}

}  // namespace

GenomePtr decode_genome(const Encoding& encoding, const std::uint8_t* data, std::size_t size) {
  Reader r(data, size);
  const std::uint8_t tag = r.u8();
  const std::uint8_t version = r.u8();
  if (version != kVersion) throw Error("binary genome of unknown version " + std::to_string(version));
  if (tag == kDirectTag) return decode_direct(encoding, r);
  if (tag == kCppnTag) return decode_cppn(encoding, r);
  throw Error("not a binary genome (unknown tag " + std::to_string(tag) + ")");
}

}  // namespace fool
