// experiment.json as a rerun of an experiment and fool report read it.
#include "fool/experiments/registry.h"
#include "fool/output/experiment_file.h"
#include "fool/output/report.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fool;
  std::filesystem::create_directories(fuzz::scratch() / "experiment");
  fuzz::write_input("experiment/experiment.json", data, size);
  try {
    read_experiment((fuzz::scratch() / "experiment").string(), experiment_documents());
    ReportOptions options;
    options.experiments = experiment_documents();
    build_report({(fuzz::scratch() / "experiment").string()}, options);
  } catch (const Error& e) {
    fuzz::expect_one_line(e);
  }
  return 0;
}
