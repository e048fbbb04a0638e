// Explains a structural-key difference: walks both graphs back from the outputs, following the first
// operand whose Merkle digest differs, until it reaches the node, attribute, edge or type that differs.
#include <algorithm>
#include <map>

#include "graphcache/key.hpp"
#include "merkle.hpp"

namespace graphcache {
namespace {

using ir::ValueRef;

std::string quoted(std::string_view name) {
  return name.empty() ? "" : " '" + std::string(name) + "'";
}

std::string describe_node(const ir::Node& n) {
  return "node" + quoted(n.name) + " (" + ir::to_string(*n.op) + ")";
}

std::string describe(const ir::Graph& g, const ValueRef& ref) {
  switch (ref.kind) {
    case ValueRef::Kind::kNone:
      return "nothing (omitted optional input)";
    case ValueRef::Kind::kGraphInput:
      return "graph input #" + std::to_string(ref.index) + quoted(g.inputs[ref.index].name);
    case ValueRef::Kind::kWeight:
      return "weight" + quoted(g.weights[ref.index].name) + " " + ir::to_string(g.weights[ref.index].type);
    case ValueRef::Kind::kCapture:
      return "captured outer value #" + std::to_string(ref.index) +
             (ref.index < g.capture_names.size() ? quoted(g.capture_names[ref.index]) : "");
    case ValueRef::Kind::kNodeOutput:
      return "output " + std::to_string(ref.output) + " of " + describe_node(g.nodes[ref.index]);
  }
  return "?";
}

class Differ {
 public:
  Differ(const ir::Graph& a, const ir::Graph& b) : a_(a), b_(b), ha_(a, sa_), hb_(b, sb_) {}

  std::vector<std::string> run() {
    if (ha_.graph_digest() == hb_.graph_digest()) return {};
    if (a_.inputs.size() != b_.inputs.size())
      return {"graph inputs: A has " + std::to_string(a_.inputs.size()) + ", B has " +
              std::to_string(b_.inputs.size())};
    for (size_t i = 0; i < a_.inputs.size(); ++i) {
      if (type_bytes(ha_, a_.inputs[i].type) != type_bytes(hb_, b_.inputs[i].type))
        return {"graph input #" + std::to_string(i) + quoted(a_.inputs[i].name) + ": " +
                ir::to_string(a_.inputs[i].type) + " in A, " + ir::to_string(b_.inputs[i].type) + " in B"};
    }
    if (a_.outputs.size() != b_.outputs.size())
      return {"graph outputs: A has " + std::to_string(a_.outputs.size()) + ", B has " +
              std::to_string(b_.outputs.size())};
    for (size_t o = 0; o < a_.outputs.size(); ++o) {
      const auto& oa = a_.outputs[o];
      const auto& ob = b_.outputs[o];
      const std::string where = "graph output #" + std::to_string(o) + quoted(oa.name);
      if (ha_.value_digest(oa.value) != hb_.value_digest(ob.value)) return follow(oa.value, ob.value, where);
      if (type_bytes(ha_, oa.type) != type_bytes(hb_, ob.type))
        return {where + ": declared type " + ir::to_string(oa.type) + " in A, " + ir::to_string(ob.type) +
                " in B"};
    }
    if (ha_.weight_order().size() != hb_.weight_order().size())
      return {"weight slots: A uses " + std::to_string(ha_.weight_order().size()) + ", B uses " +
              std::to_string(hb_.weight_order().size())};
    return {"the graphs differ in subgraph captures or weight-slot types (no single differing edge found)"};
  }

 private:
  std::string type_bytes(key::MerkleHasher& h, const ir::TensorType& t) {
    key::Encoder e;
    h.encode_type(e, t);
    return e.bytes();
  }
  std::string attr_bytes(key::MerkleHasher& h, const ir::AttrValue& v) {
    key::Encoder e;
    h.encode_attr(e, v);
    return e.bytes();
  }

