// Python object (by identity: an fx node, a weight tensor) -> its IR value. An open-addressing table in
// one flat array: the walk inserts one entry per node and looks one up per operand, and a node-based
// std::unordered_map spent a heap allocation per insert on it. Keys are borrowed: the fx graph keeps its
// nodes (and the module its weights) alive for the walk.
#pragma once

#include <Python.h>

#include <cstdint>
#include <vector>

#include "graphcache/ir.hpp"

namespace graphcache::py_frontend {

class NodeValueMap {
 public:
  void reserve(size_t n) {
    if (n * 2 > slots_.size()) rehash(n * 2);
  }

  // Keeps the first value for a key (like std::unordered_map::emplace).
  void emplace(PyObject* key, const ir::ValueRef& value) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 64 : slots_.size() * 2);
    Slot& slot = slots_[probe(key)];
    if (slot.key) return;
    slot = Slot{key, value};
    ++size_;
  }

  // The value of `key`, or nullptr if the walk has not produced it.
  const ir::ValueRef* find(PyObject* key) const {
    if (slots_.empty()) return nullptr;
    const Slot& slot = slots_[probe(key)];
    return slot.key ? &slot.value : nullptr;
  }

 private:
  struct Slot {
    PyObject* key = nullptr;
    ir::ValueRef value;
  };

  // The index of the slot holding `key`, or of the empty slot where it belongs (never full).
  size_t probe(PyObject* key) const {
    const size_t mask = slots_.size() - 1;
    // Fibonacci hashing: the product's high bits depend on every bit of the address (its low bits would
    // only permute the address's low bits, and objects are aligned).
    size_t i = static_cast<size_t>((reinterpret_cast<uintptr_t>(key) * 0x9E3779B97F4A7C15ull) >> shift_);
    while (slots_[i].key && slots_[i].key != key) i = (i + 1) & mask;
    return i;
  }

  void rehash(size_t want) {
    size_t capacity = 64;
    int bits = 6;
    while (capacity < want) {  // a power of two: probe() masks instead of dividing
      capacity *= 2;
      ++bits;
    }
    shift_ = 64 - bits;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    for (const Slot& s : old) {
      if (s.key) slots_[probe(s.key)] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  int shift_ = 58;  // 64 - log2(capacity)
};

}  // namespace graphcache::py_frontend
