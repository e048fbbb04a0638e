// The CLI's argument parsing: NUL-separated arguments go through the real command definitions with
// their actions disabled (nothing touches the cache or the file system); parsing errors must be
// CLI11 errors or graphcache::Error, never a crash.
#include <cstdint>
#include <string>
#include <vector>

#include "commands.hpp"
#include "graphcache/error.hpp"
#include "key_options.hpp"

namespace {

// Thrown by the top-level app once parsing (option conversions and validators included) has finished,
// before any subcommand's action runs. Replacing the subcommands' callbacks instead would destroy the
// argument structs their lambdas own while the options still point into them (use-after-free).
struct ParsedWithoutActions {};

void disable_actions(CLI::App& app) {
  app.parse_complete_callback([] { throw ParsedWithoutActions{}; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"graphcache"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());

  CLI::App app{"fuzz"};
  graphcache::cli::register_all_commands(app);
  disable_actions(app);
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const ParsedWithoutActions&) {
  } catch (const CLI::Error&) {
  } catch (const graphcache::Error&) {
  }
  // The option values that feed a key are parsed by make_key_request: the same rule applies.
  graphcache::cli::KeyOptionArgs options;
  options.settings = {args.size() > 1 ? args[1] : ""};
  options.profiles = {args.back()};
  // Profiles are checked against the model: one with a static, a symbolic and an unknown-rank input.
  graphcache::ir::Graph graph;
  graphcache::ir::TensorType mixed = graphcache::ir::TensorType::of(graphcache::ir::DType::kFloat32, {1, 3});
  (*mixed.shape)[0] = graphcache::ir::Dim::symbolic("batch");
  graph.inputs = {{"x", mixed}, {"y", graphcache::ir::TensorType{}}};
  try {
    (void)graphcache::cli::make_key_request(options, graph);
  } catch (const graphcache::Error&) {
  }
  return 0;
}
