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

bool has_training_mode_operand(const ir::Node& node) {
  return node.inputs.size() >= 3 && node.inputs[2].kind != ir::ValueRef::Kind::kNone;
}

}  // namespace

bool mark_if_random(ir::Node& node) {
  const std::string& name = node.op->name;
  bool random = false;
  if (name == "RandomNormal" || name == "RandomUniform" || name == "RandomNormalLike" ||
      name == "RandomUniformLike" || name == "Multinomial" || name == "Bernoulli") {
    random = true;
  } else if (!node.op->domain.empty()) {
    random = name.find("Random") != std::string::npos || name.find("Dropout") != std::string::npos;
  } else if (name == "Dropout" && node.op->version >= 12) {
    return has_training_mode_operand(node);  // decided by mark_dropout
  } else if (name == "Dropout" && node.op->version < 7) {
    const ir::AttrValue* is_test = attribute(node, "is_test");
    const auto* flag = is_test == nullptr ? nullptr : std::get_if<int64_t>(&is_test->value);
    random = flag == nullptr || *flag == 0;
  }
  if (random) node.nondeterministic = true;
  return false;
}

void mark_dropout(ir::Graph& graph, uint32_t index) {
  ir::Node& node = graph.nodes[index];
  if (has_training_mode_operand(node) && !is_constant_false(graph, node.inputs[2]))
    node.nondeterministic = true;
}

}  // namespace graphcache::onnx_frontend
