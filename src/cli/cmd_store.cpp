// Local store commands: put, show, get, ls, stats, gc, verify, rm, clear (+ the global --cache-dir options).
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "explain_hooks.hpp"
#include "graphcache/error.hpp"
#include "store_options.hpp"

namespace graphcache::cli {
namespace {

struct StoreCommandArgs {
  std::string key, file, out;
  std::vector<std::string> meta;
  FactorArgs factors;  // put --model M [key options]: record M's key factors
  bool json = false, zero = false;
};

std::string format_time(int64_t unix_time) {
  if (unix_time <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// hits / lookups (null before the first lookup), for `stats --json`.
nlohmann::json hit_rate(uint64_t hits, uint64_t misses) {
  return hits + misses == 0 ? nlohmann::json() : nlohmann::json(double(hits) / double(hits + misses));
}

EntryMetadata metadata_from_flags(const std::vector<std::string>& meta) {
  EntryMetadata m;
  for (const std::string& kv : meta) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(ErrorKind::kInvalidArgument, "--meta '" + kv + "': expected name=value");
    }
    const std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (name == "refit_mode") {
      m.refit_mode = value;  // a field of its own, read by EngineCache and `show`, not an extra
    } else {
      m.extra[name] = value;
    }
  }
  return m;
}

nlohmann::ordered_json metadata_json(const Key& key, const Entry& e) {
  const EntryMetadata& m = e.metadata;
  return {{"key", key.hex()},
          {"engine_bytes", e.engine->size()},
          {"created_unix", m.created_unix},
          {"refit_mode", m.refit_mode},
          {"weight_fingerprint", m.weight_fingerprint ? m.weight_fingerprint->hex() : ""},
          {"key_parts", m.key_parts},
          {"input_names", m.input_names},
          {"output_names", m.output_names},
          {"weight_slots", m.weight_slots},
          {"tool_versions", m.tool_versions},
          {"extra", m.extra}};
}

void print_map(const char* title, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values) std::printf("%-18s %s = %s\n", title, name.c_str(), value.c_str());
}

void print_list(const char* title, const std::vector<std::string>& values) {
  std::string joined;
  for (const std::string& v : values) joined += (joined.empty() ? "" : ", ") + v;
  std::printf("%-18s %s\n", title, values.empty() ? "-" : joined.c_str());
}

// `show` is not a use: it peeks (no hit/miss counted, LRU order unchanged).
void run_show(const StoreCommandArgs& a) {
  const Key key = Digest::from_hex(a.key);
  std::optional<Entry> entry = open_cli_store().tiers->peek(key);
  if (!entry) {
    std::fprintf(stderr, "graphcache: no entry %s\n", key.hex().c_str());
    throw CLI::RuntimeError(1);
  }
  if (a.json) {
    std::printf("%s\n", metadata_json(key, *entry).dump(2).c_str());
    return;
  }
  const EntryMetadata& m = entry->metadata;
  std::printf("%-18s %s\n", "key", key.hex().c_str());
  std::printf("%-18s %s (%" PRIu64 " bytes)\n", "engine", format_size(entry->engine->size()).c_str(),
              entry->engine->size());
  std::printf("%-18s %s\n", "created", format_time(m.created_unix).c_str());
  std::printf("%-18s %s\n", "refit mode", m.refit_mode.empty() ? "-" : m.refit_mode.c_str());
  std::printf("%-18s %s\n", "weight fingerprint",
              m.weight_fingerprint ? m.weight_fingerprint->hex().c_str() : "-");
  print_list("inputs", m.input_names);
  print_list("outputs", m.output_names);
  std::printf("%-18s %zu\n", "weight slots", m.weight_slots.size());
  print_map("key part", m.key_parts);
  print_map("tool", m.tool_versions);
  print_map("meta", m.extra);
  // The signer as recorded; whether it verifies and is trusted is `verify`'s job (with the trusted keys).
  std::printf("%-18s %s\n", "signature",
              m.signature.empty() ? "-" : m.signature.substr(0, m.signature.find(':', 8)).c_str());
}

void run_put(const StoreCommandArgs& a) {
  const Key key = Digest::from_hex(a.key);
  auto store = open_cli_store().tiers;
  EntryMetadata metadata = metadata_from_flags(a.meta);
  record_put_factors(a.factors, key, metadata);
  store->put(key, EngineSource::from_file(a.file), metadata);
  std::printf("stored %s\n", key.hex().c_str());
}

void run_get(const StoreCommandArgs& a) {
  const Key key = Digest::from_hex(a.key);
  auto store = open_cli_store().tiers;
  std::optional<Entry> entry = store->get(key);
  if (!entry) {
    std::fprintf(stderr, "graphcache: miss: %s\n", key.hex().c_str());
    throw CLI::RuntimeError(1);
  }
  write_output_file(a.out, entry->engine->data(), entry->engine->size());
}

// The recorded factors of an entry (explain.hpp) in one line: model, then the settings and toolchain.
std::string factors_line(const std::string& factors_json) {
  const nlohmann::json f = nlohmann::json::parse(factors_json, nullptr, /*allow_exceptions=*/false);
  if (!f.is_object()) return "";
  std::string line;
  auto add = [&line](const std::string& item) { line += (line.empty() ? "" : " ") + item; };
  if (f.contains("model") && f["model"].is_string() && !f["model"].get<std::string>().empty())
    add("model=" + f["model"].get<std::string>());
  if (f.contains("refit_mode") && f["refit_mode"].is_string() && !f["refit_mode"].get<std::string>().empty())
    add("refit_mode=" + f["refit_mode"].get<std::string>());
  for (const char* group : {"settings", "toolchain"}) {
    if (!f.contains(group) || !f[group].is_object()) continue;
    for (const auto& [name, value] : f[group].items()) {
      // Long facts (exec's arguments, weight fingerprints) are for `show` and `explain`, not a listing.
      if (value.is_string() && value.get<std::string>().size() <= 40)
        add(name + "=" + value.get<std::string>());
    }
  }
  return line;
}

void run_ls(const StoreCommandArgs& a) {
  const StoreConfig config = resolve_cli_store_config();
  auto store = open_store(config, print_store_warning).tiers;
  std::vector<EntryInfo> entries = store->list();
  // Factors come from the explain indexes (one small record per entry), not from reading every entry.
  const auto factors = recorded_factors(ExplainSources::of(config), print_store_warning);
  if (a.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const EntryInfo& e : entries) {
      nlohmann::ordered_json item = {{"key", e.key.hex()},
                                     {"engine_bytes", e.engine_bytes},
                                     {"stored_bytes", e.stored_bytes},
                                     {"created_unix", e.created_unix},
                                     {"last_used_unix", e.last_used_unix}};
      if (auto it = factors.find(e.key); it != factors.end()) {
        nlohmann::ordered_json f = nlohmann::ordered_json::parse(it->second, nullptr, false);
        if (!f.is_discarded()) item["factors"] = std::move(f);
      }
      out.push_back(std::move(item));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  for (const EntryInfo& e : entries) {
    const auto it = factors.find(e.key);
    const std::string line = it == factors.end() ? "" : factors_line(it->second);
    std::printf("%s  %12" PRIu64 "  %s  %s%s%s\n", e.key.hex().c_str(), e.engine_bytes,
                format_time(e.created_unix).c_str(), format_time(e.last_used_unix).c_str(),
                line.empty() ? "" : "  ", line.c_str());
  }
}

void run_stats(const StoreCommandArgs& a) {
  const OpenedStore opened = open_cli_store();
  LocalStore* store = opened.local.get();
  if (a.zero) {
    store->zero_stats();
    std::printf("statistics zeroed\n");
    return;
  }
  const StoreStats s = store->stats();
  const StoreConfig& c = store->config();
  // Per-tier counters when a remote tier is configured (the local numbers above stay as they were).
  std::map<std::string, StoreStats> tiers;
  if (opened.remote) tiers = opened.tiers->tier_stats();
  // One lookup is one hit or one miss over all tiers: a local miss that the remote serves is a hit, so
  // with a remote the hits are both tiers' hits and the misses are the remote's (every lookup that got
  // there missed locally first). The remote's counters are shared by every host that uses it.
  uint64_t hits = s.hits, misses = s.misses;
  for (const auto& [tier, t] : tiers) {
    if (tier == "local") continue;
    hits += t.hits;
    misses = t.misses;
  }
  if (a.json) {
    nlohmann::ordered_json out = {{"cache_dir", c.cache_dir},
                                  {"hits", hits},
                                  {"misses", misses},
                                  {"hit_rate", hit_rate(hits, misses)},
                                  {"puts", s.puts},
                                  {"evictions", s.evictions},
                                  {"corrupt", s.corrupt},
                                  {"errors", s.errors},
                                  {"untrusted", s.untrusted},
                                  {"bytes_read", s.bytes_read},
                                  {"bytes_written", s.bytes_written},
                                  {"entries", s.entries},
                                  {"stored_bytes", s.stored_bytes},
                                  {"max_size", c.max_size},
                                  {"max_entries", c.max_entries}};
    for (const auto& [tier, t] : tiers) {
      out["tiers"][tier] = {{"hits", t.hits},
                            {"misses", t.misses},
                            {"hit_rate", hit_rate(t.hits, t.misses)},
                            {"puts", t.puts},
                            {"corrupt", t.corrupt},
                            {"errors", t.errors},
                            {"untrusted", t.untrusted},
                            {"bytes_read", t.bytes_read},
                            {"bytes_written", t.bytes_written},
                            {"entries", t.entries},
                            {"stored_bytes", t.stored_bytes}};
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  const uint64_t lookups = hits + misses;
  std::printf("cache directory   %s\n", c.cache_dir.c_str());
  std::printf("hits              %" PRIu64 " (%.1f%%)%s\n", hits,
              lookups ? 100.0 * double(hits) / double(lookups) : 0.0, tiers.empty() ? "" : ", all tiers");
  std::printf("misses            %" PRIu64 "\n", misses);
  std::printf("puts              %" PRIu64 "\n", s.puts);
  std::printf("evictions         %" PRIu64 "\n", s.evictions);
  std::printf("corrupt entries   %" PRIu64 "\n", s.corrupt);
  std::printf("errors            %" PRIu64 "\n", s.errors);
  std::printf("untrusted         %" PRIu64 "\n", s.untrusted);
  std::printf("bytes read        %s\n", format_size(s.bytes_read).c_str());
  std::printf("bytes written     %s\n", format_size(s.bytes_written).c_str());
  std::printf("entries           %" PRIu64 " / %s\n", s.entries,
              c.max_entries ? std::to_string(c.max_entries).c_str() : "unlimited");
  std::printf("size              %s / %s\n", format_size(s.stored_bytes).c_str(),
              c.max_size ? format_size(c.max_size).c_str() : "unlimited");
  for (const auto& [tier, t] : tiers) {
    std::printf("tier %-12s hits %" PRIu64 "  misses %" PRIu64 "  puts %" PRIu64 "  corrupt %" PRIu64
                "  errors %" PRIu64 "  entries %" PRIu64 "  size %s\n",
                tier.c_str(), t.hits, t.misses, t.puts, t.corrupt, t.errors, t.entries,
                format_size(t.stored_bytes).c_str());
  }
}

void run_gc() {
  auto store = open_cli_store().local;
  const GcReport r = store->gc();
  std::printf("evicted %" PRIu64 " entries, removed %" PRIu64 " stale temp files; %" PRIu64
              " entries, %s left\n",
              r.evicted, r.stale_temps_removed, r.entries_after, format_size(r.bytes_after).c_str());
}

void run_verify() {
  auto store = open_cli_store().local;
  const VerifyReport r = store->verify();
  std::printf("checked %" PRIu64 " entries: %" PRIu64 " ok, %" PRIu64 " corrupt (removed); %" PRIu64
              " stale temp files removed\n",
              r.checked, r.ok, r.corrupt, r.stale_temps_removed);
  std::printf("signatures: %" PRIu64 " trusted, %" PRIu64 " by other keys, %" PRIu64 " bad, %" PRIu64
              " unsigned; %" PRIu64 " refused by require_signature (kept)\n",
              r.signed_trusted, r.signed_unknown_key, r.bad_signature, r.unsigned_entries, r.untrusted);
  if (r.corrupt != 0 || r.bad_signature != 0 || r.untrusted != 0) throw CLI::RuntimeError(1);
}

void run_rm(const StoreCommandArgs& a) {
  const Key key = Digest::from_hex(a.key);
  if (!open_cli_store().tiers->remove(key)) {
    std::fprintf(stderr, "graphcache: no entry %s\n", key.hex().c_str());
    throw CLI::RuntimeError(1);
  }
}

// Every command that removes entries follows one rule (the one of `rm`): it acts on every configured
// tier, except a read-only remote, which is left alone.
void run_clear() {
  const OpenedStore opened = open_cli_store();
  const uint64_t local = opened.local->clear();
  if (!opened.remote) {
    std::printf("removed %" PRIu64 " entries\n", local);
    return;
  }
  if (opened.remote_read_only) {
    std::printf("removed %" PRIu64 " entries (local; the read-only remote is left alone)\n", local);
    return;
  }
  Store& remote = *opened.remote;
  uint64_t removed_remote = 0;
  for (const EntryInfo& e : remote.list()) removed_remote += remote.remove(e.key) ? 1 : 0;
  std::printf("removed %" PRIu64 " entries (local %" PRIu64 ", remote %" PRIu64 ")\n", local + removed_remote,
              local, removed_remote);
}

}  // namespace

void register_store_commands(CLI::App& app) {
  add_store_options(app);
  auto a = std::make_shared<StoreCommandArgs>();

  auto* put = app.add_subcommand("put", "Store FILE as the engine for KEY");
  put->add_option("key", a->key, "64 hex digit key")->required();
  put->add_option("file", a->file, "engine file")->required();
  put->add_option("--meta", a->meta, "metadata name=value (repeatable); refit_mode=MODE sets the refit mode");
  add_factor_options(*put, a->factors);
  put->callback([a] { run_put(*a); });

  auto* show = app.add_subcommand("show", "Show the metadata of the entry for KEY (exit 1 if absent)");
  show->add_option("key", a->key, "64 hex digit key")->required();
  show->add_flag("--json", a->json, "JSON output");
  show->callback([a] { run_show(*a); });

  auto* get = app.add_subcommand("get", "Write the engine stored for KEY to OUT (exit 1 on a miss)");
  get->add_option("key", a->key, "64 hex digit key")->required();
  get->add_option("out", a->out, "output file, - for stdout")->required();
  get->callback([a] { run_get(*a); });

  auto* ls = app.add_subcommand("ls", "List entries: key, engine bytes, created, last used");
  ls->add_flag("--json", a->json, "JSON output");
  ls->callback([a] { run_ls(*a); });

  auto* stats = app.add_subcommand("stats", "Show cache statistics");
  stats->add_flag("--zero,-z", a->zero, "Zero the counters");
  stats->add_flag("--json", a->json, "JSON output");
  stats->callback([a] { run_stats(*a); });

  auto* gc = app.add_subcommand("gc", "Evict least recently used entries until under the caps");
  gc->callback(run_gc);

  auto* verify = app.add_subcommand(
      "verify",
      "Check every entry and its signature; remove corrupt ones (exit 1 if any is corrupt or untrusted)");
  verify->callback(run_verify);

  auto* rm = app.add_subcommand("rm", "Remove the entry for KEY (from both tiers with a writable --remote)");
  rm->add_option("key", a->key, "64 hex digit key")->required();
  rm->callback([a] { run_rm(*a); });

  auto* clear = app.add_subcommand("clear", "Remove every entry (of both tiers with a writable --remote)");
  clear->callback(run_clear);

  for (CLI::App* command : {put, show, get, ls, stats, gc, verify, rm, clear}) add_store_options(*command);
}

}  // namespace graphcache::cli
