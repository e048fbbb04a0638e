#include "graphcache/event_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/unique_fd.hpp"
#include "explain_index.hpp"

namespace graphcache {
namespace {

double since_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// The model an entry was built from, as its recorded factors name it (explain_index.hpp); "" if unknown.
std::string model_of(const EntryMetadata& metadata) {
  const auto it = metadata.extra.find(std::string(store::kFactorsField));
  if (it == metadata.extra.end()) return "";
  const auto factors = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!factors.is_object() || !factors.contains("model") || !factors["model"].is_string()) return "";
  return factors["model"].get<std::string>();
}

class EventLoggingStore final : public Store {
 public:
  EventLoggingStore(std::shared_ptr<Store> inner, std::shared_ptr<EventLog> log)
      : inner_(std::move(inner)), log_(std::move(log)) {}

  std::optional<Entry> get(const Key& key) override {
    const auto start = std::chrono::steady_clock::now();
    auto entry = inner_->get(key);
    log_->record(entry ? "hit" : "miss", &key, inner_->name(), entry ? entry->engine->size() : 0,
                 since_ms(start), {}, entry ? model_of(entry->metadata) : "");
    return entry;
  }
  std::optional<Entry> peek(const Key& key) override { return inner_->peek(key); }
  void put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) override {
    const auto start = std::chrono::steady_clock::now();
    inner_->put(key, engine, metadata);
    uint64_t bytes = engine.size;
    std::error_code error;  // a file source: its size (0 if it is gone already)
    if (!engine.file_path.empty()) bytes = std::filesystem::file_size(engine.file_path, error);
    log_->record("put", &key, inner_->name(), error ? 0 : bytes, since_ms(start), {}, model_of(metadata));
  }
  bool remove(const Key& key) override {
    const bool removed = inner_->remove(key);
    if (removed) log_->record("remove", &key, inner_->name());
    return removed;
  }
  std::vector<EntryInfo> list() override { return inner_->list(); }
  StoreStats stats() override { return inner_->stats(); }
  std::map<std::string, StoreStats> tier_stats() override { return inner_->tier_stats(); }
  std::string name() const override { return inner_->name(); }

 private:
  std::shared_ptr<Store> inner_;
  std::shared_ptr<EventLog> log_;
};

}  // namespace

void EventLog::record(std::string_view event, const Key* key, std::string_view tier, uint64_t bytes,
                      double milliseconds, std::string_view detail, std::string_view model) noexcept {
  try {
    nlohmann::ordered_json j;
    j["ts"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    j["event"] = event;
    j["key"] = key ? nlohmann::json(key->hex()) : nlohmann::json();
    j["tier"] = tier;
    j["bytes"] = bytes;
    j["ms"] = milliseconds;
    if (!model.empty()) j["model"] = model;
    if (!detail.empty()) j["detail"] = detail;
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (fd.get() < 0) return;
    [[maybe_unused]] ssize_t n = ::write(fd.get(), line.data(), line.size());  // one line, one write
  } catch (...) {  // never fail the operation being logged
  }
}

std::shared_ptr<Store> with_event_log(std::shared_ptr<Store> store, std::shared_ptr<EventLog> log) {
  if (!log) return store;
  return std::make_shared<EventLoggingStore>(std::move(store), std::move(log));
}

}  // namespace graphcache
