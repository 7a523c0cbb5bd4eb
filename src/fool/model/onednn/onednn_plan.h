#pragma once
// The oneDNN backend's plans: the lowered graph (onednn_graph.h) turned into oneDNN primitives for
// one batch size, each tensor in the layout its primitive prefers (channels in blocks of 16 where
// they fill whole blocks), a reorder only where a primitive wants another, weights packed once and
// shared by every plan, and one arena per plan and worker with each tensor at an offset assigned by
// liveness (buffers reused).
#include <dnnl.hpp>

#include <cstdlib>
#include <memory>
#include <unordered_map>
#include <vector>

#include "fool/model/onednn/onednn_graph.h"

namespace fool::onednn {

// Weights packed for one layout, shared by every plan (by desc); kept per layer.
struct Packed {
  dnnl::memory::desc desc;
  dnnl::memory mem;
  std::shared_ptr<std::vector<float>> owner;  // the layer's own weights where the primitive reads them as they are
};

// One primitive call: runtime arguments name arena buffers, fixed ones are weights.
struct Step {
  dnnl::primitive prim;
  struct Arg {
    int arg;
    int buffer;
    dnnl::memory::desc md;
  };
  std::vector<Arg> args;
  std::unordered_map<int, dnnl::memory> fixed;
};

struct Buffer {
  std::size_t bytes = 0;
  int first = 0, last = 0;  // steps that write it first and read it last
  std::size_t offset = 0;
};

// Per worker: the arena and the memory objects over it, and a stream.
struct Instance {
  std::unique_ptr<char, void (*)(void*)> arena{nullptr, std::free};
  std::vector<std::unordered_map<int, dnnl::memory>> args;
  dnnl::stream stream;
};

// The primitives for one batch size.
struct Plan {
  std::vector<Step> steps;
  std::vector<Buffer> buffers;
  std::size_t arena_bytes = 0;
  int input_buffer = -1, output_buffer = -1;
  std::vector<std::unique_ptr<Instance>> instances;  // by worker
};

// The primitives for batches of n images. Packs each layer's weights into `packed` (by layer) the
// first time a plan needs them, releasing the layer's own copy in `g`, and reads them from there
// afterwards. Throws fool::Error naming the node for a layer oneDNN cannot plan.
Plan plan_graph(Graph& g, std::vector<std::vector<Packed>>& packed, const dnnl::engine& eng, int n);

}  // namespace fool::onednn
