#include "fool/experiments/registry.h"

namespace fool {

// The declarations of <name>_experiment_entry() and generated_experiment_entries(), generated from
// experiments/CMakeLists.txt's list.
#include "experiment_entries.inc"

const std::vector<ExperimentEntry>& experiment_registry() {
  static const std::vector<ExperimentEntry> entries = generated_experiment_entries();
  return entries;
}

const ExperimentDocuments& experiment_documents() {
  static const ExperimentDocuments documents = [] {
    ExperimentDocuments d;
    for (const ExperimentEntry& e : experiment_registry()) d.push_back(e.document);
    return d;
  }();
  return documents;
}

}  // namespace fool
