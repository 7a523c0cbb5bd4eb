#pragma once
// Name tables for enumerated choices: each enum that a user picks by name (an encoding, a start
// image, a backend) has one table, and parsing, printing and the CLI's list of choices all come
// from it.
#include <string>
#include <utility>
#include <vector>

#include "fool/core/error.h"

namespace fool {

template <typename E>
using NameTable = std::vector<std::pair<E, std::string>>;

template <typename E>
const std::string& name_of(const NameTable<E>& table, E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  throw Error("internal: a value without a name");
}

template <typename E>
std::vector<std::string> names_of(const NameTable<E>& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.push_back(entry.second);
  return out;
}

// The value named `text`; throws fool::Error "unknown <what> '<text>' (known: a, b)" otherwise.
template <typename E>
E parse_name(const NameTable<E>& table, const std::string& text, const std::string& what) {
  std::string known;
  for (const auto& [v, name] : table) {
    if (name == text) return v;
    known += (known.empty() ? "" : ", ") + name;
  }
  throw Error("unknown " + what + " '" + text + "' (known: " + known + ")");
}

}  // namespace fool
