#include "structure_summary.hpp"

#include <openssl/evp.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include "graphcache/error.hpp"
#include "merkle.hpp"
#include "sha256.hpp"

namespace graphcache::explain {
namespace {

constexpr std::string_view kMagic{"GCSUM1"};
constexpr size_t kMaxText = 120;
constexpr uint64_t kMaxDecoded = 64ull << 20;

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::kCorrupt, "structural summary: " + what);
}

std::string clip(std::string text) {
  if (text.size() > kMaxText) text = text.substr(0, kMaxText - 3) + "...";
  return text;
}

uint64_t hash_bytes(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

class Builder {
 public:
  explicit Builder(const ir::Graph& g) : g_(g), hasher_(g, symbols_, key::HashMode::kPerNode) {}

  StructureSummary run() {
    for (const auto& in : g_.inputs) {
      key::Encoder e;
      hasher_.encode_type(e, in.type);
      out_.inputs.emplace_back(hash_bytes(e.bytes()), intern(clip(ir::to_string(in.type))));
    }
    position_.assign(g_.nodes.size(), -1);
    for (const auto& o : g_.outputs) visit(o.value);
    for (const auto& o : g_.outputs) out_.outputs.push_back(ref(o.value));
    return std::move(out_);
  }

 private:
  uint32_t intern(const std::string& s) {
    auto [it, fresh] = strings_.emplace(s, static_cast<uint32_t>(out_.strings.size()));
    if (fresh) out_.strings.push_back(s);
    return it->second;
  }

  SummaryRef ref(const ir::ValueRef& r) const {
    switch (r.kind) {
      case ir::ValueRef::Kind::kNone:
        return {'z', 0, 0};
      case ir::ValueRef::Kind::kGraphInput:
        return {'i', r.index, 0};
      case ir::ValueRef::Kind::kWeight:
        return {'w', hasher_.weight_slot(r.index).value_or(UINT32_MAX), 0};
      case ir::ValueRef::Kind::kCapture:
        return {'c', r.index, 0};
      case ir::ValueRef::Kind::kNodeOutput:
        return {'n', static_cast<uint32_t>(position_[r.index]), r.output};
    }
    return {};
  }

  // Iterative post-order DFS (deep graphs must not overflow the stack).
  void visit(const ir::ValueRef& root) {
    if (root.kind != ir::ValueRef::Kind::kNodeOutput || position_[root.index] >= 0) return;
    std::vector<std::pair<uint32_t, size_t>> stack{{root.index, 0}};
    position_[root.index] = -2;  // on the stack
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      const ir::Node& n = g_.nodes[node];
      const size_t operands = n.inputs.size() + n.captures.size();
      if (next < operands) {
        const ir::ValueRef& r = next < n.inputs.size() ? n.inputs[next] : n.captures[next - n.inputs.size()];
        ++next;
        if (r.kind == ir::ValueRef::Kind::kNodeOutput && position_[r.index] == -1) {
          position_[r.index] = -2;
          stack.push_back({r.index, 0});
        }
        continue;
      }
      emit(node);
      stack.pop_back();
    }
  }

  void emit(uint32_t index) {
    const ir::Node& n = g_.nodes[index];
    SummaryNode s;
    uint64_t digest;
    std::memcpy(&digest, hasher_.node_digest(index).bytes.data(), sizeof digest);
    s.digest = digest;
    key::Encoder op;
    op.str(n.op->domain);
    op.str(n.op->name);
    op.str(n.op->overload);
    op.svar(n.op->version);
    op.str(n.definition_text());
    op.u8(n.nondeterministic ? 1 : 0);
    s.op_hash = hash_bytes(op.bytes());
    s.op = intern(clip(ir::to_string(*n.op)));
    s.name = intern(clip(n.name.str()));
    std::vector<const ir::Attribute*> attrs;
    for (const auto& a : n.attributes) attrs.push_back(&a);
    std::sort(attrs.begin(), attrs.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const ir::Attribute* a : attrs) {
      key::Encoder e;
      hasher_.encode_attr(e, a->value);
      s.attrs.push_back(
          {intern(clip(a->name)), hash_bytes(e.bytes()), intern(clip(ir::to_string(a->value)))});
    }
    s.inputs = static_cast<uint32_t>(n.inputs.size());
    for (const auto& r : n.inputs) s.operands.push_back(ref(r));
    for (const auto& r : n.captures) s.operands.push_back(ref(r));
    key::Encoder types;
    std::string text;
    for (const auto& o : n.outputs) {
      hasher_.encode_type(types, *o.type);
      text += (text.empty() ? "" : ", ") + ir::to_string(*o.type);
    }
    s.outputs_hash = hash_bytes(types.bytes());
    s.outputs_text = intern(clip(text));
    position_[index] = static_cast<int64_t>(out_.nodes.size());
    out_.nodes.push_back(std::move(s));
  }

  const ir::Graph& g_;
  key::SymbolTable symbols_;
  key::MerkleHasher hasher_;
  std::vector<int64_t> position_;  // -1 unvisited, -2 on the stack, else canonical position
  std::unordered_map<std::string, uint32_t> strings_;
  StructureSummary out_;
};

