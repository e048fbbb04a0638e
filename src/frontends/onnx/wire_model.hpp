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
  std::string_view name;  // a view of the model's bytes, which outlive the conversion
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

// A string of the model's bytes by its position (8 bytes where a view takes 16: a million-node model holds
// several per node). scan_model refuses models of 2 GiB or more, so 32 bits reach every byte.
struct WireName {
  uint32_t offset = 0, size = 0;
  bool empty() const { return size == 0; }
};

// An operator as nodes name it, one per distinct (op_type, domain, overload) of a graph: a node holds its
// 4-byte index instead of three names (24 bytes; a million-node model holds a million nodes).
struct WireOp {
  WireName op_type, domain;
  WireName overload;  // IR 10 NodeProto.overload (field 8): which model-local function overload
};

// A node's strings are positions in the model's bytes (which outlive the WireModel); its inputs, outputs
// and attributes live in arrays of the graph (one array each for the whole graph instead of three vectors
// per node).
struct WireNode {
  WireName name;
  uint32_t op = 0;           // in WireGraph::ops
  uint32_t first_value = 0;  // inputs then outputs, in WireGraph::value_names
  uint32_t input_count = 0, output_count = 0;
  uint32_t first_attribute = 0, attribute_count = 0;  // in WireGraph::attributes
};

// Names of a node (its inputs or outputs), read as views of the model's bytes.
class WireNames {
 public:
  WireNames(const uint8_t* model, const WireName* first, size_t count)
      : model_(model), first_(first), count_(count) {}
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::string_view operator[](size_t i) const {
    return {reinterpret_cast<const char*>(model_) + first_[i].offset, first_[i].size};
  }

  class iterator {
   public:
    iterator(const WireNames* names, size_t i) : names_(names), i_(i) {}
    std::string_view operator*() const { return (*names_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& other) const { return i_ == other.i_; }

   private:
    const WireNames* names_;
    size_t i_;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, count_}; }

 private:
  const uint8_t* model_;
  const WireName* first_;
  size_t count_;
};

struct WireGraph {
  const uint8_t* model = nullptr;  // the model's first byte: WireName offsets count from it
  std::string name;
  std::vector<WireNode> nodes;
  std::vector<WireOp> ops;
  std::vector<WireName> value_names;
  std::vector<WireAttribute> attributes;
  std::string_view str(WireName name) const {
    return {reinterpret_cast<const char*>(model) + name.offset, name.size};
  }
  const WireOp& op(const WireNode& node) const { return ops[node.op]; }
  // Where the node lies in the model (its name, else its first input or output; 0 if it has none).
  uint64_t offset(const WireNode& node) const {
    if (node.name.offset != 0) return node.name.offset;
    return node.input_count + node.output_count == 0 ? 0 : value_names[node.first_value].offset;
  }
  WireNames node_inputs(const WireNode& node) const {
    return {model, value_names.data() + node.first_value, node.input_count};
  }
  WireNames node_outputs(const WireNode& node) const {
    return {model, value_names.data() + node.first_value + node.input_count, node.output_count};
  }
  std::span<const WireAttribute> node_attributes(const WireNode& node) const {
    return {attributes.data() + node.first_attribute, node.attribute_count};
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

class ModelPages;

// Parses the model's structure. Throws Error(kInvalidModel) naming the malformed or truncated message.
// `pages` (a mapped file's): released behind the scan of the model graph's fields.
WireModel scan_model(Span model, const ErrorSource& source, ModelPages* pages = nullptr);

}  // namespace graphcache::onnx_frontend
