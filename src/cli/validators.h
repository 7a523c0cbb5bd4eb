#pragma once
// Flag validators with short one-line messages, and choices read from the library's name tables.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace fool::cli {

// Flag validators with short messages (CLI11's PositiveNumber prints DBL_MAX in full, and an
// unsigned option silently wraps "-1" to 2^64-1).
CLI::Validator positive();
CLI::Validator non_negative();
// A finite number in [lo, hi].
CLI::Validator in_range(double lo, double hi);
// An integer seed from 0 to 2^64 - 1 (larger values are refused, not saturated).
CLI::Validator seed_number();
// 0 (the default) up to fool::max_threads().
CLI::Validator thread_count();

// Adds an option that picks one of an enum's named values: the choices and the default shown in
// --help come from the library's name table.
template <typename E, typename Parse, typename Name>
CLI::Option* add_choice(CLI::App* app, const std::string& flag, E& target, const std::vector<std::string>& names,
                        Parse parse, Name name, const std::string& help) {
  return app
      ->add_option_function<std::string>(
          flag, [&target, parse](const std::string& s) { target = parse(s); }, help)
      ->check(CLI::IsMember(names))
      ->default_str(name(target));
}

}  // namespace fool::cli
