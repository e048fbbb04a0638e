// `graphcache exec --input MODEL --output ENGINE [key options] -- COMPILER ARGS...`: the ccache pattern for
// engine compilers. Key = the model's structural key + settings/toolchain options + the compiler's
// identity (resolved path, size, SHA-256 of its bytes) + its arguments with the model and engine paths
// replaced by placeholders. Hit: ENGINE is written from the cache and the compiler does not run. Miss:
// the compiler runs with our stdio; if it succeeds ENGINE is stored, if it fails nothing is. Concurrent
// misses of one key (a build farm starting the same job) compile once: the others wait on a lock
// (Redis with --remote, else a file lock in the cache directory) and take the engine from the cache,
// so each job still exits with ENGINE written. Exit status
// is the compiler's (128 + signal if it was killed). If no key can be computed (unreadable model,
// unusable cache) the compiler still runs, uncached, with a warning: a cache must never break a build.
//
// Not keyed: environment variables and files the compiler reads other than MODEL (e.g. plugins or
// calibration caches passed as arguments are keyed by path only) - pass them as --setting/--toolchain.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exec_identity.hpp"
#include "explain_hooks.hpp"
#include "graphcache/error.hpp"
#include "graphcache/event_log.hpp"
#include "graphcache/key.hpp"
#include "graphcache/key_metadata.hpp"
#include "key_options.hpp"
#include "model_loader.hpp"
#include "store_options.hpp"

