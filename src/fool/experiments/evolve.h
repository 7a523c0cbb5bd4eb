#pragma once
// run_evolve: the paper's evolution experiment as one composition: load the model once, build the
// encoding, wrap the classifier for crops if the images are larger than its input, and run
// MAP-Elites with the run directory as observer. Presets hold the paper's settings.
#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fool/distribution/distribution.h"
#include "fool/encoding/registry.h"
#include "fool/model/classifier.h"
#include "fool/output/run_summary.h"
#include "fool/search/evolution.h"

namespace fool {

struct EvolveRunConfig {
  std::string model;
  ClassifierOptions classifier;
  std::string encoding = "direct";  // a registered encoding's name (encoding_names())
  EvolutionConfig evolution;
  // The encoding's options by name (EncodingOption; its defaults for those not given); the image
  // shape comes from the settings below.
  EncodingParams encoding_options = nlohmann::json::object();
  // The paper's settings ("mnist", "imagenet"; empty: none) for what is not set explicitly below.
  std::string preset;
  std::optional<int> generations, offspring, init;  // set: override the preset and `evolution`
  // Target classes as the user wrote them, label names allowed (parse_class_list); set, it replaces
  // evolution.classes once the model's labels are known.
  std::string class_list;
  int image_size = 0;   // height (and width) of the images; 0: the preset's, else the model's input size
  int image_width = 0;  // 0: image_size; a non-square model's own width when image_size is 0
  int channels = 0;     // 0: the model's
  int crops = 0;        // 1 or 10 (the paper's ImageNet setting); 0: the preset's, else 1
  std::string out_dir;
  // The live view (LiveView): current champions, grid.png and live.html in out_dir after a
  // generation or at a checkpoint once live_every seconds have passed since the last update (0: at
  // every checkpoint and only there).
  bool live = true;
  double live_every = 10.0;
  bool resume = false;
  bool overwrite = false;
  std::string command_line;  // recorded in summary.json
  // The processes that share the run's evaluations (nullptr: this process alone). On ranks > 0,
  // run_evolve only scores for rank 0 and returns an empty result.
  Distribution* distribution = nullptr;
  // The model path written into summary.json (empty: `model`), for runs made in a temporary
  // directory of another process.
  std::string recorded_model;
};

// evolution.eval_batch 0 resolves to kEvalBatchSmallImages for images of up to kSmallImageSide
// pixels a side, else kEvalBatchLargeImages: chunks small enough that a generation has work for
// several processes.
constexpr int kSmallImageSide = 64;
constexpr std::size_t kEvalBatchSmallImages = 50;
constexpr std::size_t kEvalBatchLargeImages = 10;

// The paper's settings: "mnist" (200 x 200, 200 generations) and "imagenet" (256x256 colour images,
// 10 crops, 5000 generations; 400 offspring and initial genomes for CPPN, 200 for direct); and
// "imagenet-quick", a first look at an ImageNet-sized model in about a minute on two cores: the
// first 10 classes at the model's own input size, one crop, 20 generations of 20.
struct EvolvePreset {
  int generations, offspring, init, image_size, crops;
  int classes = 0;  // without --classes: the first this many real classes (0: all)
};
// Throws fool::Error if the preset does not fit the model.
// `encoding` names the encoding, whose entry may size the population (EncodingEntry::preset_population).
EvolvePreset evolve_preset(const std::string& name, const std::string& encoding, const ModelSpec& model);
const std::vector<std::string>& evolve_preset_names();

struct EvolveRunResult {
  std::optional<RunSummary> summary;  // none if the run stopped before any class had a champion
  bool complete = false;
  std::string backend;                        // the backend that ran the model
  std::string backend_choice;                 // why (BackendChoice::reason)
  std::vector<ClassResult> first_generation;  // generation 0's champions, if asked for and run now
};

// Runs (or resumes) an evolution, writing its directory; `events` watch it as well (e.g. a
// progress bar): a message line says which backend runs the model and why (--backend auto picks
// one at load time; a resumed run keeps the backend its checkpoint names), and the progress
// events' task is "evolve (<backend>)". keep_first_generation: also return generation 0's champions.
// Loads config.model and hands it to run_evolve_with.
EvolveRunResult run_evolve(EvolveRunConfig config, const RunEvents& events = {},
                           const std::atomic<bool>* stop = nullptr, bool keep_first_generation = false);

// A classifier already made (a loaded model, or one a library user implements, e.g. the Python
// package's callables), with the backend name that summary.json and the checkpoint record.
struct ReadyClassifier {
  std::shared_ptr<Classifier> model;
  std::string backend;  // "opencv", "torch", or another name for a classifier fool did not load ("python")
  std::string reason;   // why it runs the model: the progress info line "backend <reason> (<detail>)"
  std::string detail;
};

// run_evolve with the classifier given (ready): c.model and c.classifier are not read, except that
// c.model names the model in messages and summary.json (c.recorded_model if set). If scoring
// throws, the run's last complete generation is checkpointed before the exception leaves, so
// --resume continues it.
EvolveRunResult run_evolve_with(const ReadyClassifier& ready, EvolveRunConfig c, const RunEvents& events = {},
                                const std::atomic<bool>* stop = nullptr, bool keep_first_generation = false);

// The settings that define a run's outcome, as recorded in its checkpoint and summary; the
// encoding's own under its name (Encoding::settings).
nlohmann::json evolve_settings(const EvolveRunConfig& config, const Encoding& encoding, const ModelSpec& model,
                               const std::string& backend);

}  // namespace fool
