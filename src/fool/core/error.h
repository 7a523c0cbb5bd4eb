#pragma once
// fool::Error: the one exception type the library throws for bad input or failed I/O.
// Its message is a single line that names the offending input and what is wrong with it.
#include <stdexcept>
#include <string>

namespace fool {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace fool
