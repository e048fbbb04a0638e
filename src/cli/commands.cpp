#include "commands.hpp"

namespace graphcache::cli {

void register_all_commands(CLI::App& app) {
  // Add one line per command group (declared in commands.hpp).
  register_key_commands(app);
  register_store_commands(app);
  register_exec_commands(app);
  register_keygen_command(app);
  register_bundle_commands(app);
  register_explain_commands(app);
}

}  // namespace graphcache::cli
