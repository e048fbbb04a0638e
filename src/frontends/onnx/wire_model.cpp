#include "wire_model.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <climits>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "graphcache/error.hpp"
#include "graphcache/limits.hpp"
#include "model_pages.hpp"

namespace graphcache::onnx_frontend {

void ErrorSource::fail(const std::string& what, const std::string& where) const {
  throw Error(ErrorKind::kInvalidModel, label + ": " + what + ": " + where);
}

namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

// Walks the fields of one message held in `span`.
class FieldReader {
 public:
  FieldReader(Span span, const ErrorSource& source, Where where)
      : span_(span), in_(span.data, static_cast<int>(span.size)), source_(source), where_(where) {}

  // Advances to the next field; false at the end of the message.
  bool next() {
    field_start_ = position();
    if (field_start_ == span_.size) return false;
    tag_ = in_.ReadTag();
    if (tag_ == 0 || (tag_ >> 3) == 0) fail("malformed protobuf (invalid field tag at byte " + at() + ")");
    return true;
  }
  uint32_t field() const { return tag_ >> 3; }
  uint64_t offset() const { return span_.offset + position(); }  // in the model
  int wire_type() const { return static_cast<int>(tag_ & 7); }

  uint64_t varint() {
    uint64_t value = 0;
    if (!in_.ReadVarint64(&value)) fail("truncated protobuf (varint at byte " + at() + ")");
    return value;
  }
  Span bytes() {
    uint32_t length = 0;
    if (!in_.ReadVarint32(&length)) fail("truncated protobuf (length at byte " + at() + ")");
    const size_t start = position();
    if (length > span_.size - start) {
      fail("truncated protobuf (a field of " + std::to_string(length) + " bytes at byte " + at() +
           " runs past the end of its message)");
    }
    in_.Skip(static_cast<int>(length));
    return Span{span_.data + start, length, span_.offset + start};
  }
  std::string string() { return std::string(view()); }
  // The field's bytes by their position in the model.
  WireName name() {
    const Span s = bytes();
    return WireName{static_cast<uint32_t>(s.offset), static_cast<uint32_t>(s.size)};
  }
  std::string_view view() {
    const Span s = bytes();
    return std::string_view(reinterpret_cast<const char*>(s.data), s.size);
  }
  void skip() {
    if (!WireFormatLite::SkipField(&in_, tag_))
      fail("truncated or malformed protobuf (field at byte " + at() + ")");
  }
  // The raw bytes of the field just read or skipped, tag included.
  Span field_bytes() const {
    return Span{span_.data + field_start_, position() - field_start_, span_.offset + field_start_};
  }
  [[noreturn]] void fail(const std::string& what) const { source_.fail(what, where_.str()); }

 private:
  size_t position() const { return static_cast<size_t>(in_.CurrentPosition()); }
  std::string at() const { return std::to_string(span_.offset + field_start_); }

