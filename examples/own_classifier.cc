// Plugging your own classifier into fool's evolution: a hand-written scorer of 8 x 8 gray images
// with three classes (dark, bright, striped), fooled by MAP-Elites with the direct encoding. Any
// model works the same way: implement fool::Classifier's batched probabilities() and hand it to
// fool::Evolution with an encoding from the registry.
#include <cmath>
#include <cstdio>
#include <vector>

#include "fool/encoding/registry.h"
#include "fool/model/classifier.h"
#include "fool/search/evolution.h"

namespace {

// N x 3 probabilities: a softmax over how dark, how bright and how striped (neighbouring columns
// differ) each image is, all three in [0, 1].
class StripeClassifier : public fool::Classifier {
 public:
  StripeClassifier() {
    spec_.path = "stripes (in this program)";
    spec_.input = {1, 8, 8};
    spec_.num_classes = 3;
    spec_.labels = {"dark", "bright", "striped"};
    spec_.preprocessing.output_is_probabilities = true;
  }
  const fool::ModelSpec& spec() const override { return spec_; }
  fool::Backend backend() const override { return fool::Backend::Auto; }  // none of fool's backends
  fool::Matrix probabilities(const fool::ImageBatch& images) override {
    fool::Matrix out(images.size(), 3);
    for (std::size_t i = 0; i < images.size(); ++i) {
      const float* x = images.image(i);  // 1 x 8 x 8 floats in [0, 1]
      double mean = 0.0, stripes = 0.0;
      for (int r = 0; r < 8; ++r) {
        for (int c = 0; c < 8; ++c) {
          mean += x[r * 8 + c] / 64.0;
          if (c < 7) stripes += std::fabs(x[r * 8 + c] - x[r * 8 + c + 1]) / 56.0;
        }
      }
      const double f[3] = {1.0 - mean, mean, stripes};
      double sum = 0.0, e[3];
      for (int k = 0; k < 3; ++k) sum += e[k] = std::exp(12.0 * f[k]);
      for (int k = 0; k < 3; ++k) out(i, static_cast<std::size_t>(k)) = static_cast<float>(e[k] / sum);
    }
    return out;
  }

 private:
  fool::ModelSpec spec_;
};

}  // namespace

int main() {
  StripeClassifier classifier;
  const auto encoding = fool::make_encoding("direct", classifier.spec().input, {{"mutation_rate", 0.2}});
  fool::EvolutionConfig config;
  config.generations = 200;
  config.offspring = config.init = 50;
  config.seed = 7;
  config.checkpoint_every = 0;
  fool::Evolution evolution(*encoding, classifier, config);
  evolution.run();
  int fooled = 0;
  for (const fool::ClassResult& r : evolution.results()) {
    std::printf("%-8s %.4f\n", classifier.spec().labels[static_cast<std::size_t>(r.index)].c_str(),
                r.search_confidence);
    fooled += r.search_confidence >= 0.95f;
  }
  std::printf("%d of 3 classes at >= 0.95\n", fooled);
  return 0;
}
