#include "fool/core/class_list.h"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <stdexcept>

#include "fool/core/error.h"

namespace fool {

namespace {

// More classes than any classifier has; the list is refused beyond it.
constexpr std::int64_t kMaxClassList = 1 << 20;

std::vector<std::string> items_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

// Appends the indices of an index or range item; false if the item is not one.
bool parse_numeric(const std::string& item, std::vector<int>& out) {
  try {
    const auto dash = item.find('-', 1);
    std::size_t used = 0;
    if (dash == std::string::npos) {
      const int v = std::stoi(item, &used);
      if (used != item.size()) return false;
      out.push_back(v);
      return true;
    }
    const int a = std::stoi(item.substr(0, dash), &used);
    if (used != dash) return false;
    const int b = std::stoi(item.substr(dash + 1), &used);
    if (used != item.size() - dash - 1) return false;
    if (b < a) throw Error("--classes: the range " + item + " runs backwards");
    // Checked before it is expanded: 0-2147483647 would fill memory (and the loop never end).
    if (static_cast<std::int64_t>(b) - a >= kMaxClassList) {
      throw Error("--classes: the range " + item + " holds more than " + std::to_string(kMaxClassList) + " classes");
    }
    for (std::int64_t k = a; k <= b; ++k) out.push_back(static_cast<int>(k));
    return true;
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    return false;
  }
}

int label_index(const std::string& name, const std::vector<std::string>& labels) {
  const auto it = std::find(labels.begin(), labels.end(), name);
  if (it == labels.end()) return -1;
  if (std::find(it + 1, labels.end(), name) != labels.end()) {
    throw Error("--classes: the model has several classes labelled '" + name + "'; give its index");
  }
  return static_cast<int>(it - labels.begin());
}

}  // namespace

bool class_list_is_numeric(const std::string& text) {
  std::vector<int> ignored;
  for (const auto& item : items_of(text)) {
    try {
      if (!parse_numeric(item, ignored)) return false;
    } catch (const Error&) {
      return true;  // a numeric item that is wrong: parse_class_list says why
    }
  }
  return true;
}

std::vector<int> parse_class_list(const std::string& text, const std::vector<std::string>& labels) {
  std::vector<int> out;
  // A label that is all numbers is an index here: indices come first, as they always have.
  if (!labels.empty() && !class_list_is_numeric(text)) {
    const int whole = label_index(text, labels);
    if (whole >= 0) return {whole};
  }
  for (const auto& item : items_of(text)) {
    if (!parse_numeric(item, out)) {
      const int k = labels.empty() ? -1 : label_index(item, labels);
      if (k < 0) {
        throw Error("--classes: '" + item + "' is not a class index, a range like 3-7" +
                    (labels.empty() ? std::string() : " or a label of this model (see fool info)"));
      }
      out.push_back(k);
    }
    if (out.size() > static_cast<std::size_t>(kMaxClassList)) {
      throw Error("--classes: more than " + std::to_string(kMaxClassList) + " classes");
    }
  }
  std::vector<int> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i] == sorted[i - 1]) throw Error("--classes: class " + std::to_string(sorted[i]) + " is given twice");
  }
  if (out.empty()) throw Error("--classes: no classes given");
  return out;
}

}  // namespace fool