  Span span_;
  CodedInputStream in_;
  const ErrorSource& source_;
  Where where_;
  uint32_t tag_ = 0;
  size_t field_start_ = 0;
};

template <typename Message>
Message parse_message(Span span, const ErrorSource& source, const std::string& where) {
  Message message;
  if (!message.ParseFromArray(span.data, static_cast<int>(span.size))) {
    source.fail("malformed protobuf " + message.GetTypeName(), where);
  }
  return message;
}

std::pair<std::string, std::string> scan_entry(Span span, const ErrorSource& source,
                                               const std::string& where) {
  std::pair<std::string, std::string> entry;
  FieldReader in(span, source, where);
  while (in.next()) {
    if (in.field() == 1 && in.wire_type() == kLengthDelimited) {
      entry.first = in.string();
    } else if (in.field() == 2 && in.wire_type() == kLengthDelimited) {
      entry.second = in.string();
    } else {
      in.skip();
    }
  }
  return entry;
}

void note_payload(WireTensor& tensor, int field, bool packed, Span span) {
  tensor.payload_field = field;
  tensor.payload_packed = packed;
  tensor.payload = span;
  ++tensor.payload_occurrences;
}

WireTensor scan_tensor(Span span, const ErrorSource& source, Where where) {
  WireTensor tensor;
  tensor.whole = span;
  FieldReader in(span, source, where);
  while (in.next()) {
    const uint32_t field = in.field();
    const int wire = in.wire_type();
    if (field != 1 && field != 2 && field != 8 && field != 9 && field != 12) tensor.plain = false;
    if (field == 1 && wire == kVarint) {
      tensor.dims.push_back(static_cast<int64_t>(in.varint()));
    } else if (field == 1 && wire == kLengthDelimited) {  // packed dims
      const Span packed = in.bytes();
      CodedInputStream dims(packed.data, static_cast<int>(packed.size));
      while (static_cast<size_t>(dims.CurrentPosition()) < packed.size) {
        uint64_t dim = 0;
        if (!dims.ReadVarint64(&dim)) in.fail("truncated protobuf (packed dims)");
        tensor.dims.push_back(static_cast<int64_t>(dim));
      }
    } else if (field == 2 && wire == kVarint) {
      tensor.data_type = static_cast<int32_t>(in.varint());
    } else if (field == 3) {
      tensor.segmented = true;
      in.skip();
    } else if ((field == 4 || field == 5 || field == 7 || field == 10 || field == 11) &&
               wire == kLengthDelimited) {
      note_payload(tensor, static_cast<int>(field), true, in.bytes());
    } else if ((field == 4 && wire == kFixed32) || (field == 10 && wire == kFixed64) ||
               ((field == 5 || field == 7 || field == 11) && wire == kVarint)) {
      in.skip();
      note_payload(tensor, static_cast<int>(field), false, in.field_bytes());
    } else if (field == 6 && wire == kLengthDelimited) {
      note_payload(tensor, 6, false, in.bytes());
    } else if (field == 8 && wire == kLengthDelimited) {
      tensor.name = in.view();
    } else if (field == 9 && wire == kLengthDelimited) {
      note_payload(tensor, 9, true, in.bytes());
    } else if (field == 13 && wire == kLengthDelimited) {
      tensor.external_data.push_back(scan_entry(in.bytes(), source, where.str()));
    } else if (field == 14 && wire == kVarint) {
      tensor.external = in.varint() == 1;
    } else {
      in.skip();
    }
  }
  return tensor;
}

std::unique_ptr<WireGraph> scan_graph_ptr(Span span, const ErrorSource& source, const std::string& where,
                                          int depth);

WireAttribute scan_attribute(Span span, const ErrorSource& source, const std::string& where, int depth) {
  WireAttribute attribute;
  std::string rest;  // every other field, parsed by protobuf below
  bool has_t = false;
  FieldReader in(span, source, where);
  while (in.next()) {
    const uint32_t field = in.field();
    if (in.wire_type() == kLengthDelimited && (field == 5 || field == 6 || field == 11)) {
      const Span value = in.bytes();
      if (field == 5) {
        if (has_t) in.fail("attribute field 't' appears twice");
        has_t = true;
        attribute.tensor = scan_tensor(value, source, where + ".t");
      } else if (field == 6) {
        if (attribute.has_g) in.fail("attribute field 'g' appears twice");
        attribute.has_g = true;
        attribute.graphs.push_back(scan_graph_ptr(value, source, where + ".g", depth + 1));
      } else {
        attribute.has_graphs = true;
        attribute.graphs.push_back(scan_graph_ptr(
            value, source, where + ".graphs[" + std::to_string(attribute.graphs.size()) + "]", depth + 1));
      }
      continue;
    }
    in.skip();
    const Span raw = in.field_bytes();
    rest.append(reinterpret_cast<const char*>(raw.data), raw.size);
  }
  if (!attribute.proto.ParseFromString(rest)) source.fail("malformed protobuf AttributeProto", where);
  if (attribute.has_g && attribute.has_graphs) source.fail("attribute has both 'g' and 'graphs'", where);
  return attribute;
}

// A graph's distinct operators (WireGraph::ops), found by their names' bytes.
class OpTable {
 public:
  explicit OpTable(WireGraph& graph) : graph_(graph) {}
  uint32_t intern(const WireOp& op) {
    const Names names{graph_.str(op.op_type), graph_.str(op.domain), graph_.str(op.overload)};
    const auto [it, added] = index_.try_emplace(names, static_cast<uint32_t>(graph_.ops.size()));
    if (added) graph_.ops.push_back(op);
    return it->second;
  }

