#include "key_options.hpp"

#include <chrono>

#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <charconv>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"
#include "graphcache/ir.hpp"

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

// INPUT is a graph input's name or its position; the shapes must fit that input: its rank, its static
// dims, and min <= opt <= max. A profile that cannot apply to the model would key an engine that no
// compiler could build, so it is refused rather than silently hashed.
InputSpec parse_profile(const std::string& text, const ir::Graph& graph) {
  const std::string context = "--profile '" + text + "'";
  std::vector<std::string_view> fields;
  std::string_view rest = text;
  for (size_t colon; (colon = rest.find(':')) != std::string_view::npos; rest.remove_prefix(colon + 1))
    fields.push_back(rest.substr(0, colon));
  fields.push_back(rest);
  if (fields.size() != 4)
    throw Error(ErrorKind::kInvalidArgument,
                context + ": expected INPUT:MIN:OPT:MAX (INPUT a name or an index), e.g. 0:1x3:8x3:32x3");
  InputSpec spec;
  const std::string input(fields[0]);
  auto named = std::find_if(graph.inputs.begin(), graph.inputs.end(),
                            [&](const ir::GraphInput& in) { return in.name == input; });
  if (named != graph.inputs.end()) {
    spec.input = static_cast<uint32_t>(named - graph.inputs.begin());
  } else if (!input.empty() && input.find_first_not_of("0123456789") == std::string::npos) {
    const int64_t index = parse_int(input, context);
    if (index >= static_cast<int64_t>(graph.inputs.size()))
      throw Error(ErrorKind::kInvalidArgument,
                  context + ": the model has " + std::to_string(graph.inputs.size()) + " inputs");
    spec.input = static_cast<uint32_t>(index);
  } else {
    std::string names;
    for (const auto& in : graph.inputs) names += (names.empty() ? "" : ", ") + in.name;
    throw Error(ErrorKind::kInvalidArgument, context + ": no input '" + input + "' (inputs: " + names + ")");
  }
  spec.min_shape = parse_shape(fields[1], context);
  spec.opt_shape = parse_shape(fields[2], context);
  spec.max_shape = parse_shape(fields[3], context);
  const ir::GraphInput& in = graph.inputs[spec.input];
  const std::string what = context + " for input '" + in.name + "' " + ir::to_string(in.type);
  if (spec.min_shape.size() != spec.opt_shape.size() || spec.opt_shape.size() != spec.max_shape.size())
    throw Error(ErrorKind::kInvalidArgument, context + ": MIN, OPT and MAX have different ranks");
  for (size_t d = 0; d < spec.min_shape.size(); ++d) {
    if (spec.min_shape[d] > spec.opt_shape[d] || spec.opt_shape[d] > spec.max_shape[d])
      throw Error(ErrorKind::kInvalidArgument,
                  context + ": dim " + std::to_string(d) + " is not MIN <= OPT <= MAX");
  }
  if (!in.type.shape) return spec;  // rank unknown: nothing more to check
  const std::vector<ir::Dim>& dims = *in.type.shape;
  if (spec.min_shape.size() != dims.size())
    throw Error(ErrorKind::kInvalidArgument, what + ": rank " + std::to_string(spec.min_shape.size()) +
                                                 ", the input has rank " + std::to_string(dims.size()));
  for (size_t d = 0; d < dims.size(); ++d) {
    if (!dims[d].is_static()) continue;
    for (const auto* shape : {&spec.min_shape, &spec.opt_shape, &spec.max_shape}) {
      if ((*shape)[d] != dims[d].value)
        throw Error(ErrorKind::kInvalidArgument, what + ": dim " + std::to_string(d) + " is static (" +
                                                     std::to_string(dims[d].value) + "), not " +
                                                     std::to_string((*shape)[d]));
    }
  }
  return spec;
}

}  // namespace

void add_key_options(CLI::App& command, KeyOptionArgs& args) {
  command.add_option("--setting,-s", args.settings,
                     "Engine-relevant compile setting name=value (repeatable)");
  command.add_option("--info-setting", args.info_settings, "Setting recorded but not part of the key");
  command.add_option("--toolchain,-t", args.toolchain,
                     "Toolchain/hardware identity name=value, e.g. tensorrt=10.3");
  command.add_option(
      "--profile", args.profiles,
      "Dynamic shape range INPUT:MIN:OPT:MAX; INPUT a name or an index, shapes like 1x3x224x224");
}

void add_refit_mode_options(CLI::App& command, KeyOptionArgs& args) {
  command.add_option("--refit-mode", args.refit_mode,
                     "Key the refit mode (refittable, refit_identical, none); the weight-bound ones key the "
                     "weight fingerprint too, as the Python EngineCache does");
  command.add_flag("--secure", args.secure,
                   "Weight fingerprint with SHA-256 chunks instead of XXH3 (caches shared across trust "
                   "boundaries)");
}

KeyRequest make_key_request(const KeyOptionArgs& args, const ir::Graph& graph) {
  KeyRequest request;
  if (!args.refit_mode.empty()) request.refit_mode = parse_refit_mode(args.refit_mode);
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
  for (const auto& p : args.profiles) request.input_specs.push_back(parse_profile(p, graph));
  return request;
}

// Weight fingerprint in the key's slot order; multi-GB models show progress on a terminal.
Digest fingerprint_key_weights(const ir::Graph& graph, const StructuralInfo& structure, bool secure) {
  FingerprintOptions options;
  options.mode = secure ? FingerprintMode::kSecure : FingerprintMode::kFast;
  if (::isatty(STDERR_FILENO)) {
    options.progress = [](uint64_t done, uint64_t total) {
      if (total < (uint64_t{1} << 30)) return;
      std::fprintf(stderr, "\rweights: %llu / %llu MiB%s", static_cast<unsigned long long>(done >> 20),
                   static_cast<unsigned long long>(total >> 20), done == total ? "\n" : "");
    };
  }
  return fingerprint_graph_weights(graph, structure.weight_order, options);
}

KeyedModel key_model(const KeyOptionArgs& args, const ir::Graph& graph, bool fingerprint_weights) {
  KeyedModel k;
  k.request = make_key_request(args, graph);
  k.hashed = hash_graph(graph);  // the one walk; the fingerprint follows its slot order
  const bool weight_bound = k.request.refit_mode && is_weight_bound(*k.request.refit_mode);
  if (fingerprint_weights || weight_bound) {
    const auto start = std::chrono::steady_clock::now();
    k.weight_fingerprint = fingerprint_key_weights(graph, k.hashed.structure, args.secure);
    k.fingerprint_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  if (weight_bound) k.request.weight_fingerprint = k.weight_fingerprint;
  k.result = compute_key(k.hashed, k.request);
  return k;
}

}  // namespace graphcache::cli
