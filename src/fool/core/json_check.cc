#include "fool/core/json_check.h"

#include <cstdio>

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

namespace {
// The length of the valid UTF-8 sequence starting at s[i], or 0 if none starts there.
std::size_t utf8_sequence(const std::string& s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4;
  else
    return 0;
  // The lead bytes that narrow the second byte's range: no overlong forms, no surrogates, nothing
  // past U+10FFFF.
  if (c == 0xe0)
    lo = 0xa0;
  else if (c == 0xed)
    hi = 0x9f;
  else if (c == 0xf0)
    lo = 0x90;
  else if (c == 0xf4)
    hi = 0x8f;
  if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xbf) return 0;
  return n;
}
}  // namespace

bool is_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void check_utf8(const std::string& s, const std::string& what) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " is not UTF-8 text (byte 0x%02x at offset %zu)",
                    static_cast<unsigned>(static_cast<unsigned char>(s[i])), i);
      throw Error(what + buf);
    }
    i += n;
  }
}

std::string printable(const std::string& s, std::size_t max) {
  std::string out;
  const std::string cut = s.substr(0, max);
  for (std::size_t i = 0; i < cut.size();) {
    const char c = cut[i];
    const std::size_t n = utf8_sequence(cut, i);
    if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += '?';
    else if (n == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += cut.substr(i, n);
      i += n;
      continue;
    }
    ++i;
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
    throw Error("key '" + where + "' is " + std::to_string(x) + ", not in " + std::to_string(lo) + ".." +
                std::to_string(hi));
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
