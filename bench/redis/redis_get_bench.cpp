// Remote get throughput of a 1 GiB engine through RedisStore vs raw hiredis GETs of the same bytes
// (what redis-benchmark measures: the server + client protocol cost, no integrity checks), in one run on
// one redis-server:
//   store get     RedisStore::get: 16 x 64 MiB chunk GETs (2 in flight) + XXH3 per chunk + reassembly
//   raw GET 1x    one GET of the whole 1 GiB value (needs proto-max-bulk-len > 1 GiB on the server)
//   raw GET 16x   16 pipelined GETs of the 64 MiB chunk values, no checks, no reassembly
// Usage: redis_get_bench [--size-mib N] [--repeat N] [--chunk-mib N]
// Starts its own redis-server on a free loopback port (see tests/store/redis/redis_server.hpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "graphcache/redis_store.hpp"
#include "redis_server.hpp"

#include "../bench_usage.hpp"

using namespace graphcache;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Context {
  std::unique_ptr<redisContext, void (*)(redisContext*)> c{nullptr, redisFree};
  explicit Context(int port) : c(redisConnect("127.0.0.1", port), redisFree) {
    if (!c || c->err) throw std::runtime_error("cannot connect");
    c->reader->maxbuf = 0;  // as RedisStore does
  }
};

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(
      argc, argv,
      "redis_get_bench [--size-mib N (default 1024)] [--repeat N (default 3)] [--chunk-mib N (default 64)]\n "
      " RedisStore get vs raw GETs of the same bytes on its own redis-server");
  uint64_t size_mib = 1024, chunk_mib = 64;
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--size-mib") size_mib = std::stoull(argv[i + 1]);
    if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    if (flag == "--chunk-mib") chunk_mib = std::stoull(argv[i + 1]);
  }
  const uint64_t size = size_mib << 20;
  testing::RedisServer server({"--proto-max-bulk-len", "4gb", "--client-query-buffer-limit", "4gb"});
  RedisConfig config = server.config("bench:");
  config.chunk_bytes = chunk_mib << 20;
  config.io_timeout = std::chrono::seconds(60);
  RedisStore store(config);

  std::vector<uint8_t> engine(size);
  for (uint64_t i = 0; i < size; i += 8) {
    const uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(engine.data() + i, &v, std::min<uint64_t>(8, size - i));
  }
  Key key{};
  key.bytes[0] = 0x42;

  auto start = Clock::now();
  store.put(key, EngineSource::from_memory(engine.data(), engine.size()), {});
  const double put_seconds = seconds_since(start);

  Context raw(server.port());
  start = Clock::now();
  testing::RawReply set_reply(
      static_cast<redisReply*>(redisCommand(raw.c.get(), "SET raw:whole %b", engine.data(), engine.size())));
  const double raw_set_seconds = seconds_since(start);
  if (!set_reply || set_reply->type != REDIS_REPLY_STATUS) {
    std::fprintf(stderr, "raw SET failed\n");
    return 1;
  }
  const std::vector<std::string> chunk_keys = server.keys("bench:c:*");

  std::vector<double> store_get, raw_whole, raw_chunks;
  for (int r = 0; r < repeat; ++r) {
    start = Clock::now();
    std::optional<Entry> entry = store.get(key);
    store_get.push_back(seconds_since(start));
    if (!entry || entry->engine->size() != size ||
        std::memcmp(entry->engine->data(), engine.data(), size) != 0) {
      std::fprintf(stderr, "store get returned wrong bytes\n");
      return 1;
    }
    entry.reset();

    start = Clock::now();
    testing::RawReply whole(static_cast<redisReply*>(redisCommand(raw.c.get(), "GET raw:whole")));
    raw_whole.push_back(seconds_since(start));
    if (!whole || whole->len != size) return 1;
    whole.reset();

    start = Clock::now();
    for (const std::string& k : chunk_keys) redisAppendCommand(raw.c.get(), "GET %s", k.c_str());
    uint64_t received = 0;
    for (size_t i = 0; i < chunk_keys.size(); ++i) {
      void* reply = nullptr;
      if (redisGetReply(raw.c.get(), &reply) != REDIS_OK) return 1;
      received += static_cast<redisReply*>(reply)->len;
      freeReplyObject(reply);
    }
    raw_chunks.push_back(seconds_since(start));
    if (received != size) return 1;
  }

  const double gib = static_cast<double>(size) / (1ull << 30);
  std::printf(
      "redis get throughput, %.2f GiB entry, %llu MiB chunks, median of %d (loopback, one redis-server)\n",
      gib, static_cast<unsigned long long>(chunk_mib), repeat);
  std::printf("  %-36s %8.3f s  %6.2f GiB/s\n", "RedisStore::get (verified)", median(store_get),
              gib / median(store_get));
  std::printf("  %-36s %8.3f s  %6.2f GiB/s\n", "raw hiredis GET, 1 value", median(raw_whole),
              gib / median(raw_whole));
  std::printf("  %-36s %8.3f s  %6.2f GiB/s\n", "raw hiredis GET, chunk values piped", median(raw_chunks),
              gib / median(raw_chunks));
  std::printf("  store get / raw GET (1 value) time ratio: %.2fx\n", median(store_get) / median(raw_whole));
  std::printf("  %-36s %8.3f s  %6.2f GiB/s\n", "RedisStore::put", put_seconds, gib / put_seconds);
  std::printf("  %-36s %8.3f s  %6.2f GiB/s\n", "raw hiredis SET, 1 value", raw_set_seconds,
              gib / raw_set_seconds);
  return 0;
}
