#include "fool/encoding/cppn.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/core/limits.h"
#include "fool/core/rounding.h"
#include "fool/encoding/registry.h"

namespace fool {

namespace {
constexpr int kInputs = 4;  // x, y, d, bias
constexpr Activation kActivations[] = {Activation::Sine, Activation::Sigmoid, Activation::Gaussian, Activation::Linear};

Activation random_activation(Rng& rng) { return kActivations[rng.below(4)]; }

const CppnGenome& as_cppn(const Genome& g) {
  const auto* c = dynamic_cast<const CppnGenome*>(&g);
  if (c == nullptr) throw Error("CPPN encoding was given a genome of another encoding");
  return *c;
}

// The activations of the paper's code, applied to a whole plane (one loop per function, so the
// compiler can vectorise each).
void activate_plane(Activation a, float* v, std::size_t n) {
  switch (a) {
    case Activation::Sine:
      for (std::size_t p = 0; p < n; ++p) v[p] = std::sin(v[p]);
      break;
    case Activation::Sigmoid:
      for (std::size_t p = 0; p < n; ++p) v[p] = 2.0f / (1.0f + std::exp(-v[p])) - 1.0f;
      break;
    case Activation::Gaussian:
      for (std::size_t p = 0; p < n; ++p) v[p] = std::exp(-v[p] * v[p]);
      break;
    case Activation::Linear:
      for (std::size_t p = 0; p < n; ++p) v[p] = std::clamp(v[p], -3.0f, 3.0f) / 3.0f;
      break;
  }
}
}  // namespace

std::string activation_name(Activation a) {
  switch (a) {
    case Activation::Sine:
      return "sine";
    case Activation::Sigmoid:
      return "sigmoid";
    case Activation::Gaussian:
      return "gaussian";
    case Activation::Linear:
      return "linear";
  }
  return "linear";
}

Activation parse_activation(const std::string& name) {
  for (Activation a : kActivations)
    if (activation_name(a) == name) return a;
  throw Error("unknown CPPN activation '" + json_check::printable(name) + "'");
}

void CppnOptions::validate() const {
  if (shape.channels != 1 && shape.channels != 3) throw Error("CPPN encoding: images have 1 or 3 channels");
  if (shape.height < 1 || shape.width < 1) throw Error("CPPN encoding: image size must be positive");
  for (double p : {weight_rate, activation_rate, add_link, delete_link, add_node, delete_node})
    if (!(p >= 0.0 && p <= 1.0)) throw Error("CPPN encoding: mutation probabilities must be in [0, 1]");
  if (!(weight_range > 0.0)) throw Error("CPPN encoding: weight range must be positive");
  if (!(eta > 0.0)) throw Error("CPPN encoding: mutation strength (eta) must be positive");
}

CppnEncoding::CppnEncoding(CppnOptions options) : options_(options) {
  options_.validate();
  native_inputs_ =
      input_planes(options_.shape.height, options_.shape.width, options_.shape.height, options_.shape.width);
}

GenomePtr CppnEncoding::random(Rng& rng) const {
  auto g = std::make_shared<CppnGenome>();
  g->native_height = options_.shape.height;
  g->native_width = options_.shape.width;
  for (int i = 0; i < kInputs; ++i) g->nodes.push_back({i, CppnNode::Input, Activation::Linear, 0.0});
  for (int o = 0; o < options_.shape.channels; ++o)
    g->nodes.push_back({kInputs + o, CppnNode::Output, random_activation(rng), 1.0});
  g->next_id = kInputs + options_.shape.channels;
  const double r = options_.weight_range;
  for (int i = 0; i < kInputs; ++i)
    for (int o = 0; o < options_.shape.channels; ++o) g->links.push_back({i, kInputs + o, rng.uniform(-r, r)});
  return g;
}

namespace {

// Mutation's steps, each drawing from `rng` in the order the paper's code does; mutate() calls
// them in a fixed order so that a seed gives the same child.

// Polynomial mutation of each link's weight, then a new random activation for some nodes.
void mutate_parameters(CppnGenome& g, const CppnOptions& o, Rng& rng) {
  const double r = o.weight_range;
  for (auto& l : g.links)
    if (rng.bernoulli(o.weight_rate)) l.weight = polynomial_mutation(l.weight, -r, r, o.eta, rng);
  for (auto& n : g.nodes)
    if (n.kind != CppnNode::Input && rng.bernoulli(o.activation_rate)) n.activation = random_activation(rng);
}

// A feed-forward link between two nodes not yet linked; a few tries, then give up.
void add_random_link(CppnGenome& g, double weight_range, Rng& rng) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const auto& from = g.nodes[rng.below(g.nodes.size())];
    const auto& to = g.nodes[rng.below(g.nodes.size())];
    if (from.kind == CppnNode::Output || to.kind == CppnNode::Input || !(from.order < to.order)) continue;
    const bool exists = std::any_of(g.links.begin(), g.links.end(),
                                    [&](const CppnLink& l) { return l.from == from.id && l.to == to.id; });
    if (exists) continue;
    g.links.push_back({from.id, to.id, rng.uniform(-weight_range, weight_range)});
    return;
  }
}

