// `graphcache key` and `graphcache diff`: keys of model files (a loader per file type, model_loader.hpp),
// and why two keys differ. The key is composed by src/key (compute_key, key_metadata.hpp), as in Python.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.hpp"
#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/key_metadata.hpp"
#include "key_options.hpp"
#include "model_loader.hpp"

namespace graphcache::cli {
namespace {

struct KeyArgs {
  std::string model;
  KeyOptionArgs options;
  bool json = false;
  bool weights = false;
};

struct DiffArgs {
  std::string a, b;
  KeyOptionArgs options;
  bool json = false;
};

void run_key(const KeyArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  const ir::Graph graph = load_model(args.model);
  const auto loaded = std::chrono::steady_clock::now();
  const KeyedModel keyed = key_model(args.options, graph, args.weights);
  const KeyRequest& request = keyed.request;
  const KeyResult& result = keyed.result;
  const std::optional<Digest>& weight_fingerprint = keyed.weight_fingerprint;
  const auto done = std::chrono::steady_clock::now();
  if (!args.json) {
    std::printf("%s\n", result.key.hex().c_str());
    if (weight_fingerprint) std::printf("weights %s\n", weight_fingerprint->hex().c_str());
    return;
  }
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  nlohmann::ordered_json out;
  out["model"] = args.model;
  out["key"] = result.key.hex();
  const std::map<std::string, std::string> parts = key_parts_hex(result.parts);
  out["parts"] = nlohmann::ordered_json::object();
  for (const char* part : {"structure", "input_specs", "settings", "toolchain"})
    out["parts"][part] = parts.at(part);
  nlohmann::ordered_json inputs = nlohmann::ordered_json::array(), outputs = nlohmann::ordered_json::array();
  for (const auto& in : graph.inputs) inputs.push_back({{"name", in.name}, {"type", ir::to_string(in.type)}});
  for (const auto& o : graph.outputs) outputs.push_back({{"name", o.name}, {"type", ir::to_string(o.type)}});
  out["inputs"] = inputs;
  out["outputs"] = outputs;
  nlohmann::ordered_json weights = nlohmann::ordered_json::array();
  for (uint32_t w : result.structure.weight_order)
    weights.push_back({{"name", graph.weights[w].name}, {"type", ir::to_string(graph.weights[w].type)}});
  out["weight_slots"] = weights;
  if (result.refit_mode) out["refit_mode"] = to_string(*result.refit_mode);
  if (weight_fingerprint) {
    out["weight_fingerprint"] = weight_fingerprint->hex();
    out["weight_fingerprint_mode"] = args.options.secure ? "secure" : "fast";
  }
  out["nodes"] = graph.nodes.size();
  out["reachable_nodes"] = result.structure.reachable_nodes;
  out["settings"] = nlohmann::ordered_json::object();
  for (const auto& s : args.options.settings)
    out["settings"][s.substr(0, s.find('='))] = s.substr(s.find('=') + 1);
  out["toolchain"] = request.toolchain;
  out["timing_ms"] = {{"load", ms(start, loaded)}, {"key", ms(loaded, done) - keyed.fingerprint_ms}};
  if (weight_fingerprint) out["timing_ms"]["weights"] = keyed.fingerprint_ms;
  std::printf("%s\n", out.dump(2).c_str());
}

int run_diff(const DiffArgs& args) {
  const ir::Graph a = load_model(args.a);
  const ir::Graph b = load_model(args.b);
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
  auto* key = app.add_subcommand(
      "key", "Print the engine cache key of a model file (.onnx; weights are read only for --weights)");
  key->add_option("model", key_args->model, "model file (.onnx)")->required();
  add_key_options(*key, key_args->options);
  key->add_flag("--json", key_args->json, "Print the key's parts, inputs, outputs and weight slots as JSON");
  key->add_flag("--weights", key_args->weights,
                "Also print the weight fingerprint (reads every weight byte: memory-mapped, all cores)");
  add_refit_mode_options(*key, key_args->options);
  key->callback([key_args] { run_key(*key_args); });

  auto diff_args = std::make_shared<DiffArgs>();
  auto* diff = app.add_subcommand("diff", "Explain why two model files get different keys");
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
