// What `graphcache exec` adds to the model's key: the compiler's identity and its command line with the
// model and engine paths replaced by placeholders (so the same build into another file name hits).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace graphcache::cli {

struct CompilerIdentity {
  std::string path;  // resolved: absolute, symlinks followed
  uint64_t size = 0;
  std::string sha256;  // of the binary's bytes (for a script: the script)
};

// Resolves `program` like execvp does (PATH search unless it contains '/') and hashes the file.
// Throws Error(kInvalidArgument) if it cannot be found or read.
CompilerIdentity identify_compiler(const std::string& program);

// Replaces the input and output paths (as given and as absolute paths) by {input} / {output} where an
// argument is the path or ends in "=PATH", ":PATH" or ",PATH". argv[0] is not included.
std::vector<std::string> normalize_arguments(const std::vector<std::string>& args, const std::string& input,
                                             const std::string& output);

}  // namespace graphcache::cli
