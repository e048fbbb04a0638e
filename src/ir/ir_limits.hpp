#pragma once

namespace graphcache::ir {

// Subgraph nesting is walked recursively; real models nest a handful of levels. The bound keeps hostile
// inputs from overflowing the stack.
inline constexpr int kMaxSubgraphDepth = 64;

}  // namespace graphcache::ir
