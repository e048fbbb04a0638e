// What signed entries and bundles cost, measured side by side in one run (hot page cache):
//  1. per entry, for a few engine sizes: signing (SHA-256 of the engine + metadata, one Ed25519 sign) and
//     verification (the same hashes + one Ed25519 verify); and a local get without / with
//     require_signature, as a ratio;
//  2. a bundle of SIZE bytes (64 MiB entries): `cat BUNDLE > /dev/null` (a real cat process), a read() +
//     SHA-256 pass over it (the floor of any verified import), `cat BUNDLE > file` with and without an
//     fsync (the floor of any import that writes), bundle create, and bundle import (fsync on, the
//     store's default) of the same engines unsigned (checksums and bundle digest only) and signed
//     (each entry's signature is checked too: a second SHA-256 of every engine), with require_signature,
//     and with fsync off, as ratios.
//
//   bench_store_trust [SIZE (default 1G)] [DIR (default $TMPDIR)] [REPEATS (default 3)]
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../bench_usage.hpp"
#include "bench_common.hpp"
#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/signing.hpp"

namespace {

using namespace graphcache::bench;

// read() in 4 MiB chunks with SHA-256 of every byte (OpenSSL, as the importer hashes the stream).
void read_and_hash(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> buffer(4 << 20);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (ssize_t n; (n = ::read(fd, buffer.data(), buffer.size())) > 0;)
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(n));
  uint8_t digest[32];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  ::close(fd);
}

void fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) throw std::runtime_error("cannot fsync " + path);
  ::close(fd);
}

graphcache::StoreConfig config(const std::string& dir, graphcache::TrustConfig trust, bool fsync = false) {
  graphcache::StoreConfig c;
  c.cache_dir = dir;
  c.max_size = 0;
  c.max_entries = 0;
  c.fsync = fsync;
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
    LocalStore source(config(root + "/source", signer));
    for (uint64_t i = 0; i < count; ++i) {
      const std::vector<uint8_t> engine = random_bytes(entry_bytes, 1000 + i);
      source.put(key_of(1000 + i), EngineSource::from_memory(engine.data(), engine.size()), {});
    }
    const std::string bundle = root + "/bundle.gcb", unsigned_bundle = root + "/unsigned.gcb";
    create_bundle(source, {}, bundle, &signing);
    {
      // The same engines without any signature: what an import costs when only checksums can be checked.
      LocalStore plain(config(root + "/unsigned", {}));
      for (uint64_t i = 0; i < count; ++i) {
        const std::vector<uint8_t> engine = random_bytes(entry_bytes, 1000 + i);
        plain.put(key_of(1000 + i), EngineSource::from_memory(engine.data(), engine.size()), {});
      }
      create_bundle(plain, {}, unsigned_bundle, nullptr);
      std::filesystem::remove_all(root + "/unsigned");
    }
    const uint64_t bundle_bytes = std::filesystem::file_size(bundle);
    run_cat(bundle);  // warm the page cache
    run_cat(unsigned_bundle);
    // Each writer starts after removing the last one's files and a sync(), so that none pays for
    // another's dirty pages being written back.
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
    struct Row {
      const char* name;
      std::function<void()> run;
      bool writes;  // runs in a fresh target folder
      std::vector<double> wall, cpu;
    };
    auto import_into = [&](const TrustConfig& trust, bool fsync, const std::string& file) {
      LocalStore store(config(target, trust, fsync));
      const EntryTrust t(trust);
      import_bundle(store, file, &t);
    };
    std::vector<Row> rows;
    rows.push_back({"cat > /dev/null", [&] { run_cat(bundle); }, false, {}, {}});
    rows.push_back({"read + SHA-256 (floor)", [&] { read_and_hash(bundle); }, false, {}, {}});
    rows.push_back({"cat > file", [&] { run_cat(bundle, target + "/copy"); }, true, {}, {}});
    rows.push_back({"cat > file; fsync",
                    [&] {
                      run_cat(bundle, target + "/copy");
                      fsync_file(target + "/copy");
                    },
                    true,
                    {},
                    {}});
    rows.push_back({"bundle create (fsync)",
                    [&] { create_bundle(source, {}, target + "/again.gcb", &signing); },
                    true,
                    {},
                    {}});
    rows.push_back({"import unsigned bundle", [&] { import_into({}, true, unsigned_bundle); }, true, {}, {}});
    rows.push_back({"import signed (default)", [&] { import_into({}, true, bundle); }, true, {}, {}});
    rows.push_back({"import, require_signature", [&] { import_into(verifier, true, bundle); }, true, {}, {}});
    rows.push_back({"import signed, fsync off", [&] { import_into({}, false, bundle); }, true, {}, {}});
    for (int r = 0; r < repeats; ++r) {
      // A rotating order: on a VM disk the first write after a removal can be slower.
      for (size_t i = 0; i < rows.size(); ++i) {
        Row& row = rows[(i + static_cast<size_t>(r)) % rows.size()];
        if (row.writes) fresh_target();
        const double cpu_start = cpu_now();
        const auto start = Clock::now();
        row.run();
        row.wall.push_back(seconds_since(start));
        row.cpu.push_back(cpu_now() - cpu_start);
      }
    }
    const double gib = static_cast<double>(bundle_bytes) / (1ull << 30);
    std::printf("\n2. bundle of %llu entries of %s, %s (median of %d)\n",
                static_cast<unsigned long long>(count), format_size(entry_bytes).c_str(),
                format_size(bundle_bytes).c_str(), repeats);
    const double cat_s = median(rows[0].wall), floor_s = median(rows[1].wall), copy_s = median(rows[3].wall);
    std::printf("%-27s %9s %7s %8s %9s %14s %8s\n", "", "wall", "GiB/s", "x cat", "x floor", "x cat>f;fsync",
                "cpu s");
    for (const Row& row : rows) {
      const double wall = median(row.wall);
      std::printf("%-27s %7.3f s %7.2f %7.2fx %8.2fx %13.2fx %8.3f\n", row.name, wall, gib / wall,
                  wall / cat_s, wall / floor_s, wall / copy_s, median(row.cpu));
    }
    std::filesystem::remove_all(root);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_store_trust: %s\n", e.what());
    return 1;
  }
  return 0;
}
