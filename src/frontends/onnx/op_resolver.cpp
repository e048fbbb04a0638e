#include "op_resolver.hpp"

#include <google/protobuf/unknown_field_set.h>
#include <onnx/defs/schema.h>

#include <algorithm>
#include <set>

#include "attribute_convert.hpp"

namespace graphcache::onnx_frontend {
namespace {

// A length-delimited field this libonnx's generated classes do not know (IR 10's overload fields: 8 in
// NodeProto, 13 in FunctionProto), read from the message's unknown fields; "" when absent.
std::string unknown_string(const google::protobuf::Message& message, int field) {
  const google::protobuf::UnknownFieldSet& unknown = message.GetReflection()->GetUnknownFields(message);
  std::string value;
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& f = unknown.field(i);
    if (f.number() == field && f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
      value = f.length_delimited();
  }
  return value;
}

// Appends the functions `node` may call: itself, and the nodes of its graph attributes. Clears the doc
// strings on the way (they do not compute).
void collect_calls(onnx::NodeProto& node,
                   std::vector<std::tuple<std::string, std::string, std::string>>& calls) {
  node.clear_doc_string();
  calls.emplace_back(OpResolver::normalize_domain(node.domain()), node.op_type(), unknown_string(node, 8));
  for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
    attribute.clear_doc_string();
    std::vector<onnx::GraphProto*> graphs;
    if (attribute.has_g()) graphs.push_back(attribute.mutable_g());
    for (onnx::GraphProto& g : *attribute.mutable_graphs()) graphs.push_back(&g);
    for (onnx::GraphProto* g : graphs) {
      g->clear_doc_string();
      for (onnx::NodeProto& inner : *g->mutable_node()) collect_calls(inner, calls);
    }
  }
}

}  // namespace

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
    const FunctionId id{normalize_domain(function.domain()), function.name(), unknown_string(function, 13)};
    onnx::FunctionProto stripped = function;
    stripped.clear_doc_string();
    std::vector<FunctionId>& calls = function_calls_[id];
    for (onnx::NodeProto& node : *stripped.mutable_node()) collect_calls(node, calls);
    if (!function_bodies_.emplace(id, stripped.SerializeAsString()).second) {
      source.fail("function '" + function.name() + "' in domain '" + function.domain() + "' is defined twice",
                  "model.functions");
    }
  }
}

const std::string& OpResolver::definition(const FunctionId& id) const {
  if (const auto it = definitions_.find(id); it != definitions_.end()) return it->second;
  // Iterative DFS (a chain of thousands of functions must not overflow the stack); each function once, so
  // recursion between functions (invalid ONNX) terminates too.
  std::string out;
  std::set<FunctionId> seen{id};
  std::vector<FunctionId> stack{id};
  while (!stack.empty()) {
    const FunctionId current = stack.back();
    stack.pop_back();
    const std::string& body = function_bodies_.at(current);
    out += std::to_string(body.size()) + ":" + body;  // length-prefixed: the concatenation is injective
    const std::vector<FunctionId>& calls = function_calls_.at(current);
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if (function_bodies_.count(*it) != 0 && seen.insert(*it).second) stack.push_back(*it);
    }
  }
  return definitions_.emplace(id, std::move(out)).first->second;
}

OpResolver::Resolution& OpResolver::resolution(std::string_view domain_view, std::string_view name_view,
                                               std::string_view overload_view,
                                               const std::function<std::string()>& where) const {
  std::string id;  // domain, name, overload: NUL-separated (none of them holds a NUL that matters here)
  id.reserve(domain_view.size() + name_view.size() + overload_view.size() + 2);
  id.append(domain_view).append(1, '\0').append(name_view).append(1, '\0').append(overload_view);
  if (const auto it = resolutions_.find(id); it != resolutions_.end()) return it.value();

  const std::string domain(domain_view), name(name_view), overload(overload_view);
  Resolution found;
  int64_t version = 0;
  std::string definition_text;
  const auto opset_it = opsets_.find(domain);
  const int64_t opset = opset_it == opsets_.end() ? -1 : opset_it->second;
  const auto& known_domains = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  const auto known = known_domains.find(domain);
  const FunctionId function{domain, name, overload};
  if (function_bodies_.count(function) != 0) {  // the model defines this op: its body is its identity
    version = std::max<int64_t>(opset, 0);
    definition_text = definition(function);
  } else if (known == known_domains.end()) {  // custom domain
    version = std::max<int64_t>(opset, 0);
  } else {
    const std::string shown_domain = domain.empty() ? "ai.onnx" : domain;
    if (opset < 0) source_.fail("the model imports no opset for domain '" + shown_domain + "'", where());
    const int64_t max_known = known->second.second;
    const onnx::OpSchema* schema =
        onnx::OpSchemaRegistry::Schema(name, static_cast<int>(std::min(opset, max_known)), domain);
    if (opset > max_known) {  // newer than this libonnx: identity by opset, no defaults
      version = opset;
    } else {
      if (schema == nullptr) {
        source_.fail("unknown operator '" + name + "' in domain '" + shown_domain + "' at opset " +
                         std::to_string(opset),
                     where());
      }
      version = schema->since_version();
      found.schema = schema;
      found.defaults.resize(schema->attributes().size());
    }
  }
  found.op = ir::OpRef(ir::OpId{domain, name, overload, version}, std::move(definition_text));
  return resolutions_.emplace(std::move(id), std::move(found)).first.value();
}

void OpResolver::resolve(ir::Node& node, std::string_view domain, std::string_view op_name,
                         std::string_view overload, const std::function<std::string()>& where) const {
  Resolution& found = resolution(domain, op_name, overload, where);
  node.op = found.op;
  if (found.schema == nullptr) return;
  size_t k = 0;
  for (const auto& entry : found.schema->attributes()) {
    // (not a structured binding: clang 14 cannot capture those in the lambda below)
    const std::string& name = entry.first;
    const onnx::OpSchema::Attribute& attribute = entry.second;
    std::optional<ir::AttrValue>& converted = found.defaults[k++];
    if (attribute.default_value.type() == onnx::AttributeProto::UNDEFINED) continue;
    const bool present = std::any_of(node.attributes.begin(), node.attributes.end(),
                                     [&](const ir::Attribute& a) { return a.name == name; });
    if (!present) {
      if (!converted) {
        converted = convert_attribute(attribute.default_value, attribute.default_value.type(), source_,
                                      where() + " default of '" + name + "'");
      }
      node.attributes.push_back({name, *converted});
    }
  }
}

}  // namespace graphcache::onnx_frontend
