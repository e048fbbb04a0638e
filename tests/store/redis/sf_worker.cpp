// A separate process for the single-flight tests: calls get_or_build once and prints what it got.
//   sf_worker --key HEX --count-file PATH [--size N] [--seed N] [--build-ms N] [--redis URL] [--local DIR]
//             [--lock-dir DIR] [--lock-ttl-ms N] [--wait-timeout-ms N]
// The build appends one line to --count-file (so the test counts builds across processes), sleeps
// --build-ms and returns test_bytes(seed, size). Output: "source=<cache|built|waited> size=N intact=<0|1>".
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "graphcache/error.hpp"
#include "graphcache/layered_store.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/single_flight.hpp"
#include "test_util.hpp"

using namespace graphcache;

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  auto arg = [&](const std::string& name, const std::string& fallback = {}) {
    auto it = args.find(name);
    return it == args.end() ? fallback : it->second;
  };
  try {
    const Key key = Digest::from_hex(arg("--key"));
    const uint64_t size = std::stoull(arg("--size", "4096"));
    const uint64_t seed = std::stoull(arg("--seed", "1"));
    const int build_ms = std::stoi(arg("--build-ms", "0"));
    const std::string count_file = arg("--count-file");
    WarningSink warn = [](const std::string& w) { std::fprintf(stderr, "%s\n", w.c_str()); };

    std::shared_ptr<Store> local, remote;
    if (!arg("--local").empty()) {
      StoreConfig config;
      config.cache_dir = arg("--local");
      config.max_size = 0;
      config.max_entries = 0;
      config.fsync = false;
      local = std::make_shared<LocalStore>(config, warn);
    }
    RedisConfig redis_config;
    if (!arg("--redis").empty()) {
      redis_config = RedisConfig::from_url(arg("--redis"));
      remote = std::make_shared<RedisStore>(redis_config, warn);
    }
    std::shared_ptr<Store> store =
        local && remote ? std::make_shared<LayeredStore>(local, remote, LayeredStoreOptions{}, warn)
        : local         ? local
                        : remote;
    std::unique_ptr<LockService> primary, fallback;
    if (remote) {
      primary = std::make_unique<RedisLockService>(
          redis_config, std::chrono::milliseconds(std::stoi(arg("--lock-ttl-ms", "10000"))), warn);
    }
    if (!arg("--lock-dir").empty()) fallback = std::make_unique<FileLockService>(arg("--lock-dir"));
    SingleFlightOptions options;
    options.wait_timeout = std::chrono::milliseconds(std::stoi(arg("--wait-timeout-ms", "60000")));
    options.poll_interval = std::chrono::milliseconds(20);
    SingleFlight flight(*store, std::move(primary), std::move(fallback), options, warn);

    const GetOrBuildResult result = flight.get_or_build(key, [&] {
      const int fd = ::open(count_file.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
      const std::string line = std::to_string(::getpid()) + "\n";
      if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        throw Error(ErrorKind::kIo, "cannot append to " + count_file);
      }
      ::close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(build_ms));
      BuiltEngine built;
      built.bytes = testing::test_bytes(seed, size);
      built.metadata.extra["builder"] = std::to_string(::getpid());
      return built;
    });
    const std::vector<uint8_t> expected = testing::test_bytes(seed, size);
    const bool intact = result.entry.engine->size() == size &&
                        std::memcmp(result.entry.engine->data(), expected.data(), size) == 0;
    const char* source = result.source == GetOrBuildResult::Source::kBuilt    ? "built"
                         : result.source == GetOrBuildResult::Source::kWaited ? "waited"
                                                                              : "cache";
    std::printf("source=%s size=%llu intact=%d\n", source, static_cast<unsigned long long>(size),
                intact ? 1 : 0);
    return intact ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sf_worker: %s\n", e.what());
    return 2;
  }
}
