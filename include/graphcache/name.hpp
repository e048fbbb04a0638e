// ir::Name: a node's or node output's name (carried for humans, never keyed) in 16 bytes, half a
// std::string: up to 15 characters inline, longer ones in one exact-size heap block. A million-node graph
// has two per node. Written here because no standard or packaged string is this small.
#pragma once

#include <cstdint>
#include <cstring>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace graphcache::ir {

class Name {
 public:
  Name() noexcept { set_inline_size(0); }
  Name(std::string_view text) { assign(text); }               // NOLINT: implicit, a name is its text
  Name(const std::string& text) { assign(text); }             // NOLINT
  Name(const char* text) { assign(std::string_view(text)); }  // NOLINT
  Name(const Name& other) { assign(other.view()); }
  Name(Name&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.set_inline_size(0);
  }
  Name& operator=(const Name& other) {
    if (this != &other) {
      Name copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  Name& operator=(Name&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(bytes_, other.bytes_, sizeof bytes_);
      other.set_inline_size(0);
    }
    return *this;
  }
  ~Name() { release(); }

  std::string_view view() const noexcept { return {data(), size()}; }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: implicit, reads as text
  std::string str() const { return std::string(view()); }
  const char* data() const noexcept { return on_heap() ? heap_data() : bytes_; }
  size_t size() const noexcept {
    if (!on_heap()) return kInline - static_cast<unsigned char>(bytes_[kInline]);
    uint32_t size;
    std::memcpy(&size, bytes_ + sizeof(char*), sizeof size);
    return size;
  }
  bool empty() const noexcept { return size() == 0; }

  friend bool operator==(const Name& a, std::string_view b) noexcept { return a.view() == b; }
  friend std::string operator+(std::string a, const Name& b) { return a.append(b.view()); }
  friend std::string operator+(const Name& a, std::string_view b) { return a.str().append(b); }
  friend std::ostream& operator<<(std::ostream& out, const Name& name) { return out << name.view(); }

 private:
  // Inline: the characters, then in the last byte 15 - size (0 when full, so it ends in a NUL too).
  // On the heap: the block's address, its size (uint32), and kOnHeap in the last byte.
  static constexpr size_t kInline = 15;
  static constexpr unsigned char kOnHeap = 0xFF;

  bool on_heap() const noexcept { return static_cast<unsigned char>(bytes_[kInline]) == kOnHeap; }
  char* heap_data() const noexcept {
    char* data;
    std::memcpy(&data, bytes_, sizeof data);
    return data;
  }
  void set_inline_size(size_t size) noexcept { bytes_[kInline] = static_cast<char>(kInline - size); }
  // Sets the text of a name that holds no heap block.
  void assign(std::string_view text) {
    if (text.size() <= kInline) {
      std::memcpy(bytes_, text.data(), text.size());
      set_inline_size(text.size());
      return;
    }
    if (text.size() > UINT32_MAX) throw std::length_error("ir::Name: longer than 4 GiB");
    char* data = new char[text.size()];
    std::memcpy(data, text.data(), text.size());
    const auto size = static_cast<uint32_t>(text.size());
    std::memcpy(bytes_, &data, sizeof data);
    std::memcpy(bytes_ + sizeof data, &size, sizeof size);
    bytes_[kInline] = static_cast<char>(kOnHeap);
  }
  void release() noexcept {
    if (on_heap()) delete[] heap_data();
    set_inline_size(0);
  }

  alignas(8) char bytes_[kInline + 1];
};

}  // namespace graphcache::ir
