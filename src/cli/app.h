#pragma once
// The fool command line as one CLI11 app: every command with its flags bound to the library's
// configs (whose member initialisers are the defaults --help shows). Built by main and by the tests.
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/common.h"

namespace fool::cli {

// The app with every command added; the parsed command leaves its work in `action`, which must
// outlive the app.
std::unique_ptr<CLI::App> make_app(Action& action);

}  // namespace fool::cli
