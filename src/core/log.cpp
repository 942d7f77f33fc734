#include "core/log.hpp"

#include <ggml.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

namespace rbees::log {
namespace {

struct State {
  std::mutex mu;
  Level level = Level::info;
  Format format = Format::text;
  std::vector<std::pair<std::string, std::string>> globals;
};

State& state() {
  static State s;
  return s;
}

// One write per line under a lock, so lines from different threads never interleave.
void emit(const std::string& line) {
  static std::mutex mu;
  std::lock_guard lk(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

const char* level_name(Level l) {
  switch (l) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "?";
}

std::string utc_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

nlohmann::json to_json(const Value& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

std::string to_text(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    bool needs_quotes = s->empty() || s->find_first_of(" \"=\t\n") != std::string::npos;
    return needs_quotes ? nlohmann::json(*s).dump() : *s;
  }
  return to_json(v).dump();
}

}  // namespace

void configure(Level level, Format format) {
  auto& s = state();
  std::lock_guard lk(s.mu);
  s.level = level;
  s.format = format;
}

void set_global_field(const std::string& key, const std::string& value) {
  auto& s = state();
  std::lock_guard lk(s.mu);
  for (auto& [k, v] : s.globals) {
    if (k == key) {
      v = value;
      return;
    }
  }
  s.globals.emplace_back(key, value);
}

bool enabled(Level level) {
  return level >= state().level && level != Level::off;
}

Level parse_level(std::string_view name) {
  for (Level l : {Level::trace, Level::debug, Level::info, Level::warn, Level::error, Level::off}) {
    if (name == level_name(l)) return l;
  }
  throw std::invalid_argument("unknown log level: " + std::string(name));
}

void write(Level level, std::string_view event, std::string_view message, Fields fields) {
  if (!enabled(level)) return;
  auto& s = state();
  std::string line;
  {
    std::lock_guard lk(s.mu);
    if (s.format == Format::json) {
      nlohmann::ordered_json j;
      j["ts"] = utc_now();
      j["level"] = level_name(level);
      j["event"] = std::string(event);
      for (const auto& [k, v] : s.globals) j[k] = v;
      for (const auto& f : fields) j[f.key] = to_json(f.value);
      if (!message.empty()) j["msg"] = std::string(message);
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = utc_now() + " " + level_name(level) + " " + std::string(event);
      if (!message.empty()) line += ": " + std::string(message);
      for (const auto& [k, v] : s.globals) line += " " + k + "=" + to_text(v);
      for (const auto& f : fields) line += " " + f.key + "=" + to_text(f.value);
    }
  }
  emit(line);
}

void capture_ggml_logs() {
  ggml_log_set(
      [](ggml_log_level level, const char* text, void*) {
        // ggml streams partial lines; keep only whole messages, trimmed.
        thread_local std::string pending;
        thread_local ggml_log_level pending_level = GGML_LOG_LEVEL_INFO;
        if (level == GGML_LOG_LEVEL_CONT) {
          pending += text;
          level = pending_level;
        } else {
          pending = text;
          pending_level = level;
        }
        if (pending.empty() || pending.back() != '\n') return;
        pending.pop_back();
        Level l = Level::debug;
        if (level == GGML_LOG_LEVEL_WARN) l = Level::warn;
        if (level == GGML_LOG_LEVEL_ERROR) l = Level::error;
        write(l, "ggml", pending);
        pending.clear();
      },
      nullptr);
}

}  // namespace rbees::log
