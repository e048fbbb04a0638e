// `graphcache explain MODEL [key options] [--json]`: hit, or the nearest cached entries and what differs
// (include/graphcache/explain.hpp). Exit 0 on a hit, 1 on a miss.
#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "explain_hooks.hpp"
#include "graphcache/error.hpp"
#include "graphcache/onnx.hpp"
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
                     "ONNX model the engine was built from: record its key factors (explain uses them)");
  add_key_options(command, args.key_options);
}

void record_put_factors(const FactorArgs& args, const Key& key, EntryMetadata& metadata) {
  if (args.model.empty()) return;
  const ir::Graph graph = load_onnx_file(args.model);
  const KeyRequest request = make_key_request(args.key_options, graph);
  const KeyResult result = compute_key(graph, request);
  if (result.key != key)
    throw Error(ErrorKind::kInvalidArgument, "--model " + args.model + " with these key options has key " +
                                                 result.key.hex() + ", not " + key.hex());
  for (auto& [name, value] : explain_fields(graph, request, result, args.model)) metadata.extra[name] = value;
}

ExplainSources cli_explain_sources() {
  ExplainSources sources;
  sources.cache_dir = resolve_cli_store_config().cache_dir;
  // The remote of every store command: --remote, else GRAPHCACHE_REMOTE (store_options.cpp).
  std::string url = store_option_args().remote;
  if (url.empty())
    if (const char* env = std::getenv("GRAPHCACHE_REMOTE")) url = env;
  if (!url.empty()) sources.remote = RedisConfig::from_url(url);
  return sources;
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
  explain->add_option("model", a->model, "ONNX model")->required();
  explain->add_flag("--json", a->json, "One JSON object: result, key, candidates with their differences");
  add_key_options(*explain, a->key_options);
  add_store_options(*explain);
  explain->callback([a] {
    const ir::Graph graph = load_onnx_file(a->model);
    const KeyRequest request = make_key_request(a->key_options, graph);
    const Explanation e = explain_miss(graph, request, cli_explain_sources(), print_warning);
    if (a->json) {
      std::printf("%s\n", e.json().c_str());
    } else {
      for (const std::string& line : e.lines()) std::printf("%s\n", line.c_str());
    }
    if (e.result != "hit") throw CLI::RuntimeError(1);
  });
}

}  // namespace graphcache::cli
