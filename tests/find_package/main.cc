// Uses fool's public headers and libraries from an installed tree: evolves against the fixture
// model for two generations and prints the best confidence.
#include <cstdio>

#include "fool/encoding/cppn.h"
#include "fool/model/factory.h"
#include "fool/search/evolution.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer MODEL.onnx\n");
    return 2;
  }
  auto classifier = fool::load_classifier(argv[1], {});
  fool::CppnOptions options;
  options.shape = classifier->spec().input;
  const fool::CppnEncoding encoding(options);
  fool::EvolutionConfig config;
  config.generations = 2;
  config.offspring = config.init = 20;
  fool::Evolution evolution(encoding, *classifier, config);
  evolution.run();
  std::printf("best %.6f over %zu classes\n", evolution.archive().max_fitness(), evolution.archive().cells());
  return 0;
}
