// Each group of `graphcache` subcommands lives in its own file and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

namespace graphcache::cli {

void register_key_commands(CLI::App& app);      // key, diff
void register_store_commands(CLI::App& app);    // put, get, ls, stats, gc, verify, rm, clear + --cache-dir
void register_exec_commands(CLI::App& app);     // exec
void register_explain_commands(CLI::App& app);  // explain
void register_keygen_command(CLI::App& app);    // keygen
void register_bundle_commands(CLI::App& app);   // bundle create, bundle import

// Registers every group above (commands.cpp); main.cpp and the CLI fuzz target call only this.
void register_all_commands(CLI::App& app);

}  // namespace graphcache::cli
