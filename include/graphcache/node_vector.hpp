// NodeVector: the sequences of an ir::Node (operands, attributes, outputs, captures) in 16 bytes, half a
// std::pmr::vector. A million-node graph has four per node, so the 16 bytes saved per vector are a fifth of
// a node. Written here because no library vector is this small and still takes a memory resource: the
// resource lives in a header before the elements (or, while nothing is allocated, where the element
// pointer would be), so every allocation is freed to the resource that made it, whoever holds it then.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace graphcache::ir {

template <typename T>
class NodeVector {
  static_assert(std::is_nothrow_move_constructible_v<T>, "growing relocates elements by moving them");

 public:
  using value_type = T;
  using size_type = size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = T*;
  using const_iterator = const T*;

  // Allocates from the default resource (the heap).
  NodeVector() noexcept = default;
  // Allocates from `memory`, which must outlive what this vector allocates (a graph's arena).
  explicit NodeVector(std::pmr::memory_resource* memory) noexcept : raw_(memory) {}
  NodeVector(std::initializer_list<T> items) { assign(items.begin(), items.end()); }
  // A copy allocates from the heap (as std::pmr containers' copies do): it may outlive the original's arena.
  NodeVector(const NodeVector& other) { assign(other.begin(), other.end()); }
  NodeVector(NodeVector&& other) noexcept { steal(other); }
  ~NodeVector() { release(); }

  NodeVector& operator=(const NodeVector& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  // Keeps this vector's resource (as std::pmr containers do): takes the other's block only when it came
  // from the same resource, else moves the elements over, so nothing here points into another's arena.
  NodeVector& operator=(NodeVector&& other) {
    if (this == &other) return *this;
    if (resource() == other.resource()) {
      release();
      steal(other);
    } else {
      assign(std::make_move_iterator(other.begin()), std::make_move_iterator(other.end()));
      other.clear();
    }
    return *this;
  }
  NodeVector& operator=(std::initializer_list<T> items) {
    assign(items.begin(), items.end());
    return *this;
  }

  template <typename It>
  void assign(It first, It last) {
    clear();
    if constexpr (std::is_base_of_v<std::forward_iterator_tag,
                                    typename std::iterator_traits<It>::iterator_category>) {
      reserve(static_cast<size_t>(std::distance(first, last)));
    }
    for (; first != last; ++first) emplace_back(*first);
  }

  size_t size() const noexcept { return size_; }
  size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  T* data() noexcept { return elements(); }
  const T* data() const noexcept { return elements(); }
  iterator begin() noexcept { return elements(); }
  iterator end() noexcept { return elements() + size_; }
  const_iterator begin() const noexcept { return elements(); }
  const_iterator end() const noexcept { return elements() + size_; }
  std::reverse_iterator<const T*> rbegin() const noexcept { return std::reverse_iterator<const T*>(end()); }
  std::reverse_iterator<const T*> rend() const noexcept { return std::reverse_iterator<const T*>(begin()); }
  T& operator[](size_t i) noexcept { return elements()[i]; }
  const T& operator[](size_t i) const noexcept { return elements()[i]; }
  T& front() noexcept { return elements()[0]; }
  const T& front() const noexcept { return elements()[0]; }
  T& back() noexcept { return elements()[size_ - 1]; }
  const T& back() const noexcept { return elements()[size_ - 1]; }

  void reserve(size_t wanted) {
    if (wanted > capacity_) grow_to(wanted);
  }
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) {
      T item(std::forward<Args>(args)...);  // before growing: `args` may refer to an element here
      grow_to(capacity_ == 0 ? 1 : size_t{capacity_} * 2);
      ::new (static_cast<void*>(elements() + size_)) T(std::move(item));
    } else {
      ::new (static_cast<void*>(elements() + size_)) T(std::forward<Args>(args)...);
    }
    return elements()[size_++];
  }
  void push_back(const T& item) { emplace_back(item); }
  void push_back(T&& item) { emplace_back(std::move(item)); }
  void pop_back() noexcept { elements()[--size_].~T(); }
  void clear() noexcept {
    std::destroy(begin(), end());
    size_ = 0;
  }

  bool operator==(const NodeVector& other) const {
    return std::equal(begin(), end(), other.begin(), other.end());
  }

 private:
  // The header before the elements: the resource the block came from.
  static constexpr size_t kHeader = std::max(sizeof(void*), alignof(T));
  static constexpr size_t kAlign = std::max(alignof(void*), alignof(T));
  static_assert(kHeader % alignof(T) == 0);

  std::pmr::memory_resource* resource() const noexcept {
    if (capacity_ == 0) {
      auto* memory = static_cast<std::pmr::memory_resource*>(raw_);
      return memory != nullptr ? memory : std::pmr::get_default_resource();
    }
    return *static_cast<std::pmr::memory_resource* const*>(raw_);
  }
  T* elements() const noexcept {
    return capacity_ == 0 ? nullptr : std::launder(reinterpret_cast<T*>(static_cast<char*>(raw_) + kHeader));
  }

  void grow_to(size_t wanted) {
    if (wanted > UINT32_MAX) throw std::length_error("NodeVector: more than 2^32 - 1 elements");
    std::pmr::memory_resource* memory = resource();
    void* block = memory->allocate(kHeader + wanted * sizeof(T), kAlign);
    *static_cast<std::pmr::memory_resource**>(block) = memory;
    T* moved = reinterpret_cast<T*>(static_cast<char*>(block) + kHeader);
    std::uninitialized_move(begin(), end(), moved);
    const uint32_t count = size_;
    release();
    raw_ = block;
    size_ = count;
    capacity_ = static_cast<uint32_t>(wanted);
  }
  // Destroys the elements and frees the block; leaves raw_ naming the resource, with no capacity.
  void release() noexcept {
    if (capacity_ == 0) return;
    std::pmr::memory_resource* memory = resource();
    std::destroy(begin(), end());
    memory->deallocate(raw_, kHeader + size_t{capacity_} * sizeof(T), kAlign);
    raw_ = memory;
    size_ = 0;
    capacity_ = 0;
  }
  // Takes other's state (this one holds no block); other keeps its resource and no elements.
  void steal(NodeVector& other) noexcept {
    if (other.capacity_ == 0) {
      raw_ = other.raw_;
      return;
    }
    std::pmr::memory_resource* memory = other.resource();
    raw_ = std::exchange(other.raw_, memory);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }

  void* raw_ = nullptr;  // capacity_ == 0: the resource (null: the default); else the block (header first)
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;
};

}  // namespace graphcache::ir
