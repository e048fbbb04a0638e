#include "exec_identity.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/unique_fd.hpp"
#include "graphcache/error.hpp"

namespace graphcache::cli {
namespace {

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string find_program(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path_env = std::getenv("PATH");
  std::string search = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= search.size()) {
    size_t end = search.find(':', start);
    if (end == std::string::npos) end = search.size();
    std::string dir = search.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  throw Error(ErrorKind::kInvalidArgument, "compiler '" + program + "' not found in PATH");
}

std::string sha256_file(const std::string& path, uint64_t* size) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    throw Error(ErrorKind::kInvalidArgument, "cannot read compiler '" + path + "': " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<unsigned char> buf(1 << 20);
  *size = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot read compiler '" + path + "': " + std::strerror(errno));
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    *size += static_cast<uint64_t>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

// Replaces `from` when it is the whole argument or the value of an option ("--onnx=PATH", "-o:PATH").
// Substrings elsewhere are left alone so a short path never mangles unrelated arguments.
void replace_path(std::string& arg, const std::string& from, const std::string& to) {
  if (from.empty() || arg.size() < from.size()) return;
  if (arg == from) {
    arg = to;
    return;
  }
  // An argument of the same length that differs has no room for an "--opt=" prefix.
  if (arg.size() == from.size()) return;
  const size_t start = arg.size() - from.size();
  const char before = arg[start - 1];
  if (arg.compare(start, from.size(), from) == 0 && (before == '=' || before == ':' || before == ',')) {
    arg.replace(start, from.size(), to);
  }
}

}  // namespace

CompilerIdentity identify_compiler(const std::string& program) {
  CompilerIdentity id;
  std::error_code ec;
  const std::string found = find_program(program);
  const auto canonical = std::filesystem::canonical(found, ec);
  if (ec) throw Error(ErrorKind::kInvalidArgument, "compiler '" + program + "': " + ec.message());
  id.path = canonical.string();
  id.sha256 = sha256_file(id.path, &id.size);
  return id;
}

std::vector<std::string> normalize_arguments(const std::vector<std::string>& args, const std::string& input,
                                             const std::string& output) {
  // Longest spelling first, so "/abs/model.onnx" is not half-replaced by "model.onnx".
  std::vector<std::pair<std::string, std::string>> replacements;
  for (const auto& [path, placeholder] : {std::pair{input, "{input}"}, std::pair{output, "{output}"}}) {
    replacements.emplace_back(path, placeholder);
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(path, ec);
    if (!ec && absolute.string() != path)
      replacements.emplace_back(absolute.lexically_normal().string(), placeholder);
  }
  std::stable_sort(replacements.begin(), replacements.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::vector<std::string> out = args;
  for (std::string& arg : out) {
    for (const auto& [from, to] : replacements) {
      replace_path(arg, from, to);
    }
  }
  return out;
}

}  // namespace graphcache::cli