// Bounds-checked reader of the binary form.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : b_(bytes) {}
  uint64_t uvar() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= b_.size()) corrupt("truncated");
      const auto byte = static_cast<uint8_t>(b_[at_++]);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    corrupt("varint too long");
  }
  uint64_t u64() {
    if (b_.size() - at_ < 8) corrupt("truncated");
    uint64_t v;
    std::memcpy(&v, b_.data() + at_, 8);
    at_ += 8;
    return v;
  }
  char u8() {
    if (at_ >= b_.size()) corrupt("truncated");
    return b_[at_++];
  }
  std::string str() {
    const uint64_t n = uvar();
    if (n > b_.size() - at_) corrupt("string runs past the end");
    std::string s(b_.substr(at_, n));
    at_ += n;
    return s;
  }
  // A count of items each taking at least `min_bytes`: cannot exceed what is left.
  uint64_t count(size_t min_bytes) {
    const uint64_t n = uvar();
    if (n > (b_.size() - at_) / min_bytes) corrupt("count exceeds the data");
    return n;
  }
  bool done() const { return at_ == b_.size(); }

 private:
  std::string_view b_;
  size_t at_ = 0;
};

void put_ref(key::Encoder& e, const SummaryRef& r) {
  e.u8(static_cast<uint8_t>(r.kind));
  e.uvar(r.index);
  e.uvar(r.output);
}

