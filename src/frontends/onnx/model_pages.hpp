// The mapped model file's pages behind a front-to-back pass over its nodes, released from this process's
// memory as the pass moves on. Every page the scan read would otherwise stay resident until the load
// ends, alongside the wire form and the IR: 56 bytes per IR node at a million nodes, a sixth of the peak.
// A released page that is read again (a name compared in a lookup, an error message) faults back in from
// the page cache, so views of the model's bytes stay valid.
#pragma once

#include <cstdint>

#include "common/mapped_file.hpp"

namespace graphcache::onnx_frontend {

class ModelPages {
 public:
  // Null: bytes the caller owns, kept. So is a file under 4 MiB: faulting its pages in again would cost
  // more time than its few MiB are worth.
  explicit ModelPages(const MappedFile* file)
      : file_(file != nullptr && file->size() >= kMinFileBytes ? file : nullptr) {}

  // The pass reached byte `offset`: every few MiB it passes (a madvise call per node would cost more than
  // the node), releases every page, not only those behind it: looking up an operand compares its name
  // with the definition's, which may lie anywhere (an initializer's, at the end of the graph).
  void reached(uint64_t offset) {
    if (file_ == nullptr || offset < released_at_ + kStride) return;
    file_->release(0, file_->size());
    released_at_ = offset;
  }
  // A pass ended, or a phase read pages anywhere: releases them all.
  void release_all() {
    if (file_ != nullptr) file_->release(0, file_->size());
    released_at_ = 0;
  }

 private:
  static constexpr uint64_t kStride = uint64_t{1} << 20;
  static constexpr uint64_t kMinFileBytes = uint64_t{4} << 20;
  const MappedFile* file_;
  uint64_t released_at_ = 0;
};

}  // namespace graphcache::onnx_frontend
