#include "op_resolver.hpp"

#include <onnx/defs/schema.h>

#include <algorithm>

#include "attribute_convert.hpp"

namespace graphcache::onnx_frontend {

std::string OpResolver::normalize_domain(const std::string& domain) {
  return domain == "ai.onnx" ? std::string() : domain;
}

OpResolver::OpResolver(const std::vector<std::pair<std::string, int64_t>>& opset_import,
                       const std::vector<onnx::FunctionProto>& functions, const ErrorSource& source)
    : source_(source) {
  for (const auto& [domain, version] : opset_import) {
    if (!opsets_.emplace(normalize_domain(domain), version).second) {
      source.fail("opset for domain '" + domain + "' imported twice", "model.opset_import");
    }
  }
  for (const onnx::FunctionProto& function : functions) {
    function_bodies_[{normalize_domain(function.domain()), function.name()}] = function.SerializeAsString();
  }
}

void OpResolver::resolve(ir::Node& node, const std::string& where) const {
  const auto opset_it = opsets_.find(node.op.domain);
  const int64_t opset = opset_it == opsets_.end() ? -1 : opset_it->second;
  const auto& known_domains = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  const auto known = known_domains.find(node.op.domain);

  if (known == known_domains.end()) {  // custom domain
    node.op.version = std::max<int64_t>(opset, 0);
    const auto body = function_bodies_.find({node.op.domain, node.op.name});
    if (body != function_bodies_.end()) node.attributes.push_back({"onnx.function", body->second});
    return;
  }
  const std::string shown_domain = node.op.domain.empty() ? "ai.onnx" : node.op.domain;
  if (opset < 0) source_.fail("the model imports no opset for domain '" + shown_domain + "'", where);
  const int64_t max_known = known->second.second;
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(
      node.op.name, static_cast<int>(std::min(opset, max_known)), node.op.domain);
  if (opset > max_known) {  // newer than this libonnx: identity by opset, no defaults
    node.op.version = opset;
    return;
  }
  if (schema == nullptr) {
    source_.fail("unknown operator '" + node.op.name + "' in domain '" + shown_domain + "' at opset " +
                     std::to_string(opset),
                 where);
  }
  node.op.version = schema->since_version();
  for (const auto& entry : schema->attributes()) {
    // (not a structured binding: clang 14 cannot capture those in the lambda below)
    const std::string& name = entry.first;
    const onnx::OpSchema::Attribute& attribute = entry.second;
    if (attribute.default_value.type() == onnx::AttributeProto::UNDEFINED) continue;
    const bool present = std::any_of(node.attributes.begin(), node.attributes.end(),
                                     [&](const ir::Attribute& a) { return a.name == name; });
    if (!present) {
      node.attributes.push_back(
          {name, convert_attribute(attribute.default_value, attribute.default_value.type(), source_,
                                   where + " default of '" + name + "'")});
    }
  }
}

}  // namespace graphcache::onnx_frontend