void delete_random_link(CppnGenome& g, Rng& rng) {
  g.links.erase(g.links.begin() + static_cast<long>(rng.below(g.links.size())));
}

// Replaces a random link a->b by a new hidden node n and links a->n, n->b of the old weight; n's
// order is halfway between a's and b's, so the network stays feed-forward.
void split_random_link(CppnGenome& g, Rng& rng) {
  std::map<int, double> order;
  for (const auto& n : g.nodes) order[n.id] = n.order;
  const std::size_t k = rng.below(g.links.size());
  const CppnLink old = g.links[k];
  g.links.erase(g.links.begin() + static_cast<long>(k));
  const int id = g.next_id++;
  g.nodes.push_back({id, CppnNode::Hidden, random_activation(rng), 0.5 * (order[old.from] + order[old.to])});
  g.links.push_back({old.from, id, old.weight});
  g.links.push_back({id, old.to, old.weight});
}

// Removes a random hidden node (if there is one) with its links.
void delete_random_hidden_node(CppnGenome& g, Rng& rng) {
  std::vector<int> hidden;
  for (const auto& n : g.nodes)
    if (n.kind == CppnNode::Hidden) hidden.push_back(n.id);
  if (hidden.empty()) return;
  const int id = hidden[rng.below(hidden.size())];
  g.nodes.erase(std::remove_if(g.nodes.begin(), g.nodes.end(), [id](const CppnNode& n) { return n.id == id; }),
                g.nodes.end());
  g.links.erase(
      std::remove_if(g.links.begin(), g.links.end(), [id](const CppnLink& l) { return l.from == id || l.to == id; }),
      g.links.end());
}

}  // namespace

GenomePtr CppnEncoding::mutate(const Genome& parent, Rng& rng, int /*generation*/) const {
  auto g = std::make_shared<CppnGenome>(as_cppn(parent));
  mutate_parameters(*g, options_, rng);
  if (rng.bernoulli(options_.add_link)) add_random_link(*g, options_.weight_range, rng);
  if (rng.bernoulli(options_.delete_link) && !g->links.empty()) delete_random_link(*g, rng);
  if (rng.bernoulli(options_.add_node) && !g->links.empty()) split_random_link(*g, rng);
  if (rng.bernoulli(options_.delete_node)) delete_random_hidden_node(*g, rng);
  return g;
}

Image8 CppnEncoding::render(const Genome& genome) const {
  return render_at(genome, options_.shape.height, options_.shape.width);
}

