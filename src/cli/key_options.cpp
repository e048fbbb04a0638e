#include "key_options.hpp"

#include <charconv>

#include "graphcache/error.hpp"

namespace graphcache::cli {
namespace {

std::pair<std::string, std::string> split_assignment(const std::string& text, const char* option) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(ErrorKind::kInvalidArgument, std::string(option) + " '" + text + "': expected name=value");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

int64_t parse_int(std::string_view text, const std::string& context) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0)
    throw Error(ErrorKind::kInvalidArgument,
                context + ": '" + std::string(text) + "' is not a non-negative integer");
  return v;
}

std::vector<int64_t> parse_shape(std::string_view text, const std::string& context) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (true) {
    const size_t x = text.find('x', start);
    dims.push_back(parse_int(
        text.substr(start, x == std::string_view::npos ? std::string_view::npos : x - start), context));
    if (x == std::string_view::npos) return dims;
    start = x + 1;
  }
}

InputSpec parse_profile(const std::string& text) {
  const std::string context = "--profile '" + text + "'";
  std::vector<std::string_view> fields;
  std::string_view rest = text;
  for (size_t colon; (colon = rest.find(':')) != std::string_view::npos; rest.remove_prefix(colon + 1))
    fields.push_back(rest.substr(0, colon));
  fields.push_back(rest);
  if (fields.size() != 4)
    throw Error(ErrorKind::kInvalidArgument, context + ": expected INPUT:MIN:OPT:MAX, e.g. 0:1x3:8x3:32x3");
  InputSpec spec;
  spec.input = static_cast<uint32_t>(parse_int(fields[0], context));
  spec.min_shape = parse_shape(fields[1], context);
  spec.opt_shape = parse_shape(fields[2], context);
  spec.max_shape = parse_shape(fields[3], context);
  return spec;
}

}  // namespace

void add_key_options(CLI::App& command, KeyOptionArgs& args) {
  command.add_option("--setting,-s", args.settings,
                     "Engine-relevant compile setting name=value (repeatable)");
  command.add_option("--info-setting", args.info_settings, "Setting recorded but not part of the key");
  command.add_option("--toolchain,-t", args.toolchain,
                     "Toolchain/hardware identity name=value, e.g. tensorrt=10.3");
  command.add_option("--profile", args.profiles,
                     "Dynamic shape range INPUT:MIN:OPT:MAX, shapes like 1x3x224x224");
}

KeyRequest make_key_request(const KeyOptionArgs& args) {
  KeyRequest request;
  for (const auto& s : args.settings) {
    auto [name, value] = split_assignment(s, "--setting");
    request.settings.push_back({name, value, true});
  }
  for (const auto& s : args.info_settings) {
    auto [name, value] = split_assignment(s, "--info-setting");
    request.settings.push_back({name, value, false});
  }
  for (const auto& t : args.toolchain) {
    auto [name, value] = split_assignment(t, "--toolchain");
    if (!request.toolchain.emplace(name, value).second)
      throw Error(ErrorKind::kInvalidArgument, "--toolchain '" + name + "' given twice");
  }
  for (const auto& p : args.profiles) request.input_specs.push_back(parse_profile(p));
  return request;
}

}  // namespace graphcache::cli
