// Name resolution for a graph without subgraphs in sequential passes, so that its per-node cost does not
// grow with the model (issue 18): a map of every name probes a table that outgrows the cache (a random
// read per definition at a million nodes, ~150 ns here).
//
// - Definitions are appended to a log, in order, and to a small table of the latest ones (in cache).
// - An operand defined lately (most of them: a node reads the nodes just before it) is found there at once,
//   its name compared byte for byte.
// - The other operands (initializers, graph inputs, long skips, forward references) and the graph outputs
//   are deferred, then joined with the log: both are split by the top bits of the names' hashes into parts
//   small enough for a table in cache, then each part's table is built from its definitions in log order
//   (a name already there is defined twice) and probed with its deferred uses. Equal hashes are confirmed
//   by comparing the names, so a hash collision never joins two different names.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include "graphcache/ir.hpp"

namespace graphcache::onnx_frontend {

// A ValueRef in 8 bytes instead of 12: the kind in the top 3 bits of the output index.
struct PackedRef {
  static constexpr uint32_t kMaxOutput = (uint32_t{1} << 29) - 1;
  uint32_t index = 0;
  uint32_t kind_and_output = 0;

  PackedRef() = default;
  PackedRef(ir::ValueRef ref)  // NOLINT: implicit, tables store what they are given
      : index(ref.index), kind_and_output(static_cast<uint32_t>(ref.kind) << 29 | ref.output) {}
  operator ir::ValueRef() const {  // NOLINT: implicit, lookups give ValueRefs
    return ir::ValueRef{static_cast<ir::ValueRef::Kind>(kind_and_output >> 29), index,
                        kind_and_output & kMaxOutput};
  }
  ir::ValueRef::Kind kind() const { return static_cast<ir::ValueRef::Kind>(kind_and_output >> 29); }
};
static_assert(static_cast<uint32_t>(ir::ValueRef::Kind::kCapture) < 8, "a ValueRef kind takes 3 bits");

// Where a name was defined, for the message about a name defined twice.
struct DefinitionSite {
  enum class Kind : uint32_t { kInput, kInitializer, kSparseInitializer, kNode };
  Kind kind : 2;
  uint32_t index : 30;  // a model under 2 GiB has fewer than 2^30 of each
};
static_assert(sizeof(DefinitionSite) == 4, "one per definition");

class DeferredNames {
 public:
  using HashFn = uint64_t (*)(std::string_view);
  // `definitions`: about how many names the graph defines (sizes the log and the latest-names table).
  // `hash`: XXH3 unless given (tests give one that collides).
  explicit DeferredNames(size_t definitions, HashFn hash = nullptr);

  // Records a definition (a name defined twice is found by join()).
  void define(std::string_view name, ir::ValueRef ref, DefinitionSite site);

  // The value of `name` when it is one of the latest definitions; otherwise nullopt, and the use is
  // deferred: join() hands `use` (the caller's number for where the value goes) back with its value.
  std::optional<ir::ValueRef> find_or_defer(std::string_view name, uint64_t use);
  // Defers a use without looking at the latest definitions.
  void defer(std::string_view name, uint64_t use);

  struct DefinedTwice {
    std::string_view name;
    DefinitionSite first, second;  // `second`: the earliest definition in the log of a name defined before
  };
  // Joins the deferred uses with every definition: `found(use, ref)` for each use whose name is defined,
  // in the order the uses were deferred (the others stay unresolved); `reading(name)` is called before
  // each deferred use's name is compared (a page of the model file may have to come back). Returns the
  // earliest second definition of a name, if any, and then reports no use. Frees the tables.
  template <typename Found, typename Reading>
  std::optional<DefinedTwice> join(const Found& found, const Reading& reading) {
    std::optional<DefinedTwice> twice = match_hashes();
    if (!twice) {
      const size_t uses = deferred_.size();
      for (size_t i = 0; i < uses; ++i) {
        // The candidates lie anywhere in the log: fetch them ahead (their addresses are known).
        if (i + kAhead < uses && deferred_[i + kAhead].candidate != kNone)
          __builtin_prefetch(&definitions_[deferred_[i + kAhead].candidate]);
        const Use& use = deferred_[i];
        if (use.candidate == kNone) continue;
        const Definition& definition = definitions_[use.candidate];
        reading(use.data);
        if (definition.size == use.size && std::string_view(definition.data, definition.size) == use.view())
          found(use.use, static_cast<ir::ValueRef>(definition.ref));
      }
    }
    std::vector<Definition>().swap(definitions_);
    std::deque<Use>().swap(deferred_);
    return twice;
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  // How many entries ahead the join fetches the log entries it reads out of order.
  static constexpr size_t kAhead = 16;
  struct Definition {  // 32 bytes
    uint64_t hash = 0;
    const char* data = nullptr;
    uint32_t size = 0;
    DefinitionSite site{};
    PackedRef ref;
    std::string_view view() const { return {data, size}; }
  };
  struct Use {  // 32 bytes
    uint64_t hash = 0;
    const char* data = nullptr;
    uint32_t size = 0;
    uint32_t candidate = kNone;  // the definition with the same hash (its name not compared yet)
    uint64_t use = 0;
    std::string_view view() const { return {data, size}; }
  };
  struct Latest {  // 16 bytes: the name and value are the log's (a recent entry, in cache)
    uint64_t hash = 0;
    uint32_t definition = kNone;
  };

  uint64_t hash(std::string_view name) const;
  // Builds each part's table from its definitions and sets each deferred use's candidate.
  std::optional<DefinedTwice> match_hashes();

  std::vector<Definition> definitions_;
  std::deque<Use> deferred_;  // grows in blocks: no copy of all of it at twice its size
  HashFn hash_;
  std::vector<Latest> latest_;  // direct-mapped by the hash's low bits
  uint64_t latest_mask_ = 0;
};

}  // namespace graphcache::onnx_frontend
