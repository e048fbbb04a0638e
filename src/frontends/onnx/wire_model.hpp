// A lazily parsed view of an ONNX ModelProto held in a memory-mapped file.
//
// Why not onnx::ModelProto::ParseFromArray: protobuf copies every bytes field, so parsing a model with
// 1 GB of embedded initializers copies 1 GB (and faults in every page of the file) before we can look at
// a single node. The key never needs those bytes. So we walk the ModelProto/GraphProto wire format with
// google::protobuf::io::CodedInputStream, parse the small messages (value infos, attributes, functions)
// with the generated onnx classes on their sub-slices, and read TensorProto initializers field by field,
// skipping raw_data / typed payloads while recording where they lie. Only the pages holding message
// headers are touched (the mapping is MADV_RANDOM, so no read-ahead pulls in payloads either).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace graphcache::onnx_frontend {

// A byte range of the model plus its offset from the start of the model buffer.
struct Span {
  const uint8_t* data = nullptr;
  size_t size = 0;
  uint64_t offset = 0;
};

// Where an error is reported from: "<label>: <what>: <where>".
struct ErrorSource {
  std::string label;  // file path or "<memory>"
  [[noreturn]] void fail(const std::string& what, const std::string& where) const;
};

// A location in the model ("graph.node[12]"), spelled out only when an error names it: building a string
// per node on the success path cost more than scanning the node.
struct Where {
  const std::string* base = nullptr;
  const char* member = nullptr;  // base + member + "[index]"; base alone when null
  size_t index = 0;

  Where(const std::string& whole) : base(&whole) {}  // NOLINT: implicit, any string is a location
  Where(const std::string& parent, const char* field, size_t i) : base(&parent), member(field), index(i) {}
  std::string str() const {
    return member == nullptr ? *base : *base + member + "[" + std::to_string(index) + "]";
  }
};

// A TensorProto's header; the payload is located, not read.
struct WireTensor {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = 0;
  bool external = false;  // data_location == EXTERNAL
  bool segmented = false;
  std::vector<std::pair<std::string, std::string>> external_data;
  // The embedded payload: the field it came from (9 raw_data, 4 float_data, 10 double_data, ...; 0 none),
  // its bytes (the last occurrence) and how many times a payload field appeared.
  int payload_field = 0;
  bool payload_packed = false;
  Span payload;
  int payload_occurrences = 0;
  Span whole;  // the whole TensorProto, for tensors small enough to parse fully
  // Only dims, data_type, name, raw_data and doc_string appeared: fields that protobuf parses without
  // looking inside them, so reading the tensor from this header equals parsing `whole`.
  bool plain = true;
};

struct WireGraph;

struct WireAttribute {
  onnx::AttributeProto proto;                      // every field except t, g and graphs
  std::optional<WireTensor> tensor;                // t
  std::vector<std::unique_ptr<WireGraph>> graphs;  // g (one) or graphs (a list)
  bool has_g = false;
  bool has_graphs = false;
};

// Strings are views of the model's bytes (which outlive the WireModel); inputs and outputs live in the
// graph's value_names (one array for the whole graph instead of two vectors per node).
struct WireNode {
  std::string_view name, op_type, domain;
  std::string_view overload;  // IR 10 NodeProto.overload (field 8): which model-local function overload
  uint32_t first_value = 0;   // inputs then outputs, in WireGraph::value_names
  uint32_t input_count = 0, output_count = 0;
  std::vector<WireAttribute> attributes;
};

struct WireGraph {
  std::string name;
  std::vector<WireNode> nodes;
  std::vector<std::string_view> value_names;
  std::span<const std::string_view> node_inputs(const WireNode& node) const {
    return {value_names.data() + node.first_value, node.input_count};
  }
  std::span<const std::string_view> node_outputs(const WireNode& node) const {
    return {value_names.data() + node.first_value + node.input_count, node.output_count};
  }
  std::vector<WireTensor> initializers;
  std::vector<onnx::SparseTensorProto> sparse_initializers;
  std::vector<onnx::ValueInfoProto> inputs, outputs;
};

struct WireModel {
  int64_t ir_version = 0;
  std::vector<std::pair<std::string, int64_t>> opset_import;  // domain, version (domain as written)
  std::optional<WireGraph> graph;
  std::vector<onnx::FunctionProto> functions;
};

// Parses the model's structure. Throws Error(kInvalidModel) naming the malformed or truncated message.
WireModel scan_model(Span model, const ErrorSource& source);

}  // namespace graphcache::onnx_frontend
