#pragma once
// The transfer experiment: its config, entry point and registry entry (registry.h, defined in its .cc).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/experiments/experiments.h"

namespace fool {

// Transfer (the paper's Section 3.3): networks of one architecture that differ only in their random
// initialisation, and networks of other architectures, all trained on the same data; several
// evolution runs against each; every champion scored by every network.
struct TransferExperimentConfig : ExperimentConfig {
  TransferExperimentConfig() : ExperimentConfig(100, 200, 200) {}
  std::vector<std::uint64_t> lenet_seeds = {1, 2};
  std::vector<std::string> other_archs = {"mlp", "bncnn"};
  int runs_per_network = 2;
  std::string kind() const override;
  std::vector<ExperimentOption> options() override;
  nlohmann::json run(const RunEvents& events) const override;
  nlohmann::json to_json() const override;
};
nlohmann::json run_transfer_experiment(const TransferExperimentConfig& config, const RunEvents& events = {});

}  // namespace fool
