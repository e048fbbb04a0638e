// Soundness harness over every model in Debian's libonnx-testdata: each loads (or fails with a clear
// error), keys are deterministic across processes, semantic mutations always change the key (no false
// hits) and semantics-preserving rewrites never do (no false misses).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"
#include "model_edit.hpp"

namespace graphcache::onnx_test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTestDataDir = "/usr/share/libonnx-testdata/data";
constexpr size_t kMaxPerKind = 6;  // per model and mutation kind: keeps the run to seconds

std::vector<std::string> test_models() {
  std::vector<std::string> paths;
  if (!fs::is_directory(kTestDataDir)) return paths;
  for (const auto& entry : fs::recursive_directory_iterator(kTestDataDir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".onnx")
      paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

struct Variant {
  std::string what;
  onnx::ModelProto model;
};

// --- mutations: each must change the key --------------------------------------------------------------

float other_float(float f) {
  return f == 1.5f ? 2.5f : 1.5f;
}

bool mutate_tensor(onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL || t.ByteSizeLong() > 64 * 1024) return false;
  if (!t.raw_data().empty()) {
    (*t.mutable_raw_data())[0] ^= 1;
  } else if (t.float_data_size() > 0) {
    t.set_float_data(0, other_float(t.float_data(0)));
  } else if (t.int32_data_size() > 0) {
    t.set_int32_data(0, t.int32_data(0) == 0 ? 1 : 0);
  } else if (t.int64_data_size() > 0) {
    t.set_int64_data(0, t.int64_data(0) == 0 ? 1 : 0);
  } else if (t.double_data_size() > 0) {
    t.set_double_data(0, t.double_data(0) == 1.5 ? 2.5 : 1.5);
  } else if (t.uint64_data_size() > 0) {
    t.set_uint64_data(0, t.uint64_data(0) == 0 ? 1 : 0);
  } else if (t.string_data_size() > 0) {
    t.set_string_data(0, t.string_data(0) + "_x");
  } else {
    return false;
  }
  return true;
}

// Changes an attribute's value; false for kinds this harness does not mutate (graphs, type protos).
bool mutate_attribute(onnx::AttributeProto& a) {
  switch (a.type()) {
    case onnx::AttributeProto::FLOAT:
      a.set_f(other_float(a.f()));
      return true;
    case onnx::AttributeProto::INT:
      a.set_i(a.i() == 7 ? 8 : 7);
      return true;
    case onnx::AttributeProto::STRING:
      a.set_s(a.s() + "_x");
      return true;
    case onnx::AttributeProto::FLOATS:
      if (a.floats_size() == 0)
        a.add_floats(1.5f);
      else
        a.set_floats(0, other_float(a.floats(0)));
      return true;
    case onnx::AttributeProto::INTS:
      if (a.ints_size() == 0)
        a.add_ints(1);
      else
        a.set_ints(0, a.ints(0) == 7 ? 8 : 7);
      return true;
    case onnx::AttributeProto::STRINGS:
      if (a.strings_size() == 0)
        a.add_strings("x");
      else
        a.set_strings(0, a.strings(0) + "_x");
      return true;
    case onnx::AttributeProto::TENSOR:
      return mutate_tensor(*a.mutable_t());
    default:
      return false;
  }
}

onnx::TypeProto::Tensor* innermost_tensor(onnx::TypeProto* type) {
  while (true) {
    switch (type->value_case()) {
      case onnx::TypeProto::kTensorType:
        return type->mutable_tensor_type();
      case onnx::TypeProto::kSequenceType:
        type = type->mutable_sequence_type()->mutable_elem_type();
        break;
      case onnx::TypeProto::kOptionalType:
        type = type->mutable_optional_type()->mutable_elem_type();
        break;
      default:
        return nullptr;
    }
  }
}

bool is_commutative(const onnx::NodeProto& node) {
  static const std::set<std::string> ops = {"Add",        "Mul",       "Sum",       "Max", "Min",
                                            "Mean",       "And",       "Or",        "Xor", "Equal",
                                            "BitwiseAnd", "BitwiseOr", "BitwiseXor"};
  return (node.domain().empty() || node.domain() == "ai.onnx") && ops.count(node.op_type());
}

std::vector<Variant> mutations(const onnx::ModelProto& model) {
  std::vector<Variant> out;
  ValueDescriber describer(model);
  const onnx::GraphProto& graph = model.graph();
  const auto reachable = describer.reaches_output();
  const auto label = [&](int i) {
    return "node " + std::to_string(i) + " (" + graph.node(i).op_type() + ")";
  };
  size_t attributes = 0, defaults = 0, swaps = 0, rewires = 0, op_types = 0, bodies = 0;

  for (int i = 0; i < graph.node_size(); ++i) {
    if (!reachable[i]) continue;  // dead code: changing it is a semantic no-op
    const onnx::NodeProto& node = graph.node(i);
    // Change an attribute value (explicit ones, then schema defaults made explicit with another value).
    for (int a = 0; a < node.attribute_size() && attributes < kMaxPerKind; ++a) {
      Variant v{"change attribute '" + node.attribute(a).name() + "' of " + label(i), model};
      if (mutate_attribute(*v.model.mutable_graph()->mutable_node(i)->mutable_attribute(a))) {
        out.push_back(std::move(v));
        ++attributes;
      }
    }
    for (onnx::AttributeProto value : missing_defaults(model, node)) {
      if (defaults >= kMaxPerKind || !mutate_attribute(value)) continue;
      Variant v{"set non-default attribute '" + value.name() + "' of " + label(i), model};
      *v.model.mutable_graph()->mutable_node(i)->add_attribute() = value;
      out.push_back(std::move(v));
      ++defaults;
    }
    // Change an attribute inside a subgraph body (nodes of the body that reach its outputs).
    for (int a = 0; a < node.attribute_size() && bodies < 2; ++a) {
      if (!node.attribute(a).has_g()) continue;
      onnx::ModelProto body_model;
      *body_model.mutable_opset_import() = model.opset_import();
      *body_model.mutable_graph() = node.attribute(a).g();
      ValueDescriber body(body_model);
      for (int b = 0; b < body_model.graph().node_size() && bodies < 2; ++b) {
        if (!body.reaches_output()[b] || body_model.graph().node(b).attribute_size() == 0) continue;
        Variant v{"change an attribute in subgraph '" + node.attribute(a).name() + "' of " + label(i), model};
        auto* target =
            v.model.mutable_graph()->mutable_node(i)->mutable_attribute(a)->mutable_g()->mutable_node(b);
        if (mutate_attribute(*target->mutable_attribute(0))) {
          out.push_back(std::move(v));
          ++bodies;
        }
      }
    }
    // Swap two operands of a non-commutative op (skipping structurally identical operands).
    if (!is_commutative(node)) {
      for (int x = 0; x < node.input_size(); ++x) {
        for (int y = x + 1; y < node.input_size() && swaps < kMaxPerKind; ++y) {
          if (node.input(x) == node.input(y) ||
              describer.describe(node.input(x)) == describer.describe(node.input(y))) {
            continue;
          }
          Variant v{"swap operands " + std::to_string(x) + "," + std::to_string(y) + " of " + label(i),
                    model};
          auto* inputs = v.model.mutable_graph()->mutable_node(i)->mutable_input();
          std::swap(*inputs->Mutable(x), *inputs->Mutable(y));
          out.push_back(std::move(v));
          ++swaps;
        }
      }
    }
    // Rewire an operand to another value: a graph input or an output of a node that does not depend on
    // this one (so no cycle), structurally different from the current operand.
    const std::set<size_t> downstream = describer.descendants(static_cast<size_t>(i));
    std::vector<std::string> candidates;
    for (const auto& input : graph.input()) candidates.push_back(input.name());
    for (int p = 0; p < graph.node_size(); ++p) {
      if (p == i || downstream.count(static_cast<size_t>(p))) continue;
      for (const auto& output : graph.node(p).output()) {
        if (!output.empty()) candidates.push_back(output);
      }
    }
    for (int x = 0; x < node.input_size() && rewires < kMaxPerKind; ++x) {
      if (node.input(x).empty()) continue;
      for (const std::string& candidate : candidates) {
        if (candidate == node.input(x) || describer.describe(candidate) == describer.describe(node.input(x)))
          continue;
        Variant v{"rewire operand " + std::to_string(x) + " of " + label(i) + " to '" + candidate + "'",
                  model};
        v.model.mutable_graph()->mutable_node(i)->set_input(x, candidate);
        out.push_back(std::move(v));
        ++rewires;
        break;
      }
    }
    // Change the op type.
    if ((node.domain().empty() || node.domain() == "ai.onnx") && op_types < kMaxPerKind) {
      Variant v{"change op type of " + label(i), model};
      v.model.mutable_graph()->mutable_node(i)->set_op_type(node.op_type() == "Identity" ? "Neg"
                                                                                         : "Identity");
      out.push_back(std::move(v));
      ++op_types;
    }
  }
  // Change a graph input's dtype or shape.
  for (int i = 0; i < graph.input_size() && i < 3; ++i) {
    Variant dtype{"change dtype of input " + std::to_string(i), model};
    Variant shape{"change shape of input " + std::to_string(i), model};
    onnx::TypeProto::Tensor* d =
        innermost_tensor(dtype.model.mutable_graph()->mutable_input(i)->mutable_type());
    onnx::TypeProto::Tensor* s =
        innermost_tensor(shape.model.mutable_graph()->mutable_input(i)->mutable_type());
    if (d == nullptr || s == nullptr) continue;
    d->set_elem_type(d->elem_type() == 1 ? 11 : 1);
    out.push_back(std::move(dtype));
    auto* dims = s->mutable_shape()->mutable_dim();
    if (dims->empty()) {
      s->mutable_shape()->add_dim()->set_dim_value(1);
    } else if (dims->Get(0).has_dim_value()) {
      dims->Mutable(0)->set_dim_value(dims->Get(0).dim_value() + 1);
    } else {
      dims->Mutable(0)->set_dim_value(7);
    }
    out.push_back(std::move(shape));
  }
  // Reorder graph outputs.
  if (graph.output_size() >= 2) {
    const bool same =
        describer.describe(graph.output(0).name()) == describer.describe(graph.output(1).name()) &&
        graph.output(0).type().SerializeAsString() == graph.output(1).type().SerializeAsString();
    if (!same) {
      Variant v{"swap graph outputs 0 and 1", model};
      v.model.mutable_graph()->mutable_output()->SwapElements(0, 1);
      out.push_back(std::move(v));
    }
  }
  return out;
}

// --- rewrites: each must keep the key ------------------------------------------------------------------

void shuffle_attributes(onnx::GraphProto& graph, std::mt19937& rng, bool& changed) {
  for (auto& node : *graph.mutable_node()) {
    auto* attributes = node.mutable_attribute();
    if (attributes->size() >= 2) {
      std::vector<onnx::AttributeProto> items(attributes->begin(), attributes->end());
      std::vector<onnx::AttributeProto> original = items;
      std::shuffle(items.begin(), items.end(), rng);
      if (items.front().name() == original.front().name()) std::reverse(items.begin(), items.end());
      attributes->Clear();
      for (auto& item : items) *attributes->Add() = std::move(item);
      changed = true;
    }
    for (auto& attribute : *node.mutable_attribute()) {
      if (attribute.has_g()) shuffle_attributes(*attribute.mutable_g(), rng, changed);
      for (auto& body : *attribute.mutable_graphs()) shuffle_attributes(body, rng, changed);
    }
  }
}

bool add_all_defaults(onnx::ModelProto& model) {
  bool added = false;
  for (auto& node : *model.mutable_graph()->mutable_node()) {
    for (const onnx::AttributeProto& value : missing_defaults(model, node)) {
      *node.add_attribute() = value;
      added = true;
    }
  }
  return added;
}

std::map<std::string, std::string> random_names(const onnx::ModelProto& model, std::mt19937& rng,
                                                bool permute) {
  const std::set<std::string> names = all_names(model);
  std::vector<std::string> targets;
  if (permute) {
    targets.assign(names.begin(), names.end());
    std::shuffle(targets.begin(), targets.end(), rng);
  } else {
    for (size_t i = 0; i < names.size(); ++i)
      targets.push_back("t" + std::to_string(rng() % 1000000) + "_" + std::to_string(i));
  }
  std::map<std::string, std::string> rename;
  size_t i = 0;
  for (const std::string& name : names) rename[name] = targets[i++];
  return rename;
}

std::vector<Variant> rewrites(const onnx::ModelProto& model, std::mt19937& rng) {
  std::vector<Variant> out;
  for (bool permute : {false, true}) {
    Variant v{permute ? "permute all names" : "rename every node/value/initializer", model};
    rename_everything(v.model, random_names(model, rng, permute));
    out.push_back(std::move(v));
  }
  {
    Variant v{"prefix every name", model};
    std::map<std::string, std::string> rename;
    for (const std::string& name : all_names(model)) rename[name] = "renamed/" + name;
    rename_everything(v.model, rename);
    out.push_back(std::move(v));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    Variant v{"re-emit nodes in another topological order", model};
    if (shuffle_topological_order(*v.model.mutable_graph(), rng)) out.push_back(std::move(v));
  }
  {
    Variant v{"shuffle attribute order", model};
    bool changed = false;
    shuffle_attributes(*v.model.mutable_graph(), rng, changed);
    if (changed) out.push_back(std::move(v));
  }
  {
    Variant v{"add every explicit default attribute", model};
    if (add_all_defaults(v.model)) out.push_back(std::move(v));
  }
  size_t single_defaults = 0;
  for (int i = 0; i < model.graph().node_size() && single_defaults < kMaxPerKind; ++i) {
    for (const onnx::AttributeProto& value : missing_defaults(model, model.graph().node(i))) {
      if (single_defaults >= kMaxPerKind) break;
      Variant v{"add explicit default '" + value.name() + "' to node " + std::to_string(i), model};
      *v.model.mutable_graph()->mutable_node(i)->add_attribute() = value;
      out.push_back(std::move(v));
      ++single_defaults;
    }
  }
  {
    Variant v{"change doc strings and metadata", model};
    v.model.set_doc_string("rewritten");
    v.model.set_producer_name("graphcache-harness");
    v.model.set_producer_version("0");
    v.model.set_model_version(v.model.model_version() + 1);
    auto* prop = v.model.add_metadata_props();
    prop->set_key("harness");
    prop->set_value("1");
    v.model.mutable_graph()->set_doc_string("rewritten graph");
    for (auto& node : *v.model.mutable_graph()->mutable_node()) node.set_doc_string("rewritten node");
    v.model.mutable_graph()->clear_value_info();  // intermediate types are derived by inference
    out.push_back(std::move(v));
  }
  {
    Variant v{"all rewrites at once", model};
    add_all_defaults(v.model);
    bool changed = false;
    shuffle_attributes(*v.model.mutable_graph(), rng, changed);
    shuffle_topological_order(*v.model.mutable_graph(), rng);
    rename_everything(v.model, random_names(v.model, rng, true));
    out.push_back(std::move(v));
  }
  return out;
}

// "change attribute 'axis' of node 3 (Conv)" -> "change attribute": the kind, for the per-kind counts.
std::string kind_of(const std::string& what) {
  const size_t end = what.find_first_of("'0123456789(");
  std::string kind = what.substr(0, end);
  while (!kind.empty() && kind.back() == ' ') kind.pop_back();
  for (const char* suffix : {" of", " to", " of node", " of input"}) {
    const std::string tail(suffix);
    if (kind.size() > tail.size() && kind.compare(kind.size() - tail.size(), tail.size(), tail) == 0) {
      kind.resize(kind.size() - tail.size());
    }
  }
  return kind;
}

std::optional<Key> key_of(const onnx::ModelProto& model, const std::string& folder, std::string& error) {
  const std::string bytes = model.SerializeAsString();
  try {
    return compute_key(load_onnx_bytes(bytes, folder)).key;
  } catch (const Error& e) {
    error = e.what();
    return std::nullopt;
  }
}

TEST(OnnxSoundness, EveryTestModelLoadsOrFailsWithAClearError) {
  const std::vector<std::string> models = test_models();
  ASSERT_GE(models.size(), 1000u) << "libonnx-testdata is not installed under " << kTestDataDir;
  size_t loaded = 0, refused = 0;
  for (const std::string& path : models) {
    try {
      const ir::Graph graph = load_onnx_file(path);
      EXPECT_FALSE(graph.outputs.empty()) << path;
      EXPECT_NO_THROW(ir::validate(graph)) << path;  // the IR's own contract (refs in range, captures, DAG)
      ++loaded;
    } catch (const Error& e) {
      ++refused;
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u)
          << "error does not name the file: " << e.what();
      EXPECT_TRUE(e.kind() == ErrorKind::kInvalidModel || e.kind() == ErrorKind::kUnsupported) << e.what();
    }
  }
  std::cout << "[onnx soundness] models: " << models.size() << ", loaded: " << loaded
            << ", refused with a clear error: " << refused << "\n";
}

