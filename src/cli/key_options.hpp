// Command-line options that feed a KeyRequest, shared by `key`, `diff` and `exec`, and the weight
// fingerprint they key.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
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
  std::string refit_mode;                  // --refit-mode; empty: not keyed
  bool secure = false;                     // --secure: SHA-256 weight chunks instead of XXH3
};

void add_key_options(CLI::App& command, KeyOptionArgs& args);
// --refit-mode and --secure, for the commands that key a refit mode (`key`, `put --model`, `explain`; not
// `exec`, whose engines bake their weights in: it keys refit mode "none" itself).
void add_refit_mode_options(CLI::App& command, KeyOptionArgs& args);
// Throws Error(kInvalidArgument) naming the malformed option; profiles are checked against `graph`.
KeyRequest make_key_request(const KeyOptionArgs& args, const ir::Graph& graph);
struct KeyedModel {
  KeyRequest request;
  HashedGraph hashed;
  std::optional<Digest> weight_fingerprint;  // computed when asked for or keyed
  KeyResult result;
  double fingerprint_ms = 0;
};

// make_key_request + the one walk + compute_key. A weight-bound --refit-mode keys the weight fingerprint
// (read in slot order, as the Python EngineCache keys it); `fingerprint_weights` computes it regardless.
KeyedModel key_model(const KeyOptionArgs& args, const ir::Graph& graph, bool fingerprint_weights = false);

// The weight fingerprint in the key's slot order (XXH3 chunks, SHA-256 with `secure`); models over 1 GiB
// show progress when stderr is a terminal.
Digest fingerprint_key_weights(const ir::Graph& graph, const StructuralInfo& structure, bool secure);

}  // namespace graphcache::cli
