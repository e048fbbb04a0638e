#include "model_edit.hpp"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <functional>

namespace graphcache::onnx_test {

namespace {

// FNV-1a over a byte string: a stable 64-bit fingerprint for the harness's own bookkeeping.
uint64_t fnv1a(const std::string& bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string normalize_domain(const std::string& domain) {
  return domain == "ai.onnx" ? "" : domain;
}

void collect_free_names(const onnx::GraphProto& graph, std::set<std::string>& free_names) {
  std::set<std::string> defined;
  for (const auto& input : graph.input()) defined.insert(input.name());
  for (const auto& initializer : graph.initializer()) defined.insert(initializer.name());
  for (const auto& node : graph.node()) {
    for (const auto& output : node.output()) defined.insert(output);
  }
  std::set<std::string> read;
  for (const auto& node : graph.node()) {
    for (const std::string& name : names_read(node)) read.insert(name);
  }
  for (const auto& output : graph.output()) read.insert(output.name());
  for (const std::string& name : read) {
    if (!name.empty() && !defined.count(name)) free_names.insert(name);
  }
}

}  // namespace

bool initializer_keyed_by_value(const onnx::TensorProto& tensor) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) return false;
  uint64_t count = 1;
  for (int64_t dim : tensor.dims()) count *= static_cast<uint64_t>(dim);
  if (count <= 16) return true;
  static const std::set<int> integer_types = {2, 3, 4, 5, 6, 7, 9, 12, 13, 21, 22};
  static const std::map<int, int> bits = {{2, 8}, {3, 8},   {4, 16},  {5, 16}, {6, 32}, {7, 64},
                                          {9, 8}, {12, 32}, {13, 64}, {21, 4}, {22, 4}};
  if (!integer_types.count(tensor.data_type())) return false;
  return (count * static_cast<uint64_t>(bits.at(tensor.data_type())) + 7) / 8 <= 64 * 1024;
}

int64_t imported_opset(const onnx::ModelProto& model, const std::string& domain) {
  for (const auto& opset : model.opset_import()) {
    if (normalize_domain(opset.domain()) == normalize_domain(domain)) return opset.version();
  }
  return -1;
}

std::vector<onnx::AttributeProto> missing_defaults(const onnx::ModelProto& model,
                                                   const onnx::NodeProto& node) {
  std::vector<onnx::AttributeProto> defaults;
  const std::string domain = normalize_domain(node.domain());
  const int64_t opset = imported_opset(model, domain);
  if (opset < 0) return defaults;
  const onnx::OpSchema* schema =
      onnx::OpSchemaRegistry::Schema(node.op_type(), static_cast<int>(opset), domain);
  if (schema == nullptr) return defaults;
  for (const auto& entry : schema->attributes()) {
    // (not a structured binding: clang 14 cannot capture those in the lambda below)
    const std::string& name = entry.first;
    const onnx::OpSchema::Attribute& attribute = entry.second;
    if (attribute.default_value.type() == onnx::AttributeProto::UNDEFINED) continue;
    const bool present = std::any_of(node.attribute().begin(), node.attribute().end(),
                                     [&](const onnx::AttributeProto& a) { return a.name() == name; });
    if (present) continue;
    onnx::AttributeProto value = attribute.default_value;
    value.set_name(name);
    defaults.push_back(std::move(value));
  }
  return defaults;
}

std::vector<std::string> names_read(const onnx::NodeProto& node) {
  std::vector<std::string> names(node.input().begin(), node.input().end());
  std::set<std::string> free_names;
  for (const auto& attribute : node.attribute()) {
    if (attribute.has_g()) collect_free_names(attribute.g(), free_names);
    for (const auto& graph : attribute.graphs()) collect_free_names(graph, free_names);
  }
  names.insert(names.end(), free_names.begin(), free_names.end());
  return names;
}

