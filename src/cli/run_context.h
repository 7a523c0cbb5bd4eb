#pragma once
// What a command knows about the process it runs in: the command line as typed, and Ctrl-C.
#include <atomic>
#include <string>

namespace fool::cli {

// The command line as the user typed it (recorded in run summaries); set once by main.
void set_command_line(int argc, char** argv);
const std::string& command_line();

// While alive, Ctrl-C sets stop() instead of ending the process (a second Ctrl-C still does), so a
// long command can finish its generation or step, save, and exit with 130.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  const std::atomic<bool>* stop() const;

 private:
  void (*previous_)(int);
};

}  // namespace fool::cli
