// plan_graph: the lowered graph -> oneDNN primitives for one batch size (onednn_plan.h).
#include "fool/model/onednn/onednn_plan.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

#include "fool/core/error.h"

namespace fool::onednn {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

memory::desc plain(const memory::dims& d) {
  return memory::desc(d, memory::data_type::f32, d.size() == 4 ? tag::nchw : d.size() == 2 ? tag::nc : tag::x);
}
memory::desc any(const memory::dims& d) { return memory::desc(d, memory::data_type::f32, tag::any); }
// A convolution's input and output: channels in blocks of 16 (nChw16c) where the channels fill
// whole blocks, else the layout oneDNN prefers (NHWC for its brgemm kernels on AVX-512). Measured
// at one thread, batch 10 (images per CPU second): MobileNetV2 +33%, EfficientNet-B0 +15%,
// ResNet-50 and AlexNet within the noise; blocks padded for other channel counts cost the paper's
// LeNet (20 and 50 channels) 15%.
memory::desc act(const memory::dims& d) {
  if (d.size() == 4 && d[1] % 16 == 0) return memory::desc(d, memory::data_type::f32, tag::nChw16c);
  return any(d);
}

// Every primitive's scratchpad is a buffer of the plan: oneDNN's own is shared by all threads,
// and workers run primitives side by side.
dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

class Planner {
 public:
  Planner(Graph& g, std::vector<std::vector<Packed>>& packed, const dnnl::engine& eng, int n)
      : g_(g), packed_(packed), eng_(eng), n_(n) {}

  Plan build() {
    const std::size_t nv = g_.values.size();
    md_.assign(nv, memory::desc());
    buf_.assign(nv, -1);
    last_read_.assign(nv, -1);
    for (std::size_t k = 0; k < g_.layers.size(); ++k)
      for (int v : g_.layers[k].inputs) last_read_[static_cast<std::size_t>(v)] = static_cast<int>(k);
    last_read_[static_cast<std::size_t>(g_.output)] = static_cast<int>(g_.layers.size());

    md_[static_cast<std::size_t>(g_.input)] = plain(full(g_.input));
    buf_[static_cast<std::size_t>(g_.input)] = new_buffer(md_[static_cast<std::size_t>(g_.input)]);
    plan_.input_buffer = buf_[static_cast<std::size_t>(g_.input)];
    for (std::size_t k = 0; k < g_.layers.size(); ++k) {
      layer_ = static_cast<int>(k);
      const Layer& l = g_.layers[k];
      try {
        plan_layer(l);
      } catch (const dnnl::error& e) {
        throw Error(g_.path + ": the onednn backend cannot plan " + l.where + " (" + l.what + "): " + e.what());
      }
    }
    // The output as N x K floats.
    const int out = g_.output;
    const memory::desc want = plain({n_, static_cast<memory::dim>(per_image(out))});
    const memory::desc have = md_[static_cast<std::size_t>(out)];
    if (have.dims().size() == 2 && have == want) {
      plan_.output_buffer = buf_[static_cast<std::size_t>(out)];
    } else {
      const memory::desc flat = have.dims().size() == 4 ? plain(have.dims()) : want;
      plan_.output_buffer = new_buffer(want);
      reorder(out, flat, plan_.output_buffer);
    }
    touch(plan_.output_buffer, static_cast<int>(plan_.steps.size()));
    assign_offsets();
    return std::move(plan_);
  }

