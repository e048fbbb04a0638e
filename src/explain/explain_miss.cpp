// explain_miss: looks the current key up in the explain indexes of both tiers and names what differs
// in the nearest entries (include/graphcache/explain.hpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <unordered_map>

#include "explain_index.hpp"
#include "factors.hpp"
#include "graphcache/error.hpp"
#include "redis_connection.hpp"
#include "structure_summary.hpp"

namespace graphcache {
namespace {

static_assert(store::kMinHashSize == explain::kMinHashSize);

struct Indexed {
  store::IndexRecord record;
  std::string tier;
};

// Reads entries' metadata from the tier that indexed them.
class Tiers {
 public:
  Tiers(const ExplainSources& sources, const WarningSink& warn) : sources_(sources), warn_(warn) {}

  std::vector<Indexed> load() {
    std::vector<Indexed> out;
    std::unordered_map<Key, size_t> seen;
    if (!sources_.cache_dir.empty()) {
      for (auto& r : store::local_index_load(sources_.cache_dir)) {
        seen[r.key] = out.size();
        out.push_back({std::move(r), "local"});
      }
    }
    if (redis()) {
      try {
        for (auto& r : store::redis_index_load(*redis_, sources_.remote->key_prefix))
          if (!seen.contains(r.key)) out.push_back({std::move(r), "redis"});
      } catch (const Error& e) {
        remote_failed(e);
      }
    }
    return out;
  }

  std::optional<EntryMetadata> metadata(const Indexed& entry) {
    if (entry.tier == "local") return store::local_entry_metadata(sources_.cache_dir, entry.record.key);
    if (!redis()) return std::nullopt;
    try {
      return store::redis_entry_metadata(*redis_, sources_.remote->key_prefix, entry.record.key);
    } catch (const Error& e) {
      remote_failed(e);
      return std::nullopt;
    }
  }

 private:
  redis::Connection* redis() {
    if (!sources_.remote || remote_down_) return nullptr;
    if (!redis_) {
      try {
        redis_ = std::make_unique<redis::Connection>(*sources_.remote);
      } catch (const Error& e) {
        remote_failed(e);
        return nullptr;
      }
    }
    return redis_.get();
  }
  void remote_failed(const Error& e) {
    remote_down_ = true;
    if (warn_) warn_(std::string("explain: the Redis tier is left out: ") + e.what());
  }

