// A compact structural summary of a graph, stored in an entry's metadata so that a later miss can name
// the first node, attribute or edge where the current graph departs from the cached one without the
// cached model. Nodes are listed in canonical order (post-order of the walk from the outputs, operands
// left to right: the key's own order), each with the first 8 bytes of its Merkle digest (src/key
// merkle.hpp, kPerNode), its op, attributes (name, XXH3 of the key's encoding, readable value), operands
// by canonical position / input index / weight slot, and the hash of its output types.
//
// Stored as base64(zstd(binary)); decoding checks every count, index and string reference and throws
// Error(kCorrupt) on anything malformed, so a damaged summary is "no explanation", never a crash.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graphcache/explain.hpp"
#include "graphcache/ir.hpp"

namespace graphcache::explain {

inline constexpr size_t kMaxSummaryBytes = 512 << 10;  // encoded; larger graphs record no summary
inline constexpr size_t kMinHashSize = 64;

struct SummaryRef {
  char kind = 'z';  // 'z' none, 'n' node (canonical position), 'i' graph input, 'w' weight slot, 'c' capture
  uint32_t index = 0, output = 0;
};

struct SummaryAttr {
  uint32_t name = 0;  // string table indices
  uint64_t hash = 0;
  uint32_t text = 0;
};

struct SummaryNode {
  uint64_t digest = 0;
  uint64_t op_hash = 0;  // op identity, its definition and randomness
  uint32_t op = 0, name = 0;
  std::vector<SummaryAttr> attrs;  // sorted by name
  uint32_t inputs = 0;             // operands[0, inputs) are inputs, the rest captures
  std::vector<SummaryRef> operands;
  uint64_t outputs_hash = 0;
  uint32_t outputs_text = 0;
};

struct StructureSummary {
  std::vector<std::string> strings;
  std::vector<std::pair<uint64_t, uint32_t>> inputs;  // type hash, type text
  std::vector<SummaryNode> nodes;
  std::vector<SummaryRef> outputs;
};

StructureSummary summarize(const ir::Graph& graph);
std::string encode_summary(const StructureSummary& summary);  // base64(zstd(binary))
StructureSummary decode_summary(std::string_view text);       // throws Error(kCorrupt)

std::array<uint32_t, kMinHashSize> minhash(const StructureSummary& summary);
double similarity(const std::array<uint32_t, kMinHashSize>& a, const std::array<uint32_t, kMinHashSize>& b);

// The first difference walking back from the outputs (as `graphcache diff`); empty if none is found.
std::vector<ExplainDifference> compare_structure(const StructureSummary& cached,
                                                 const StructureSummary& current);

}  // namespace graphcache::explain
