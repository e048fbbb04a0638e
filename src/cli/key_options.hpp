// Command-line options that feed a KeyRequest, shared by `key`, `diff` and `exec`, and the weight
// fingerprint they key.
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
// The weight fingerprint in the key's slot order (XXH3 chunks, SHA-256 with `secure`); models over 1 GiB
// show progress when stderr is a terminal.
Digest fingerprint_key_weights(const ir::Graph& graph, const StructuralInfo& structure, bool secure);

}  // namespace graphcache::cli