TEST(OnnxSoundness, KeysAreDeterministicAcrossProcesses) {
  const std::vector<std::string> models = test_models();
  ASSERT_FALSE(models.empty());
  const fs::path list = fs::temp_directory_path() / ("graphcache_onnx_models_" + std::to_string(::getpid()));
  {
    std::ofstream out(list);
    for (const std::string& path : models) out << path << "\n";
  }
  const auto run_helper = [&]() {
    const std::string command = std::string(ONNX_KEY_DUMP_PATH) + " < " + list.string();
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    std::string output;
    char buffer[4096];
    while (pipe && std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
    return output;
  };
  const std::string first = run_helper();
  const std::string second = run_helper();
  fs::remove(list);
  EXPECT_EQ(first, second);
  // And the same keys in this process.
  std::istringstream lines(first);
  size_t compared = 0;
  for (std::string line; std::getline(lines, line);) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const std::string path = line.substr(tab + 1);
    if (line.rfind("error", 0) == 0) continue;
    EXPECT_EQ(line.substr(0, tab), compute_key(load_onnx_file(path)).key.hex()) << path;
    ++compared;
  }
  EXPECT_EQ(compared, models.size());
  std::cout << "[onnx soundness] keys identical in 3 processes for " << compared << " models\n";
}

TEST(OnnxSoundness, MutationsChangeTheKeyAndRewritesKeepIt) {
  const std::vector<std::string> models = test_models();
  ASSERT_FALSE(models.empty());
  size_t mutations_tried = 0, keys_changed = 0, rewrites_tried = 0, keys_kept = 0;
  std::vector<std::string> failures;
  std::map<std::string, size_t> per_kind;
  for (const std::string& path : models) {
    onnx::ModelProto model;
    ASSERT_TRUE(model.ParseFromString(read_file(path))) << path;
    const std::string folder = fs::path(path).parent_path().string();
    std::string error;
    const std::optional<Key> base = key_of(model, folder, error);
    if (!base) continue;  // refused models are covered by the test above
    std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(path)));
    for (const Variant& v : mutations(model)) {
      ++mutations_tried;
      ++per_kind["mutation: " + kind_of(v.what)];
      const std::optional<Key> key = key_of(v.model, folder, error);
      if (key && *key != *base) {
        ++keys_changed;
      } else {
        failures.push_back("FALSE HIT " + path + ": " + v.what + (key ? "" : " (refused: " + error + ")"));
      }
    }
    for (const Variant& v : rewrites(model, rng)) {
      ++rewrites_tried;
      ++per_kind["rewrite: " + kind_of(v.what)];
      const std::optional<Key> key = key_of(v.model, folder, error);
      if (key && *key == *base) {
        ++keys_kept;
      } else {
        failures.push_back("FALSE MISS " + path + ": " + v.what + (key ? "" : " (refused: " + error + ")"));
      }
    }
  }
  std::cout << "[onnx soundness] mutations tried: " << mutations_tried << ", keys changed: " << keys_changed
            << "\n[onnx soundness] rewrites tried: " << rewrites_tried << ", keys kept: " << keys_kept
            << "\n";
  for (const auto& [kind, count] : per_kind) std::cout << "    " << kind << ": " << count << "\n";
  for (size_t i = 0; i < failures.size() && i < 40; ++i) std::cout << "  " << failures[i] << "\n";
  EXPECT_EQ(keys_changed, mutations_tried) << "false hits";
  EXPECT_EQ(keys_kept, rewrites_tried) << "false misses";
  EXPECT_GE(mutations_tried, 5000u);
  EXPECT_GE(rewrites_tried, 5000u);
}

}  // namespace
}  // namespace graphcache::onnx_test
