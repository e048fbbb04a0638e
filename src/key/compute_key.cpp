#include <algorithm>
#include <set>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "merkle.hpp"

namespace graphcache {
namespace {

using key::Encoder;

Digest hash_input_specs(const ir::Graph& graph, std::vector<InputSpec> specs) {
  std::sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return a.input < b.input; });
  Encoder e;
  e.tag('P');
  e.u64(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const InputSpec& s = specs[i];
    const std::string where = "input spec for input " + std::to_string(s.input);
    if (s.input >= graph.inputs.size())
      throw Error(ErrorKind::kInvalidArgument,
                  where + ": the graph has " + std::to_string(graph.inputs.size()) + " inputs");
    if (i > 0 && specs[i - 1].input == s.input)
      throw Error(ErrorKind::kInvalidArgument, where + ": given twice");
    if (s.min_shape.size() != s.opt_shape.size() || s.opt_shape.size() != s.max_shape.size())
      throw Error(ErrorKind::kInvalidArgument, where + ": min/opt/max shapes have different ranks");
    for (size_t d = 0; d < s.min_shape.size(); ++d) {
      if (s.min_shape[d] < 0 || s.min_shape[d] > s.opt_shape[d] || s.opt_shape[d] > s.max_shape[d])
        throw Error(ErrorKind::kInvalidArgument,
                    where + ": dim " + std::to_string(d) + " needs 0 <= min <= opt <= max");
    }
    e.u32(s.input);
    for (const auto* shape : {&s.min_shape, &s.opt_shape, &s.max_shape}) {
      e.u64(shape->size());
      for (int64_t d : *shape) e.i64(d);
    }
  }
  return key::sha256(e);
}

Digest hash_settings(const std::vector<Setting>& settings) {
  std::vector<const Setting*> relevant;
  std::set<std::string_view> seen;
  for (const auto& s : settings) {
    if (!seen.insert(s.name).second)
      throw Error(ErrorKind::kInvalidArgument, "setting '" + s.name + "' given twice");
    if (s.engine_relevant) relevant.push_back(&s);
  }
  std::sort(relevant.begin(), relevant.end(), [](auto* a, auto* b) { return a->name < b->name; });
  Encoder e;
  e.tag('S');
  e.u64(relevant.size());
  for (const auto* s : relevant) {
    e.str(s->name);
    e.str(s->value);
  }
  return key::sha256(e);
}

Digest hash_toolchain(const std::map<std::string, std::string>& toolchain) {
  Encoder e;
  e.tag('T');
  e.u64(toolchain.size());
  for (const auto& [name, value] : toolchain) {  // std::map: already sorted
    e.str(name);
    e.str(value);
  }
  return key::sha256(e);
}

}  // namespace

StructuralInfo structural_hash(const ir::Graph& graph) {
  key::SymbolTable symbols;
  key::MerkleHasher hasher(graph, symbols, key::HashMode::kGraphOnly);
  return StructuralInfo{hasher.graph_digest(), hasher.weight_order(), hasher.reachable_nodes()};
}

KeyResult compute_key(const ir::Graph& graph, const KeyRequest& request) {
  KeyResult result;
  result.structure = structural_hash(graph);
  result.parts.structure = result.structure.digest;
  result.parts.input_specs = hash_input_specs(graph, request.input_specs);
  result.parts.settings = hash_settings(request.settings);
  result.parts.toolchain = hash_toolchain(request.toolchain);
  Encoder e;
  e.str("graphcache-key-v4");  // bump when any encoding changes: old entries then simply miss
  for (const Digest* part :
       {&result.parts.structure, &result.parts.input_specs, &result.parts.settings, &result.parts.toolchain})
    e.digest(*part);
  result.key = key::sha256(e);
  return result;
}

}  // namespace graphcache
