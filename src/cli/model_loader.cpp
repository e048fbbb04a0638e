#include "model_loader.hpp"

#include <filesystem>
#include <string_view>

#include "graphcache/error.hpp"
#include "graphcache/onnx.hpp"

namespace graphcache::cli {
namespace {

struct ModelLoader {
  std::string_view extension;  // lower case, with the dot
  ir::Graph (*load)(const std::string& path);
};

ir::Graph load_onnx(const std::string& path) {
  return load_onnx_file(path);
}

constexpr ModelLoader kLoaders[] = {
    {".onnx", load_onnx},
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

}  // namespace

ir::Graph load_model(const std::string& path) {
  const std::string extension = lower(std::filesystem::path(path).extension().string());
  for (const ModelLoader& loader : kLoaders) {
    if (extension == loader.extension) return loader.load(path);
  }
  std::string known;
  for (const std::string& e : model_extensions()) known += (known.empty() ? "" : ", ") + e;
  throw Error(ErrorKind::kInvalidArgument,
              "'" + path + "': no loader for this file type (model files: " + known + ")");
}

std::vector<std::string> model_extensions() {
  std::vector<std::string> out;
  for (const ModelLoader& loader : kLoaders) out.emplace_back(loader.extension);
  return out;
}

}  // namespace graphcache::cli