std::vector<float> CppnEncoding::input_planes(int height, int width, int native_height, int native_width) const {
  const std::size_t P = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  std::vector<float> planes(kInputs * P, 1.0f);  // x, y, d, bias (stays 1)
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = width > 1 ? static_cast<double>(x) / (width - 1) : 0.5;  // 0..1
      const double v = height > 1 ? static_cast<double>(y) / (height - 1) : 0.5;
      const double xn = 2.0 * u - 1.0, yn = 2.0 * v - 1.0;
      const std::size_t p = static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x);
      // Raw coordinates map the requested grid onto the native pixel-index range.
      planes[p] = static_cast<float>(options_.raw_coordinates ? u * (native_width - 1) : xn);
      planes[P + p] = static_cast<float>(options_.raw_coordinates ? v * (native_height - 1) : yn);
      planes[2 * P + p] = static_cast<float>(std::sqrt(xn * xn + yn * yn));
    }
  return planes;
}

namespace {

// A genome's network prepared for one render: nodes in evaluation order (by `order`, ties by id;
// nodes of equal order are never linked), each node's position in that order (by id), its
// incoming links, and whether it has a path to an output (only those are computed).
struct CppnSchedule {
  std::vector<const CppnNode*> sorted;
  std::vector<int> slot;  // by node id: index in `sorted`, -1 for ids not in the genome
  std::vector<std::vector<const CppnLink*>> incoming;
  std::vector<bool> live;

  std::size_t slot_of(int id) const { return static_cast<std::size_t>(slot.at(static_cast<std::size_t>(id))); }
};

CppnSchedule schedule_cppn(const CppnGenome& g, int channels) {
  CppnSchedule s;
  s.sorted.reserve(g.nodes.size());
  for (const auto& n : g.nodes) s.sorted.push_back(&n);
  std::sort(s.sorted.begin(), s.sorted.end(), [](const CppnNode* a, const CppnNode* b) {
    return a->order < b->order || (a->order == b->order && a->id < b->id);
  });
  s.slot.assign(static_cast<std::size_t>(std::max(g.next_id, kInputs + channels)), -1);
  for (std::size_t i = 0; i < s.sorted.size(); ++i)
    s.slot.at(static_cast<std::size_t>(s.sorted[i]->id)) = static_cast<int>(i);
  s.incoming.resize(s.sorted.size());
  for (const auto& l : g.links) s.incoming[s.slot_of(l.to)].push_back(&l);
  // Walk back from the outputs, latest first.
  s.live.assign(s.sorted.size(), false);
  for (int c = 0; c < channels; ++c) s.live[s.slot_of(kInputs + c)] = true;
  for (std::size_t i = s.sorted.size(); i-- > 0;)
    if (s.live[i])
      for (const CppnLink* l : s.incoming[i]) s.live[s.slot_of(l->from)] = true;
  return s;
}

// One float plane per node: refuse renders that cannot fit rather than die in the allocator.
void check_render_memory(std::size_t nodes, int height, int width) {
  constexpr std::size_t kMaxRenderFloats = std::size_t{1} << 29;  // 2 GiB
  const std::size_t pixels = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  if (pixels > kMaxRenderFloats / std::max<std::size_t>(nodes, 1)) {
    throw Error("rendering " + std::to_string(nodes) + " CPPN nodes at " + std::to_string(height) + "x" +
                std::to_string(width) + " needs more than 2 GiB; choose a smaller size");
  }
}

// Every live node's plane of P values, in evaluation order (inputs: 4 planes of P, x y d bias).
std::vector<float> evaluate_cppn(const CppnSchedule& s, const std::vector<float>& inputs, std::size_t P) {
  std::vector<float> values(s.sorted.size() * P, 0.0f);
  for (std::size_t i = 0; i < s.sorted.size(); ++i) {
    const CppnNode& n = *s.sorted[i];
    float* out = values.data() + i * P;
    if (!s.live[i]) continue;
    if (n.kind == CppnNode::Input) {
      std::copy(inputs.begin() + static_cast<long>(static_cast<std::size_t>(n.id) * P),
                inputs.begin() + static_cast<long>(static_cast<std::size_t>(n.id + 1) * P), out);
      continue;
    }
    for (const CppnLink* l : s.incoming[i]) {
      const float* src = values.data() + s.slot_of(l->from) * P;
      const auto w = static_cast<float>(l->weight);
      for (std::size_t p = 0; p < P; ++p) out[p] += w * src[p];
    }
    activate_plane(n.activation, out, P);
  }
  return values;
}

// The output planes as bytes: |v| clipped to 1, times 255 (H, L, S planes for colour, then RGB).
Image8 cppn_output_image(const CppnSchedule& s, const std::vector<float>& values, int channels, int height, int width) {
  const std::size_t P = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  Image8 img;
  img.shape = {channels, height, width};
  img.pixels.resize(img.shape.size());
  for (int c = 0; c < channels; ++c) {
    const float* v = values.data() + s.slot_of(kInputs + c) * P;
    std::uint8_t* out = img.pixels.data() + static_cast<std::size_t>(c) * P;
    for (std::size_t p = 0; p < P; ++p) out[p] = round_to_byte(std::min(std::abs(v[p]), 1.0f) * 255.0f);
  }
  hls_image_to_rgb(img);
  return img;
}

}  // namespace

