// The one nesting limit of every recursive walk over input (subgraphs in the IR and the ONNX loader,
// nested module trees and arguments in the torch front end). Real models nest a handful of levels; the
// bound keeps hostile inputs from overflowing the stack. Deeper input is refused with an Error.
#pragma once

namespace graphcache {

inline constexpr int kMaxNestingDepth = 64;

}  // namespace graphcache
