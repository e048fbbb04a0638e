// What signed entries and bundles cost, measured side by side in one run (hot page cache):
//  1. per entry, for a few engine sizes: signing (SHA-256 of the engine + metadata, one Ed25519 sign) and
//     verification (the same hashes + one Ed25519 verify); and a local get without / with
//     require_signature, as a ratio;
//  2. bundle import of SIZE bytes (64 MiB entries) vs `cat BUNDLE > /dev/null` (a real cat process) of the
//     same file, without keys and with require_signature (every entry and the bundle verified), as ratios.
// Imports run with fsync off so that both sides read and write the page cache (fsync measures the disk).
//
//   bench_store_trust [SIZE (default 1G)] [DIR (default $TMPDIR)] [REPEATS (default 3)]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../bench_usage.hpp"
#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/signing.hpp"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double median_seconds(int repeats, F&& run) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// `cat path > out` as a real process (out: /dev/null, or a file to also pay the write an import pays).
void run_cat(const std::string& path, const std::string& out = "/dev/null") {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out_fd, STDOUT_FILENO);
    ::execlp("cat", "cat", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("cat failed");
}

std::vector<uint8_t> random_bytes(uint64_t size, uint64_t seed) {
  std::vector<uint8_t> out(size);
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

graphcache::Key key_of(uint64_t i) {
  graphcache::Key k;
  std::mt19937_64 rng(i + 1);
  for (auto& b : k.bytes) b = static_cast<uint8_t>(rng());
  return k;
}

graphcache::StoreConfig config(const std::string& dir, graphcache::TrustConfig trust) {
  graphcache::StoreConfig c;
  c.cache_dir = dir;
  c.max_size = 0;
  c.max_entries = 0;
  c.fsync = std::getenv("BENCH_FSYNC") != nullptr;
  c.trust = std::move(trust);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(
      argc, argv,
      "bench_store_trust [SIZE (default 1G)] [DIR (default $TMPDIR)] [REPEATS (default 3)]\n  signing and "
      "verification cost per entry; bundle import throughput vs cat of the same file");
  try {
    using namespace graphcache;
    const uint64_t size = argc > 1 ? parse_size(argv[1]) : (1ull << 30);
    const std::string base = argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string();
    const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
    const std::string root = base + "/graphcache-trust-bench-" + std::to_string(::getpid());
    std::filesystem::create_directories(root);
    generate_key_pair(root + "/ci.pem", root + "/ci.pub.pem");
    const TrustConfig signer{root + "/ci.pem", {}, false};
    const TrustConfig verifier{"", {root + "/ci.pub.pem"}, true};
    const EntryTrust signing(signer), verifying(verifier);

    std::printf("1. per entry (median of %d)\n", repeats);
    std::printf("%10s %12s %12s %14s %14s %8s\n", "engine", "sign", "verify", "get", "get+verify", "ratio");
    for (const uint64_t engine_size : {uint64_t{1} << 10, uint64_t{1} << 20, uint64_t{64} << 20}) {
      const std::vector<uint8_t> engine = random_bytes(engine_size, engine_size);
      const Key key = key_of(engine_size);
      EntryMetadata m;
      m.extra["bench"] = "trust";
      m.created_unix = 1;
      const double sign_s = median_seconds(repeats * 10, [&] {
        EntryMetadata copy = m;
        signing.sign(key, EngineSource::from_memory(engine.data(), engine.size()), copy);
      });
      EntryMetadata signed_meta = m;
      signing.sign(key, EngineSource::from_memory(engine.data(), engine.size()), signed_meta);
      const double verify_s = median_seconds(repeats * 10, [&] {
        if (verifying.check(key, signed_meta, engine.data(), engine.size()).status !=
            SignatureStatus::kTrusted)
          throw std::runtime_error("verification failed");
      });
      const std::string dir = root + "/entries";
      LocalStore(config(dir, signer)).put(key, EngineSource::from_memory(engine.data(), engine.size()), m);
      LocalStore plain(config(dir, {})), strict(config(dir, verifier));
      const double get_s = median_seconds(repeats * 10, [&] {
        if (!plain.get(key)) throw std::runtime_error("miss");
      });
      const double get_verify_s = median_seconds(repeats * 10, [&] {
        if (!strict.get(key)) throw std::runtime_error("miss");
      });
      std::printf("%10s %9.1f us %9.1f us %11.1f us %11.1f us %7.2fx\n", format_size(engine_size).c_str(),
                  sign_s * 1e6, verify_s * 1e6, get_s * 1e6, get_verify_s * 1e6, get_verify_s / get_s);
    }

    const uint64_t entry_bytes = std::min<uint64_t>(size, 64ull << 20);
    const uint64_t count = std::max<uint64_t>(1, size / entry_bytes);
    {
      LocalStore source(config(root + "/source", signer));
      for (uint64_t i = 0; i < count; ++i) {
        const std::vector<uint8_t> engine = random_bytes(entry_bytes, 1000 + i);
        source.put(key_of(1000 + i), EngineSource::from_memory(engine.data(), engine.size()), {});
      }
      create_bundle(source, {}, root + "/bundle.gcb", &signing);
    }
    const std::string bundle = root + "/bundle.gcb";
    const uint64_t bundle_bytes = std::filesystem::file_size(bundle);
    run_cat(bundle);  // warm the page cache
    // Interleaved within each repeat, each after removing the last one's files and a sync(), so that
    // none pays for another's dirty pages being written back.
    const std::string target = root + "/target";
    auto fresh_target = [&] {
      std::filesystem::remove_all(target);
      std::filesystem::create_directories(target);
      ::sync();
    };
    // Wall seconds, and CPU seconds (user + system, of this process and of cat) in `cpu`: on a machine
    // shared with other jobs the CPU time is the steadier of the two.
    auto cpu_now = [] {
      double total = 0;
      for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        struct rusage u {};
        ::getrusage(who, &u);
        total += static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
                 static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
      }
      return total;
    };
    std::map<const void*, std::vector<double>> cpu;
    auto timed_cpu = [&](const void* id, auto&& run) {
      const double cpu_start = cpu_now();
      const auto start = Clock::now();
      run();
      cpu[id].push_back(cpu_now() - cpu_start);
      return std::chrono::duration<double>(Clock::now() - start).count();
    };
    auto import_into = [&](const TrustConfig& trust) {
      LocalStore store(config(target, trust));
      const EntryTrust t(trust);
      import_bundle(store, bundle, &t);
    };
    // cat > file: the floor of any import, the same bytes read and written once on the cache's disk.
    std::vector<double> cats, copies, imports, verified_imports;
    for (int r = 0; r < repeats; ++r) {
      cats.push_back(timed_cpu(&cats, [&] { run_cat(bundle); }));
      // The writers run in a rotating order: on a VM disk the first write after a removal can be slower.
      for (int i = 0; i < 3; ++i) {
        fresh_target();
        switch ((r + i) % 3) {
          case 0:
            copies.push_back(timed_cpu(&copies, [&] { run_cat(bundle, target + "/copy"); }));
            break;
          case 1:
            imports.push_back(timed_cpu(&imports, [&] { import_into({}); }));
            break;
          case 2:
            verified_imports.push_back(timed_cpu(&verified_imports, [&] { import_into(verifier); }));
            break;
        }
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double cat_s = median(cats), copy_s = median(copies), import_s = median(imports),
                 import_verify_s = median(verified_imports);
    const double gib = static_cast<double>(bundle_bytes) / (1ull << 30);
    std::printf("\n2. bundle import: %llu entries of %s, %s bundle (median of %d)\n",
                static_cast<unsigned long long>(count), format_size(entry_bytes).c_str(),
                format_size(bundle_bytes).c_str(), repeats);
    const double cat_cpu = median(cpu[&cats]), copy_cpu = median(cpu[&copies]);
    std::printf("%-28s %9s %10s %9s %13s %9s %13s\n", "", "wall", "GiB/s", "x cat", "x cat > file", "cpu s",
                "cpu x cat>file");
    auto row = [&](const char* name, const void* id, double wall) {
      const double c = median(cpu[id]);
      std::printf("%-28s %7.3f s %10.2f %8.2fx %12.2fx %9.3f %12.2fx\n", name, wall, gib / wall, wall / cat_s,
                  wall / copy_s, c, c / copy_cpu);
    };
    row("cat > /dev/null", &cats, cat_s);
    row("cat > file (same disk)", &copies, copy_s);
    row("import (checksums)", &imports, import_s);
    row("import (require_signature)", &verified_imports, import_verify_s);
    (void)cat_cpu;
    std::filesystem::remove_all(root);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_store_trust: %s\n", e.what());
    return 1;
  }
  return 0;
}
