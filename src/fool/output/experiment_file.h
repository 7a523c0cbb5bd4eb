#pragma once
// experiment.json, the file an experiment directory keeps its settings and finished steps in.
#include <nlohmann/json.hpp>
#include <string>

namespace fool {

// Reads dir/experiment.json; throws fool::Error naming it if missing or not an experiment.
nlohmann::json read_experiment(const std::string& dir);

}  // namespace fool
