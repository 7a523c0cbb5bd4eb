// summary.json as fool transfer and fool report read it (typed RunSummary, then the report page).
#include "fool/output/report.h"
#include "fool/output/run_summary.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fool;
  std::filesystem::create_directories(fuzz::scratch() / "summary");
  fuzz::write_input("summary/summary.json", data, size);
  try {
    read_summary((fuzz::scratch() / "summary").string());
    build_report({(fuzz::scratch() / "summary").string()});
  } catch (const Error& e) {
    fuzz::expect_one_line(e);
  }
  return 0;
}
