#pragma once
// Checked reading of untrusted JSON (genomes, checkpoints, summaries): every accessor names the
// key path it reads ("cells[3].fitness") and throws fool::Error with one line saying what is wrong,
// instead of letting nlohmann's exception text (which names neither file nor key) reach the user.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace fool::json_check {

// `s` as it may appear in a one-line message: control characters (newlines in names taken from
// untrusted files) escaped, bytes that are not UTF-8 as \xNN, at most `max` characters.
std::string printable(const std::string& s, std::size_t max = 80);

// True if `s` is valid UTF-8 (what JSON text must be: nlohmann refuses to write anything else).
bool is_utf8(const std::string& s);
// Throws fool::Error "<what> is not UTF-8 text (byte 0xNN at offset K)" unless is_utf8(s): text
// from files that fool writes into JSON (labels, class names, model names) is refused at the read,
// before any work, rather than found when the results are written.
void check_utf8(const std::string& s, const std::string& what);

// `where` is the key path of `j` itself ("" for the document); messages read "<where.key> ...".
std::string path_of(const std::string& where, const std::string& key);
std::string path_of(const std::string& where, std::size_t index);

// The member `key` of object `j`; throws if `j` is not an object or lacks it.
const nlohmann::json& member(const nlohmann::json& j, const std::string& where, const std::string& key);
const nlohmann::json& object(const nlohmann::json& j, const std::string& where, const std::string& key);
const nlohmann::json& array(const nlohmann::json& j, const std::string& where, const std::string& key);
// Integers in [lo, hi] (JSON numbers without a fraction).
std::int64_t integer(const nlohmann::json& j, const std::string& where, const std::string& key, std::int64_t lo,
                     std::int64_t hi);
std::int64_t integer_value(const nlohmann::json& v, const std::string& where, std::int64_t lo, std::int64_t hi);
std::uint64_t unsigned_integer(const nlohmann::json& j, const std::string& where, const std::string& key,
                               std::uint64_t hi);
// Finite numbers in [lo, hi].
double number(const nlohmann::json& j, const std::string& where, const std::string& key, double lo, double hi);
double number_value(const nlohmann::json& v, const std::string& where, double lo, double hi);
std::string string(const nlohmann::json& j, const std::string& where, const std::string& key);
bool boolean(const nlohmann::json& j, const std::string& where, const std::string& key);

}  // namespace fool::json_check