SummaryRef read_ref(Reader& r, uint64_t nodes_before) {
  SummaryRef ref;
  ref.kind = r.u8();
  ref.index = static_cast<uint32_t>(r.uvar());
  ref.output = static_cast<uint32_t>(r.uvar());
  if (std::string_view("zniwc").find(ref.kind) == std::string_view::npos) corrupt("bad reference kind");
  if (ref.kind == 'n' && ref.index >= nodes_before) corrupt("reference to a later node");
  return ref;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string unbase64(std::string_view text) {
  if (text.size() % 4 != 0) corrupt("bad base64 length");
  std::string out(3 * (text.size() / 4), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) corrupt("bad base64");
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

uint64_t mix(uint64_t x) {  // splitmix64 finalizer: a cheap, well-spread hash family for MinHash
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

StructureSummary summarize(const ir::Graph& graph) {
  return Builder(graph).run();
}

std::string encode_summary(const StructureSummary& s) {
  key::Encoder e;
  e.raw(kMagic.data(), kMagic.size());
  e.uvar(s.strings.size());
  for (const auto& str : s.strings) e.str(str);
  e.uvar(s.inputs.size());
  for (const auto& [hash, text] : s.inputs) {
    e.u64(hash);
    e.uvar(text);
  }
  e.uvar(s.nodes.size());
  for (const auto& n : s.nodes) {
    e.u64(n.digest);
    e.u64(n.op_hash);
    e.uvar(n.op);
    e.uvar(n.name);
    e.uvar(n.attrs.size());
    for (const auto& a : n.attrs) {
      e.uvar(a.name);
      e.u64(a.hash);
      e.uvar(a.text);
    }
    e.uvar(n.inputs);
    e.uvar(n.operands.size());
    for (const auto& r : n.operands) put_ref(e, r);
    e.u64(n.outputs_hash);
    e.uvar(n.outputs_text);
  }
  e.uvar(s.outputs.size());
  for (const auto& r : s.outputs) put_ref(e, r);
  const std::string& raw = e.bytes();
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  const size_t n = ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), 3);
  if (ZSTD_isError(n)) throw Error(ErrorKind::kInternal, "cannot compress the structural summary");
  packed.resize(n);
  return base64(packed);
}

StructureSummary decode_summary(std::string_view text) {
  const std::string packed = unbase64(text);
  const unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxDecoded)
    corrupt("bad compressed frame");
  std::string raw(size, '\0');
  const size_t got = ZSTD_decompress(raw.data(), raw.size(), packed.data(), packed.size());
  if (ZSTD_isError(got) || got != size) corrupt("cannot decompress");
  if (raw.compare(0, kMagic.size(), kMagic) != 0) corrupt("bad magic");
  Reader r(std::string_view(raw).substr(kMagic.size()));
  StructureSummary s;
  const uint64_t strings = r.count(1);
  for (uint64_t i = 0; i < strings; ++i) s.strings.push_back(r.str());
  auto string_ref = [&](uint64_t v) {
    if (v >= s.strings.size()) corrupt("bad string reference");
    return static_cast<uint32_t>(v);
  };
  const uint64_t inputs = r.count(9);
  for (uint64_t i = 0; i < inputs; ++i) {
    const uint64_t hash = r.u64();
    s.inputs.emplace_back(hash, string_ref(r.uvar()));
  }
  const uint64_t nodes = r.count(24);
  s.nodes.reserve(nodes);
  for (uint64_t i = 0; i < nodes; ++i) {
    SummaryNode n;
    n.digest = r.u64();
    n.op_hash = r.u64();
    n.op = string_ref(r.uvar());
    n.name = string_ref(r.uvar());
    const uint64_t attrs = r.count(10);
    for (uint64_t k = 0; k < attrs; ++k) {
      SummaryAttr a;
      a.name = string_ref(r.uvar());
      a.hash = r.u64();
      a.text = string_ref(r.uvar());
      n.attrs.push_back(a);
    }
    n.inputs = static_cast<uint32_t>(r.uvar());
    const uint64_t operands = r.count(3);
    if (n.inputs > operands) corrupt("more inputs than operands");
    for (uint64_t k = 0; k < operands; ++k) n.operands.push_back(read_ref(r, i));
    n.outputs_hash = r.u64();
    n.outputs_text = string_ref(r.uvar());
    s.nodes.push_back(std::move(n));
  }
  const uint64_t outputs = r.count(3);
  for (uint64_t k = 0; k < outputs; ++k) s.outputs.push_back(read_ref(r, s.nodes.size()));
  if (!r.done()) corrupt("trailing bytes");
  return s;
}

std::array<uint32_t, kMinHashSize> minhash(const StructureSummary& s) {
  // Over each node's local shape (op, attributes, output types, and per operand its kind and producer's
  // op), not its Merkle digest: an edit near the inputs changes every downstream Merkle digest but only
  // the local shapes of the edited node and its consumers, so similar graphs stay similar.
  std::array<uint64_t, kMinHashSize> mins;
  mins.fill(UINT64_MAX);
  for (const auto& n : s.nodes) {
    uint64_t local = mix(n.op_hash ^ mix(n.outputs_hash));
    for (const auto& a : n.attrs) local = mix(local ^ mix(a.hash ^ hash_bytes(s.strings[a.name])));
    for (const auto& r : n.operands) {
      const uint64_t operand = r.kind == 'n' ? s.nodes[r.index].op_hash + r.output
                                             : (uint64_t{static_cast<uint8_t>(r.kind)} << 32) + r.index;
      local = mix(local ^ operand);
    }
    for (size_t i = 0; i < kMinHashSize; ++i) mins[i] = std::min(mins[i], mix(local ^ mix(i + 1)));
  }
  std::array<uint32_t, kMinHashSize> out;
  for (size_t i = 0; i < kMinHashSize; ++i) out[i] = static_cast<uint32_t>(mins[i] >> 32);
  return out;
}

double similarity(const std::array<uint32_t, kMinHashSize>& a, const std::array<uint32_t, kMinHashSize>& b) {
  size_t same = 0;
  for (size_t i = 0; i < kMinHashSize; ++i) same += a[i] == b[i];
  return static_cast<double>(same) / kMinHashSize;
}

}  // namespace graphcache::explain
