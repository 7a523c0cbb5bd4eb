#include "fool/core/json_check.h"

#include <cmath>

#include "fool/core/error.h"

namespace fool::json_check {

namespace {
std::string kind_of(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  return "an object";
}
std::string name(const std::string& where) { return where.empty() ? std::string("the document") : "'" + where + "'"; }
}  // namespace

std::string printable(const std::string& s, std::size_t max) {
  std::string out;
  for (const char c : s.substr(0, max)) {
    if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += '?';
    else out += c;
  }
  return s.size() > max ? out + "..." : out;
}

std::string path_of(const std::string& where, const std::string& key) {
  return where.empty() ? printable(key) : where + "." + printable(key);
}
std::string path_of(const std::string& where, std::size_t index) { return where + "[" + std::to_string(index) + "]"; }

const nlohmann::json& member(const nlohmann::json& j, const std::string& where, const std::string& key) {
  if (!j.is_object()) throw Error(name(where) + " is " + kind_of(j) + ", not an object");
  const auto it = j.find(key);
  if (it == j.end()) throw Error("key '" + path_of(where, key) + "' is missing");
  return *it;
}

const nlohmann::json& object(const nlohmann::json& j, const std::string& where, const std::string& key) {
  const auto& v = member(j, where, key);
  if (!v.is_object()) throw Error("key '" + path_of(where, key) + "' is " + kind_of(v) + ", not an object");
  return v;
}

const nlohmann::json& array(const nlohmann::json& j, const std::string& where, const std::string& key) {
  const auto& v = member(j, where, key);
  if (!v.is_array()) throw Error("key '" + path_of(where, key) + "' is " + kind_of(v) + ", not a list");
  return v;
}

std::int64_t integer_value(const nlohmann::json& v, const std::string& where, std::int64_t lo, std::int64_t hi) {
  std::int64_t x = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) {
      throw Error("key '" + where + "' is " + v.dump() + ", not in " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    x = static_cast<std::int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<std::int64_t>();
  } else {
    throw Error("key '" + where + "' is " + kind_of(v) + ", not an integer");
  }
  if (x < lo || x > hi) {
    throw Error("key '" + where + "' is " + std::to_string(x) + ", not in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return x;
}

std::int64_t integer(const nlohmann::json& j, const std::string& where, const std::string& key, std::int64_t lo,
                     std::int64_t hi) {
  return integer_value(member(j, where, key), path_of(where, key), lo, hi);
}

std::uint64_t unsigned_integer(const nlohmann::json& j, const std::string& where, const std::string& key,
                               std::uint64_t hi) {
  const auto& v = member(j, where, key);
  const std::string p = path_of(where, key);
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    const auto u = v.get<std::uint64_t>();
    if (u > hi) throw Error("key '" + p + "' is " + v.dump() + ", more than " + std::to_string(hi));
    return u;
  }
  if (v.is_number_integer()) throw Error("key '" + p + "' is " + v.dump() + ", not a count");
  throw Error("key '" + p + "' is " + kind_of(v) + ", not an integer");
}

double number_value(const nlohmann::json& v, const std::string& where, double lo, double hi) {
  if (!v.is_number()) throw Error("key '" + where + "' is " + kind_of(v) + ", not a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    throw Error("key '" + where + "' is " + v.dump() + ", not in [" + nlohmann::json(lo).dump() + ", " +
                nlohmann::json(hi).dump() + "]");
  }
  return x;
}

double number(const nlohmann::json& j, const std::string& where, const std::string& key, double lo, double hi) {
  return number_value(member(j, where, key), path_of(where, key), lo, hi);
}

std::string string(const nlohmann::json& j, const std::string& where, const std::string& key) {
  const auto& v = member(j, where, key);
  if (!v.is_string()) throw Error("key '" + path_of(where, key) + "' is " + kind_of(v) + ", not a string");
  return v.get<std::string>();
}

bool boolean(const nlohmann::json& j, const std::string& where, const std::string& key) {
  const auto& v = member(j, where, key);
  if (!v.is_boolean()) throw Error("key '" + path_of(where, key) + "' is " + kind_of(v) + ", not true or false");
  return v.get<bool>();
}

}  // namespace fool::json_check
