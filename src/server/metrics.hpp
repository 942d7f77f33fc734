#pragma once
// A small thread-safe Prometheus registry rendering the text exposition format (version 0.0.4), and
// the worker's own metric set. Metrics render in registration order; labelled series by label values.

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rbees::server {

class Counter {
 public:
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // Upper bounds, ascending; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0.0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is (last bound, +Inf)
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// Counters sharing a name, told apart by label values.
class CounterFamily {
 public:
  explicit CounterFamily(std::vector<std::string> label_names) : label_names_(std::move(label_names)) {}
  // The series for these label values (one per label name), created at zero on first use.
  Counter& with(const std::vector<std::string>& values);
  const std::vector<std::string>& label_names() const { return label_names_; }
  std::map<std::vector<std::string>, double> values() const;

 private:
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Counter>> series_;
};

class Registry {
 public:
  Registry();
  ~Registry();

  Counter& add_counter(const std::string& name, const std::string& help);
  CounterFamily& add_counter_family(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names);
  Gauge& add_gauge(const std::string& name, const std::string& help);
  // A gauge read at render time.
  void add_gauge_callback(const std::string& name, const std::string& help, std::function<double()> read);
  Histogram& add_histogram(const std::string& name, const std::string& help, std::vector<double> bounds);

  std::string render() const;

 private:
  struct Entry;
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<Entry>> entries_;
};

// Prometheus number format: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string format_metric_value(double v);
// Escapes backslash, double quote and newline in a label value.
std::string escape_label_value(const std::string& v);

// Default buckets, in seconds.
std::vector<double> time_to_first_token_buckets();
std::vector<double> inter_token_latency_buckets();

// The worker's metrics. Gauges are set by whoever knows the value (the server reads them from the
// engine just before rendering); uptime is computed at render time.
struct WorkerMetrics {
  WorkerMetrics();

  Registry registry;
  CounterFamily& requests;  // rbees_requests_total{endpoint,outcome}
  Counter& prompt_tokens;
  Counter& generated_tokens;
  Counter& prefix_cache_hit_tokens;
  Histogram& time_to_first_token;
  Histogram& inter_token_latency;
  Gauge& queue_length;
  Gauge& running_sequences;
  Gauge& kv_cache_usage_ratio;
  Gauge& vram_bytes;
  Gauge& uptime_seconds;
  Gauge& healthy;
};

}  // namespace rbees::server
