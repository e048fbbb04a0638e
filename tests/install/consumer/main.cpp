// Keys a small graph, stores an engine under the key through open_store and reads it back: every layer
// of the installed library, through its public headers only.
#include <cstdio>
#include <string>

#include "graphcache/ir.hpp"
#include "graphcache/key.hpp"
#include "graphcache/key_metadata.hpp"
#include "graphcache/open_store.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  namespace ir = graphcache::ir;
  ir::GraphBuilder b;
  const ir::TensorType type = ir::TensorType::of(ir::DType::kFloat32, {2, 3});
  auto x = b.input("x", type);
  b.output(b.op("Relu", {x}), "y", type);
  const ir::Graph graph = std::move(b).build();
  const graphcache::KeyResult key = graphcache::compute_key(graph);

  graphcache::StoreConfig config;
  config.cache_dir = argv[1];
  const graphcache::OpenedStore store = graphcache::open_store(config);
  const std::string engine = "engine bytes";
  store.tiers->put(key.key, graphcache::EngineSource::from_memory(engine.data(), engine.size()),
                   graphcache::entry_metadata(key, graph));
  const auto entry = store.tiers->get(key.key);
  if (!entry || entry->engine->size() != engine.size()) return 1;
  std::printf("consumer ok %s\n", key.key.hex().c_str());
  return 0;
}
