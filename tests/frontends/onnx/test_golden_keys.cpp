// Golden keys: the structural digest (and what the weight fingerprint reads: each reached weight slot's
// name and byte range) of every bundled model, every libonnx test model and a generated residual model,
// compared with golden_keys.txt, saved before the loader / IR / key walk were reworked for speed. A
// rework that changes any of them changes the key encoding; that must be a deliberate bump, not a side
// effect. Errors (kind and message) are part of the record: bad input must fail the same way.
//
// Regenerate (only for a deliberate encoding change): GRAPHCACHE_UPDATE_GOLDEN=1 onnx_golden_keys_test
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"
#include "onnx_test_util.hpp"
#include "residual_model.hpp"

namespace graphcache::onnx_test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTestDataDir = "/usr/share/libonnx-testdata/data";

std::string hex64(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// "<structural digest> <reachable nodes> <weights digest>" or "error <kind>: <message>", with `root`
// replaced by "<root>" in messages so the record does not depend on where the checkout lives.
std::string record(const std::string& path, const std::string& root) {
  try {
    const ir::Graph graph = load_onnx_file(path);
    const StructuralInfo info = structural_hash(graph);
    std::string weights;
    for (uint32_t w : info.weight_order) {
      const ir::WeightSlot& slot = graph.weights[w];
      const ir::WeightData& d = slot.data;
      weights += slot.name + '|' + std::to_string(static_cast<int>(d.source)) + '|' +
                 fs::path(d.path).filename().string() + '|' + std::to_string(d.offset) + '|' +
                 std::to_string(d.length) + '|';
      if (d.source == ir::WeightData::Source::kMemory && d.pointer != nullptr)
        weights += hex64(XXH3_64bits(d.pointer, d.length));
      weights += '\n';
    }
    return info.digest.hex() + ' ' + std::to_string(info.reachable_nodes) + ' ' +
           hex64(XXH3_64bits(weights.data(), weights.size()));
  } catch (const Error& e) {
    std::string message = e.what();
    for (size_t at; (at = message.find(root)) != std::string::npos;)
      message.replace(at, root.size(), "<root>");
    return std::string("error ") + to_string(e.kind()) + ": " + message;
  }
}

// The scaling bench's model (tests/frontends/onnx/residual_model.hpp) with a mix of weight shapes and
// payloads.
std::string residual_model(size_t blocks, float weight_scale, int weight_side = 4) {
  return onnx_test::residual_model(ResidualModelOptions{blocks, weight_side, true, weight_scale});
}

void current_records(std::map<std::string, std::string>& records) {
  const std::string repo = fs::canonical(fs::path(GRAPHCACHE_SOURCE_DIR)).string();
  for (const auto& entry : fs::directory_iterator(fs::path(repo) / "models")) {
    if (entry.path().extension() == ".onnx")
      records["models/" + entry.path().filename().string()] = record(entry.path().string(), repo);
  }
  if (fs::is_directory(kTestDataDir)) {
    for (const auto& entry : fs::recursive_directory_iterator(kTestDataDir)) {
      if (entry.is_regular_file() && entry.path().extension() == ".onnx")
        records["testdata/" + fs::relative(entry.path(), kTestDataDir).string()] =
            record(entry.path().string(), repo);
    }
  }
  TempDir dir;
  struct Generated {
    std::string name;
    size_t blocks;
    float scale;
  };
  for (const auto& [name, blocks, scale] :
       {Generated{"residual_1000", 1000, 1.0f}, Generated{"residual_1000_scaled", 1000, 2.0f},
        Generated{"residual_7", 7, 1.0f}}) {
    const std::string path = dir.file(name + ".onnx");
    write_file(path, residual_model(blocks, scale));
    records["generated/" + name] = record(path, dir.path().string());
    // Weight slots (8x8 weights are too large to key by value) and a truncated file (an error).
    write_file(path, residual_model(blocks, scale, 8));
    records["generated/" + name + "_slots"] = record(path, dir.path().string());
    const std::string bytes = residual_model(blocks, scale);
    write_file(path, bytes.substr(0, bytes.size() * 2 / 3));
    records["generated/" + name + "_truncated"] = record(path, dir.path().string());
  }
  // A cycle: the first block's MatMul reads the last block's output.
  onnx::ModelProto cyclic;
  ASSERT_TRUE(cyclic.ParseFromString(residual_model(5, 1.0f)));
  cyclic.mutable_graph()->mutable_node(0)->set_input(0, "b4.y");
  const std::string path = dir.file("cyclic.onnx");
  write_file(path, cyclic.SerializeAsString());
  records["generated/cyclic"] = record(path, dir.path().string());
}

TEST(OnnxGoldenKeys, EveryModelKeysAsBeforeTheRework) {
  const fs::path golden = fs::path(GRAPHCACHE_SOURCE_DIR) / "tests/frontends/onnx/golden_keys.txt";
  std::map<std::string, std::string> now;
  current_records(now);
  if (std::getenv("GRAPHCACHE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream out(golden);
    for (const auto& [name, line] : now) out << name << '\t' << line << '\n';
    GTEST_SKIP() << "wrote " << now.size() << " records to " << golden;
  }
  std::ifstream in(golden);
  ASSERT_TRUE(in) << golden;
  std::map<std::string, std::string> saved;
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    saved[line.substr(0, tab)] = line.substr(tab + 1);
  }
  // The test data must be installed (scripts/setup.sh): without it this test would check 6 models.
  ASSERT_GE(now.size(), 1000u);
  size_t compared = 0;
  for (const auto& [name, line] : now) {
    const auto it = saved.find(name);
    if (it == saved.end()) {
      ADD_FAILURE() << name << ": not in the golden list";
      continue;
    }
    EXPECT_EQ(line, it->second) << name;
    ++compared;
  }
  EXPECT_EQ(compared, saved.size()) << "golden models missing from this run";
}

}  // namespace
}  // namespace graphcache::onnx_test