ValueDescriber::ValueDescriber(const onnx::ModelProto& model) : model_(model) {
  const onnx::GraphProto& graph = model.graph();
  for (int i = 0; i < graph.node_size(); ++i) {
    for (int k = 0; k < graph.node(i).output_size(); ++k) {
      producer_[graph.node(i).output(k)] = {static_cast<size_t>(i), k};
    }
    node_reads_.push_back(names_read(graph.node(i)));
  }
  for (int i = 0; i < graph.input_size(); ++i) input_index_[graph.input(i).name()] = i;
  for (const auto& initializer : graph.initializer()) initializers_[initializer.name()] = &initializer;
  reaches_output_.assign(graph.node_size(), false);
  std::vector<std::string> stack;
  for (const auto& output : graph.output()) stack.push_back(output.name());
  while (!stack.empty()) {
    const std::string name = stack.back();
    stack.pop_back();
    if (input_index_.count(name)) continue;
    const auto it = producer_.find(name);
    if (it == producer_.end() || reaches_output_[it->second.first]) continue;
    reaches_output_[it->second.first] = true;
    for (const std::string& read : node_reads_[it->second.first]) stack.push_back(read);
  }
}

std::optional<size_t> ValueDescriber::producer(const std::string& value) const {
  if (input_index_.count(value)) return std::nullopt;
  const auto it = producer_.find(value);
  if (it == producer_.end()) return std::nullopt;
  return it->second.first;
}

std::set<size_t> ValueDescriber::descendants(size_t node) const {
  std::set<size_t> result;
  std::vector<size_t> stack{node};
  while (!stack.empty()) {
    const size_t current = stack.back();
    stack.pop_back();
    for (size_t consumer = 0; consumer < node_reads_.size(); ++consumer) {
      if (result.count(consumer)) continue;
      for (const std::string& name : node_reads_[consumer]) {
        const auto it = producer_.find(name);
        if (it != producer_.end() && it->second.first == current && !input_index_.count(name)) {
          result.insert(consumer);
          stack.push_back(consumer);
          break;
        }
      }
    }
  }
  return result;
}

uint64_t ValueDescriber::describe(const std::string& value) {
  if (value.empty()) return fnv1a("none");
  if (const auto it = value_memo_.find(value); it != value_memo_.end()) return it->second;
  std::string text;
  if (const auto in = input_index_.find(value); in != input_index_.end()) {
    text = "input " + std::to_string(in->second);
  } else if (const auto p = producer_.find(value); p != producer_.end()) {
    text = "node " + std::to_string(describe_node(p->second.first)) + " output " +
           std::to_string(p->second.second);
  } else if (const auto init = initializers_.find(value); init != initializers_.end()) {
    onnx::TensorProto tensor = *init->second;
    tensor.clear_name();
    tensor.clear_doc_string();
    if (initializer_keyed_by_value(tensor)) {
      text = "constant " + tensor.SerializeAsString();
    } else {
      text = "weight " + std::to_string(tensor.data_type());
      for (int64_t dim : tensor.dims()) text += " " + std::to_string(dim);
    }
  } else {
    text = "free " + value;
  }
  const uint64_t hash = fnv1a(text);
  value_memo_[value] = hash;
  return hash;
}

uint64_t ValueDescriber::describe_node(size_t index) {
  if (const auto it = node_memo_.find(index); it != node_memo_.end()) return it->second;
  const onnx::NodeProto& node = model_.graph().node(static_cast<int>(index));
  std::map<std::string, std::string> attributes;
  for (onnx::AttributeProto attribute : node.attribute()) {
    attribute.clear_doc_string();
    attributes[attribute.name()] = attribute.SerializeAsString();
  }
  for (const onnx::AttributeProto& attribute : missing_defaults(model_, node)) {
    attributes[attribute.name()] = attribute.SerializeAsString();
  }
  std::string text = normalize_domain(node.domain()) + "::" + node.op_type() + " outputs " +
                     std::to_string(node.output_size());
  for (const auto& [name, bytes] : attributes) text += "|" + name + "=" + bytes;
  for (const std::string& input : node_reads_[index]) text += " <- " + std::to_string(describe(input));
  const uint64_t hash = fnv1a(text);
  node_memo_[index] = hash;
  return hash;
}

