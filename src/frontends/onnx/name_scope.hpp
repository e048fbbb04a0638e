// Names visible in one graph through a map, for a graph with If/Loop/Scan bodies (its bodies look its
// names up while their node converts; graphs without bodies resolve theirs with deferred_names.hpp). A
// name a body does not define goes to the enclosing graph and becomes a capture.
#pragma once

#include <tsl/robin_map.h>
#include <xxhash.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "deferred_names.hpp"
#include "graphcache/ir.hpp"

namespace graphcache::onnx_frontend {

// The node that owns a subgraph: collects the enclosing-graph values its bodies read.
struct CaptureSink {
  std::vector<ir::ValueRef> refs;
  std::vector<std::string> names;
  std::unordered_map<std::string, uint32_t> index;
};

struct NameHash {
  size_t operator()(std::string_view name) const noexcept { return XXH3_64bits(name.data(), name.size()); }
};
// Open-addressing maps of names (views of the model's bytes or of the WireModel's strings, which outlive
// the conversion) that keep each entry's hash: probes compare hashes, not the names in the mapped file.
// As many buckets as reserve() asks (names / load factor): a power of two held up to twice as many, and
// the primes of prime_growth_policy double too. A modulo per probe costs less than the missing buckets'
// memory.
template <typename Value>
using NameMap = tsl::robin_map<std::string_view, Value, NameHash, std::equal_to<std::string_view>,
                               std::allocator<std::pair<std::string_view, Value>>, /*StoreHash=*/true,
                               tsl::rh::mod_growth_policy<>>;

// Names visible in one graph; misses go to the enclosing graph and become captures. An open-addressing
// map: at a million names std::unordered_map's node per entry made lookups cache misses (a fifth of the
// load time) and cost ~90 bytes per name.
struct Scope {
  Scope* parent = nullptr;
  CaptureSink* sink = nullptr;  // set together with parent
  NameMap<PackedRef> names;

  std::optional<ir::ValueRef> resolve(std::string_view name) {
    if (const auto it = names.find(name); it != names.end()) return it->second;
    if (parent == nullptr) return std::nullopt;
    const std::string key(name);
    if (const auto it = sink->index.find(key); it != sink->index.end())
      return ir::ValueRef::capture(it->second);
    const std::optional<ir::ValueRef> outer = parent->resolve(name);
    if (!outer) return std::nullopt;
    const auto capture = static_cast<uint32_t>(sink->refs.size());
    sink->refs.push_back(*outer);
    sink->names.push_back(key);
    sink->index.emplace(key, capture);
    return ir::ValueRef::capture(capture);
  }
};

}  // namespace graphcache::onnx_frontend
