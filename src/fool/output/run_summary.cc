#include "fool/output/run_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <type_traits>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/model/classifier.h"
#include "fool/output/document_checks.h"

namespace fool {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "fool-run/1";

// Thresholds are keys of JSON objects, written as JSON writes the number ("0.99", "0.9999").
std::string threshold_key(double t) { return nlohmann::json(t).dump(); }

// Reads one field with a one-line error naming the file and the key.
template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw Error(where + ": missing \"" + key + "\"");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann converts 1e300 or -1 to an integer type without a word (to 0 or 2^64 - 1): an integer
    // field must hold an integer that fits.
    const nlohmann::json& v = j.at(key);
    bool fits = false;
    if (v.is_number_unsigned()) {
      fits = v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    } else if (v.is_number_integer()) {
      const std::int64_t x = v.get<std::int64_t>();
      if (x >= 0) {
        fits = static_cast<std::uint64_t>(x) <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
      } else if constexpr (std::is_signed_v<T>) {
        fits = x >= std::int64_t{std::numeric_limits<T>::min()};
      }
    }
    if (!fits) {
      throw Error(where + ": \"" + key + "\" is " + (v.is_number() ? v.dump() : std::string(v.type_name())) +
                  ", not an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
                  std::to_string(std::numeric_limits<T>::max()));
    }
  }
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(where + ": \"" + key + "\" has the wrong type (" + j.at(key).type_name() + ")");
  }
}

}  // namespace

std::string progress_unit_name(ProgressUnit unit) { return unit == ProgressUnit::Generation ? "generation" : "step"; }

ProgressUnit parse_progress_unit(const std::string& name) {
  if (name == "generation") return ProgressUnit::Generation;
  if (name == "step") return ProgressUnit::Step;
  throw Error("unknown progress unit '" + name + "' (known: generation, step)");
}

nlohmann::json RunSummary::to_json() const {
  const RunRecord& r = record;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : classes) {
    nlohmann::json reached = nlohmann::json::object();
    for (std::size_t t = 0; t < r.thresholds.size(); ++t) {
      const auto& first = t < c.first_reached.size() ? c.first_reached[t] : std::nullopt;
      reached[threshold_key(r.thresholds[t])] = first ? nlohmann::json(*first) : nlohmann::json(nullptr);
    }
    nlohmann::json entry = {{"index", c.index},
                            {"label", c.label},
                            {"confidence", c.confidence},
                            {"search_confidence", c.search_confidence},
                            {"top_class", c.top_class},
                            {"image", c.image},
                            {"genome", c.genome.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.genome)},
                            {"first_reached", reached}};
    if (!c.lost_in_quantisation.empty()) {
      std::vector<std::string> lost;
      for (double t : c.lost_in_quantisation) lost.push_back(threshold_key(t));
      entry["lost_in_quantisation"] = lost;
    }
    if (c.extra.is_object()) entry.update(c.extra);
    list.push_back(entry);
  }
  const std::string unit = progress_unit_name(r.progress_unit);
  nlohmann::json j = {{"format", kFormat},
                      {"command", r.command},
                      {"command_line", r.command_line},
                      {"model", r.model},
                      {"model_sha256", r.model_sha256},
                      {"backend", r.backend},
                      {"method", r.method},
                      {"seed", r.seed},
                      {"settings", r.settings},
                      {"progress_unit", unit},
                      {unit + "s", r.progress},
                      {"evaluations", r.evaluations},
                      {"seconds", r.seconds},
                      {"complete", r.complete},
                      {"median_confidence", median_confidence},
                      {"classes_at_or_above", threshold_counts()},
                      {"classes", list}};
  if (r.model_input) j["model_input"] = r.model_input->to_json();
  if (r.extra.is_object()) j.update(r.extra);
  return j;
}

nlohmann::json RunSummary::threshold_counts() const {
  nlohmann::json counts = nlohmann::json::object();
  for (std::size_t t = 0; t < record.thresholds.size() && t < classes_at_or_above.size(); ++t) {
    counts[threshold_key(record.thresholds[t])] = classes_at_or_above[t];
  }
  return counts;
}