 private:
  memory::dims full(int v) const {
    memory::dims d = {n_};
    for (auto x : g_.values[static_cast<std::size_t>(v)].dims) d.push_back(x);
    return d;
  }
  std::int64_t per_image(int v) const {
    std::int64_t k = 1;
    for (auto x : g_.values[static_cast<std::size_t>(v)].dims) k *= x;
    return k;
  }
  int new_buffer(const memory::desc& md) {
    Buffer b;
    b.bytes = (md.get_size() + 63) / 64 * 64;
    b.first = b.last = static_cast<int>(plan_.steps.size());
    plan_.buffers.push_back(b);
    return static_cast<int>(plan_.buffers.size()) - 1;
  }
  void touch(int buffer, int step) {
    Buffer& b = plan_.buffers[static_cast<std::size_t>(buffer)];
    b.first = std::min(b.first, step);
    b.last = std::max(b.last, step);
  }
  // Adds a step (with its scratchpad, if it needs one); each runtime argument's buffer lives through it.
  void add_step(const dnnl::primitive_desc_base& pd, dnnl::primitive p, std::vector<Step::Arg> args,
                std::unordered_map<int, memory> fixed = {}) {
    const memory::desc scratch = pd.scratchpad_desc();
    if (scratch.get_size() > 0) args.push_back({DNNL_ARG_SCRATCHPAD, new_buffer(scratch), scratch});
    const int s = static_cast<int>(plan_.steps.size());
    for (const auto& a : args) touch(a.buffer, s);
    plan_.steps.push_back({std::move(p), std::move(args), std::move(fixed)});
  }
  // A reorder of value v into `buffer` laid out as `to`.
  void reorder(int v, const memory::desc& to, int buffer) {
    const memory::desc& from = md_[static_cast<std::size_t>(v)];
    dnnl::reorder::primitive_desc pd(eng_, from, eng_, to, user_scratchpad());
    add_step(pd, dnnl::reorder(pd),
             {{DNNL_ARG_FROM, buf_[static_cast<std::size_t>(v)], from}, {DNNL_ARG_TO, buffer, to}});
  }
  // Value v as `want`: its own buffer if laid out so, else a reordered copy (a temporary).
  int as(int v, const memory::desc& want) {
    if (md_[static_cast<std::size_t>(v)] == want) return buf_[static_cast<std::size_t>(v)];
    const int b = new_buffer(want);
    reorder(v, want, b);
    return b;
  }
  // Whether layer_ is the last reader of value v's buffer (of every value planned so far in it), so
  // that the layer may write its output over it.
  bool dies_here(int v) const {
    if (v == g_.input) return false;
    const int b = buf_[static_cast<std::size_t>(v)];
    for (std::size_t u = 0; u < buf_.size(); ++u)
      if (buf_[u] == b && last_read_[u] > layer_) return false;
    return last_read_[static_cast<std::size_t>(v)] == layer_;
  }
  void set_output(const Layer& l, const memory::desc& md, int buffer) {
    md_[static_cast<std::size_t>(l.output)] = md;
    buf_[static_cast<std::size_t>(l.output)] = buffer;
  }
  // Layer layer_'s weights laid out as `want`: packed once and shared by every plan. The layer's own
  // copy is released as soon as it is packed (or adopted as it is, where `want` is its layout), so
  // that the weights are held about once while planning; later layouts are reordered from the
  // first packed one.
  memory weights(const memory::desc& user, const memory::desc& want) {
    auto& cache = packed_[static_cast<std::size_t>(layer_)];
    for (const auto& p : cache)
      if (p.desc == want) return p.mem;
    std::vector<float>& data = g_.layers[static_cast<std::size_t>(layer_)].weights;
    const Packed* first = nullptr;
    for (const auto& p : cache)
      if (!first && p.desc.dims() == user.dims()) first = &p;
    if (data.empty() && !first) throw Error(g_.path + ": internal: the onednn backend lost a layer's weights");
    if (!data.empty() && want == user) {
      auto owner = std::make_shared<std::vector<float>>(std::move(data));
      data = std::vector<float>();
      cache.push_back({want, memory(want, eng_, owner->data()), owner});
      return cache.back().mem;
    }
    memory dst(want, eng_);
    if (data.empty() || !reorder_releasing(&data, user, dst)) {
      memory src = data.empty() ? first->mem : memory(user, eng_, data.data());
      dnnl::stream s(eng_);
      dnnl::reorder(src, dst).execute(s, src, dst);
      s.wait();
    }
    std::vector<float>().swap(data);
    cache.push_back({want, dst, nullptr});
    return dst;
  }
  // Reorders a large 2-D weight (a fully connected layer's, laid out as `user`) into `dst` a slice
  // of its outer dimension at a time, giving the pages of `*data` already reordered back to the
  // system, so that the weight is not held twice while it is packed (AlexNet's first fully
  // connected layer: 151 MB). False, with nothing done, where the weight is small or a slice would
  // not fall on whole blocks of dst's layout (the caller then reorders it at once).
  bool reorder_releasing(std::vector<float>* data, const memory::desc& user, memory& dst) {
    constexpr std::size_t kLarge = std::size_t{16} << 20;  // bytes
    constexpr memory::dim kSlice = 256;                    // a multiple of oneDNN's blocks (<= 64)
    const memory::dims dims = user.dims();
    if (dims.size() != 2 || data->size() * sizeof(float) < kLarge) return false;
    // The outer dimension of the stored order: the one with the larger stride.
    const auto& strides = user.data.format_desc.blocking.strides;
    const int outer = strides[1] > strides[0] ? 1 : 0;
    const memory::dim rows = dims[static_cast<std::size_t>(outer)];
    const std::size_t row_floats = data->size() / static_cast<std::size_t>(rows);
    std::vector<std::pair<memory, memory>> slices;
    std::vector<dnnl::reorder> reorders;
    try {  // every slice's reorder made before any page is given back
      for (memory::dim at = 0; at < rows; at += kSlice) {
        memory::dims sub = dims, offsets = {0, 0};
        sub[static_cast<std::size_t>(outer)] = std::min(kSlice, rows - at);
        offsets[static_cast<std::size_t>(outer)] = at;
        memory from(user.submemory_desc(sub, offsets), eng_, data->data());
        memory to(dst.get_desc().submemory_desc(sub, offsets), eng_, dst.get_data_handle());
        reorders.emplace_back(dnnl::reorder::primitive_desc(from, to));
        slices.emplace_back(from, to);
      }
    } catch (const dnnl::error&) {
      return false;
    }
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<std::uintptr_t>(data->data());
    const std::uintptr_t first = (base + page - 1) / page * page;
    dnnl::stream s(eng_);
    for (std::size_t i = 0; i < slices.size(); ++i) {
      reorders[i].execute(s, slices[i].first, slices[i].second);
      s.wait();
      const std::size_t done = std::min(static_cast<std::size_t>(rows), (i + 1) * static_cast<std::size_t>(kSlice));
      const std::uintptr_t begin = std::max(first, (base + i * kSlice * row_floats * sizeof(float)) / page * page);
      const std::uintptr_t end = (base + done * row_floats * sizeof(float)) / page * page;
      if (end > begin) madvise(reinterpret_cast<char*>(data->data()) + (begin - base), end - begin, MADV_DONTNEED);
    }
    return true;
  }
  memory vector_memory(const std::vector<float>& data) {
    memory m(plain({static_cast<memory::dim>(data.size())}), eng_);
    std::copy(data.begin(), data.end(), static_cast<float*>(m.get_data_handle()));
    return m;
  }
  dnnl::primitive_attr post_ops(const Layer& l) const {
    dnnl::post_ops po;
    for (const auto& p : l.post) {
      if (p.sum)
        po.append_sum(1.0f);
      else
        po.append_eltwise(1.0f, p.eltwise.alg, p.eltwise.alpha, p.eltwise.beta);
    }
    dnnl::primitive_attr attr = user_scratchpad();
    attr.set_post_ops(po);
    return attr;
  }

