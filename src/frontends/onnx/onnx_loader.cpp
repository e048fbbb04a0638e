// Public entry points of the ONNX front end (include/graphcache/onnx.hpp).
#include <filesystem>
#include <system_error>

#include "common/mapped_file.hpp"
#include "graph_converter.hpp"
#include "graphcache/error.hpp"
#include "graphcache/onnx.hpp"
#include "model_pages.hpp"
#include "wire_model.hpp"

namespace graphcache {

namespace fs = std::filesystem;
using namespace onnx_frontend;

ir::Graph load_onnx_file(const std::string& path, const OnnxLoadOptions& options) {
  const MappedFile file(path, MappedFile::Access::kRandom, "model file");
  std::error_code ec;
  const fs::path model_path = fs::canonical(path, ec);
  const fs::path folder = fs::canonical(fs::absolute(fs::path(path)).parent_path(), ec);
  if (ec) throw Error(ErrorKind::kIo, path + ": cannot resolve the model's folder: " + ec.message());
  const ErrorSource source{path};
  ModelPages pages(&file);
  WireModel model = scan_model(Span{file.data(), file.size(), 0}, source, &pages);
  pages.release_all();  // the conversion reads the names again, in order
  const ModelLocation location{model_path.string(), file.data(), folder.string(), &file};
  return convert_model(model, location, options, source);
}

ir::Graph load_onnx_bytes(std::string_view bytes, const std::string& base_dir,
                          const OnnxLoadOptions& options) {
  std::string folder;
  if (!base_dir.empty()) {
    std::error_code ec;
    folder = fs::canonical(base_dir, ec).string();
    if (ec) throw Error(ErrorKind::kIo, base_dir + ": cannot resolve the model's folder: " + ec.message());
  }
  const ErrorSource source{"<memory>"};
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WireModel model = scan_model(Span{data, bytes.size(), 0}, source);
  const ModelLocation location{"", data, folder};
  return convert_model(model, location, options, source);
}

}  // namespace graphcache
