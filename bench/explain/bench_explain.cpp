// Explain latency on a cache of ENTRIES entries (default 10,000): builds them (varied graphs, settings and
// toolchains, each recording its factors), then times explain_miss for a same-structure miss, a
// nearest-structure miss, a graph close to nothing and a hit, side by side with the index-free way (read
// every entry's metadata), median of REPEATS warm runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_usage.hpp"
#include "explain_index.hpp"
#include "graphcache/explain.hpp"
#include "graphcache/local_store.hpp"

using namespace graphcache;
using Clock = std::chrono::steady_clock;

namespace {

const char* kOps[] = {"Relu", "Sigmoid", "Tanh", "Elu", "Softplus"};

// A chain of `depth` blocks (Gemm, activation, Add) over one input: ~3 * depth + 2 nodes.
ir::Graph model(int depth, int op, double alpha) {
  ir::GraphBuilder b;
  auto x = b.input("x", ir::TensorType::of(ir::DType::kFloat32, {4, 64}));
  auto h = x;
  for (int i = 0; i < depth; ++i) {
    auto w = b.weight("w" + std::to_string(i), ir::TensorType::of(ir::DType::kFloat32, {64, 64}));
    h = b.op("Gemm", {h, w}, {{"alpha", alpha}});
    h = b.op(kOps[(op + i) % 5], {h});
    h = b.op("Add", {h, x});
  }
  b.output(b.op("Sub", {h, x}), "y");
  return std::move(b).build();
}

// Shares no node shape with the cached models.
ir::Graph unrelated() {
  ir::GraphBuilder b;
  auto x = b.input("a", ir::TensorType::of(ir::DType::kInt64, {3}));
  b.output(b.op("Neg", {b.op("Abs", {x})}), "out");
  return std::move(b).build();
}

KeyRequest request(int precision, int trt) {
  static const char* kPrecisions[] = {"fp16", "fp32", "int8", "bf16"};
  KeyRequest r;
  r.settings = {{"precision", kPrecisions[precision % 4], true}};
  r.toolchain = {{"tensorrt", "10." + std::to_string(trt)}};
  return r;
}

double cpu_ms() {
  timespec t;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// Median wall and CPU milliseconds (the CPU time is what a shared, busy machine does not inflate).
template <typename F>
std::pair<double, double> median_ms(int repeats, F&& f) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    const double c0 = cpu_ms();
    f();
    cpu.push_back(cpu_ms() - c0);
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(argc, argv, "bench_explain [ENTRIES=10000] [DIR] [REPEATS=21]");
  const int entries = argc > 1 ? std::stoi(argv[1]) : 10000;
  const std::filesystem::path dir =
      argc > 2 ? std::filesystem::path(argv[2]) : std::filesystem::temp_directory_path() / "gc_bench_explain";
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 21;
  std::filesystem::remove_all(dir);
  StoreConfig config;
  config.cache_dir = dir.string();
  config.fsync = false;
  config.max_entries = 0;
  LocalStore store(config);

  const auto build_start = Clock::now();
  for (int i = 0; i < entries; ++i) {
    // Entry i: structure (depth, op, alpha) and factors (precision, trt) spread over the cache.
    const ir::Graph g = model(4 + i % 29, (i / 29) % 5, 1.0 + (i / 145) % 8);
    const KeyRequest r = request(i / 1160, i / 4640);
    const KeyResult k = compute_key(g, r);
    EntryMetadata m;
    for (auto& [name, value] : explain_fields(g, r, k, "model" + std::to_string(i % 97) + ".onnx"))
      m.extra[name] = value;
    store.put(k.key, EngineSource::from_memory("engine", 6), m);
  }
  const double build_s = std::chrono::duration<double>(Clock::now() - build_start).count();
  std::printf("entries %d built in %.1f s (index %s: %ju bytes)\n", entries, build_s,
              store::local_index_path(dir.string()).c_str(),
              static_cast<uintmax_t>(std::filesystem::file_size(store::local_index_path(dir.string()))));

  ExplainSources sources;
  sources.cache_dir = dir.string();
  struct Case {
    const char* name;
    ir::Graph graph;
    KeyRequest request;
  } cases[] = {
      {"hit", model(4, 0, 1.0), request(0, 0)},
      {"same structure, other toolchain", model(4, 0, 1.0), request(0, 7)},
      {"nearest structure (one attribute)", model(12, 0, 1.5), request(0, 0)},
      {"none close", unrelated(), request(0, 0)},
  };
  for (Case& c : cases) {
    Explanation e;
    const auto [wall, cpu] = median_ms(repeats, [&] { e = explain_miss(c.graph, c.request, sources); });
    std::printf("explain %-36s %8.2f ms wall %8.2f ms cpu  result %s, %zu indexed, %zu candidates\n", c.name,
                wall, cpu, e.result.c_str(), e.indexed_entries, e.candidates.size());
  }
  // Side by side: what the index saves - reading every entry's metadata to find the same candidates.
  const std::vector<EntryInfo> listed = store.list();
  const auto [scan_ms, scan_cpu] = median_ms(std::max(3, repeats / 7), [&] {
    size_t found = 0;
    for (const EntryInfo& info : listed)
      found += store::local_entry_metadata(dir.string(), info.key).has_value() ? 1 : 0;
    if (found != listed.size()) std::printf("scan: %zu of %zu readable\n", found, listed.size());
  });
  const auto [index_ms, index_cpu] = median_ms(repeats, [&] { (void)store::local_index_load(dir.string()); });
  std::printf(
      "load index %.2f ms wall %.2f ms cpu vs read every entry's metadata %.2f ms wall %.2f ms cpu "
      "(%.1fx wall)\n",
      index_ms, index_cpu, scan_ms, scan_cpu, scan_ms / index_ms);
  std::filesystem::remove_all(dir);
  return 0;
}
