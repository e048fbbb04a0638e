// Helper process for the soundness harness: prints "<key>\t<path>" (or "error <kind>\t<path>") for every
// model named on the command line (or one path per line on stdin), so keys can be compared across
// separate processes.
#include <iostream>
#include <string>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"

namespace {

void dump(const std::string& path) {
  try {
    std::cout << graphcache::compute_key(graphcache::load_onnx_file(path)).key.hex() << '\t' << path << '\n';
  } catch (const graphcache::Error& e) {
    std::cout << "error " << graphcache::to_string(e.kind()) << '\t' << path << '\t' << e.what() << '\n';
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) dump(argv[i]);
  } else {
    for (std::string path; std::getline(std::cin, path);) {
      if (!path.empty()) dump(path);
    }
  }
  return 0;
}
