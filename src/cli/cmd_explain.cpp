// `graphcache explain MODEL [key options] [--json]`: hit, or the nearest cached entries and what differs
// (include/graphcache/explain.hpp). Exit 0 on a hit, 1 on a miss.
#include <cstdio>

#include "commands.hpp"
#include "explain_hooks.hpp"
#include "graphcache/error.hpp"
#include "model_loader.hpp"
#include "store_options.hpp"

namespace graphcache::cli {
namespace {

struct ExplainArgs {
  std::string model;
  KeyOptionArgs key_options;
  bool json = false;
};

void print_warning(const std::string& message) {
  std::fprintf(stderr, "graphcache: warning: %s\n", message.c_str());
}

}  // namespace

void add_factor_options(CLI::App& command, FactorArgs& args) {
  command.add_option("--model", args.model,
                     "Model the engine was built from (.onnx): record its key factors (explain uses them)");
  add_key_options(command, args.key_options);
  add_refit_mode_options(command, args.key_options);
}

void record_put_factors(const FactorArgs& args, const Key& key, EntryMetadata& metadata) {
  if (args.model.empty()) return;
  const ir::Graph graph = load_model(args.model);
  const KeyedModel keyed = key_model(args.key_options, graph);
  const KeyResult& result = keyed.result;
  if (result.key != key)
    throw Error(ErrorKind::kInvalidArgument, "--model " + args.model + " with these key options has key " +
                                                 result.key.hex() + ", not " + key.hex());
  for (auto& [name, value] : explain_fields(graph, keyed.request, result, args.model))
    metadata.extra[name] = value;
}

ExplainSources cli_explain_sources() {
  return ExplainSources::of(resolve_cli_store_config());
}

void print_miss_explanation(const ir::Graph& graph, const KeyRequest& request) {
  try {
    const Explanation e = explain_miss(graph, request, cli_explain_sources(), print_warning);
    for (const std::string& line : e.lines()) std::fprintf(stderr, "graphcache: %s\n", line.c_str());
  } catch (const Error& e) {
    print_warning(std::string("cannot explain the miss: ") + e.what());
  }
}

void register_explain_commands(CLI::App& app) {
  auto a = std::make_shared<ExplainArgs>();
  auto* explain = app.add_subcommand(
      "explain",
      "Why MODEL misses the cache: hit, or the nearest entries and what differs (exit 1 on a miss)");
  explain->add_option("model", a->model, "Model file (ONNX: .onnx)")->required();
  explain->add_flag("--json", a->json, "One JSON object: result, key, candidates with their differences");
  add_key_options(*explain, a->key_options);
  add_refit_mode_options(*explain, a->key_options);
  add_store_options(*explain);
  explain->callback([a] {
    const ir::Graph graph = load_model(a->model);
    const KeyedModel keyed = key_model(a->key_options, graph);
    const Explanation e = explain_miss(graph, keyed.request, cli_explain_sources(), print_warning);
    if (a->json) {
      std::printf("%s\n", e.json().c_str());
    } else {
      for (const std::string& line : e.lines()) std::printf("%s\n", line.c_str());
    }
    if (e.result != "hit") throw CLI::RuntimeError(1);
  });
}

}  // namespace graphcache::cli
