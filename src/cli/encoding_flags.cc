#include "cli/encoding_flags.h"

#include <algorithm>
#include <sstream>

#include "cli/common.h"

namespace fool::cli {

CLI::Option* add_encoding_choice(CLI::App* app, std::string& target, const std::string& help) {
  return app->add_option("--encoding", target, help)->check(CLI::IsMember(encoding_names()))->default_str(target);
}

std::string option_default_text(const EncodingOption& option) {
  const nlohmann::json& d = option.default_value;
  if (d.is_string()) return d.get<std::string>();
  std::ostringstream out;
  if (d.is_number_float()) {
    out << d.get<double>();
  } else {
    out << d.get<long long>();
  }
  return out.str();
}

void add_encoding_options(CLI::App* app, EncodingParams& params) {
  for (const EncodingOption& option : encoding_options()) {
    std::string flag = "--" + option.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    const std::string name = option.name;
    CLI::Option* added = nullptr;
    if (option.default_value.is_string()) {
      added = app->add_option_function<std::string>(
                     flag, [&params, name](const std::string& v) { params[name] = v; }, option.help)
                  ->check(CLI::IsMember(option.choices));
    } else if (option.default_value.is_number_float()) {
      added = app->add_option_function<double>(
                     flag, [&params, name](double v) { params[name] = v; }, option.help)
                  ->check(in_range(option.min, option.max));
    } else {
      added = app->add_option_function<int>(
                     flag, [&params, name](int v) { params[name] = v; }, option.help)
                  ->check(option.min == 0.0 && option.max >= 2147483647.0 ? non_negative()
                                                                          : in_range(option.min, option.max));
    }
    added->default_str(option_default_text(option));
  }
}

}  // namespace fool::cli