namespace {

// A key of "classes_at_or_above" as its confidence threshold.
double threshold_of_key(const std::string& key, const std::string& source) {
  try {
    return std::stod(key);
  } catch (const std::exception&) {
    throw Error(source + ": \"classes_at_or_above\" has a key that is not a confidence (\"" + key + "\")");
  }
}

// "classes_at_or_above": {"0.99": n, ...} as the record's thresholds and the counts beside them.
void read_threshold_counts(const nlohmann::json& j, const std::string& source, RunSummary& s) {
  const auto counts = field<nlohmann::json>(j, "classes_at_or_above", source);
  if (!counts.is_object()) throw Error(source + ": \"classes_at_or_above\" is not an object");
  for (const auto& [key, n] : counts.items()) {
    s.record.thresholds.push_back(threshold_of_key(key, source));
    if (!n.is_number_unsigned()) throw Error(source + ": \"classes_at_or_above\" holds a value that is not a count");
    s.classes_at_or_above.push_back(n.get<std::size_t>());
  }
}

// The first generation or step at which a class reached each threshold (null: never).
std::vector<std::optional<int>> read_first_reached(const nlohmann::json& e, const std::string& where,
                                                   const std::vector<double>& thresholds) {
  const auto reached = field<nlohmann::json>(e, "first_reached", where);
  std::vector<std::optional<int>> out;
  for (double t : thresholds) {
    const auto it = reached.find(threshold_key(t));
    if (it == reached.end()) throw Error(where + ": \"first_reached\" lacks threshold " + threshold_key(t));
    if (!it->is_null() && !it->is_number_integer()) throw Error(where + ": \"first_reached\" holds a non-integer");
    out.push_back(it->is_null() ? std::nullopt : std::optional<int>(it->get<int>()));
  }
  return out;
}

// Members of `j` not named in `known` (nor *also, if given), as an object; null if there are none.
template <std::size_t N>
nlohmann::json unknown_members(const nlohmann::json& j, const char* const (&known)[N],
                               const std::string* also = nullptr) {
  nlohmann::json extra;
  for (const auto& [key, value] : j.items()) {
    if ((also != nullptr && key == *also) || std::find(std::begin(known), std::end(known), key) != std::end(known))
      continue;
    if (extra.is_null()) extra = nlohmann::json::object();
    extra[key] = value;
  }
  return extra;
}

// One confidence of a class's "lost_in_quantisation" (written as text).
double lost_confidence(const std::string& t, const std::string& where) {
  try {
    return std::stod(t);
  } catch (const std::exception&) {
    throw Error(where + ": \"lost_in_quantisation\" holds \"" + t + "\", not a confidence");
  }
}

// One entry of "classes"; members fool does not know are kept in `extra`.
ClassSummary class_summary_from_json(const nlohmann::json& e, const std::string& where,
                                     const std::vector<double>& thresholds) {
  static const char* const kClassKeys[] = {"index", "label",  "confidence",    "search_confidence",   "top_class",
                                           "image", "genome", "first_reached", "lost_in_quantisation"};
  ClassSummary c;
  c.index = field<int>(e, "index", where);
  c.label = field<std::string>(e, "label", where);
  c.confidence = field<double>(e, "confidence", where);
  c.search_confidence = field<double>(e, "search_confidence", where);
  c.top_class = field<int>(e, "top_class", where);
  c.image = field<std::string>(e, "image", where);
  if (e.contains("genome") && !e["genome"].is_null()) c.genome = field<std::string>(e, "genome", where);
  c.first_reached = read_first_reached(e, where, thresholds);
  if (e.contains("lost_in_quantisation")) {
    for (const auto& t : field<std::vector<std::string>>(e, "lost_in_quantisation", where)) {
      c.lost_in_quantisation.push_back(lost_confidence(t, where));
    }
  }
  c.extra = unknown_members(e, kClassKeys);
  return c;
}

}  // namespace

RunSummary RunSummary::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object() || !(j.contains("format") && j["format"] == kFormat)) {
    throw Error(source + ": not a fool run summary (format " + kFormat + ")");
  }
  RunSummary s;
  RunRecord& r = s.record;
  r.command = field<std::string>(j, "command", source);
  r.command_line = field<std::string>(j, "command_line", source);
  r.model = field<std::string>(j, "model", source);
  r.model_sha256 = field<std::string>(j, "model_sha256", source);
  r.backend = field<std::string>(j, "backend", source);
  r.method = field<std::string>(j, "method", source);
  r.seed = field<std::uint64_t>(j, "seed", source);
  r.settings = j.value("settings", nlohmann::json::object());
  try {
    r.progress_unit = parse_progress_unit(field<std::string>(j, "progress_unit", source));
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  const std::string unit = progress_unit_name(r.progress_unit);
  r.progress = field<int>(j, (unit + "s").c_str(), source);
  r.evaluations = field<std::size_t>(j, "evaluations", source);
  r.seconds = field<double>(j, "seconds", source);
  r.complete = field<bool>(j, "complete", source);
  if (j.contains("model_input"))
    r.model_input = ModelInputRecord::from_json(j["model_input"], source + ": model_input");
  s.median_confidence = field<double>(j, "median_confidence", source);
  read_threshold_counts(j, source, s);
  const auto list = field<nlohmann::json>(j, "classes", source);
  if (!list.is_array()) throw Error(source + ": \"classes\" is not a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    s.classes.push_back(
        class_summary_from_json(list[i], source + ": classes[" + std::to_string(i) + "]", r.thresholds));
  }
  check_run_summary(s, j, source);
  static const char* const kTopKeys[] = {"format",
                                         "command",
                                         "command_line",
                                         "model",
                                         "model_sha256",
                                         "backend",
                                         "method",
                                         "seed",
                                         "settings",
                                         "progress_unit",
                                         "evaluations",
                                         "seconds",
                                         "complete",
                                         "median_confidence",
                                         "classes_at_or_above",
                                         "classes",
                                         "model_input"};
  const std::string progress_key = unit + "s";
  r.extra = unknown_members(j, kTopKeys, &progress_key);
  return s;
}

