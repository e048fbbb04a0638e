#include "graphcache/ir.hpp"

namespace graphcache::ir {

bool Sequence::operator==(const Sequence& other) const {
  return kind == other.kind && items == other.items;
}

bool AttrValue::operator==(const AttrValue& other) const {
  if (value.index() != other.value.index()) return false;
  // Subgraphs compare by identity here; structural equality is what the key is for.
  return value == other.value;
}

AttrValue AttrValue::ints(const std::vector<int64_t>& v) {
  std::vector<AttrValue> items(v.begin(), v.end());
  return list(std::move(items));
}

AttrValue AttrValue::floats(const std::vector<double>& v) {
  std::vector<AttrValue> items(v.begin(), v.end());
  return list(std::move(items));
}

AttrValue AttrValue::strings(const std::vector<std::string>& v) {
  std::vector<AttrValue> items(v.begin(), v.end());
  return list(std::move(items));
}

}  // namespace graphcache::ir
