#pragma once
// The fixture of the experiment tests: a tiny transfer experiment to build on.
#include <string>

#include "cli_runner.h"

namespace fool {

class Experiments : public testing::CliTest {
 protected:
  // A tiny transfer experiment: two LeNets and an MLP, one epoch each, one short run each. Its
  // stderr is left in small_transfer_err.
  std::string small_transfer(const std::string& name) {
    const std::string out = path(name);
    const auto r = testing::run_fool({"experiment", "transfer", "--out", out, "--data-dir", FOOL_MNIST_DIR, "--epochs",
                                      "1", "--other-archs", "mlp", "--runs-per-network", "1", "--generations", "5",
                                      "--offspring", "30", "--init", "30"});
    EXPECT_EQ(r.code, 0) << r.err;
    small_transfer_err = r.err;
    return out;
  }
  std::string small_transfer_err;
};

}  // namespace fool
