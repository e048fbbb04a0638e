// Local store commands: put, get, ls, stats, gc, verify, rm, clear (+ the global --cache-dir options).
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "graphcache/error.hpp"
#include "store_options.hpp"

namespace graphcache::cli {
namespace {

struct StoreCommandArgs {
  std::string key, file, out;
  std::vector<std::string> meta;
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

EntryMetadata metadata_from_flags(const std::vector<std::string>& meta) {
  EntryMetadata m;
  for (const std::string& kv : meta) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(ErrorKind::kInvalidArgument, "--meta '" + kv + "': expected name=value");
    }
    m.extra[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}

void run_put(const StoreCommandArgs& a) {
  const Key key = Digest::from_hex(a.key);
  auto store = open_store();
  store->put(key, EngineSource::from_file(a.file), metadata_from_flags(a.meta));
  std::printf("stored %s\n", key.hex().c_str());
}

void run_get(const StoreCommandArgs& a) {
  const Key key = Digest::from_hex(a.key);
  auto store = open_store();
  std::optional<Entry> entry = store->get(key);
  if (!entry) {
    std::fprintf(stderr, "graphcache: miss: %s\n", key.hex().c_str());
    throw CLI::RuntimeError(1);
  }
  write_output_file(a.out, entry->engine->data(), entry->engine->size());
}

void run_ls(const StoreCommandArgs& a) {
  auto store = open_store();
  std::vector<EntryInfo> entries = store->list();
  if (a.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const EntryInfo& e : entries) {
      out.push_back({{"key", e.key.hex()},
                     {"engine_bytes", e.engine_bytes},
                     {"stored_bytes", e.stored_bytes},
                     {"created_unix", e.created_unix},
                     {"last_used_unix", e.last_used_unix}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  for (const EntryInfo& e : entries) {
    std::printf("%s  %12" PRIu64 "  %s  %s\n", e.key.hex().c_str(), e.engine_bytes,
                format_time(e.created_unix).c_str(), format_time(e.last_used_unix).c_str());
  }
}

void run_stats(const StoreCommandArgs& a) {
  auto store = open_local_store();
  if (a.zero) {
    store->zero_stats();
    std::printf("statistics zeroed\n");
    return;
  }
  const StoreStats s = store->stats();
  const StoreConfig& c = store->config();
  // Per-tier counters when a remote tier is configured (the local numbers above stay as they were).
  std::map<std::string, StoreStats> tiers;
  if (auto layered = open_store(); layered->name() == "layered") tiers = layered->tier_stats();
  if (a.json) {
    nlohmann::ordered_json out = {{"cache_dir", c.cache_dir},
                                  {"hits", s.hits},
                                  {"misses", s.misses},
                                  {"puts", s.puts},
                                  {"evictions", s.evictions},
                                  {"corrupt", s.corrupt},
                                  {"errors", s.errors},
                                  {"bytes_read", s.bytes_read},
                                  {"bytes_written", s.bytes_written},
                                  {"entries", s.entries},
                                  {"stored_bytes", s.stored_bytes},
                                  {"max_size", c.max_size},
                                  {"max_entries", c.max_entries}};
    for (const auto& [tier, t] : tiers) {
      out["tiers"][tier] = {{"hits", t.hits},
                            {"misses", t.misses},
                            {"puts", t.puts},
                            {"corrupt", t.corrupt},
                            {"errors", t.errors},
                            {"bytes_read", t.bytes_read},
                            {"bytes_written", t.bytes_written},
                            {"entries", t.entries},
                            {"stored_bytes", t.stored_bytes}};
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  const uint64_t lookups = s.hits + s.misses;
  std::printf("cache directory   %s\n", c.cache_dir.c_str());
  std::printf("hits              %" PRIu64 " (%.1f%%)\n", s.hits,
              lookups ? 100.0 * double(s.hits) / double(lookups) : 0.0);
  std::printf("misses            %" PRIu64 "\n", s.misses);
  std::printf("puts              %" PRIu64 "\n", s.puts);
  std::printf("evictions         %" PRIu64 "\n", s.evictions);
  std::printf("corrupt entries   %" PRIu64 "\n", s.corrupt);
  std::printf("errors            %" PRIu64 "\n", s.errors);
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
  auto store = open_local_store();
  const GcReport r = store->gc();
  std::printf("evicted %" PRIu64 " entries, removed %" PRIu64 " stale temp files; %" PRIu64
              " entries, %s left\n",
              r.evicted, r.stale_temps_removed, r.entries_after, format_size(r.bytes_after).c_str());
}

void run_verify() {
  auto store = open_local_store();
  const VerifyReport r = store->verify();
  std::printf("checked %" PRIu64 " entries: %" PRIu64 " ok, %" PRIu64 " corrupt (removed); %" PRIu64
              " stale temp files removed\n",
              r.checked, r.ok, r.corrupt, r.stale_temps_removed);
  if (r.corrupt != 0) throw CLI::RuntimeError(1);
}

void run_rm(const StoreCommandArgs& a) {
  const Key key = Digest::from_hex(a.key);
  if (!open_store()->remove(key)) {
    std::fprintf(stderr, "graphcache: no entry %s\n", key.hex().c_str());
    throw CLI::RuntimeError(1);
  }
}

void run_clear() {
  std::printf("removed %" PRIu64 " entries\n", open_local_store()->clear());
}

}  // namespace

void register_store_commands(CLI::App& app) {
  add_store_options(app);
  auto a = std::make_shared<StoreCommandArgs>();

  auto* put = app.add_subcommand("put", "Store FILE as the engine for KEY");
  put->add_option("key", a->key, "64 hex digit key")->required();
  put->add_option("file", a->file, "engine file")->required();
  put->add_option("--meta", a->meta, "metadata name=value (repeatable)");
  put->callback([a] { run_put(*a); });

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

  auto* verify = app.add_subcommand("verify", "Check every entry; remove corrupt ones (exit 1 if any)");
  verify->callback(run_verify);

  auto* rm = app.add_subcommand("rm", "Remove the entry for KEY");
  rm->add_option("key", a->key, "64 hex digit key")->required();
  rm->callback([a] { run_rm(*a); });

  auto* clear = app.add_subcommand("clear", "Remove every entry");
  clear->callback(run_clear);

  for (CLI::App* command : {put, get, ls, stats, gc, verify, rm, clear}) add_store_options(*command);
}

}  // namespace graphcache::cli
