// torch.export.ExportedProgram -> ir::Graph: its graph signature decides which placeholders are weight
// slots (PARAMETER / BUFFER / CONSTANT_TENSOR, named by their FQN) and which are graph inputs
// (USER_INPUT, TOKEN); non-user outputs (buffer / input mutations...) become "export::<kind>" nodes that
// name the state they update. Dynamic-shape ranges (ep.range_constraints) of the symbols in the user
// inputs' shapes become the setting "graphcache.export.dynamic_ranges", by canonical symbol.
#pragma once

#include "graph_converter.hpp"

namespace graphcache::py_frontend {

ConvertedGraph convert_exported_program(py::handle exported_program, bool node_names = true);

}  // namespace graphcache::py_frontend
