// bench_core: Google Benchmark micro-benchmarks of the hot paths that need no model: CPPN
// rendering, HLS -> RGB conversion, archive insertion, the genome codec and direct-encoding
// mutation. Built by default, never run by the tests; docs/results.md lists what it measured.
//   build/bench/bench_core --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "fool/core/rng.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/encoding/genome_codec.h"
#include "fool/search/archive.h"

namespace {

using fool::GenomePtr;

// A CPPN genome grown by `mutations` rounds of mutation from a random one, as a run's genomes are
// after some generations (a fresh random genome has no hidden nodes and renders unrealistically fast).
GenomePtr grown_cppn(const fool::CppnEncoding& encoding, int mutations) {
  fool::Rng rng(7);
  GenomePtr g = encoding.random(rng);
  for (int i = 0; i < mutations; ++i) g = encoding.mutate(*g, rng, i);
  return g;
}

fool::CppnOptions cppn_options(int channels, int side) {
  fool::CppnOptions o;
  o.shape = {channels, side, side};
  return o;
}

// Arguments: image side in pixels, channels (1: gray, 3: HLS rendered as RGB).
void BM_CppnRender(benchmark::State& state) {
  const auto side = static_cast<int>(state.range(0));
  const auto channels = static_cast<int>(state.range(1));
  const fool::CppnEncoding encoding(cppn_options(channels, side));
  const GenomePtr genome = grown_cppn(encoding, 100);
  for (auto _ : state) benchmark::DoNotOptimize(encoding.render(*genome));
  state.SetItemsProcessed(state.iterations() * side * side);  // pixels
}
BENCHMARK(BM_CppnRender)->Args({28, 1})->Args({256, 3})->Unit(benchmark::kMicrosecond);

// A 256x256 planar HLS image converted to RGB in place (the image is refilled outside the timing).
void BM_HlsToRgb(benchmark::State& state) {
  const int side = 256;
  fool::Image8 source{{3, side, side}, std::vector<std::uint8_t>(3u * side * side)};
  fool::Rng rng(3);
  for (auto& v : source.pixels) v = static_cast<std::uint8_t>(rng.below(256));
  fool::Image8 image = source;
  for (auto _ : state) {
    state.PauseTiming();
    image.pixels = source.pixels;
    state.ResumeTiming();
    fool::hls_image_to_rgb(image);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * side * side);
}
BENCHMARK(BM_HlsToRgb)->Unit(benchmark::kMicrosecond);

// One generation's insertion into the archive: 200 solutions offered to every one of 10 cells (the
// paper's MNIST setting), scored by a fixed random probability matrix.
void BM_ArchiveInsert(benchmark::State& state) {
  const std::size_t solutions = 200, classes = 10;
  fool::Matrix scores(solutions, classes);
  fool::Rng rng(5);
  for (std::size_t i = 0; i < solutions * classes; ++i) scores.data()[i] = static_cast<float>(rng.uniform());
  const fool::DirectEncoding encoding(fool::DirectOptions{});
  std::vector<GenomePtr> genomes;
  for (std::size_t i = 0; i < solutions; ++i) genomes.push_back(encoding.random(rng));
  std::vector<int> cells(classes);
  for (std::size_t k = 0; k < classes; ++k) cells[k] = static_cast<int>(k);
  int generation = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fool::EliteArchive archive(cells);  // empty, so every generation inserts the same way
    state.ResumeTiming();
    benchmark::DoNotOptimize(archive.add(genomes, scores, generation++));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(solutions));
}
BENCHMARK(BM_ArchiveInsert)->Unit(benchmark::kMicrosecond);

// The binary codec's round trip of one genome. Argument 0: a direct 28x28 genome; 1: a grown CPPN.
void BM_GenomeCodec(benchmark::State& state) {
  const fool::DirectEncoding direct(fool::DirectOptions{});
  const fool::CppnEncoding cppn(cppn_options(1, 28));
  const bool is_cppn = state.range(0) == 1;
  const fool::Encoding& encoding = is_cppn ? static_cast<const fool::Encoding&>(cppn) : direct;
  fool::Rng rng(9);
  const GenomePtr genome = is_cppn ? grown_cppn(cppn, 100) : direct.random(rng);
  std::vector<std::uint8_t> bytes;
  for (auto _ : state) {
    bytes.clear();
    fool::encode_genome(encoding, *genome, bytes);
    benchmark::DoNotOptimize(fool::decode_genome(encoding, bytes.data(), bytes.size()));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_GenomeCodec)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// One mutated child of a direct genome. Argument: image side (28: MNIST; 256: ImageNet, colour).
void BM_DirectMutation(benchmark::State& state) {
  const auto side = static_cast<int>(state.range(0));
  fool::DirectOptions options;
  options.shape = {side > 64 ? 3 : 1, side, side};
  const fool::DirectEncoding encoding(options);
  fool::Rng rng(11);
  const GenomePtr parent = encoding.random(rng);
  for (auto _ : state) benchmark::DoNotOptimize(encoding.mutate(*parent, rng, 0));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(options.shape.size()));  // genes
}
BENCHMARK(BM_DirectMutation)->Arg(28)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