Image8 CppnEncoding::render_at(const Genome& genome, int height, int width) const {
  const CppnGenome& g = as_cppn(genome);
  if (height < 1 || width < 1) throw Error("render size must be positive");
  const int nh = g.native_height > 0 ? g.native_height : height;
  const int nw = g.native_width > 0 ? g.native_width : width;
  const bool native = height == options_.shape.height && width == options_.shape.width && nh == height && nw == width;
  const std::vector<float> other = native ? std::vector<float>() : input_planes(height, width, nh, nw);
  const std::vector<float>& inputs = native ? native_inputs_ : other;
  check_render_memory(g.nodes.size(), height, width);
  const CppnSchedule s = schedule_cppn(g, options_.shape.channels);
  const std::size_t P = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  return cppn_output_image(s, evaluate_cppn(s, inputs, P), options_.shape.channels, height, width);
}

nlohmann::json CppnEncoding::to_json(const Genome& genome) const {
  const CppnGenome& g = as_cppn(genome);
  nlohmann::json nodes = nlohmann::json::array(), links = nlohmann::json::array();
  static const char* kinds[] = {"input", "output", "hidden"};
  for (const auto& n : g.nodes) {
    nodes.push_back(
        {{"id", n.id}, {"kind", kinds[n.kind]}, {"activation", activation_name(n.activation)}, {"order", n.order}});
  }
  for (const auto& l : g.links) links.push_back({{"from", l.from}, {"to", l.to}, {"weight", l.weight}});
  return {{"encoding", "cppn"},
          {"coordinates", options_.raw_coordinates ? "raw" : "normalized"},
          {"channels", options_.shape.channels},
          {"native_size", {g.native_height, g.native_width}},
          {"next_id", g.next_id},
          {"nodes", nodes},
          {"links", links}};
}

