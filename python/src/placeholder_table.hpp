// Placeholder name -> binding for an ExportedProgram walk: an open-addressing table over one flat array
// (a Llama or BERT signature lists hundreds of weights, and a node-based std::unordered_map spent a heap
// allocation per entry on them). Names are views that ConvertOptions::keep_alive keeps valid.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace graphcache::py_frontend {

template <typename Binding>
class PlaceholderTable {
 public:
  void reserve(size_t n) {
    entries_.reserve(n);
    if (n * 2 > slots_.size()) rehash(n * 2);
  }

  // Adds or replaces the binding of `name` (the last one given wins, like std::unordered_map's []).
  void set(std::string_view name, const Binding& binding) {
    if ((entries_.size() + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 64 : slots_.size() * 2);
    uint32_t& slot = slots_[probe(name)];
    if (slot != 0) {
      entries_[slot - 1].second = binding;
      return;
    }
    entries_.emplace_back(name, binding);
    slot = static_cast<uint32_t>(entries_.size());
  }

  // The binding of `name`, or nullptr.
  const Binding* find(std::string_view name) const {
    if (slots_.empty()) return nullptr;
    const uint32_t slot = slots_[probe(name)];
    return slot == 0 ? nullptr : &entries_[slot - 1].second;
  }

  bool empty() const { return entries_.empty(); }

 private:
  size_t probe(std::string_view name) const {
    const size_t mask = slots_.size() - 1;
    size_t i = std::hash<std::string_view>{}(name)&mask;
    while (slots_[i] != 0 && entries_[slots_[i] - 1].first != name) i = (i + 1) & mask;
    return i;
  }

  void rehash(size_t at_least) {
    size_t size = 64;
    while (size < at_least) size *= 2;
    slots_.assign(size, 0);
    for (size_t e = 0; e < entries_.size(); ++e)
      slots_[probe(entries_[e].first)] = static_cast<uint32_t>(e + 1);
  }

  std::vector<std::pair<std::string_view, Binding>> entries_;
  std::vector<uint32_t> slots_;  // 0: empty, else 1 + the entry's index (power-of-two size, never full)
};

}  // namespace graphcache::py_frontend
