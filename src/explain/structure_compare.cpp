// The first structural difference between a cached entry's summary and the current graph's, found the
// way `graphcache diff` finds it: from the outputs, follow the first operand whose digest differs until
// the node, attribute or edge that differs.
#include "structure_summary.hpp"

namespace graphcache::explain {
namespace {

class Comparer {
 public:
  Comparer(const StructureSummary& c, const StructureSummary& n) : c_(c), n_(n) {}

  std::vector<ExplainDifference> run() {
    if (c_.inputs.size() != n_.inputs.size())
      return {diff("graph_input", "", std::to_string(c_.inputs.size()), std::to_string(n_.inputs.size()),
                   "graph inputs: the cached entry has " + std::to_string(c_.inputs.size()) + ", now " +
                       std::to_string(n_.inputs.size()))};
    for (size_t i = 0; i < c_.inputs.size(); ++i) {
      if (c_.inputs[i].first != n_.inputs[i].first) {
        const std::string& was = c_.strings[c_.inputs[i].second];
        const std::string& now = n_.strings[n_.inputs[i].second];
        return {
            diff("graph_input", "#" + std::to_string(i), was, now,
                 "graph input #" + std::to_string(i) + ": " + was + " in the cached entry, " + now + " now")};
      }
    }
    if (c_.outputs.size() != n_.outputs.size())
      return {diff("edge", "", std::to_string(c_.outputs.size()), std::to_string(n_.outputs.size()),
                   "graph outputs: the cached entry has " + std::to_string(c_.outputs.size()) + ", now " +
                       std::to_string(n_.outputs.size()))};
    for (size_t o = 0; o < c_.outputs.size(); ++o) {
      if (!same(c_.outputs[o], n_.outputs[o]))
        return follow(c_.outputs[o], n_.outputs[o], "graph output #" + std::to_string(o));
    }
    return {};
  }

 private:
  static ExplainDifference diff(std::string kind, std::string name, std::string cached, std::string current,
                                std::string text) {
    return {std::move(kind), std::move(name), std::move(cached), std::move(current), std::move(text)};
  }

  bool same(const SummaryRef& a, const SummaryRef& b) const {
    if (a.kind != b.kind) return false;
    if (a.kind == 'n') return a.output == b.output && c_.nodes[a.index].digest == n_.nodes[b.index].digest;
    return a.index == b.index;
  }

  static std::string describe(const StructureSummary& s, const SummaryRef& r) {
    switch (r.kind) {
      case 'i':
        return "graph input #" + std::to_string(r.index);
      case 'w':
        return "weight slot #" + std::to_string(r.index);
      case 'c':
        return "captured value #" + std::to_string(r.index);
      case 'n':
        return "output " + std::to_string(r.output) + " of " + label(s, s.nodes[r.index]);
      default:
        return "nothing (omitted optional input)";
    }
  }

  static std::string label(const StructureSummary& s, const SummaryNode& n) {
    const std::string& name = s.strings[n.name];
    return "node" + (name.empty() ? std::string() : " '" + name + "'") + " (" + s.strings[n.op] + ")";
  }

  std::vector<ExplainDifference> follow(SummaryRef rc, SummaryRef rn, std::string where) {
    for (;;) {
      if (rc.kind != rn.kind || rc.kind != 'n' || rc.output != rn.output) {
        const std::string was = describe(c_, rc), now = describe(n_, rn);
        return {diff("edge", where, was, now,
                     where + ": reads " + was + " in the cached entry, " + now + " now")};
      }
      const SummaryNode& nc = c_.nodes[rc.index];
      const SummaryNode& nn = n_.nodes[rn.index];
      const std::string node = label(n_, nn);
      if (nc.op_hash != nn.op_hash) {
        const std::string& was = c_.strings[nc.op];
        const std::string& now = n_.strings[nn.op];
        return {
            diff("node", node, was, now, where + ": op " + was + " in the cached entry, " + now + " now")};
      }
      if (auto a = compare_attributes(nc, nn, node); !a.empty()) return a;
      if (nc.operands.size() != nn.operands.size() || nc.inputs != nn.inputs)
        return {diff("edge", node, std::to_string(nc.operands.size()), std::to_string(nn.operands.size()),
                     node + ": " + std::to_string(nc.operands.size()) + " operands in the cached entry, " +
                         std::to_string(nn.operands.size()) + " now")};
      bool descended = false;
      for (size_t k = 0; k < nc.operands.size(); ++k) {
        if (!same(nc.operands[k], nn.operands[k])) {
          where =
              (k < nn.inputs ? "operand " + std::to_string(k) : "capture " + std::to_string(k - nn.inputs)) +
              " of " + node;
          rc = nc.operands[k];
          rn = nn.operands[k];
          descended = true;
          break;
        }
      }
      if (descended) continue;
      const std::string& was = c_.strings[nc.outputs_text];
      const std::string& now = n_.strings[nn.outputs_text];
      if (nc.outputs_hash != nn.outputs_hash)
        return {diff("node", node, was, now,
                     node + ": output types " + was + " in the cached entry, " + now + " now")};
      return {diff("node", node, "", "", node + ": differs (symbol numbering of its types)")};
    }
  }

  std::vector<ExplainDifference> compare_attributes(const SummaryNode& nc, const SummaryNode& nn,
                                                    const std::string& node) {
    size_t ic = 0, in = 0;
    while (ic < nc.attrs.size() || in < nn.attrs.size()) {
      const std::string* name_c = ic < nc.attrs.size() ? &c_.strings[nc.attrs[ic].name] : nullptr;
      const std::string* name_n = in < nn.attrs.size() ? &n_.strings[nn.attrs[in].name] : nullptr;
      if (!name_n || (name_c && *name_c < *name_n)) {
        const std::string& was = c_.strings[nc.attrs[ic].text];
        return {diff("attribute", *name_c, was, "(absent)",
                     node + ": attribute '" + *name_c + "' = " + was + " in the cached entry, absent now")};
      }
      if (!name_c || *name_n < *name_c) {
        const std::string& now = n_.strings[nn.attrs[in].text];
        return {diff("attribute", *name_n, "(absent)", now,
                     node + ": attribute '" + *name_n + "' absent in the cached entry, = " + now + " now")};
      }
      if (nc.attrs[ic].hash != nn.attrs[in].hash) {
        const std::string& was = c_.strings[nc.attrs[ic].text];
        const std::string& now = n_.strings[nn.attrs[in].text];
        return {
            diff("attribute", *name_c, was, now,
                 node + ": attribute '" + *name_c + "' = " + was + " in the cached entry, " + now + " now")};
      }
      ++ic;
      ++in;
    }
    return {};
  }

  const StructureSummary& c_;
  const StructureSummary& n_;
};

}  // namespace

std::vector<ExplainDifference> compare_structure(const StructureSummary& cached,
                                                 const StructureSummary& current) {
  return Comparer(cached, current).run();
}

}  // namespace graphcache::explain
