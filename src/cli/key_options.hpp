// Command-line options that feed a KeyRequest, shared by `key`, `diff` and `exec`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "graphcache/ir.hpp"
#include "graphcache/key.hpp"

namespace graphcache::cli {

struct KeyOptionArgs {
  std::vector<std::string> settings;       // name=value, engine-relevant
  std::vector<std::string> info_settings;  // name=value, recorded but not keyed
  std::vector<std::string> toolchain;      // name=value
  std::vector<std::string> profiles;       // input:min:opt:max with shapes as 1x3x224x224
};

void add_key_options(CLI::App& command, KeyOptionArgs& args);
// Throws Error(kInvalidArgument) naming the malformed option; profiles are checked against `graph`.
KeyRequest make_key_request(const KeyOptionArgs& args, const ir::Graph& graph);

}  // namespace graphcache::cli