namespace {

// One node's kind and order against its id: ids 0-3 are the coordinate inputs (order 0), the
// next `channels` (up to outputs_end) the outputs (order 1), the rest hidden (strictly between).
void validate_cppn_node(const CppnNode& n, int outputs_end) {
  const std::string what = "CPPN genome: node " + std::to_string(n.id);
  const CppnNode::Kind want = n.id < kInputs       ? CppnNode::Input
                              : n.id < outputs_end ? CppnNode::Output
                                                   : CppnNode::Hidden;
  if (n.kind != want) {
    static const char* kinds[] = {"input", "output", "hidden"};
    throw Error(what + " is declared " + kinds[n.kind] + " but ids " +
                (want == CppnNode::Input    ? "0..3 are inputs"
                 : want == CppnNode::Output ? "4.." + std::to_string(outputs_end - 1) + " are outputs"
                                            : std::to_string(outputs_end) + " and above are hidden"));
  }
  const bool order_ok = n.kind == CppnNode::Input    ? n.order == 0.0
                        : n.kind == CppnNode::Output ? n.order == 1.0
                                                     : (n.order > 0.0 && n.order < 1.0);
  if (!order_ok) throw Error(what + " has order " + std::to_string(n.order) + " (inputs 0, outputs 1, hidden between)");
}

// Links join nodes the genome has, feed forward, appear once each and carry finite weights.
void validate_cppn_links(const CppnGenome& g, const std::map<int, const CppnNode*>& by_id) {
  std::set<std::pair<int, int>> seen;
  for (const auto& l : g.links) {
    const auto from = by_id.find(l.from), to = by_id.find(l.to);
    if (from == by_id.end() || to == by_id.end()) {
      throw Error("CPPN genome has a link " + std::to_string(l.from) + "->" + std::to_string(l.to) +
                  " to a node it lacks");
    }
    if (!(from->second->order < to->second->order)) throw Error("CPPN genome has a link that is not feed-forward");
    if (!seen.emplace(l.from, l.to).second) {
      throw Error("CPPN genome links " + std::to_string(l.from) + "->" + std::to_string(l.to) + " twice");
    }
    if (!std::isfinite(l.weight)) throw Error("CPPN genome has a link with a weight that is not a finite number");
  }
}

}  // namespace

void validate_cppn_genome(const CppnGenome& g, int channels) {
  const int outputs_end = kInputs + channels;
  if (g.next_id < outputs_end || g.next_id > kMaxCppnNodeId) {
    throw Error("CPPN genome: next_id " + std::to_string(g.next_id) + " is not in " + std::to_string(outputs_end) +
                ".." + std::to_string(kMaxCppnNodeId));
  }
  std::map<int, const CppnNode*> by_id;
  for (const auto& n : g.nodes) {
    if (n.id < 0 || n.id >= g.next_id) {
      throw Error("CPPN genome: node " + std::to_string(n.id) + " has an id outside 0..next_id-1 (" +
                  std::to_string(g.next_id - 1) + ")");
    }
    if (!by_id.emplace(n.id, &n).second) throw Error("CPPN genome has two nodes with id " + std::to_string(n.id));
    validate_cppn_node(n, outputs_end);
  }
  for (int id = 0; id < outputs_end; ++id)
    if (!by_id.count(id)) throw Error("CPPN genome lacks input/output node " + std::to_string(id));
  validate_cppn_links(g, by_id);
}

GenomePtr CppnEncoding::from_json(const nlohmann::json& j) const {
  namespace jc = json_check;
  if (jc::string(j, "", "encoding") != "cppn") throw Error("not a CPPN genome");
  if (jc::integer(j, "", "channels", 1, 3) != options_.shape.channels)
    throw Error("CPPN genome has another channel count");
  const std::string coordinates = jc::string(j, "", "coordinates");
  if (coordinates != "raw" && coordinates != "normalized") {
    throw Error("CPPN genome: coordinates '" + json_check::printable(coordinates) + "' is not raw or normalized");
  }
  if ((coordinates == "raw") != options_.raw_coordinates) throw Error("CPPN genome was evolved with other coordinates");
  auto g = std::make_shared<CppnGenome>();
  const auto& size = jc::array(j, "", "native_size");
  if (size.size() != 2) throw Error("CPPN genome: native_size is not [height, width]");
  g->native_height = static_cast<int>(jc::integer_value(size[0], "native_size[0]", 1, kMaxCppnNativeSize));
  g->native_width = static_cast<int>(jc::integer_value(size[1], "native_size[1]", 1, kMaxCppnNativeSize));
  if (g->native_height != options_.shape.height || g->native_width != options_.shape.width) {
    throw Error("CPPN genome was evolved at " + std::to_string(g->native_height) + "x" +
                std::to_string(g->native_width) + ", not " + std::to_string(options_.shape.height) + "x" +
                std::to_string(options_.shape.width));
  }
  g->next_id = static_cast<int>(jc::integer(j, "", "next_id", 0, kMaxCppnNodeId));
  const auto& nodes = jc::array(j, "", "nodes");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::string where = jc::path_of("nodes", i);
    CppnNode node;
    node.id = static_cast<int>(jc::integer(nodes[i], where, "id", 0, kMaxCppnNodeId));
    const std::string kind = jc::string(nodes[i], where, "kind");
    if (kind == "input")
      node.kind = CppnNode::Input;
    else if (kind == "output")
      node.kind = CppnNode::Output;
    else if (kind == "hidden")
      node.kind = CppnNode::Hidden;
    else
      throw Error("CPPN genome: " + where + ".kind '" + json_check::printable(kind) +
                  "' is not input, output or hidden");
    node.activation = parse_activation(jc::string(nodes[i], where, "activation"));
    node.order = jc::number(nodes[i], where, "order", 0.0, 1.0);
    g->nodes.push_back(node);
  }
  const auto& links = jc::array(j, "", "links");
  for (std::size_t i = 0; i < links.size(); ++i) {
    const std::string where = jc::path_of("links", i);
    g->links.push_back({static_cast<int>(jc::integer(links[i], where, "from", 0, kMaxCppnNodeId)),
                        static_cast<int>(jc::integer(links[i], where, "to", 0, kMaxCppnNodeId)),
                        jc::number(links[i], where, "weight", -1e30, 1e30)});
  }
  validate_cppn_genome(*g, options_.shape.channels);
  return g;
}

