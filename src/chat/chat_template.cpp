#include "chat/chat_template.hpp"

#include "chat/builtins.hpp"
#include "chat/interpreter.hpp"
#include "chat/lexer.hpp"
#include "chat/parser.hpp"

#include <ctime>

namespace rbees::chat {

struct ChatTemplate::Parsed {
  Body body;
};

namespace {

std::tm render_time(const std::optional<Date>& date) {
  std::tm tm{};
  if (date) {
    tm.tm_year = date->year - 1900;
    tm.tm_mon = date->month - 1;
    tm.tm_mday = date->day;
    std::time_t t = timegm(&tm);  // normalises and fills in the weekday and day of the year
    gmtime_r(&t, &tm);
    return tm;
  }
  std::time_t now = std::time(nullptr);
  localtime_r(&now, &tm);
  return tm;
}

std::string format_time(const std::string& fmt, const std::tm& tm) {
  if (fmt.empty()) return "";
  if (fmt.size() > 4096) throw TemplateError("strftime_now: format too long");
  // strftime returns 0 both for "too small" and for an empty result; a marker character tells them apart.
  const std::string marked = fmt + "\x01";
  for (size_t size = 256; size <= (1u << 20); size *= 4) {
    std::string buf(size, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), marked.c_str(), &tm);
    if (n > 0) {
      buf.resize(n - 1);
      return buf;
    }
  }
  throw TemplateError("strftime_now: result too long");
}

std::shared_ptr<Scope> make_globals(const RenderOptions& opts, const Limits& limits) {
  auto globals = std::make_shared<Scope>();
  add_builtin_globals(*globals, limits);
  globals->set("raise_exception", Value::callable("raise_exception", [](CallArgs& a) -> Value {
                 throw TemplateError(a.args.empty() ? std::string() : a.args[0].str());
               }));
  const std::optional<Date> date = opts.date;
  globals->set("strftime_now", Value::callable("strftime_now", [date](CallArgs& a) {
                 return Value::string(format_time(a.get(0, "format").str(), render_time(date)));
               }));
  return globals;
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)), parsed_(std::make_unique<Parsed>()) {
  parsed_->body = parse_template(tokenize(source_));
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const RenderOptions& opts) const {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = messages;
  context["tools"] = opts.tools;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = opts.add_generation_prompt;
  context["bos_token"] = opts.bos_token;
  context["eos_token"] = opts.eos_token;
  if (opts.extra_context.is_object()) {
    for (const auto& [k, v] : opts.extra_context.items()) context[k] = v;
  }
  return render_context(context, opts);
}

std::string ChatTemplate::render_context(const nlohmann::ordered_json& context, const RenderOptions& opts) const {
  if (!context.is_object()) throw TemplateError("template context must be a JSON object");
  ValueArena arena;  // declared first, closed last: frees what the template left in cycles
  Limits limits;
  limits.max_output_bytes = opts.max_output_bytes;
  auto globals = make_globals(opts, limits);
  auto variables = std::make_shared<Scope>(globals);
  for (const auto& [k, v] : context.items()) variables->set(k, Value::from_json(v));
  Interpreter interpreter(limits, variables);
  return interpreter.render(parsed_->body);
}

}  // namespace rbees::chat
