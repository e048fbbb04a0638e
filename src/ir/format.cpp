#include <cstdio>
#include <string>

#include "graphcache/ir.hpp"

namespace graphcache::ir {
namespace {

constexpr size_t kMaxItemsShown = 8;

std::string format_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string to_string(const TensorType& type) {
  std::string open, close;
  for (const TypeWrapper& w : type.wrappers) {
    switch (w.kind) {
      case TypeWrapper::Kind::kSequence:
        open += "seq<";
        break;
      case TypeWrapper::Kind::kMap:
        open += std::string("map<") + ir::to_string(w.key) + ",";
        break;
      case TypeWrapper::Kind::kOptional:
        open += "optional<";
        break;
      case TypeWrapper::Kind::kSparse:
        open += "sparse<";
        break;
    }
    close += '>';
  }
  std::string out = open + ir::to_string(type.dtype);
  if (!type.shape) return out + "[?]" + close;
  out += '[';
  for (size_t i = 0; i < type.shape->size(); ++i) {
    const Dim& d = (*type.shape)[i];
    if (i) out += ',';
    out += !d.symbol.empty() ? d.symbol : d.value >= 0 ? std::to_string(d.value) : "?";
  }
  return out + ']' + close;
}

std::string to_string(const OpId& op) {
  std::string out = op.domain.empty() ? op.name : op.domain + "::" + op.name;
  if (!op.overload.empty()) out += "." + op.overload;
  if (op.version) out += " (v" + std::to_string(op.version) + ")";
  return out;
}

std::string to_string(const AttrValue& attr) {
  const auto& v = attr.value;
  if (std::holds_alternative<std::monostate>(v)) return "None";
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "True" : "False";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* f = std::get_if<double>(&v)) return format_double(*f);
  if (const auto* s = std::get_if<std::string>(&v))
    return "'" + (s->size() > 64 ? s->substr(0, 64) + "..." : *s) + "'";
  if (const auto* dt = std::get_if<DType>(&v)) return std::string("dtype ") + ir::to_string(*dt);
  if (const auto* dev = std::get_if<Device>(&v))
    return dev->type + (dev->index >= 0 ? ":" + std::to_string(dev->index) : "");
  if (const auto* en = std::get_if<EnumValue>(&v)) return en->type + "." + en->name;
  if (const auto* sym = std::get_if<SymbolicInt>(&v)) return "sym(" + sym->expr + ")";
  if (const auto* t = std::get_if<TensorValue>(&v)) {
    std::string dims;
    for (size_t i = 0; i < t->dims.size(); ++i) dims += (i ? "," : "") + std::to_string(t->dims[i]);
    return std::string("tensor ") + ir::to_string(t->dtype) + "[" + dims + "] (" +
           std::to_string(t->bytes.size()) + " bytes)";
  }
  if (std::holds_alternative<GraphPtr>(v)) return "<subgraph>";
  if (const auto* op = std::get_if<OperandIndex>(&v)) return "<operand " + std::to_string(op->index) + ">";
  if (const auto* seq = std::get_if<Sequence>(&v)) {
    static constexpr const char* kOpen[] = {"[", "(", "slice(", "{"};
    static constexpr const char* kClose[] = {"]", ")", ")", "}"};
    const auto k = static_cast<size_t>(seq->kind);
    std::string out = kOpen[k];
    for (size_t i = 0; i < seq->items.size() && i < kMaxItemsShown; ++i)
      out += (i ? ", " : "") + to_string(seq->items[i]);
    if (seq->items.size() > kMaxItemsShown) out += ", ... (" + std::to_string(seq->items.size()) + " items)";
    return out + kClose[k];
  }
  return "?";
}

}  // namespace graphcache::ir
