// End to end with the ONNX front end and the key: the fingerprint of a model's weights (memory-mapped
// from the .onnx file, canonical slot order) matches the reference, ignores names, and changes with one
// weight byte while the structural key does not.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "graphcache/fingerprint.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"
#include "reference_fingerprint.hpp"

namespace graphcache {
namespace {

const std::string kModels = GRAPHCACHE_MODELS_DIR;

Digest reference_for(const ir::Graph& graph, const std::vector<uint32_t>& order) {
  std::vector<int> descriptors;
  std::vector<testing::ReferenceSlot> slots;
  for (uint32_t index : order) {
    const ir::WeightSlot& slot = graph.weights[index];
    EXPECT_EQ(slot.data.source, ir::WeightData::Source::kFile);
    std::vector<int64_t> dims;
    for (const ir::Dim& dim : *slot.type.shape) dims.push_back(dim.value);
    const int fd = ::open(slot.data.path.c_str(), O_RDONLY);
    descriptors.push_back(fd);
    const uint64_t base = slot.data.offset;
    slots.push_back(
        {slot.type.dtype, dims, slot.data.length, [fd, base](uint64_t offset, uint64_t size, uint8_t* out) {
           ASSERT_EQ(::pread(fd, out, size, static_cast<off_t>(base + offset)), ssize_t(size));
         }});
  }
  const Digest digest = testing::reference_fingerprint(slots);
  for (int fd : descriptors) ::close(fd);
  return digest;
}

TEST(FingerprintOnnx, ModelWeightsEqualReferenceAndIgnoreNames) {
  const ir::Graph graph = load_onnx_file(kModels + "/tiny_cnn.onnx");
  const KeyResult key = compute_key(graph);
  ASSERT_FALSE(key.structure.weight_order.empty());
  const Digest fingerprint = fingerprint_graph_weights(graph, key.structure.weight_order);
  EXPECT_EQ(fingerprint, reference_for(graph, key.structure.weight_order));

  const ir::Graph renamed = load_onnx_file(kModels + "/tiny_cnn_renamed.onnx");
  EXPECT_EQ(fingerprint, fingerprint_graph_weights(renamed, compute_key(renamed).structure.weight_order));
}

TEST(FingerprintOnnx, OneWeightByteChangesTheFingerprintNotTheKey) {
  const ir::Graph graph = load_onnx_file(kModels + "/tiny_cnn.onnx");
  const KeyResult key = compute_key(graph);
  const ir::WeightData& first = graph.weights[key.structure.weight_order.front()].data;
  ASSERT_GT(first.length, 0u);

  std::ifstream in(kModels + "/tiny_cnn.onnx", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes[first.offset + first.length / 2] ^= 0x40;
  const auto copy =
      std::filesystem::temp_directory_path() / ("graphcache-fp-" + std::to_string(::getpid()) + ".onnx");
  std::ofstream(copy, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  const ir::Graph changed = load_onnx_file(copy.string());
  const KeyResult changed_key = compute_key(changed);
  EXPECT_EQ(changed_key.key, key.key);
  EXPECT_NE(fingerprint_graph_weights(changed, changed_key.structure.weight_order),
            fingerprint_graph_weights(graph, key.structure.weight_order));
  std::filesystem::remove(copy);
}

}  // namespace
}  // namespace graphcache
