// Resolves a TensorProto's external_data entries to a file range, refusing paths that leave the model's
// folder: ONNX models are often downloaded, and a crafted `location` ("../../etc/shadow", "/dev/zero", a
// symlink pointing out) must not make us map or fingerprint files the model's author does not own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wire_model.hpp"

namespace graphcache::onnx_frontend {

struct ExternalRange {
  std::string path;  // canonical absolute path
  uint64_t offset = 0;
  uint64_t length = 0;
};

// `base_dir` is the canonical folder of the model (empty: external data is refused). `expected_length`
// is the payload size the tensor's dims and dtype require, when fixed.
ExternalRange resolve_external_data(const std::vector<std::pair<std::string, std::string>>& entries,
                                    const std::string& base_dir, std::optional<uint64_t> expected_length,
                                    const ErrorSource& source, const std::string& where);

}  // namespace graphcache::onnx_frontend
