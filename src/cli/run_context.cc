#include "cli/run_context.h"

#include <csignal>

namespace fool::cli {

namespace {
std::string g_command_line;
}

void set_command_line(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) {
    std::string a = i == 0 ? std::string("fool") : std::string(argv[i]);
    const bool plain = !a.empty() && a.find_first_of(" \t'\"\\$`") == std::string::npos;
    g_command_line += (i ? " " : "") + (plain ? a : "'" + a + "'");
  }
}

const std::string& command_line() { return g_command_line; }

namespace {
std::atomic<bool> g_stop{false};
void on_sigint(int) {
  g_stop = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}
}  // namespace

InterruptGuard::InterruptGuard() {
  g_stop = false;
  previous_ = std::signal(SIGINT, on_sigint);
}
InterruptGuard::~InterruptGuard() { std::signal(SIGINT, previous_); }
const std::atomic<bool>* InterruptGuard::stop() const { return &g_stop; }

}  // namespace fool::cli
