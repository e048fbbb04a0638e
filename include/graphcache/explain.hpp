// Why a lookup missed: the cache's nearest entries and what differs.
//
// Every entry written through the CLI (`put --model`, `exec`) or the Python EngineCache records its key
// factors in its metadata (`extra`): readable factors (settings, toolchain, input specs, refit mode,
// model), a MinHash signature of its node digests and a compressed structural summary (per-node Merkle
// digests in canonical order with op, attributes and operands; src/explain/README.md). A small index
// beside the entries (src/store/explain_index.hpp) finds, without reading entries:
//   - entries with the same structure: each differing setting / toolchain item / input spec / refit mode
//     is named with its cached and current value;
//   - otherwise the nearest structure by MinHash similarity, whose summary names the first differing
//     node, attribute or edge (walking back from the outputs, as `diff` does).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "graphcache/ir.hpp"
#include "graphcache/key.hpp"
#include "graphcache/redis_store.hpp"
#include "graphcache/store_config.hpp"

namespace graphcache {

// The setting that names an engine's refit mode (Python EngineCache keys it): explained as `refit_mode`.
inline constexpr const char* kRefitModeSetting = "graphcache.refit_mode";

// The metadata `extra` fields that record an entry's factors for `result` = compute_key(graph, request).
// `model` is a path or name shown in explanations ("" when unknown). The summary is left out when the
// graph is too large for it (kMaxSummaryBytes encoded); the other factors are always recorded.
std::map<std::string, std::string> explain_fields(const ir::Graph& graph, const KeyRequest& request,
                                                  const KeyResult& result, const std::string& model = "");

struct ExplainDifference {
  // setting, toolchain, input_spec, refit_mode (same structure); node, attribute, edge, graph_input
  // (nearest structure).
  std::string kind;
  std::string name;             // setting / toolchain item / input / node ("" when not applicable)
  std::string cached, current;  // values; "(absent)" when one side lacks the item
  std::string text;             // one readable line
};

struct ExplainCandidate {
  Key key;
  std::string tier;  // "local" or "redis"
  std::string model;
  bool same_structure = false;
  double similarity = 0;  // MinHash estimate of the node-digest Jaccard similarity (1 for same structure)
  std::vector<ExplainDifference> differences;
};

struct Explanation {
  // "hit", "same_structure" (nearest entries differ only in factors), "nearest_structure", "none_close"
  std::string result;
  Key key;
  std::vector<ExplainCandidate> candidates;  // nearest first; at most `max_candidates`
  size_t indexed_entries = 0;
  double seconds = 0;

  std::vector<std::string> lines() const;
  std::string json() const;
};

struct ExplainSources {
  std::string cache_dir;              // the local tier ("" = none)
  std::optional<RedisConfig> remote;  // the Redis tier, if any
  size_t max_candidates = 3;
  double min_similarity = 0.25;  // below this no structure is "close"

  // The tiers `config` describes (its cache_dir and remote), as open_store(config) opens them.
  static ExplainSources of(const StoreConfig& config);
};

// The factors (JSON text of the metadata field graphcache.factors: settings, toolchain, input_specs,
// refit_mode, model) of every entry the tiers' explain indexes hold, the local tier's first: what `ls`
// shows. Never throws for cache problems (left out, with a warning).
std::unordered_map<Key, std::string> recorded_factors(const ExplainSources& sources, WarningSink warn = {});

// Never throws for cache problems (an unreachable Redis, a corrupt index or summary): those are left out
// of the explanation. Throws Error(kInvalidModel) if the graph cannot be hashed.
Explanation explain_miss(const ir::Graph& graph, const KeyRequest& request, const ExplainSources& sources,
                         WarningSink warn = {});

}  // namespace graphcache