  void plan_layer(const Layer& l) {
    const int in = l.inputs.empty() ? -1 : l.inputs[0];
    switch (l.kind) {
      case Kind::Conv:
        return conv(l, in);
      case Kind::InnerProduct:
        return inner_product(l, in);
      case Kind::Pool:
        return pool(l, in);
      case Kind::Eltwise:
        return eltwise(l, in);
      case Kind::Binary:
        return binary(l, in);
      case Kind::Concat:
        return concat(l);
      case Kind::Softmax:
        return softmax(l, in);
      case Kind::Flatten:
        return flatten(l, in);
      case Kind::BatchNorm:
        return batch_norm(l, in);
    }
  }

  void pool(const Layer& l, int in) {
    const memory::desc& src = md_[static_cast<std::size_t>(in)];
    dnnl::pooling_forward::primitive_desc pd(
        dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, l.alg, src, any(full(l.output)), l.strides,
                                    l.kernel, l.pad_l, l.pad_r),
        user_scratchpad(), eng_);
    const int s = as(in, pd.src_desc());
    const int d = new_buffer(pd.dst_desc());
    add_step(pd, dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, s, pd.src_desc()}, {DNNL_ARG_DST, d, pd.dst_desc()}});
    set_output(l, pd.dst_desc(), d);
  }

  void eltwise(const Layer& l, int in) {
    memory::desc md = md_[static_cast<std::size_t>(in)];
    int src = buf_[static_cast<std::size_t>(in)];
    const int d = dies_here(in) ? src : new_buffer(md);
    for (const auto& e : l.chain) {
      dnnl::eltwise_forward::primitive_desc pd(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, e.alg, md, e.alpha, e.beta),
          user_scratchpad(), eng_);
      add_step(pd, dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src, md}, {DNNL_ARG_DST, d, md}});
      src = d;
    }
    set_output(l, md, d);
  }

  void binary(const Layer& l, int in) {
    const bool constant = l.inputs.size() == 1;
    const int b = constant ? -1 : l.inputs[1];
    memory::desc s0 = md_[static_cast<std::size_t>(in)];
    memory::desc s1 = constant ? plain(l.constant_dims) : md_[static_cast<std::size_t>(b)];
    int b0 = buf_[static_cast<std::size_t>(in)], b1 = constant ? -1 : buf_[static_cast<std::size_t>(b)];
    std::unique_ptr<dnnl::binary::primitive_desc> pd;
    try {
      pd = std::make_unique<dnnl::binary::primitive_desc>(dnnl::binary::desc(l.alg, s0, s1, s0), user_scratchpad(),
                                                          eng_);
    } catch (const dnnl::error&) {
      // Operands in different layouts (a broadcast N x C x 1 x 1): both in plain order.
      const memory::desc s0b = plain(s0.dims());
      b0 = as(in, s0b);
      s0 = s0b;
      if (!constant) {
        s1 = plain(s1.dims());
        b1 = as(b, s1);
      }
      pd = std::make_unique<dnnl::binary::primitive_desc>(dnnl::binary::desc(l.alg, s0, s1, s0), user_scratchpad(),
                                                          eng_);
    }
    const int d = dies_here(in) && b0 == buf_[static_cast<std::size_t>(in)] ? b0 : new_buffer(s0);
    std::vector<Step::Arg> args = {{DNNL_ARG_SRC_0, b0, s0}, {DNNL_ARG_DST, d, s0}};
    std::unordered_map<int, memory> fixed;
    if (constant) {
      memory m(s1, eng_);
      std::copy(l.constant.begin(), l.constant.end(), static_cast<float*>(m.get_data_handle()));
      fixed.emplace(DNNL_ARG_SRC_1, m);
    } else {
      args.push_back({DNNL_ARG_SRC_1, b1, s1});
    }
    add_step(*pd, dnnl::binary(*pd), std::move(args), std::move(fixed));
    set_output(l, s0, d);
  }

  void concat(const Layer& l) {
    std::vector<memory::desc> srcs;
    for (int v : l.inputs) srcs.push_back(md_[static_cast<std::size_t>(v)]);
    dnnl::concat::primitive_desc pd(1, srcs, eng_, user_scratchpad());
    std::vector<Step::Arg> args;
    for (std::size_t i = 0; i < l.inputs.size(); ++i)
      args.push_back(
          {DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), buf_[static_cast<std::size_t>(l.inputs[i])], srcs[i]});
    const int d = new_buffer(pd.dst_desc());
    args.push_back({DNNL_ARG_DST, d, pd.dst_desc()});
    add_step(pd, dnnl::concat(pd), std::move(args));
    set_output(l, pd.dst_desc(), d);
  }

  void softmax(const Layer& l, int in) {
    const memory::desc md = plain(full(l.output));
    const int s = as(in, md);
    dnnl::softmax_forward::primitive_desc pd(dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, md, 1),
                                             user_scratchpad(), eng_);
    const int d = dies_here(in) && s == buf_[static_cast<std::size_t>(in)] ? s : new_buffer(md);
    add_step(pd, dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, s, md}, {DNNL_ARG_DST, d, md}});
    set_output(l, md, d);
  }

  void flatten(const Layer& l, int in) {
    // N x C x H x W in plain order is N x (C*H*W): the same buffer, seen as 2-D.
    const memory::desc& md = md_[static_cast<std::size_t>(in)];
    const memory::desc flat = plain(md.dims());
    int s = buf_[static_cast<std::size_t>(in)];
    if (!(md == flat)) {
      s = new_buffer(flat);
      reorder(in, flat, s);
    }
    set_output(l, plain(full(l.output)), s);
  }

  void batch_norm(const Layer& l, int in) {
    const memory::desc& md = md_[static_cast<std::size_t>(in)];
    const auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                       dnnl::normalization_flags::use_shift;
    dnnl::batch_normalization_forward::primitive_desc pd(
        dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_inference, md, l.epsilon, flags),
        user_scratchpad(), eng_);
    const int s = buf_[static_cast<std::size_t>(in)];
    const int d = dies_here(in) ? s : new_buffer(md);
    add_step(pd, dnnl::batch_normalization_forward(pd), {{DNNL_ARG_SRC, s, md}, {DNNL_ARG_DST, d, md}},
             {{DNNL_ARG_MEAN, vector_memory(l.mean)},
              {DNNL_ARG_VARIANCE, vector_memory(l.variance)},
              {DNNL_ARG_SCALE, vector_memory(l.scale)},
              {DNNL_ARG_SHIFT, vector_memory(l.shift)}});
    set_output(l, md, d);
  }

  void conv(const Layer& l, int in) {
    const memory::dims& wd = l.weight_dims;
    const bool grouped = l.groups > 1;
    const memory::dims wdims = grouped ? memory::dims{l.groups, wd[0] / l.groups, wd[1], wd[2], wd[3]} : wd;
    const memory::desc wuser(wdims, memory::data_type::f32, grouped ? tag::goihw : tag::oihw);
    const memory::dims bias_dims = {wd[0]};
    auto make = [&](const memory::desc& w) {
      return dnnl::convolution_forward::primitive_desc(
          dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                          act(full(in)), w, plain(bias_dims), act(full(l.output)), l.strides, l.dilates,
                                          l.pad_l, l.pad_r),
          post_ops(l), eng_);
    };
    const dnnl::convolution_forward::primitive_desc pd = with_packed_weights(wdims, make);
    const int s = as(in, pd.src_desc());
    const memory::desc dst = pd.dst_desc();
    int d = -1;
    const bool sum = !l.post.empty() && l.post[0].sum;
    if (sum) {
      // The residual tensor must be in dst before the convolution adds to it: in place where it
      // dies here and is laid out as dst, else a copy in dst's layout.
      const int r = l.inputs[1];
      if (dies_here(r) && md_[static_cast<std::size_t>(r)] == dst && r != in) {
        d = buf_[static_cast<std::size_t>(r)];
      } else {
        d = new_buffer(dst);
        reorder(r, dst, d);
      }
    } else {
      d = new_buffer(dst);
    }
    const memory bias = bias_of(l);
    add_step(pd, dnnl::convolution_forward(pd), {{DNNL_ARG_SRC, s, pd.src_desc()}, {DNNL_ARG_DST, d, dst}},
             {{DNNL_ARG_WEIGHTS, weights(wuser, pd.weights_desc())}, {DNNL_ARG_BIAS, bias}});
    set_output(l, dst, d);
  }

  void inner_product(const Layer& l, int in) {
    const memory::dims& wd = l.weight_dims;  // K x In
    const memory::desc wuser(wd, memory::data_type::f32, l.weights_io ? tag::io : tag::oi);
    const memory::desc src = plain(full(in));
    auto make = [&](const memory::desc& w) {
      return dnnl::inner_product_forward::primitive_desc(
          dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src, w, plain({wd[0]}),
                                            any(full(l.output))),
          post_ops(l), eng_);
    };
    const dnnl::inner_product_forward::primitive_desc pd = with_packed_weights(wd, make);
    const int s = as(in, pd.src_desc());
    const int d = new_buffer(pd.dst_desc());
    const memory bias = bias_of(l);
    add_step(pd, dnnl::inner_product_forward(pd), {{DNNL_ARG_SRC, s, pd.src_desc()}, {DNNL_ARG_DST, d, pd.dst_desc()}},
             {{DNNL_ARG_WEIGHTS, weights(wuser, pd.weights_desc())}, {DNNL_ARG_BIAS, bias}});
    set_output(l, pd.dst_desc(), d);
  }

  // The primitive for this batch size reading the weights as an earlier plan packed them (one packed
  // copy for every batch size: AlexNet's fully connected weights would otherwise be held once per
  // layout oneDNN prefers for a batch size), or in the layout it prefers where it cannot. Fully
  // connected weights are packed too (reorder_releasing keeps that from holding them twice): read
  // as stored (gemm:jit) AlexNet ran 0.93x ONNX Runtime per CPU second (docs/results.md).
  template <class Make>
  auto with_packed_weights(const memory::dims& dims, Make make) -> decltype(make(any(dims))) {
    for (const auto& p : packed_[static_cast<std::size_t>(layer_)]) {
      if (p.desc.dims() != dims) continue;
      try {
        return make(p.desc);
      } catch (const dnnl::error&) {
        break;
      }
    }
    return make(any(dims));
  }

  // The bias vector of layer l (the first packed entry with a zero-dim desc holds it).
  memory bias_of(const Layer& l) {
    auto& cache = packed_[static_cast<std::size_t>(layer_)];
    const memory::desc key = plain({static_cast<memory::dim>(l.bias.size())});
    for (auto& p : cache)
      if (p.desc == key) return p.mem;
    cache.push_back({key, vector_memory(l.bias), nullptr});
    return cache.back().mem;
  }

  // Offsets by liveness: largest buffers first, each at the lowest offset free over its lifetime.
  void assign_offsets() {
    std::vector<int> order(plan_.buffers.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return plan_.buffers[static_cast<std::size_t>(a)].bytes > plan_.buffers[static_cast<std::size_t>(b)].bytes;
    });
    std::vector<int> placed;
    for (int i : order) {
      Buffer& b = plan_.buffers[static_cast<std::size_t>(i)];
      std::vector<std::pair<std::size_t, std::size_t>> busy;
      for (int j : placed) {
        const Buffer& o = plan_.buffers[static_cast<std::size_t>(j)];
        if (o.first <= b.last && b.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
      }
      std::sort(busy.begin(), busy.end());
      std::size_t at = 0;
      for (const auto& r : busy) {
        if (at + b.bytes <= r.first) break;
        at = std::max(at, r.second);
      }
      b.offset = at;
      plan_.arena_bytes = std::max(plan_.arena_bytes, at + b.bytes);
      placed.push_back(i);
    }
  }

  Graph& g_;  // the layers' weights are released as they are packed
  std::vector<std::vector<Packed>>& packed_;
  const dnnl::engine& eng_;
  memory::dim n_;
  Plan plan_;
  int layer_ = 0;
  std::vector<memory::desc> md_;
  std::vector<int> buf_;
  std::vector<int> last_read_;
};

}  // namespace

Plan plan_graph(Graph& g, std::vector<std::vector<Packed>>& packed, const dnnl::engine& eng, int n) {
  return Planner(g, packed, eng, n).build();
}

}  // namespace fool::onednn
