#include "server/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace rbees::server {

struct Registry::Entry {
  std::string name;
  std::string help;
  std::variant<std::unique_ptr<Counter>, std::unique_ptr<CounterFamily>, std::unique_ptr<Gauge>,
               std::function<double()>, std::unique_ptr<Histogram>>
      metric;
};

Registry::Registry() = default;
Registry::~Registry() = default;

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) throw std::invalid_argument("histogram bounds must ascend");
}

void Histogram::observe(double v) {
  // Buckets are "less than or equal to" their bound.
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  std::lock_guard lock(mu_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s{bounds_, {}, sum_, count_};
  uint64_t running = 0;
  for (uint64_t c : counts_) s.cumulative.push_back(running += c);
  return s;
}

Counter& CounterFamily::with(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) throw std::invalid_argument("wrong number of label values");
  std::lock_guard lock(mu_);
  auto& slot = series_[values];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

std::map<std::vector<std::string>, double> CounterFamily::values() const {
  std::lock_guard lock(mu_);
  std::map<std::vector<std::string>, double> out;
  for (const auto& [labels, counter] : series_) out[labels] = counter->value();
  return out;
}

Counter& Registry::add_counter(const std::string& name, const std::string& help) {
  auto metric = std::make_unique<Counter>();
  Counter& ref = *metric;
  std::lock_guard lock(mu_);
  entries_.push_back(std::make_unique<Entry>(Entry{name, help, std::move(metric)}));
  return ref;
}

CounterFamily& Registry::add_counter_family(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names) {
  auto metric = std::make_unique<CounterFamily>(std::move(label_names));
  CounterFamily& ref = *metric;
  std::lock_guard lock(mu_);
  entries_.push_back(std::make_unique<Entry>(Entry{name, help, std::move(metric)}));
  return ref;
}

Gauge& Registry::add_gauge(const std::string& name, const std::string& help) {
  auto metric = std::make_unique<Gauge>();
  Gauge& ref = *metric;
  std::lock_guard lock(mu_);
  entries_.push_back(std::make_unique<Entry>(Entry{name, help, std::move(metric)}));
  return ref;
}

void Registry::add_gauge_callback(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  entries_.push_back(std::make_unique<Entry>(Entry{name, help, std::move(read)}));
}

Histogram& Registry::add_histogram(const std::string& name, const std::string& help, std::vector<double> bounds) {
  auto metric = std::make_unique<Histogram>(std::move(bounds));
  Histogram& ref = *metric;
  std::lock_guard lock(mu_);
  entries_.push_back(std::make_unique<Entry>(Entry{name, help, std::move(metric)}));
  return ref;
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  auto header = [&](const Entry& e, const char* type) {
    out += "# HELP " + e.name + " " + e.help + "\n# TYPE " + e.name + " " + type + "\n";
  };
  auto sample = [&](const std::string& name, const std::string& labels, double v) {
    out += name + labels + " " + format_metric_value(v) + "\n";
  };
  for (const auto& e : entries_) {
    if (auto* c = std::get_if<std::unique_ptr<Counter>>(&e->metric)) {
      header(*e, "counter");
      sample(e->name, "", (*c)->value());
    } else if (auto* f = std::get_if<std::unique_ptr<CounterFamily>>(&e->metric)) {
      header(*e, "counter");
      for (const auto& [values, v] : (*f)->values()) {
        std::string labels = "{";
        for (size_t i = 0; i < values.size(); ++i) {
          if (i) labels += ",";
          labels += (*f)->label_names()[i] + "=\"" + escape_label_value(values[i]) + "\"";
        }
        sample(e->name, labels + "}", v);
      }
    } else if (auto* g = std::get_if<std::unique_ptr<Gauge>>(&e->metric)) {
      header(*e, "gauge");
      sample(e->name, "", (*g)->value());
    } else if (auto* fn = std::get_if<std::function<double()>>(&e->metric)) {
      header(*e, "gauge");
      sample(e->name, "", (*fn)());
    } else if (auto* h = std::get_if<std::unique_ptr<Histogram>>(&e->metric)) {
      header(*e, "histogram");
      const auto s = (*h)->snapshot();
      for (size_t i = 0; i < s.bounds.size(); ++i) {
        sample(e->name + "_bucket", "{le=\"" + format_metric_value(s.bounds[i]) + "\"}",
               static_cast<double>(s.cumulative[i]));
      }
      sample(e->name + "_bucket", "{le=\"+Inf\"}", static_cast<double>(s.cumulative.back()));
      sample(e->name + "_sum", "", s.sum);
      sample(e->name + "_count", "", static_cast<double>(s.count));
    }
  }
  return out;
}

std::vector<double> time_to_first_token_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> inter_token_latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5};
}

WorkerMetrics::WorkerMetrics()
    : requests(registry.add_counter_family("rbees_requests_total", "HTTP requests by endpoint and outcome.",
                                           {"endpoint", "outcome"})),
      prompt_tokens(registry.add_counter("rbees_prompt_tokens_total", "Prompt tokens of admitted requests.")),
      generated_tokens(registry.add_counter("rbees_generated_tokens_total", "Tokens generated.")),
      prefix_cache_hit_tokens(registry.add_counter("rbees_prefix_cache_hit_tokens_total",
                                                   "Prompt tokens reused from the prefix cache instead of computed.")),
      time_to_first_token(registry.add_histogram("rbees_time_to_first_token_seconds",
                                                 "Time from admission to the first generated token.",
                                                 time_to_first_token_buckets())),
      inter_token_latency(registry.add_histogram("rbees_inter_token_latency_seconds",
                                                 "Time between consecutive generated tokens of a sequence.",
                                                 inter_token_latency_buckets())),
      queue_length(registry.add_gauge("rbees_queue_length", "Requests waiting for admission.")),
      running_sequences(registry.add_gauge("rbees_running_sequences", "Sequences being prefilled or decoded.")),
      kv_cache_usage_ratio(registry.add_gauge("rbees_kv_cache_usage_ratio", "Fraction of KV cache cells in use.")),
      vram_bytes(registry.add_gauge("rbees_vram_bytes", "Device memory held by the model and KV cache.")),
      uptime_seconds(registry.add_gauge("rbees_uptime_seconds", "Seconds since the worker started.")),
      healthy(registry.add_gauge("rbees_healthy",
                                 "1 while the worker serves its model, 0 loading, draining or unhealthy.")) {}

}  // namespace rbees::server
