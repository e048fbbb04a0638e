#include "external_data.hpp"

#include <charconv>
#include <filesystem>
#include <system_error>

#include "graphcache/error.hpp"

namespace graphcache::onnx_frontend {

namespace fs = std::filesystem;

namespace {

uint64_t parse_number(const std::string& text, const char* key, const ErrorSource& source,
                      const std::string& where) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    source.fail(std::string("external data '") + key + "' is not a non-negative integer: '" + text + "'",
                where);
  }
  return value;
}

bool is_inside(const fs::path& path, const fs::path& folder) {
  auto p = path.begin();
  for (auto f = folder.begin(); f != folder.end(); ++f, ++p) {
    if (p == path.end() || *p != *f) return false;
  }
  return p != path.end();
}

}  // namespace

ExternalRange resolve_external_data(const std::vector<std::pair<std::string, std::string>>& entries,
                                    const std::string& base_dir, std::optional<uint64_t> expected_length,
                                    const ErrorSource& source, const std::string& where) {
  std::optional<std::string> location;
  std::optional<uint64_t> offset, length;
  for (const auto& [key, value] : entries) {
    if (key == "location") location = value;
    if (key == "offset") offset = parse_number(value, "offset", source, where);
    if (key == "length") length = parse_number(value, "length", source, where);
  }
  if (!location || location->empty()) source.fail("external data has no 'location'", where);
  if (base_dir.empty()) source.fail("external data '" + *location + "' needs the model's folder", where);

  const fs::path relative(*location);
  if (relative.is_absolute() || relative.has_root_name() || relative.has_root_directory()) {
    source.fail(
        "external data path '" + *location + "' is absolute; it must be relative to the model's folder",
        where);
  }
  for (const fs::path& part : relative) {
    if (part == "..") source.fail("external data path '" + *location + "' escapes the model's folder", where);
  }
  std::error_code ec;
  const fs::path resolved = fs::canonical(fs::path(base_dir) / relative, ec);
  if (ec) source.fail("external data file '" + *location + "' cannot be opened: " + ec.message(), where);
  if (!is_inside(resolved, fs::path(base_dir))) {
    source.fail("external data path '" + *location + "' resolves outside the model's folder (to " +
                    resolved.string() + ")",
                where);
  }
  if (!fs::is_regular_file(resolved, ec)) {
    source.fail("external data '" + *location + "' is not a regular file", where);
  }
  const uint64_t file_size = fs::file_size(resolved, ec);
  if (ec) source.fail("external data file '" + *location + "' cannot be read: " + ec.message(), where);

  ExternalRange range{resolved.string(), offset.value_or(0), 0};
  if (range.offset > file_size) {
    source.fail("external data offset " + std::to_string(range.offset) + " is past the end of '" + *location +
                    "' (" + std::to_string(file_size) + " bytes)",
                where);
  }
  // Without 'length' the payload is the tensor's size (or the rest of the file when that is not fixed).
  range.length = length.value_or(expected_length.value_or(file_size - range.offset));
  if (range.length > file_size - range.offset) {
    source.fail("external data range [" + std::to_string(range.offset) + ", +" +
                    std::to_string(range.length) + ") runs past the end of '" + *location + "' (" +
                    std::to_string(file_size) + " bytes)",
                where);
  }
  if (expected_length && range.length != *expected_length) {
    source.fail("external data holds " + std::to_string(range.length) + " bytes but the tensor needs " +
                    std::to_string(*expected_length),
                where);
  }
  return range;
}

}  // namespace graphcache::onnx_frontend