  std::vector<std::string> follow(ValueRef ra, ValueRef rb, std::string where) {
    while (true) {
      const std::string reads =
          where + ": reads " + describe(a_, ra) + " in A, " + describe(b_, rb) + " in B";
      if (ra.kind != rb.kind || ra.kind != ValueRef::Kind::kNodeOutput) {
        if (ra.kind == ValueRef::Kind::kWeight && rb.kind == ValueRef::Kind::kWeight &&
            ha_.weight_slot(ra.index) == hb_.weight_slot(rb.index))
          return {where + ": weight slot types differ: " + describe(a_, ra) + " in A, " + describe(b_, rb) +
                  " in B"};
        return {reads};
      }
      if (ra.output != rb.output) return {reads};
      const ir::Node& na = a_.nodes[ra.index];
      const ir::Node& nb = b_.nodes[rb.index];
      const std::string node = describe_node(na);
      if (!(na.op == nb.op))
        return {where + ": op " + ir::to_string(*na.op) + " in A, " + ir::to_string(*nb.op) + " in B"};
      if (auto lines = compare_attributes(na, nb, node); !lines.empty()) return lines;
      if (na.inputs.size() != nb.inputs.size())
        return {node + ": " + std::to_string(na.inputs.size()) + " operands in A, " +
                std::to_string(nb.inputs.size()) + " in B"};
      if (na.captures.size() != nb.captures.size())
        return {node + ": captures " + std::to_string(na.captures.size()) + " outer values in A, " +
                std::to_string(nb.captures.size()) + " in B"};
      bool descended = false;
      for (size_t k = 0; k < na.inputs.size() + na.captures.size() && !descended; ++k) {
        const bool is_input = k < na.inputs.size();
        const ValueRef& xa = is_input ? na.inputs[k] : na.captures[k - na.inputs.size()];
        const ValueRef& xb = is_input ? nb.inputs[k] : nb.captures[k - nb.inputs.size()];
        if (ha_.value_digest(xa) != hb_.value_digest(xb)) {
          where = (is_input ? "operand " + std::to_string(k)
                            : "capture " + std::to_string(k - na.inputs.size())) +
                  " of " + node;
          ra = xa;
          rb = xb;
          descended = true;
        }
      }
      if (descended) continue;
      if (na.outputs.size() != nb.outputs.size())
        return {node + ": " + std::to_string(na.outputs.size()) + " outputs in A, " +
                std::to_string(nb.outputs.size()) + " in B"};
      for (size_t k = 0; k < na.outputs.size(); ++k)
        if (type_bytes(ha_, *na.outputs[k].type) != type_bytes(hb_, *nb.outputs[k].type))
          return {node + ": output " + std::to_string(k) + " has type " + ir::to_string(*na.outputs[k].type) +
                  " in A, " + ir::to_string(*nb.outputs[k].type) + " in B"};
      return {node + ": differs (symbol numbering of its types)"};
    }
  }

  std::vector<std::string> compare_attributes(const ir::Node& na, const ir::Node& nb,
                                              const std::string& node) {
    std::map<std::string, const ir::AttrValue*> attrs_a, attrs_b;
    for (const auto& at : na.attributes) attrs_a.emplace(at.name, &at.value);
    for (const auto& at : nb.attributes) attrs_b.emplace(at.name, &at.value);
    auto ia = attrs_a.begin();
    auto ib = attrs_b.begin();
    while (ia != attrs_a.end() || ib != attrs_b.end()) {
      if (ib == attrs_b.end() || (ia != attrs_a.end() && ia->first < ib->first))
        return {node + ": attribute '" + ia->first + "' = " + ir::to_string(*ia->second) +
                " in A, absent in B"};
      if (ia == attrs_a.end() || ib->first < ia->first)
        return {node + ": attribute '" + ib->first + "' absent in A, = " + ir::to_string(*ib->second) +
                " in B"};
      if (attr_bytes(ha_, *ia->second) != attr_bytes(hb_, *ib->second)) {
        const auto* ga = std::get_if<ir::GraphPtr>(&ia->second->value);
        const auto* gb = std::get_if<ir::GraphPtr>(&ib->second->value);
        if (ga && gb) {
          std::vector<std::string> lines{node + ": subgraph attribute '" + ia->first + "' differs:"};
          for (auto& line : explain_difference(**ga, **gb)) lines.push_back("  " + line);
          return lines;
        }
        return {node + ": attribute '" + ia->first + "' = " + ir::to_string(*ia->second) + " in A, " +
                ir::to_string(*ib->second) + " in B"};
      }
      ++ia;
      ++ib;
    }
    return {};
  }

  const ir::Graph& a_;
  const ir::Graph& b_;
  key::SymbolTable sa_, sb_;
  key::MerkleHasher ha_, hb_;
};

}  // namespace

// Graph facts are keyed like the structure (as reserved settings): a difference there is a reason too.
std::vector<std::string> fact_differences(const ir::Graph& a, const ir::Graph& b) {
  std::vector<std::string> lines;
  for (const ir::GraphFact& fa : a.facts) {
    auto fb = std::find_if(b.facts.begin(), b.facts.end(),
                           [&](const ir::GraphFact& f) { return f.name == fa.name; });
    if (fb == b.facts.end())
      lines.push_back(fa.name + ": only A has it ('" + fa.value + "')");
    else if (fb->value != fa.value)
      lines.push_back(fa.name + ": '" + fa.value + "' in A, '" + fb->value + "' in B");
  }
  for (const ir::GraphFact& fb : b.facts) {
    if (std::none_of(a.facts.begin(), a.facts.end(),
                     [&](const ir::GraphFact& f) { return f.name == fb.name; }))
      lines.push_back(fb.name + ": only B has it ('" + fb.value + "')");
  }
  return lines;
}

std::vector<std::string> explain_difference(const ir::Graph& a, const ir::Graph& b) {
  std::vector<std::string> lines = fact_differences(a, b);
  std::vector<std::string> structural = Differ(a, b).run();
  lines.insert(lines.end(), structural.begin(), structural.end());
  return lines;
}

}  // namespace graphcache
