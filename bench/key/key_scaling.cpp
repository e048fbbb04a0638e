// Key time and memory against graph size: 10^4 .. 10^6 nodes of a transformer-like pattern (matmul,
// add, activation, residual, with weights). Prints one row per size; per-node time and bytes should
// stay flat if the key is linear.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "graphcache/key.hpp"

#include "../bench_usage.hpp"

namespace {

using namespace graphcache;

ir::Graph make_graph(size_t target_nodes) {
  ir::GraphBuilder b;
  const auto f32 = [](int64_t n) { return ir::TensorType::of(ir::DType::kFloat32, {1, n}); };
  auto x = b.input("x", f32(64));
  size_t layer = 0;
  while (b.graph().nodes.size() + 4 <= target_nodes) {
    const std::string p = "l" + std::to_string(layer++) + ".";
    auto w = b.weight(p + "w", ir::TensorType::of(ir::DType::kFloat32, {64, 64}));
    auto bias = b.weight(p + "b", f32(64));
    auto h = b.op("MatMul", {x, w});
    h = b.op("Add", {h, bias});
    h = b.op("Gelu", {h}, {{"approximate", "tanh"}});
    x = b.op("Add", {x, h});
  }
  b.output(x, "y");
  return std::move(b).build();
}

long max_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(argc, argv,
                                  "bench_key_scaling [MAX_NODES (default 1000000)]\n  key time and memory "
                                  "for graphs of 10^4 nodes up to MAX_NODES");
  const size_t max_nodes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  std::printf("%10s %12s %12s %12s %14s\n", "nodes", "build_ms", "key_ms", "key_ns/node", "max_rss_MiB");
  for (size_t n = 10000; n <= max_nodes; n *= 10) {
    const auto t0 = std::chrono::steady_clock::now();
    const ir::Graph g = make_graph(n);
    const auto t1 = std::chrono::steady_clock::now();
    const auto info = structural_hash(g);
    const auto t2 = std::chrono::steady_clock::now();
    const double build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    const double key_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    std::printf("%10zu %12.1f %12.1f %12.0f %14.1f\n", g.nodes.size(), build_ms, key_ms,
                key_ms * 1e6 / static_cast<double>(g.nodes.size()),
                static_cast<double>(max_rss_kib()) / 1024.0);
    if (info.reachable_nodes != g.nodes.size()) return 1;
  }
  return 0;
}
