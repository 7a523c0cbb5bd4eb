#pragma once
// The HTML report: one self-contained page (every image inlined, no network, no server) for a set
// of run directories, transfer outputs and experiment directories.
#include <string>
#include <vector>

namespace fool {

// Builds the page. Each directory may hold a run (summary.json), a transfer matrix (transfer.json)
// or an experiment (experiment.json); anything else is a fool::Error naming it.
std::string build_report(const std::vector<std::string>& dirs);

}  // namespace fool
