// `graphcache key` and `graphcache diff`: structural keys of ONNX models, and why two keys differ.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.hpp"
#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"
#include "key_options.hpp"

namespace graphcache::cli {
namespace {

struct KeyArgs {
  std::string model;
  KeyOptionArgs options;
  bool json = false;
  bool weights = false;
  bool secure = false;
};

// Weight fingerprint in the key's slot order; multi-GB models show progress on a terminal.
Digest fingerprint_key_weights(const ir::Graph& graph, const KeyResult& result, bool secure) {
  FingerprintOptions options;
  options.mode = secure ? FingerprintMode::kSecure : FingerprintMode::kFast;
  if (::isatty(STDERR_FILENO)) {
    options.progress = [](uint64_t done, uint64_t total) {
      if (total < (uint64_t{1} << 30)) return;
      std::fprintf(stderr, "\rweights: %llu / %llu MiB%s", static_cast<unsigned long long>(done >> 20),
                   static_cast<unsigned long long>(total >> 20), done == total ? "\n" : "");
    };
  }
  return fingerprint_graph_weights(graph, result.structure.weight_order, options);
}

struct DiffArgs {
  std::string a, b;
  KeyOptionArgs options;
  bool json = false;
};

void run_key(const KeyArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  const ir::Graph graph = load_onnx_file(args.model);
  const auto loaded = std::chrono::steady_clock::now();
  const KeyResult result = compute_key(graph, make_key_request(args.options, graph));
  const auto done = std::chrono::steady_clock::now();
  std::optional<Digest> weight_fingerprint;
  if (args.weights) weight_fingerprint = fingerprint_key_weights(graph, result, args.secure);
  const auto fingerprinted = std::chrono::steady_clock::now();
  if (!args.json) {
    std::printf("%s\n", result.key.hex().c_str());
    if (weight_fingerprint) std::printf("weights %s\n", weight_fingerprint->hex().c_str());
    return;
  }
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  nlohmann::ordered_json out;
  out["model"] = args.model;
  out["key"] = result.key.hex();
  out["parts"] = {{"structure", result.parts.structure.hex()},
                  {"input_specs", result.parts.input_specs.hex()},
                  {"settings", result.parts.settings.hex()},
                  {"toolchain", result.parts.toolchain.hex()}};
  nlohmann::ordered_json inputs = nlohmann::ordered_json::array(), outputs = nlohmann::ordered_json::array();
  for (const auto& in : graph.inputs) inputs.push_back({{"name", in.name}, {"type", ir::to_string(in.type)}});
  for (const auto& o : graph.outputs) outputs.push_back({{"name", o.name}, {"type", ir::to_string(o.type)}});
  out["inputs"] = inputs;
  out["outputs"] = outputs;
  nlohmann::ordered_json weights = nlohmann::ordered_json::array();
  for (uint32_t w : result.structure.weight_order)
    weights.push_back({{"name", graph.weights[w].name}, {"type", ir::to_string(graph.weights[w].type)}});
  out["weight_slots"] = weights;
  if (weight_fingerprint) {
    out["weight_fingerprint"] = weight_fingerprint->hex();
    out["weight_fingerprint_mode"] = args.secure ? "secure" : "fast";
  }
  out["nodes"] = graph.nodes.size();
  out["reachable_nodes"] = result.structure.reachable_nodes;
  out["settings"] = nlohmann::ordered_json::object();
  for (const auto& s : args.options.settings)
    out["settings"][s.substr(0, s.find('='))] = s.substr(s.find('=') + 1);
  out["toolchain"] = make_key_request(args.options, graph).toolchain;
  out["timing_ms"] = {{"load", ms(start, loaded)}, {"key", ms(loaded, done)}};
  if (weight_fingerprint) out["timing_ms"]["weights"] = ms(done, fingerprinted);
  std::printf("%s\n", out.dump(2).c_str());
}

int run_diff(const DiffArgs& args) {
  const ir::Graph a = load_onnx_file(args.a);
  const ir::Graph b = load_onnx_file(args.b);
  const KeyRequest request = make_key_request(args.options, a);
  make_key_request(args.options, b);  // the profiles must fit both models
  const Key ka = compute_key(a, request).key;
  const Key kb = compute_key(b, request).key;
  const std::vector<std::string> why = ka == kb ? std::vector<std::string>{} : explain_difference(a, b);
  if (args.json) {
    nlohmann::ordered_json out = {{"identical", ka == kb},
                                  {"a", {{"model", args.a}, {"key", ka.hex()}}},
                                  {"b", {{"model", args.b}, {"key", kb.hex()}}},
                                  {"differences", why}};
    std::printf("%s\n", out.dump(2).c_str());
    return ka == kb ? 0 : 1;
  }
  if (ka == kb) {
    std::printf("identical keys: %s\n", ka.hex().c_str());
    return 0;
  }
  std::printf("keys differ:\n  A %s  %s\n  B %s  %s\n", ka.hex().c_str(), args.a.c_str(), kb.hex().c_str(),
              args.b.c_str());
  for (const auto& line : why) std::printf("%s\n", line.c_str());
  return 1;
}

}  // namespace

void register_key_commands(CLI::App& app) {
  auto key_args = std::make_shared<KeyArgs>();
  auto* key =
      app.add_subcommand("key", "Print the engine cache key of an ONNX model (weights are never read)");
  key->add_option("model", key_args->model, "ONNX model file")->required();
  add_key_options(*key, key_args->options);
  key->add_flag("--json", key_args->json, "Print the key's parts, inputs, outputs and weight slots as JSON");
  key->add_flag("--weights", key_args->weights,
                "Also print the weight fingerprint (reads every weight byte: memory-mapped, all cores)");
  key->add_flag("--secure", key_args->secure,
                "With --weights: SHA-256 chunks instead of XXH3 (for caches shared across trust boundaries)");
  key->callback([key_args] { run_key(*key_args); });

  auto diff_args = std::make_shared<DiffArgs>();
  auto* diff = app.add_subcommand("diff", "Explain why two ONNX models get different keys");
  diff->add_option("a", diff_args->a, "first model")->required();
  diff->add_option("b", diff_args->b, "second model")->required();
  add_key_options(*diff, diff_args->options);
  diff->add_flag("--json", diff_args->json,
                 "JSON: both keys and the differences (exit 1 still means they differ)");
  diff->callback([diff_args] {
    const int status = run_diff(*diff_args);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace graphcache::cli