nlohmann::json CppnEncoding::settings() const {
  const auto& p = options_;
  return {{"coordinates", p.raw_coordinates ? "raw" : "normalized"},
          {"weight_rate", p.weight_rate},
          {"activation_rate", p.activation_rate},
          {"add_link", p.add_link},
          {"delete_link", p.delete_link},
          {"add_node", p.add_node},
          {"delete_node", p.delete_node},
          {"weight_range", p.weight_range},
          {"eta", p.eta}};
}

namespace {

// A float plane per node for each worker and one more.
std::uint64_t cppn_render_bytes(const ImageShape& shape, int threads) {
  return mul_saturated(static_cast<std::uint64_t>(std::max(1, threads)) + 1, mul_saturated(shape.size(), 64));
}

std::unique_ptr<Encoding> make_cppn(const ImageShape& shape, const EncodingParams& params) {
  CppnOptions o;
  o.shape = shape;
  o.raw_coordinates = param_choice(params, "coordinates", {"raw", "normalized"}, "raw") == "raw";
  o.eta = param_number(params, "eta", o.eta);
  return std::make_unique<CppnEncoding>(o);
}

std::unique_ptr<Encoding> decode_cppn(const nlohmann::json& j) {
  namespace jc = json_check;
  CppnOptions opt;
  opt.shape.channels = static_cast<int>(jc::integer(j, "", "channels", 1, 3));
  const auto& size = jc::array(j, "", "native_size");
  if (size.size() != 2) throw Error("native_size is not [height, width]");
  opt.shape.height = static_cast<int>(jc::integer_value(size[0], "native_size[0]", 1, kMaxCppnNativeSize));
  opt.shape.width = static_cast<int>(jc::integer_value(size[1], "native_size[1]", 1, kMaxCppnNativeSize));
  opt.raw_coordinates = jc::string(j, "", "coordinates") == "raw";
  return std::make_unique<CppnEncoding>(opt);
}

}  // namespace

EncodingEntry cppn_encoding_entry() {
  const CppnOptions d;
  return {"cppn",
          "cppn (pattern-producing network)",
          {{"coordinates",
            "CPPN inputs: raw pixel indices (the paper's code) or normalized [-1,1]",
            d.raw_coordinates ? "raw" : "normalized",
            {"raw", "normalized"}},
           {"eta", "polynomial mutation index, the paper's mutation strength", d.eta, {}, 1e-6, 1e6}},
          make_cppn,
          decode_cppn,
          {{"imagenet", 400}},
          cppn_render_bytes};
}

}  // namespace fool
