#include "deferred_names.hpp"

#include <xxhash.h>

#include <algorithm>
#include <bit>

namespace graphcache::onnx_frontend {

namespace {

// Definitions per part of the join: its table (two 4-byte slots per definition) and its tags (4 bytes
// each) stay in L2.
constexpr size_t kPerPart = 4096;
// The latest-names table: 4K entries of 16 bytes (64 KiB, in L2), fewer for a small graph. An operand
// defined before the last few thousand definitions is joined instead.
constexpr size_t kMaxLatest = size_t{1} << 12;
constexpr size_t kMinLatest = 64;

}  // namespace

uint64_t DeferredNames::hash(std::string_view name) const {
  return hash_ == nullptr ? XXH3_64bits(name.data(), name.size()) : hash_(name);
}

DeferredNames::DeferredNames(size_t definitions, HashFn hash) : hash_(hash) {
  definitions_.reserve(definitions);
  const size_t latest = std::clamp(std::bit_ceil(std::max<size_t>(definitions, 1)), kMinLatest, kMaxLatest);
  latest_.resize(latest);
  latest_mask_ = latest - 1;
}

void DeferredNames::define(std::string_view name, ir::ValueRef ref, DefinitionSite site) {
  const uint64_t h = hash(name);
  Definition& definition = definitions_.emplace_back();
  definition.hash = h;
  definition.data = name.data();
  definition.size = static_cast<uint32_t>(name.size());
  definition.site = site;
  definition.ref = ref;
  latest_[h & latest_mask_] = Latest{h, static_cast<uint32_t>(definitions_.size() - 1)};
}

std::optional<ir::ValueRef> DeferredNames::find_or_defer(std::string_view name, uint64_t use) {
  const uint64_t h = hash(name);
  const Latest& latest = latest_[h & latest_mask_];
  if (latest.hash == h && latest.definition != kNone) {
    const Definition& definition = definitions_[latest.definition];
    if (definition.view() == name) return static_cast<ir::ValueRef>(definition.ref);
  }
  deferred_.push_back(Use{h, name.data(), static_cast<uint32_t>(name.size()), kNone, use});
  return std::nullopt;
}

void DeferredNames::defer(std::string_view name, uint64_t use) {
  deferred_.push_back(Use{hash(name), name.data(), static_cast<uint32_t>(name.size()), kNone, use});
}

std::optional<DeferredNames::DefinedTwice> DeferredNames::match_hashes() {
  std::vector<Latest>().swap(latest_);  // no more definitions or lookups
  const size_t count = definitions_.size(), uses = deferred_.size();
  // Parts by the hash's top bits; the tables probe by its low bits.
  unsigned bits = 0;
  while ((size_t{1} << bits) * kPerPart < count) ++bits;
  const size_t parts = size_t{1} << bits;
  const auto part_of = [bits](uint64_t hash) {
    return bits == 0 ? size_t{0} : static_cast<size_t>(hash >> (64 - bits));
  };

  // Each part's definitions (in log order) and uses, as indexes, with their hashes' low 32 bits beside them
  // (tags): a counting sort. The tables then read the tags in order; a log entry is read only to compare
  // two names of one tag. A use takes the only definition of its tag in its part (the part is set by other
  // bits): had its name a definition, that definition would have its tag.
  std::vector<uint32_t> definition_start(parts + 1, 0), use_start(parts + 1, 0);
  for (const Definition& d : definitions_) ++definition_start[part_of(d.hash) + 1];
  for (const Use& u : deferred_) ++use_start[part_of(u.hash) + 1];
  for (size_t p = 0; p < parts; ++p) {
    definition_start[p + 1] += definition_start[p];
    use_start[p + 1] += use_start[p];
  }
  std::vector<uint32_t> definition_order(count), use_order(uses);
  std::vector<uint32_t> definition_tag(count), use_tag(uses);
  {
    std::vector<uint32_t> fill(definition_start.begin(), definition_start.end() - 1);
    for (size_t i = 0; i < count; ++i) {
      const uint64_t h = definitions_[i].hash;
      const uint32_t at = fill[part_of(h)]++;
      definition_order[at] = static_cast<uint32_t>(i);
      definition_tag[at] = static_cast<uint32_t>(h);
    }
    fill.assign(use_start.begin(), use_start.end() - 1);
    for (size_t i = 0; i < uses; ++i) {
      const uint64_t h = deferred_[i].hash;
      const uint32_t at = fill[part_of(h)]++;
      use_order[at] = static_cast<uint32_t>(i);
      use_tag[at] = static_cast<uint32_t>(h);
    }
  }

  std::optional<DefinedTwice> twice;
  uint32_t twice_at = kNone;        // the log index of twice->second
  std::vector<uint32_t> slots;      // positions in definition_order
  std::vector<uint8_t> shares_tag;  // per definition of the part: another name of the part has its tag
  for (size_t p = 0; p < parts; ++p) {
    const uint32_t first = definition_start[p], end = definition_start[p + 1];
    const size_t capacity = std::bit_ceil(std::max<size_t>((end - first) * 2, 8));
    const size_t mask = capacity - 1;
    slots.assign(capacity, kNone);
    shares_tag.assign(end - first, 0);
    for (uint32_t k = first; k < end; ++k) {
      const uint32_t tag = definition_tag[k];
      size_t slot = tag & mask;
      bool defined_before = false;
      for (; slots[slot] != kNone; slot = (slot + 1) & mask) {
        const uint32_t other_k = slots[slot];
        if (definition_tag[other_k] != tag) continue;
        const uint32_t index = definition_order[k];
        const Definition& definition = definitions_[index];
        const Definition& other = definitions_[definition_order[other_k]];
        if (other.view() == definition.view()) {
          defined_before = true;
          if (index < twice_at) {
            twice_at = index;
            twice = DefinedTwice{definition.view(), other.site, definition.site};
          }
          break;
        }
        shares_tag[other_k - first] = shares_tag[k - first] = 1;  // two names, one tag: compare names
      }
      if (!defined_before) slots[slot] = k;
    }
    if (twice) continue;  // the join fails: no use needs a candidate
    for (uint32_t k = use_start[p]; k < use_start[p + 1]; ++k) {
      // The part's uses lie anywhere in the deque: fetch ahead the ones whose candidate is written.
      if (k + kAhead < use_start[p + 1]) __builtin_prefetch(&deferred_[use_order[k + kAhead]], 1);
      const uint32_t tag = use_tag[k];
      for (size_t slot = tag & mask; slots[slot] != kNone; slot = (slot + 1) & mask) {
        const uint32_t definition_k = slots[slot];
        if (definition_tag[definition_k] != tag) continue;
        Use& use = deferred_[use_order[k]];
        const uint32_t index = definition_order[definition_k];
        if (!shares_tag[definition_k - first] || definitions_[index].view() == use.view()) {
          use.candidate = index;
          break;
        }
      }
    }
  }
  return twice;
}

}  // namespace graphcache::onnx_frontend
