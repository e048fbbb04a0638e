// ONNX loading against model size: generates models of 10^4 .. 10^6 nodes (residual MatMul/Add/Relu
// blocks, each with an embedded weight) with the onnx protobuf classes, writes each to a temp file and
// times load_onnx_file and compute_key. ns/node staying flat as the model grows 100x shows the loader
// (and the key) are linear; max RSS is the process peak so far.
#include <onnx/onnx_pb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"

#include "../bench_usage.hpp"

namespace {

std::string make_model_bytes(size_t target_nodes) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("scaling");
  auto* input = graph->add_input();
  input->set_name("x0");
  auto* tensor = input->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  tensor->mutable_shape()->add_dim()->set_dim_value(1);
  tensor->mutable_shape()->add_dim()->set_dim_value(4);
  std::string x = "x0";
  for (size_t block = 0; static_cast<size_t>(graph->node_size()) + 3 <= target_nodes; ++block) {
    const std::string p = "b" + std::to_string(block) + ".";
    auto* w = graph->add_initializer();
    w->set_name(p + "w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    w->add_dims(4);
    w->add_dims(4);
    w->set_raw_data(std::string(4 * 4 * sizeof(float), static_cast<char>(block)));
    const auto node = [&](const char* op, std::initializer_list<std::string> inputs, const std::string& out) {
      auto* n = graph->add_node();
      n->set_op_type(op);
      n->set_name(out);
      for (const auto& i : inputs) n->add_input(i);
      n->add_output(out);
    };
    node("MatMul", {x, p + "w"}, p + "mm");
    node("Relu", {p + "mm"}, p + "act");
    node("Add", {x, p + "act"}, p + "y");
    x = p + "y";
  }
  graph->add_output()->set_name(x);
  return model.SerializeAsString();
}

double max_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(argc, argv,
                                  "bench_onnx_load_scaling [MAX_NODES (default 1000000)]\n  ONNX load + key "
                                  "time and peak RSS for models of 10^4 nodes up to MAX_NODES");
  const size_t max_nodes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("onnx_load_scaling." + std::to_string(::getpid()) + ".onnx"))
          .string();
  std::printf("%10s %10s %10s %12s %10s %12s %12s\n", "nodes", "file_MiB", "load_ms", "load_ns/node",
              "key_ms", "key_ns/node", "max_rss_MiB");
  for (size_t n = 10000; n <= max_nodes; n *= 10) {
    const std::string bytes = make_model_bytes(n);
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const auto t0 = std::chrono::steady_clock::now();
    const graphcache::ir::Graph graph = graphcache::load_onnx_file(path);
    const auto t1 = std::chrono::steady_clock::now();
    const graphcache::KeyResult key = graphcache::compute_key(graph);
    const auto t2 = std::chrono::steady_clock::now();
    const double load_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    const double key_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    const auto nodes = static_cast<double>(graph.nodes.size());
    std::printf("%10zu %10.1f %10.1f %12.0f %10.1f %12.0f %12.1f\n", graph.nodes.size(),
                static_cast<double>(bytes.size()) / (1 << 20), load_ms, load_ms * 1e6 / nodes, key_ms,
                key_ms * 1e6 / nodes, max_rss_mib());
    (void)key;
  }
  std::filesystem::remove(path);
  return 0;
}