ModelInputRecord ModelInputRecord::of(const ModelSpec& spec) {
  const Preprocessing& p = spec.preprocessing;
  ModelInputRecord r;
  r.preprocess = p.preset;
  r.channel_order = channel_order_name(p.channel_order);
  r.scale = p.scale;
  r.mean.assign(p.mean.begin(), p.mean.end());
  r.std.assign(p.std.begin(), p.std.end());
  r.output = p.output_is_probabilities ? "probabilities" : "logits";
  r.layout = input_layout_name(spec.forms.layout);
  r.height = spec.input.height;
  r.width = spec.input.width;
  r.output_name = spec.output_name;
  return r;
}

nlohmann::json ModelInputRecord::to_json() const {
  return {{"preprocess", preprocess.empty() ? nlohmann::json(nullptr) : nlohmann::json(preprocess)},
          {"channel_order", channel_order},
          {"scale", scale},
          {"mean", mean},
          {"std", std},
          {"output", output},
          {"layout", layout},
          {"input_size", {height, width}},
          {"output_name", output_name}};
}

ModelInputRecord ModelInputRecord::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": not an object");
  ModelInputRecord r;
  const auto& pre = field<nlohmann::json>(j, "preprocess", source);
  if (!pre.is_null()) {
    if (!pre.is_string()) throw Error(source + ": \"preprocess\" is not a name or null");
    r.preprocess = pre.get<std::string>();
  }
  r.channel_order = field<std::string>(j, "channel_order", source);
  r.scale = field<double>(j, "scale", source);
  r.mean = field<std::vector<double>>(j, "mean", source);
  r.std = field<std::vector<double>>(j, "std", source);
  r.output = field<std::string>(j, "output", source);
  r.layout = field<std::string>(j, "layout", source);
  const auto size = field<std::vector<int>>(j, "input_size", source);
  r.output_name = field<std::string>(j, "output_name", source);
  if (size.size() != 2 || size[0] < 1 || size[1] < 1) throw Error(source + ": \"input_size\" is not [height, width]");
  r.height = size[0];
  r.width = size[1];
  try {
    if (!r.preprocess.empty()) parse_preprocess_preset(r.preprocess);
    parse_channel_order(r.channel_order);
    parse_input_layout(r.layout);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  if (r.output != "probabilities" && r.output != "logits")
    throw Error(source + ": \"output\" is not probabilities or logits");
  if (!(r.scale > 0.0) || !std::isfinite(r.scale)) throw Error(source + ": \"scale\" is not a positive number");
  for (double v : r.std)
    if (!(v > 0.0) || !std::isfinite(v)) throw Error(source + ": \"std\" holds a value that is not positive");
  for (double v : r.mean)
    if (!std::isfinite(v)) throw Error(source + ": \"mean\" holds a value that is not finite");
  return r;
}

SpecOverrides ModelInputRecord::overrides() const {
  SpecOverrides o;
  if (!preprocess.empty()) o.preset = parse_preprocess_preset(preprocess);
  o.channel_order = parse_channel_order(channel_order);
  o.scale = static_cast<float>(scale);
  o.mean = std::vector<float>(mean.begin(), mean.end());
  o.std = std::vector<float>(std.begin(), std.end());
  o.output_is_probabilities = output == "probabilities";
  o.layout = parse_input_layout(layout);
  o.input_size = std::make_pair(height, width);
  o.output = output_name;
  return o;
}

std::string ModelInputRecord::describe() const {
  auto list = [](const std::vector<double>& v) {
    std::string s = "[";
    char buf[32];
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%s%g", i ? "," : "", v[i]);
      s += buf;
    }
    return s + "]";
  };
  char scale_text[32];
  std::snprintf(scale_text, sizeof scale_text, "%g", scale);
  return (preprocess.empty() ? std::string("custom") : preprocess) + ": " + channel_order + ", scale " + scale_text +
         ", mean " + list(mean) + ", std " + list(std) + ", " + output + ", " + layout + " " + std::to_string(height) +
         "x" + std::to_string(width) + ", output '" + output_name + "'";
}

bool ModelInputRecord::operator==(const ModelInputRecord& o) const {
  auto near = [](const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::abs(a[i] - b[i]) > 1e-6 * std::max(1.0, std::abs(a[i]))) return false;
    return true;
  };
  return channel_order == o.channel_order && std::abs(scale - o.scale) <= 1e-6 * std::max(1.0, scale) &&
         near(mean, o.mean) && near(std, o.std) && output == o.output && layout == o.layout && height == o.height &&
         width == o.width && output_name == o.output_name;
}

RunSummary read_summary(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "summary.json").string();
  return RunSummary::from_json(read_json_file(path), path);
}

}  // namespace fool