namespace graphcache::cli {
namespace {

struct ExecArgs {
  std::string input, output;
  KeyOptionArgs key_options;
  std::vector<std::string> command;
  bool verbose = false;
  bool secure = false;             // SHA-256 weight chunks (FingerprintMode::kSecure) in the key
  bool json = false;               // one JSON line on stdout after the compiler's output: key, result, status
  double min_compile_seconds = 0;  // compiles faster than this are not stored (0: store all)
};

void warn(const std::string& message) {
  std::fprintf(stderr, "graphcache: warning: %s\n", message.c_str());
}

// Runs the command with inherited stdio; returns its exit status the way a shell reports it.
int run_compiler(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(ErrorKind::kIo, std::string("cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "graphcache: cannot run '%s': %s\n", argv[0], std::strerror(errno));
    ::_exit(errno == ENOENT ? 127 : 126);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      throw Error(ErrorKind::kIo, std::string("cannot wait for the compiler: ") + std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct CacheContext {
  std::shared_ptr<Store> store;  // the local store, layered over the remote tier when one is configured
  KeyResult key;
  EntryMetadata metadata;
  ir::Graph graph;  // for explaining a miss (exec -v)
  KeyRequest request;
  std::shared_ptr<EventLog> events;  // the configured event log (lock waits), or null
};

// Everything that needs the model and the cache; nullopt (after a warning) when either is unusable.
std::optional<CacheContext> prepare_cache(const ExecArgs& a) {
  try {
    CacheContext c;
    const ir::Graph graph = load_model(a.input);
    KeyRequest request = make_key_request(a.key_options, graph);
    const CompilerIdentity compiler = identify_compiler(a.command.front());
    const std::vector<std::string> args =
        normalize_arguments({a.command.begin() + 1, a.command.end()}, a.input, a.output);
    request.facts.push_back({"exec.arguments", nlohmann::json(args).dump()});
    request.toolchain["exec.compiler.path"] = compiler.path;
    request.toolchain["exec.compiler.size"] = std::to_string(compiler.size);
    request.toolchain["exec.compiler.sha256"] = compiler.sha256;
    // The compiler bakes the weights into ENGINE (exec cannot refit): refit mode "none", which keys the
    // weight fingerprint, so the same structure with new weights misses. One walk of the graph; the
    // weights are read once, at memory bandwidth, in its slot order.
    const HashedGraph hashed = hash_graph(graph);
    request.refit_mode = RefitMode::kNone;
    request.weight_fingerprint = fingerprint_key_weights(graph, hashed.structure, a.secure);
    c.key = compute_key(hashed, request);
    c.metadata = entry_metadata(c.key, graph);
    c.metadata.tool_versions = {{"compiler", compiler.path}, {"compiler.sha256", compiler.sha256}};
    c.metadata.extra = {{"command", nlohmann::json(args).dump()}};
    for (const auto& s : request.settings) c.metadata.extra["setting." + s.name] = s.value;
    for (const auto& f : request.facts) c.metadata.extra["setting." + f.name] = f.value;
    c.metadata.extra["setting.graphcache.weight_fingerprint"] = request.weight_fingerprint->hex();
    for (auto& [name, value] : explain_fields(graph, request, c.key, a.input)) c.metadata.extra[name] = value;
    c.graph = graph;
    c.request = request;
    OpenedStore opened = open_cli_store();
    c.store = opened.tiers;
    c.events = opened.events;
    return c;
  } catch (const Error& e) {
    warn(std::string(e.what()) + "; running the compiler without the cache");
    return std::nullopt;
  }
}

// `exec -v`: what the key is made of, so a user can see why two runs miss each other.
void print_key_factors(const CacheContext& c) {
  std::fprintf(stderr, "graphcache: key %s\n", c.key.key.hex().c_str());
  for (const auto& [part, hex] : c.metadata.key_parts)
    std::fprintf(stderr, "  %-12s %s\n", part.c_str(), hex.c_str());
  for (const auto& [name, value] : c.metadata.tool_versions)
    std::fprintf(stderr, "  toolchain    %s = %s\n", name.c_str(), value.c_str());
  for (const auto& [name, value] : c.metadata.extra)
    std::fprintf(stderr, "  factor       %s = %s\n", name.c_str(), value.c_str());
}

// Thrown out of the build function so that SingleFlight releases the lock and stores nothing.
struct CompilerFailed {
  int status;
};
// Thrown out of the build function when the compile was faster than --min-compile-time: not stored.
struct CheapBuild {};

// What identifies the bytes at a path: a compiler that exits 0 without writing the output leaves all of
// these unchanged, and then the file holds an earlier run's engine that must not be stored under this key.
// (A rewrite in place changes ctime; a rename-replace changes the inode.) Coarse timestamps can only make
// a real rewrite look unchanged, which stores nothing: the safe direction.
struct FileIdentity {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  struct timespec mtime {
  }, ctime{};
  bool operator==(const FileIdentity& o) const {
    return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size &&
           mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec &&
           ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

FileIdentity identify_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

// What happened, for `exec --json`: result is hit, built, waited (another job built it), failed (the
// compiler failed) or uncached (no key or no usable cache: the compiler ran without it).
struct ExecOutcome {
  int status = 0;
  std::string key, result = "uncached";
  bool stored = false;
};

ExecOutcome run_exec(const ExecArgs& a) {
  ExecOutcome outcome;
  std::optional<CacheContext> cache = prepare_cache(a);
  if (!cache) {
    outcome.status = run_compiler(a.command);
    return outcome;
  }
  const std::string key_hex = outcome.key = cache->key.key.hex();
  if (a.verbose) print_key_factors(*cache);
  bool compiled = false;
  auto build = [&]() -> BuiltEngine {
    if (a.verbose) std::fprintf(stderr, "graphcache: miss %s: running the compiler\n", key_hex.c_str());
    if (a.verbose) print_miss_explanation(cache->graph, cache->request);
    const auto started = std::chrono::steady_clock::now();
    const FileIdentity before = identify_file(a.output);
    compiled = true;
    const int status = run_compiler(a.command);
    if (status != 0) throw CompilerFailed{status};
    struct stat st;
    if (::stat(a.output.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      throw Error(ErrorKind::kIo, "the compiler succeeded but did not write '" + a.output + "'");
    if (identify_file(a.output) == before)
      throw Error(ErrorKind::kIo, "the compiler succeeded but did not write '" + a.output +
                                      "' (it still holds the file from before this run)");
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() <
        a.min_compile_seconds)
      throw CheapBuild{};
    return BuiltEngine{{}, a.output, cache->metadata};
  };
  SingleFlightOptions options;
  options.on_wait = [&a, &cache](const std::string& line) {
    if (a.verbose) std::fprintf(stderr, "graphcache: %s\n", line.c_str());
    if (const auto& events = cache->events) events->record("lock_wait", &cache->key.key, "", 0, 0, line);
  };
  try {
    // get_or_build makes the one counted lookup: a hit, or a miss that this job or another one builds.
    GetOrBuildResult result = open_single_flight(*cache->store, options)->get_or_build(cache->key.key, build);
    if (result.source != GetOrBuildResult::Source::kBuilt) {
      // A hit, or another process compiled it while this one waited (or just before the lock was taken).
      write_output_file(a.output, result.entry.engine->data(), result.entry.engine->size());
      outcome.result = result.source == GetOrBuildResult::Source::kCache ? "hit" : "waited";
      if (a.verbose) {
        std::fprintf(stderr, "graphcache: %s %s\n",
                     result.source == GetOrBuildResult::Source::kCache ? "hit" : "built by another process:",
                     key_hex.c_str());
      }
    } else {
      outcome.result = "built";
      // get_or_build reports a failed put as a warning; the entry is there only if it was stored.
      outcome.stored = cache->store->peek(cache->key.key).has_value();
      if (a.verbose && outcome.stored) std::fprintf(stderr, "graphcache: stored %s\n", key_hex.c_str());
    }
  } catch (const CheapBuild&) {
    outcome.result = "built";  // faster than --min-compile-time: not worth a cache entry
    if (a.verbose) std::fprintf(stderr, "graphcache: not stored (faster than --min-compile-time)\n");
  } catch (const CompilerFailed& failed) {
    outcome.status = failed.status;
    outcome.result = "failed";
  } catch (const Error& e) {
    if (compiled) {
      warn(std::string(e.what()) + "; nothing cached");
      outcome.result = "built";
    } else {
      warn(std::string(e.what()) + "; running the compiler without the cache");
      outcome.status = run_compiler(a.command);
    }
  }
  return outcome;
}

}  // namespace

void register_exec_commands(CLI::App& app) {
  auto a = std::make_shared<ExecArgs>();
  auto* exec = app.add_subcommand(
      "exec",
      "Run an engine compiler through the cache: graphcache exec --input M --output E -- COMPILER ARGS...");
  exec->add_option("--input,-i", a->input, "ONNX model the compiler reads")->required();
  exec->add_option("--output,-o", a->output, "engine file the compiler writes")->required();
  exec->add_flag("--verbose,-v", a->verbose, "Report the key's factors, hit/miss and lock waits on stderr");
  exec->add_flag(
      "--secure", a->secure,
      "Key the weights with SHA-256 chunks instead of XXH3 (caches shared across trust boundaries)");
  exec->add_flag(
      "--json", a->json,
      "Print one JSON line last on stdout: key, result (hit/built/waited/uncached), stored, status");
  exec->add_option("--min-compile-time", a->min_compile_seconds,
                   "Seconds: store only compiles that took at least this long (default 0: store all)")
      ->check(CLI::NonNegativeNumber);
  add_key_options(*exec, a->key_options);
  add_store_options(*exec);
  // Repeatable options take one value per occurrence, so "--setting a=b -- compiler ..." cannot
  // swallow the "--" that starts the compiler's command line.
  for (CLI::Option* option : exec->get_options()) option->allow_extra_args(false);
  exec->add_option("command", a->command, "compiler and its arguments (after --)")->required();
  exec->callback([a] {
    const ExecOutcome outcome = run_exec(*a);
    if (a->json) {
      const nlohmann::ordered_json out = {
          {"key", outcome.key.empty() ? nlohmann::json() : nlohmann::json(outcome.key)},
          {"result", outcome.result},
          {"stored", outcome.stored},
          {"status", outcome.status}};
      std::printf("%s\n", out.dump().c_str());
    }
    if (outcome.status != 0) throw CLI::RuntimeError(outcome.status);
  });
}

}  // namespace graphcache::cli
