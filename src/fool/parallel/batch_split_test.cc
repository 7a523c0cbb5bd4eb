// What sharing a generation across MPI ranks relies on, for both backends: a row's scores do not
// depend on how many threads compute them (ranks divide a machine's cores), and the rows of one
// chunk do not depend on what else was scored before (ranks score their chunks one by one). Rows
// are NOT bit-identical across batch sizes (measured: torch on mnist_bn_cnn differs between 8 and 4
// images, OpenCV on SqueezeNet between 8 and 1, by up to 1.5e-8), which is why ranks share whole
// chunks of --eval-batch images instead of equal blocks of rows.
#include <gtest/gtest.h>

#include <cstring>

#include "fool/core/rng.h"
#include "fool/model/classifier.h"
#include "fool/model/cropping_classifier.h"
#include "fool/model/factory.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

using fool::testing::fixtures_dir;

ImageBatch random_eight_bit_batch(std::size_t n, ImageShape shape, std::uint64_t seed) {
  ImageBatch batch(n, shape);
  Rng rng(seed);
  std::vector<std::uint8_t> pixels(shape.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.below(256));
    batch.set(i, pixels.data());
  }
  return batch;
}

bool same_rows(const Matrix& a, std::size_t from, const Matrix& b) {
  return a.cols() == b.cols() && std::memcmp(a.row(from), b.data(), b.rows() * b.cols() * sizeof(float)) == 0;
}

struct SplitCase {
  const char* model;
  Backend backend;
};

class ChunkedScoring : public ::testing::TestWithParam<SplitCase> {};

TEST_P(ChunkedScoring, ChunksScoreBitIdenticallyOnAnyThreadCountAndInAnyOrder) {
  if (!backend_registered(GetParam().backend.name())) GTEST_SKIP() << "backend not built";
  ClassifierOptions one_thread, two_threads;
  one_thread.backend = two_threads.backend = GetParam().backend;
  one_thread.threads = 1;
  two_threads.threads = 2;
  const std::string path = fixtures_dir() + "/" + GetParam().model + ".onnx";
  std::shared_ptr<Classifier> a = load_classifier(path, one_thread);
  std::shared_ptr<Classifier> b = load_classifier(path, two_threads);
  const std::size_t n = 7, chunk = 3;
  const ImageBatch batch = random_eight_bit_batch(n, a->spec().input, 5);
  // One process with two threads scores chunks 0, 1, 2 in order ...
  const Matrix whole = score_in_chunks(*b, batch, chunk);
  // ... another process with one thread scores chunk 2 first, then chunk 0 alone, and chunks 0-1 together.
  EXPECT_TRUE(same_rows(whole, 6, a->probabilities(batch.slice(6, 7))));
  EXPECT_TRUE(same_rows(whole, 0, a->probabilities(batch.slice(0, 3))));
  auto chunking = make_chunking_classifier(a, chunk);
  EXPECT_TRUE(same_rows(whole, 0, chunking->probabilities(batch.slice(0, 6))));
  EXPECT_TRUE(same_rows(whole, 3, chunking->probabilities(batch.slice(3, 7))));
}

INSTANTIATE_TEST_SUITE_P(Backends, ChunkedScoring,
                         ::testing::Values(SplitCase{"mnist_bn_cnn", Backend("opencv")},
                                           SplitCase{"mnist_bn_cnn", Backend("torch")},
                                           SplitCase{"squeezenet1_1_random", Backend("opencv")},
                                           SplitCase{"squeezenet1_1_random", Backend("torch")}),
                         [](const auto& info) {
                           return std::string(info.param.model) + "_" + backend_name(info.param.backend);
                         });

}  // namespace
}  // namespace fool
