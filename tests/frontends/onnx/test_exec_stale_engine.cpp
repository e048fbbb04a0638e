// `graphcache exec` end to end on models whose weights the key alone does not cover: an initializer that
// is also a graph input (IR < 4, keep_initializers_as_inputs) and an initializer inside an If body. A
// changed value must recompile (it used to serve the engine built with the old value).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "onnx_test_util.hpp"

namespace graphcache::onnx_test {
namespace {

int run_cli(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(GRAPHCACHE_CLI)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(GRAPHCACHE_CLI, argv.data());
    ::_exit(101);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

// Y = X + W, W (32 floats) also listed as a graph input; `flip` changes one byte of W.
onnx::ModelProto initializer_input_model(char flip) {
  onnx::ModelProto model = make_model();
  model.set_ir_version(3);
  auto* g = model.mutable_graph();
  add_input(g, "X", onnx::TensorProto::FLOAT, {4, 8});
  add_input(g, "W", onnx::TensorProto::FLOAT, {4, 8});
  onnx::TensorProto w = float_tensor("W", {4, 8});
  (*w.mutable_raw_data())[6] ^= flip;
  *g->add_initializer() = w;
  add_node(g, "Add", {"X", "W"}, {"Y"});
  add_output(g, "Y");
  return model;
}

TEST(OnnxExec, ChangedInitializerOfAGraphInputRecompiles) {
  TempDir dir;
  const std::string compiler = dir.file("compiler.sh");
  std::ofstream(compiler) << "#!/bin/sh\necho run >> \"" << dir.file("runs.log") << "\"\ncp \"$1\" \"$2\"\n";
  ::chmod(compiler.c_str(), 0755);
  const auto exec = [&](char flip, const std::string& engine) {
    const std::string model = dir.file("m.onnx");
    write_file(model, initializer_input_model(flip).SerializeAsString());
    return run_cli({"exec", "--cache-dir", dir.file("cache"), "--input", model, "--output", dir.file(engine),
                    "--", compiler, model, dir.file(engine)});
  };
  const auto runs = [&] {
    std::ifstream in(dir.file("runs.log"));
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    return std::count(s.begin(), s.end(), '\n');
  };
  ASSERT_EQ(exec(0, "a.engine"), 0);
  ASSERT_EQ(exec(0, "b.engine"), 0);
  EXPECT_EQ(runs(), 1) << "the same model hits";
  ASSERT_EQ(exec(1, "c.engine"), 0);
  EXPECT_EQ(runs(), 2) << "a changed default of a graph input must not reuse the old engine";
}

}  // namespace
}  // namespace graphcache::onnx_test
