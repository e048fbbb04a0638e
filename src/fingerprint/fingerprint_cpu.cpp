// CPU weight fingerprint: chunks of all slots are hashed by a pool of threads that take the next chunk
// from a shared counter; each digest lands at its chunk's index, so scheduling never changes the result.
#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/mapped_file.hpp"
#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"

namespace graphcache {
namespace {

struct Chunk {
  const uint8_t* data;
  uint64_t length;
};

std::string describe(size_t index, const std::string& name) {
  return "weight slot " + std::to_string(index) + (name.empty() ? "" : " ('" + name + "')");
}

// Slot bytes made addressable: memory slots as given, file slots through one mapping per file.
class ResolvedSlots {
 public:
  explicit ResolvedSlots(const std::vector<WeightView>& slots) {
    layouts_.reserve(slots.size());
    for (size_t i = 0; i < slots.size(); ++i) {
      const WeightView& slot = slots[i];
      for (int64_t dim : slot.dims) {
        if (dim < 0) throw Error(ErrorKind::kInvalidArgument, describe(i, slot.name) + " has a negative dim");
      }
      layouts_.push_back(SlotLayout{slot.dtype, slot.dims, slot.data.length});
      bases_.push_back(base_of(i, slot));
    }
  }

  std::vector<Chunk> chunks() const {
    std::vector<Chunk> result;
    for (size_t i = 0; i < layouts_.size(); ++i) {
      const uint64_t length = layouts_[i].length;
      for (uint64_t offset = 0; offset < length; offset += kFingerprintChunkBytes) {
        result.push_back(Chunk{bases_[i] + offset, std::min(kFingerprintChunkBytes, length - offset)});
      }
    }
    return result;
  }
  const std::vector<SlotLayout>& layouts() const { return layouts_; }

 private:
  const uint8_t* base_of(size_t index, const WeightView& slot) {
    const ir::WeightData& data = slot.data;
    switch (data.source) {
      case ir::WeightData::Source::kMemory:
        if (data.pointer == nullptr && data.length > 0) {
          throw Error(ErrorKind::kInvalidArgument, describe(index, slot.name) + " has a null pointer");
        }
        return static_cast<const uint8_t*>(data.pointer);
      case ir::WeightData::Source::kFile: {
        const MappedFile& file = map(data.path);
        if (data.offset > file.size() || data.length > file.size() - data.offset) {
          throw Error(ErrorKind::kInvalidModel,
                      describe(index, slot.name) + ": bytes [" + std::to_string(data.offset) + ", +" +
                          std::to_string(data.length) + ") lie outside '" + data.path + "' of " +
                          std::to_string(file.size()) + " bytes");
        }
        return file.data() == nullptr ? nullptr : file.data() + data.offset;
      }
      case ir::WeightData::Source::kNone:
        break;
    }
    throw Error(ErrorKind::kInvalidArgument,
                describe(index, slot.name) + " has no data (neither file nor memory)");
  }

  const MappedFile& map(const std::string& path) {
    auto found = files_.find(path);
    if (found == files_.end())
      found = files_
                  .emplace(path,
                           std::make_unique<MappedFile>(path, MappedFile::Access::kSequential, "weight file"))
                  .first;
    return *found->second;
  }

  std::map<std::string, std::unique_ptr<MappedFile>> files_;
  std::vector<SlotLayout> layouts_;
  std::vector<const uint8_t*> bases_;
};

// Hashes every chunk into `digests` (chunk i at i * digest_size) with `thread_count` threads.
void hash_chunks(const std::vector<Chunk>& chunks, const FingerprintOptions& options, unsigned thread_count,
                 std::vector<uint8_t>& digests) {
  const size_t digest_size = chunk_digest_size(options.mode);
  uint64_t total_bytes = 0;
  for (const Chunk& chunk : chunks) total_bytes += chunk.length;

  std::atomic<size_t> next_chunk{0};
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  uint64_t last_reported = 0;

  auto work = [&](bool reports_progress) {
    while (!failed.load(std::memory_order_relaxed)) {
      const size_t index = next_chunk.fetch_add(1, std::memory_order_relaxed);
      if (index >= chunks.size()) break;
      try {
        hash_chunk(chunks[index].data, chunks[index].length, options.mode,
                   digests.data() + index * digest_size);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
        break;
      }
      const uint64_t done =
          bytes_done.fetch_add(chunks[index].length, std::memory_order_relaxed) + chunks[index].length;
      if (reports_progress && options.progress && done - last_reported >= options.progress_interval_bytes) {
        last_reported = done;
        options.progress(done, total_bytes);
      }
    }
  };

  std::vector<std::jthread> helpers;
  const unsigned helper_count =
      static_cast<unsigned>(std::min<size_t>(thread_count, std::max<size_t>(chunks.size(), 1)) - 1);
  helpers.reserve(helper_count);
  try {
    for (unsigned t = 0; t < helper_count; ++t) helpers.emplace_back(work, false);
  } catch (const std::system_error&) {
    // Fewer threads than asked for only costs time; the result is the same.
  }
  work(true);
  helpers.clear();  // joins
  if (first_error) std::rethrow_exception(first_error);
  if (options.progress) options.progress(total_bytes, total_bytes);
}

}  // namespace

Digest fingerprint_weights(const std::vector<WeightView>& slots, const FingerprintOptions& options) {
  const ResolvedSlots resolved(slots);
  const std::vector<Chunk> chunks = resolved.chunks();
  unsigned thread_count = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
  thread_count = std::max(thread_count, 1u);
  std::vector<uint8_t> digests(chunks.size() * chunk_digest_size(options.mode));
  hash_chunks(chunks, options, thread_count, digests);
  return combine_chunk_digests(resolved.layouts(), digests, options.mode);
}

}  // namespace graphcache
