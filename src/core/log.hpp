#pragma once
// Structured logging to stderr: "key=value" lines for people, one JSON object per line for machines.
// Fields carry identifiers (worker_id, job_id, event, sizes, timings); callers never pass prompt or
// generated text at info level or above.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace rbees::log {

enum class Level { trace, debug, info, warn, error, off };
enum class Format { text, json };

using Value = std::variant<std::string, long long, unsigned long long, double, bool>;
struct Field {
  std::string key;
  Value value;
  Field(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  Field(std::string k, std::string_view v) : key(std::move(k)), value(std::string(v)) {}
  Field(std::string k, const char* v) : key(std::move(k)), value(std::string(v)) {}
  Field(std::string k, int v) : key(std::move(k)), value(static_cast<long long>(v)) {}
  Field(std::string k, long v) : key(std::move(k)), value(static_cast<long long>(v)) {}
  Field(std::string k, long long v) : key(std::move(k)), value(v) {}
  Field(std::string k, unsigned v) : key(std::move(k)), value(static_cast<unsigned long long>(v)) {}
  Field(std::string k, unsigned long v) : key(std::move(k)), value(static_cast<unsigned long long>(v)) {}
  Field(std::string k, unsigned long long v) : key(std::move(k)), value(v) {}
  Field(std::string k, double v) : key(std::move(k)), value(v) {}
  Field(std::string k, bool v) : key(std::move(k)), value(v) {}
};
using Fields = std::initializer_list<Field>;

void configure(Level level, Format format);
// Fields added to every line, e.g. worker_id.
void set_global_field(const std::string& key, const std::string& value);
bool enabled(Level level);
Level parse_level(std::string_view name);  // throws std::invalid_argument

void write(Level level, std::string_view event, std::string_view message, Fields fields = {});

inline void debug(std::string_view event, std::string_view msg, Fields f = {}) { write(Level::debug, event, msg, f); }
inline void info(std::string_view event, std::string_view msg, Fields f = {}) { write(Level::info, event, msg, f); }
inline void warn(std::string_view event, std::string_view msg, Fields f = {}) { write(Level::warn, event, msg, f); }
inline void error(std::string_view event, std::string_view msg, Fields f = {}) { write(Level::error, event, msg, f); }

// Routes ggml's own log output through this logger (ggml's info chatter goes to debug).
void capture_ggml_logs();

}  // namespace rbees::log
