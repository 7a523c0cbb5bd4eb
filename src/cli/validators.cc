#include "cli/validators.h"

#include <cmath>
#include <string>

#include "fool/core/limits.h"

namespace fool::cli {

namespace {
// The value of a numeric flag, or NaN if the text is not entirely a number.
double flag_number(const std::string& text) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  return std::nan("");
}
}  // namespace

// Finite numbers only: "inf" would be accepted by > 0 and make a run that cannot be resumed.
CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const double v = flag_number(text);
        return v > 0 && std::isfinite(v) ? std::string() : "'" + text + "' is not a positive number";
      },
      "POSITIVE");
}

CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const double v = flag_number(text);
        return v >= 0 && std::isfinite(v) ? std::string() : "'" + text + "' is not a number >= 0";
      },
      "NON-NEGATIVE");
}

CLI::Validator in_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const double v = flag_number(text);
        if (v >= lo && v <= hi) return std::string();
        std::ostringstream range;
        range << "'" << text << "' is not a number in [" << lo << ", " << hi << "]";
        return range.str();
      },
      "NUMBER");
}

CLI::Validator seed_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        // Digits only, and at most 2^64 - 1: a larger seed must not be saturated silently.
        const bool digits = !text.empty() && text.size() <= 20 &&
                            std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (digits) {
          try {
            std::stoull(text);
            return std::string();
          } catch (const std::exception&) {
          }
        }
        return "'" + text + "' is not a seed (an integer from 0 to 18446744073709551615)";
      },
      "SEED");
}

CLI::Validator thread_count() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const double v = flag_number(text);
        if (!(v >= 0) || v != std::floor(v)) return "'" + text + "' is not a thread count";
        if (v > max_threads()) {
          return text + " is more than this machine can use (at most " + std::to_string(max_threads()) + ")";
        }
        return std::string();
      },
      "THREADS");
}

}  // namespace fool::cli
