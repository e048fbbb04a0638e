// The CLI's model loaders, chosen by file type (the file name's extension), as DuckDB picks readers.
// A new file front end (src/frontends/<name>) is one row of the table in model_loader.cpp.
#pragma once

#include <string>
#include <vector>

#include "graphcache/ir.hpp"

namespace graphcache::cli {

// Loads `path` with the loader its extension names (".onnx": include/graphcache/onnx.hpp). Throws
// Error(kInvalidArgument) naming the known types for any other extension, and the loader's errors.
ir::Graph load_model(const std::string& path);

// The extensions that have a loader, e.g. {".onnx"} (for --help and messages).
std::vector<std::string> model_extensions();

}  // namespace graphcache::cli
