#include "nondeterminism.hpp"

#include <string_view>

namespace graphcache::onnx_frontend {
namespace {

const ir::AttrValue* attribute(const ir::Node& node, std::string_view name) {
  for (const ir::Attribute& a : node.attributes) {
    if (a.name == name) return &a.value;
  }
  return nullptr;
}

// True when `ref` is statically the boolean false: a by-value Constant holding one zero byte.
bool is_constant_false(const ir::Graph& graph, const ir::ValueRef& ref) {
  if (ref.kind != ir::ValueRef::Kind::kNodeOutput || ref.index >= graph.nodes.size()) return false;
  const ir::Node& producer = graph.nodes[ref.index];
  if (!producer.op->domain.empty() || producer.op->name != "Constant") return false;
  const ir::AttrValue* value = attribute(producer, "value");
  const auto* tensor = value == nullptr ? nullptr : std::get_if<ir::TensorValue>(&value->value);
  return tensor != nullptr && tensor->dtype == ir::DType::kBool && tensor->bytes == std::string(1, '\0');
}

bool dropout_trains(const ir::Graph& graph, const ir::Node& node) {
  if (node.op->version >= 12) {
    return node.inputs.size() >= 3 && node.inputs[2].kind != ir::ValueRef::Kind::kNone &&
           !is_constant_false(graph, node.inputs[2]);
  }
  if (node.op->version >= 7) return false;
  const ir::AttrValue* is_test = attribute(node, "is_test");
  const auto* flag = is_test == nullptr ? nullptr : std::get_if<int64_t>(&is_test->value);
  return flag == nullptr || *flag == 0;
}

bool is_random(const ir::Graph& graph, const ir::Node& node) {
  const std::string& name = node.op->name;
  if (name == "RandomNormal" || name == "RandomUniform" || name == "RandomNormalLike" ||
      name == "RandomUniformLike" || name == "Multinomial" || name == "Bernoulli")
    return true;
  if (node.op->domain.empty()) return name == "Dropout" && dropout_trains(graph, node);
  return name.find("Random") != std::string::npos || name.find("Dropout") != std::string::npos;
}

}  // namespace

void mark_nondeterministic(ir::Graph& graph) {
  for (ir::Node& node : graph.nodes) {
    if (is_random(graph, node)) node.nondeterministic = true;
  }
}

}  // namespace graphcache::onnx_frontend
