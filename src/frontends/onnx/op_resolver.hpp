// Operator identity and schema defaults.
//
// Version rule: a node's OpId.version is the since_version of the schema its model's opset selects, so two
// models importing opsets 13 and 14 share keys for ops unchanged between them. When the model imports an
// opset newer than this libonnx knows, the schema we would pick may be outdated: we then use the imported
// opset version itself and fill no defaults (never a false hit; at worst a miss).
// Unknown ops: in a known ONNX domain (ai.onnx, ai.onnx.ml, training) with an opset we fully know, an op
// without a schema is an invalid model (a typo or a model for another runtime) and is refused. In any
// other domain ops are custom (legal); they are kept with the domain's imported opset version (0 when the
// model imports none).
#pragma once

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <tsl/robin_map.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graphcache/ir.hpp"
#include "wire_model.hpp"

namespace graphcache::onnx_frontend {

class OpResolver {
 public:
  OpResolver(const std::vector<std::pair<std::string, int64_t>>& opset_import,
             const std::vector<onnx::FunctionProto>& functions, const ErrorSource& source);

  // Sets node.op to (domain, name, overload) at its resolved version (one shared OpId per distinct op)
  // and appends the schema's default attributes the node does not set. A call of a model-local function
  // gets its op's definition (OpRef::definition): the function and every function it calls, at any depth
  // (through nested calls and If/Loop/Scan bodies), serialized without doc strings. `where()` spells out the
  // node's location, only for an error.
  void resolve(ir::Node& node, std::string_view domain, std::string_view name, std::string_view overload,
               const std::function<std::string()>& where) const;

  bool imports(const std::string& domain) const { return opsets_.count(domain) != 0; }

  // "ai.onnx" and "" name the same domain.
  static std::string normalize_domain(const std::string& domain);

 private:
  using FunctionId = std::tuple<std::string, std::string, std::string>;  // domain, name, overload
  // The definition of a call of `id`: the functions reachable from it in first-call order, each as
  // length-prefixed serialized bytes.
  const std::string& definition(const FunctionId& id) const;

  std::unordered_map<std::string, int64_t> opsets_;
  std::map<FunctionId, std::string> function_bodies_;             // serialized, doc strings cleared
  std::map<FunctionId, std::vector<FunctionId>> function_calls_;  // callees of each, in body order
  mutable std::map<FunctionId, std::string> definitions_;
  const ErrorSource& source_;

  // What resolve() found for one (domain, name, overload): a model has a million nodes but few ops, and
  // a schema lookup (and the converted defaults) per node cost more than the rest of the node.
  struct Resolution {
    ir::OpRef op;                                        // at its resolved version, with its definition
    const onnx::OpSchema* schema = nullptr;              // defaults to fill; null: none
    std::vector<std::optional<ir::AttrValue>> defaults;  // converted on first need, schema attribute order
  };
  Resolution& resolution(std::string_view domain, std::string_view name, std::string_view overload,
                         const std::function<std::string()>& where) const;
  mutable tsl::robin_map<std::string, Resolution> resolutions_;
};

}  // namespace graphcache::onnx_frontend