namespace {

void rename_graph(onnx::GraphProto& graph, const std::map<std::string, std::string>& rename) {
  const auto apply = [&](std::string* name) {
    if (const auto it = rename.find(*name); it != rename.end()) *name = it->second;
  };
  apply(graph.mutable_name());
  for (auto& info : *graph.mutable_input()) apply(info.mutable_name());
  for (auto& info : *graph.mutable_output()) apply(info.mutable_name());
  for (auto& info : *graph.mutable_value_info()) apply(info.mutable_name());
  for (auto& initializer : *graph.mutable_initializer()) apply(initializer.mutable_name());
  for (auto& sparse : *graph.mutable_sparse_initializer()) {
    apply(sparse.mutable_values()->mutable_name());
    apply(sparse.mutable_indices()->mutable_name());
  }
  for (auto& node : *graph.mutable_node()) {
    apply(node.mutable_name());
    for (auto& input : *node.mutable_input()) apply(&input);
    for (auto& output : *node.mutable_output()) apply(&output);
    for (auto& attribute : *node.mutable_attribute()) {
      if (attribute.has_g()) rename_graph(*attribute.mutable_g(), rename);
      for (auto& body : *attribute.mutable_graphs()) rename_graph(body, rename);
    }
  }
}

void collect_names(const onnx::GraphProto& graph, std::set<std::string>& names) {
  names.insert(graph.name());
  for (const auto& info : graph.input()) names.insert(info.name());
  for (const auto& info : graph.output()) names.insert(info.name());
  for (const auto& info : graph.value_info()) names.insert(info.name());
  for (const auto& initializer : graph.initializer()) names.insert(initializer.name());
  for (const auto& sparse : graph.sparse_initializer()) {
    names.insert(sparse.values().name());
    names.insert(sparse.indices().name());
  }
  for (const auto& node : graph.node()) {
    names.insert(node.name());
    names.insert(node.input().begin(), node.input().end());
    names.insert(node.output().begin(), node.output().end());
    for (const auto& attribute : node.attribute()) {
      if (attribute.has_g()) collect_names(attribute.g(), names);
      for (const auto& body : attribute.graphs()) collect_names(body, names);
    }
  }
}

}  // namespace

void rename_everything(onnx::ModelProto& model, const std::map<std::string, std::string>& rename) {
  rename_graph(*model.mutable_graph(), rename);
}

std::set<std::string> all_names(const onnx::ModelProto& model) {
  std::set<std::string> names;
  collect_names(model.graph(), names);
  names.erase("");
  return names;
}

bool shuffle_topological_order(onnx::GraphProto& graph, std::mt19937& rng) {
  bool changed = false;
  for (auto& node : *graph.mutable_node()) {
    for (auto& attribute : *node.mutable_attribute()) {
      if (attribute.has_g()) changed |= shuffle_topological_order(*attribute.mutable_g(), rng);
      for (auto& body : *attribute.mutable_graphs()) changed |= shuffle_topological_order(body, rng);
    }
  }
  const size_t count = static_cast<size_t>(graph.node_size());
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < count; ++i) {
    for (const auto& output : graph.node(static_cast<int>(i)).output()) {
      if (!output.empty()) producer[output] = i;
    }
  }
  std::vector<std::vector<size_t>> consumers(count);
  std::vector<size_t> waiting(count, 0);
  for (size_t i = 0; i < count; ++i) {
    std::set<size_t> deps;
    for (const std::string& name : names_read(graph.node(static_cast<int>(i)))) {
      const auto it = producer.find(name);
      if (it != producer.end() && it->second != i) deps.insert(it->second);
    }
    for (size_t dep : deps) consumers[dep].push_back(i);
    waiting[i] = deps.size();
  }
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::vector<size_t> remaining = waiting, ready, order;
    for (size_t i = 0; i < count; ++i) {
      if (remaining[i] == 0) ready.push_back(i);
    }
    while (!ready.empty()) {
      const size_t pick = std::uniform_int_distribution<size_t>(0, ready.size() - 1)(rng);
      const size_t node = ready[pick];
      ready.erase(ready.begin() + static_cast<std::ptrdiff_t>(pick));
      order.push_back(node);
      for (size_t consumer : consumers[node]) {
        if (--remaining[consumer] == 0) ready.push_back(consumer);
      }
    }
    if (order.size() != count) return changed;  // not a DAG: leave it alone
    bool identity = true;
    for (size_t i = 0; i < count; ++i) identity &= order[i] == i;
    if (identity) continue;
    std::vector<onnx::NodeProto> nodes(graph.node().begin(), graph.node().end());
    graph.clear_node();
    for (size_t i : order) *graph.add_node() = std::move(nodes[i]);
    return true;
  }
  return changed;
}

}  // namespace graphcache::onnx_test
