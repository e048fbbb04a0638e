// The registry of setting names the library keys itself, and the refit mode's spellings.
#include <utility>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"

namespace graphcache {

const std::vector<std::string_view>& reserved_setting_names() {
  static const std::vector<std::string_view> kNames = {
      // KeyRequest's typed facts (compute_key.cpp).
      "graphcache.refit_mode",          // RefitMode
      "graphcache.weight_fingerprint",  // the weight-fingerprint key part
      // Graph facts of the torch front end (python/src, python/graphcache/__init__.py).
      "graphcache.fx.output_tree",         // nesting of the output node's args
      "graphcache.fx.pytree_info",         // a GraphModule's input / output pytree specs
      "graphcache.export.call_spec",       // an ExportedProgram's calling convention
      "graphcache.export.dynamic_ranges",  // ranges of symbolic input dims
      "graphcache.torch.layout",           // device types and strides of inputs and weights
      "graphcache.torch.example_layout",   // the example inputs' layout (GraphModules)
      // `graphcache exec` (src/cli/cmd_exec.cpp).
      "exec.arguments",  // the compiler's arguments, model and engine paths normalized
  };
  return kNames;
}

bool is_reserved_setting_name(std::string_view name) {
  for (std::string_view reserved : reserved_setting_names()) {
    if (name == reserved) return true;
  }
  return false;
}

namespace {
constexpr std::pair<RefitMode, const char*> kRefitModeNames[] = {
    {RefitMode::kRefittable, "refittable"},
    {RefitMode::kRefitIdentical, "refit_identical"},
    {RefitMode::kNone, "none"},
};
}  // namespace

const char* to_string(RefitMode mode) noexcept {
  for (const auto& [m, name] : kRefitModeNames) {
    if (m == mode) return name;
  }
  return "none";
}

RefitMode parse_refit_mode(std::string_view text) {
  for (const auto& [mode, name] : kRefitModeNames) {
    if (text == name) return mode;
  }
  throw Error(ErrorKind::kInvalidArgument, "unknown refit mode '" + std::string(text) +
                                               "'; expected one of refittable, refit_identical, none");
}

}  // namespace graphcache
