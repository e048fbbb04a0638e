#include <algorithm>
#include <set>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "merkle.hpp"

namespace graphcache {
namespace {

using key::Encoder;

Digest hash_input_specs(size_t input_count, std::vector<InputSpec> specs) {
  std::sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return a.input < b.input; });
  Encoder e;
  e.tag('P');
  e.u64(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const InputSpec& s = specs[i];
    const std::string where = "input spec for input " + std::to_string(s.input);
    if (s.input >= input_count)
      throw Error(ErrorKind::kInvalidArgument,
                  where + ": the graph has " + std::to_string(input_count) + " inputs");
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

// The text of a fact keyed from a typed field: a JSON string, as the Python package has always encoded
// the values of these settings ('"refittable"'), so its keys did not change when they moved here.
std::string json_string(std::string_view text) {
  return "\"" + std::string(text) + "\"";  // only [a-z0-9_] is ever passed: nothing to escape
}

// The settings part: the caller's settings, the graph's facts and the typed facts of the request, one
// sorted list of (name, value) (their names cannot collide: the facts' are reserved, the caller's not).
Digest hash_settings(const HashedGraph& graph, const KeyRequest& request) {
  std::vector<Setting> reserved;
  for (const auto* facts : {&graph.facts, &request.facts}) {
    for (const ir::GraphFact& f : *facts) {
      if (!is_reserved_setting_name(f.name))
        throw Error(ErrorKind::kInvalidArgument, "fact '" + f.name + "' is not a reserved setting name");
      reserved.push_back({f.name, f.value, true});
    }
  }
  if (request.refit_mode) {
    reserved.push_back({"graphcache.refit_mode", json_string(to_string(*request.refit_mode)), true});
    if (is_weight_bound(*request.refit_mode) && !request.weight_fingerprint)
      throw Error(ErrorKind::kInvalidArgument, std::string("refit mode '") + to_string(*request.refit_mode) +
                                                   "' binds the weights: the key needs their fingerprint");
  }
  if (request.weight_fingerprint)
    reserved.push_back(
        {"graphcache.weight_fingerprint", json_string(request.weight_fingerprint->hex()), true});

  std::vector<const Setting*> relevant;
  std::set<std::string_view> seen;
  for (const auto& s : request.settings) {
    if (is_reserved_setting_name(s.name))
      throw Error(ErrorKind::kInvalidArgument, "setting name '" + s.name + "' is reserved");
    if (!seen.insert(s.name).second)
      throw Error(ErrorKind::kInvalidArgument, "setting '" + s.name + "' given twice");
    if (s.engine_relevant) relevant.push_back(&s);
  }
  for (const auto& s : reserved) {
    if (!seen.insert(s.name).second)
      throw Error(ErrorKind::kInvalidArgument, "setting '" + s.name + "' given twice");
    relevant.push_back(&s);
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

HashedGraph hash_graph(const ir::Graph& graph) {
  return HashedGraph{structural_hash(graph), graph.inputs.size(), graph.facts};
}

KeyResult compute_key(const ir::Graph& graph, const KeyRequest& request) {
  return compute_key(hash_graph(graph), request);
}

KeyResult compute_key(const HashedGraph& graph, const KeyRequest& request) {
  KeyResult result;
  result.structure = graph.structure;
  result.refit_mode = request.refit_mode;
  result.weight_fingerprint = request.weight_fingerprint;
  result.parts.structure = result.structure.digest;
  result.parts.input_specs = hash_input_specs(graph.input_count, request.input_specs);
  result.parts.settings = hash_settings(graph, request);
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
