// What the other commands call to record and explain key factors (src/cli/cmd_explain.cpp):
// `put --model M [key options]` records M's factors in the entry, `exec` records its own and, with -v,
// prints why a miss missed.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "graphcache/explain.hpp"
#include "graphcache/store.hpp"
#include "key_options.hpp"

namespace graphcache::cli {

struct FactorArgs {
  std::string model;  // empty: the entry records no factors
  KeyOptionArgs key_options;
};

// --model MODEL and the key options, for `put`.
void add_factor_options(CLI::App& command, FactorArgs& args);
// Adds MODEL's factors to `metadata`; throws Error(kInvalidArgument) when MODEL with these options does
// not have key `key` (the factors would describe another entry).
void record_put_factors(const FactorArgs& args, const Key& key, EntryMetadata& metadata);
// Where explanations look: the tiers of the resolved store configuration (flags > env > config file).
ExplainSources cli_explain_sources();
// `exec -v` on a miss: the explanation, one line per entry on stderr. Never throws.
void print_miss_explanation(const ir::Graph& graph, const KeyRequest& request);

}  // namespace graphcache::cli