  const ExplainSources& sources_;
  const WarningSink& warn_;
  std::unique_ptr<redis::Connection> redis_;
  bool remote_down_ = false;
};

std::string model_of(const nlohmann::json& factors) {
  const auto it = factors.find("model");
  return it != factors.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::unordered_map<Key, std::string> recorded_factors(const ExplainSources& sources, WarningSink warn) {
  std::unordered_map<Key, std::string> out;
  for (Indexed& entry : Tiers(sources, warn).load())
    out.emplace(entry.record.key, std::move(entry.record.factors));
  return out;
}

ExplainSources ExplainSources::of(const StoreConfig& config) {
  ExplainSources sources;
  sources.cache_dir = config.cache_dir;
  // Only the Redis tier keeps an explain index; open_store refuses every other scheme anyway.
  if (config.remote.starts_with("redis://")) sources.remote = RedisConfig::from_url(config.remote);
  return sources;
}

Explanation explain_miss(const ir::Graph& graph, const KeyRequest& request, const ExplainSources& sources,
                         WarningSink warn) {
  const auto start = std::chrono::steady_clock::now();
  Explanation out;
  const KeyResult key = compute_key(graph, request);
  out.key = key.key;
  const nlohmann::json current = explain::factors_json(graph, request, key, "");
  const explain::StructureSummary summary = explain::summarize(graph);
  const auto signature = explain::minhash(summary);

  Tiers tiers(sources, warn);
  const std::vector<Indexed> entries = tiers.load();
  out.indexed_entries = entries.size();
  auto finish = [&](std::string result) {
    out.result = std::move(result);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  };

  for (const Indexed& e : entries)
    if (e.record.key == key.key && tiers.metadata(e)) return finish("hit");

  // Same structure, other factors: the fewest differences first.
  std::vector<std::pair<size_t, ExplainCandidate>> same;
  for (const Indexed& e : entries) {
    if (e.record.structure != key.parts.structure || e.record.key == key.key) continue;
    try {
      const auto cached = nlohmann::json::parse(e.record.factors);
      ExplainCandidate c{e.record.key, e.tier, model_of(cached),
                         true,         1.0,    explain::compare_factors(cached, current)};
      same.emplace_back(c.differences.size(), std::move(c));
    } catch (const nlohmann::json::exception&) {
      continue;  // a malformed record explains nothing
    }
  }
  std::stable_sort(same.begin(), same.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [count, c] : same) {
    if (out.candidates.size() >= sources.max_candidates) break;
    if (tiers.metadata(Indexed{{c.key, {}, {}, {}}, c.tier})) out.candidates.push_back(std::move(c));
  }
  if (!out.candidates.empty()) return finish("same_structure");

  // The nearest structures by MinHash similarity of their node digests.
  std::vector<std::pair<double, size_t>> ranked;
  for (size_t i = 0; i < entries.size(); ++i) {
    const double s = explain::similarity(signature, entries[i].record.minhash);
    if (s >= sources.min_similarity) ranked.emplace_back(s, i);
  }
  const size_t keep = std::min(ranked.size(), sources.max_candidates * 4);
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep), ranked.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  ranked.resize(keep);
  for (const auto& [s, i] : ranked) {
    if (out.candidates.size() >= sources.max_candidates) break;
    const Indexed& e = entries[i];
    const auto metadata = tiers.metadata(e);
    if (!metadata) continue;  // evicted since it was indexed
    ExplainCandidate c{e.record.key, e.tier, "", false, s, {}};
    try {
      const auto cached = nlohmann::json::parse(e.record.factors);
      c.model = model_of(cached);
      const auto it = metadata->extra.find(std::string(store::kSummaryField));
      if (it == metadata->extra.end()) {
        c.differences.push_back({"no_summary", "", "", "", "the cached entry records no structural summary"});
      } else {
        c.differences = explain::compare_structure(explain::decode_summary(it->second), summary);
      }
      for (auto& d : explain::compare_factors(cached, current)) c.differences.push_back(std::move(d));
    } catch (const std::exception& ex) {  // corrupt summary or factors: no explanation, never a crash
      c.differences.push_back({"no_summary", "", "", "", std::string("no explanation: ") + ex.what()});
    }
    out.candidates.push_back(std::move(c));
  }
  return finish(out.candidates.empty() ? "none_close" : "nearest_structure");
}

std::vector<std::string> Explanation::lines() const {
  std::vector<std::string> out;
  const std::string k = key.hex();
  if (result == "hit") return {"hit: " + k};
  if (result == "none_close") {
    return {"miss " + k + ": no cached entry is close (" + std::to_string(indexed_entries) +
            " indexed entries)"};
  }
  out.push_back("miss " + k +
                (result == "same_structure" ? ": cached entries with the same structure differ in:"
                                            : ": no cached entry has this structure; the nearest:"));
  for (const ExplainCandidate& c : candidates) {
    char similarity[32];
    std::snprintf(similarity, sizeof similarity, "%.2f", c.similarity);
    out.push_back("  entry " + c.key.hex().substr(0, 16) + " (" + c.tier +
                  (c.model.empty() ? "" : ", model " + c.model) +
                  (c.same_structure ? "" : std::string(", similarity ") + similarity) + ")");
    for (const ExplainDifference& d : c.differences) out.push_back("    " + d.text);
    if (c.differences.empty()) out.push_back("    (no difference found in the recorded factors)");
  }
  return out;
}

std::string Explanation::json() const {
  nlohmann::ordered_json j;
  j["result"] = result;
  j["key"] = key.hex();
  j["indexed_entries"] = indexed_entries;
  j["seconds"] = seconds;
  j["candidates"] = nlohmann::json::array();
  for (const ExplainCandidate& c : candidates) {
    nlohmann::ordered_json cj;
    cj["key"] = c.key.hex();
    cj["tier"] = c.tier;
    cj["model"] = c.model;
    cj["same_structure"] = c.same_structure;
    cj["similarity"] = c.similarity;
    cj["differences"] = nlohmann::json::array();
    for (const ExplainDifference& d : c.differences)
      cj["differences"].push_back({{"kind", d.kind},
                                   {"name", d.name},
                                   {"cached", d.cached},
                                   {"current", d.current},
                                   {"text", d.text}});
    j["candidates"].push_back(std::move(cj));
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace graphcache