 private:
  struct Names {
    std::string_view op_type, domain, overload;
    bool operator==(const Names&) const = default;
  };
  struct NamesHash {
    size_t operator()(const Names& names) const noexcept {
      const std::hash<std::string_view> hash;
      return hash(names.op_type) ^ (hash(names.domain) * 31) ^ (hash(names.overload) * 961);
    }
  };
  WireGraph& graph_;
  std::unordered_map<Names, uint32_t, NamesHash> index_;
};

// Appends the node to graph.nodes (its inputs and outputs to graph.value_names, its attributes to
// graph.attributes, its operator to graph.ops if new). `inputs` / `outputs` are scratch buffers reused
// across nodes (the two lists may interleave on the wire).
void scan_node(Span span, const ErrorSource& source, Where where, int depth, WireGraph& graph, OpTable& ops,
               std::vector<WireName>& inputs, std::vector<WireName>& outputs) {
  WireNode node;
  WireOp op;
  node.first_attribute = static_cast<uint32_t>(graph.attributes.size());
  inputs.clear();
  outputs.clear();
  std::optional<std::string> node_where;  // spelled out for the first attribute only
  FieldReader in(span, source, where);
  while (in.next()) {
    if (in.wire_type() != kLengthDelimited) {
      in.skip();
      continue;
    }
    switch (in.field()) {
      case 1:
        inputs.push_back(in.name());
        break;
      case 2:
        outputs.push_back(in.name());
        break;
      case 3:
        node.name = in.name();
        break;
      case 4:
        op.op_type = in.name();
        break;
      case 7:
        op.domain = in.name();
        break;
      case 8:
        op.overload = in.name();
        break;
      case 5:
        if (!node_where) node_where = where.str();
        graph.attributes.push_back(
            scan_attribute(in.bytes(), source,
                           *node_where + ".attribute[" + std::to_string(node.attribute_count) + "]", depth));
        ++node.attribute_count;
        break;
      default:
        in.skip();
    }
  }
  node.first_value = static_cast<uint32_t>(graph.value_names.size());
  node.input_count = static_cast<uint32_t>(inputs.size());
  node.output_count = static_cast<uint32_t>(outputs.size());
  graph.value_names.insert(graph.value_names.end(), inputs.begin(), inputs.end());
  graph.value_names.insert(graph.value_names.end(), outputs.begin(), outputs.end());
  node.op = ops.intern(op);
  graph.nodes.push_back(node);
}

// How many nodes and initializers the graph holds, from its top-level fields only, to size the vectors
// (growing them by doubling would copy a million nodes and hold both copies). Never fails: on a malformed
// field it stops, and the scan proper reports the problem where it meets it.
std::pair<size_t, size_t> count_nodes_and_initializers(Span span) {
  CodedInputStream in(span.data, static_cast<int>(span.size));
  size_t nodes = 0, initializers = 0;
  for (uint32_t tag; (tag = in.ReadTag()) != 0;) {
    if (tag == WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) ++nodes;
    if (tag == WireFormatLite::MakeTag(5, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) ++initializers;
    if (!WireFormatLite::SkipField(&in, tag)) break;
  }
  return {nodes, initializers};
}

WireGraph scan_graph(Span span, const ErrorSource& source, const std::string& where, int depth,
                     ModelPages* pages = nullptr) {
  if (depth > kMaxNestingDepth) source.fail("subgraphs nested too deeply", where);
  WireGraph graph;
  graph.model = span.data - span.offset;
  const auto [node_count, initializer_count] = count_nodes_and_initializers(span);
  graph.nodes.reserve(node_count);
  graph.initializers.reserve(initializer_count);
  // A guess (pages of a reserve nobody writes cost nothing), bounded by what the bytes can hold.
  graph.value_names.reserve(std::min(node_count * 4, span.size / 2));
  std::vector<WireName> inputs, outputs;
  OpTable ops(graph);
  FieldReader in(span, source, where);
  while (in.next()) {
    if (pages != nullptr) pages->reached(in.offset());
    if (in.wire_type() != kLengthDelimited) {
      in.skip();
      continue;
    }
    switch (in.field()) {
      case 1:
        scan_node(in.bytes(), source, Where(where, ".node", graph.nodes.size()), depth, graph, ops, inputs,
                  outputs);
        break;
      case 2:
        graph.name = in.string();
        break;
      case 5:
        graph.initializers.push_back(
            scan_tensor(in.bytes(), source, Where(where, ".initializer", graph.initializers.size())));
        break;
      case 15:
        graph.sparse_initializers.push_back(parse_message<onnx::SparseTensorProto>(
            in.bytes(), source,
            where + ".sparse_initializer[" + std::to_string(graph.sparse_initializers.size()) + "]"));
        break;
      case 11:
        graph.inputs.push_back(parse_message<onnx::ValueInfoProto>(
            in.bytes(), source, where + ".input[" + std::to_string(graph.inputs.size()) + "]"));
        break;
      case 12:
        graph.outputs.push_back(parse_message<onnx::ValueInfoProto>(
            in.bytes(), source, where + ".output[" + std::to_string(graph.outputs.size()) + "]"));
        break;
      default:
        in.skip();  // value_info (derived by inference), doc_string, quantization annotations
    }
  }
  return graph;
}

std::unique_ptr<WireGraph> scan_graph_ptr(Span span, const ErrorSource& source, const std::string& where,
                                          int depth) {
  return std::make_unique<WireGraph>(scan_graph(span, source, where, depth));
}

std::pair<std::string, int64_t> scan_opset(Span span, const ErrorSource& source, const std::string& where) {
  std::pair<std::string, int64_t> opset{"", 0};
  FieldReader in(span, source, where);
  while (in.next()) {
    if (in.field() == 1 && in.wire_type() == kLengthDelimited) {
      opset.first = in.string();
    } else if (in.field() == 2 && in.wire_type() == kVarint) {
      opset.second = static_cast<int64_t>(in.varint());
    } else {
      in.skip();
    }
  }
  return opset;
}

}  // namespace

WireModel scan_model(Span model, const ErrorSource& source, ModelPages* pages) {
  if (model.size >= static_cast<size_t>(INT_MAX)) {
    throw Error(ErrorKind::kUnsupported, source.label +
                                             ": model is larger than protobuf's 2 GiB message limit: " +
                                             std::to_string(model.size) + " bytes");
  }
  WireModel result;
  const std::string where = "model";
  FieldReader in(model, source, where);
  while (in.next()) {
    const uint32_t field = in.field();
    if (field == 1 && in.wire_type() == kVarint) {
      result.ir_version = static_cast<int64_t>(in.varint());
    } else if (field == 8 && in.wire_type() == kLengthDelimited) {
      result.opset_import.push_back(scan_opset(
          in.bytes(), source, "model.opset_import[" + std::to_string(result.opset_import.size()) + "]"));
    } else if (field == 7 && in.wire_type() == kLengthDelimited) {
      if (result.graph) in.fail("field 'graph' appears twice");
      result.graph = scan_graph(in.bytes(), source, "graph", 0, pages);
    } else if (field == 25 && in.wire_type() == kLengthDelimited) {
      result.functions.push_back(parse_message<onnx::FunctionProto>(
          in.bytes(), source, "model.functions[" + std::to_string(result.functions.size()) + "]"));
    } else {
      in.skip();
    }
  }
  return result;
}

}  // namespace graphcache::onnx_frontend
