#include "server/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace rbees::server {
namespace {

TEST(Metrics, NumberFormat) {
  EXPECT_EQ(format_metric_value(0), "0");
  EXPECT_EQ(format_metric_value(42), "42");
  EXPECT_EQ(format_metric_value(0.005), "0.005");
  EXPECT_EQ(format_metric_value(2.5), "2.5");
  EXPECT_EQ(format_metric_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_metric_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Metrics, RendersEveryKindExactly) {
  Registry r;
  auto& requests = r.add_counter_family("x_requests_total", "Requests.", {"endpoint", "outcome"});
  auto& tokens = r.add_counter("x_tokens_total", "Tokens.");
  auto& queue = r.add_gauge("x_queue", "Queue.");
  r.add_gauge_callback("x_up", "Up.", [] { return 12.5; });
  auto& latency = r.add_histogram("x_latency_seconds", "Latency.", {0.1, 0.5, 1});

  requests.with({"/execute", "ok"}).inc();
  requests.with({"/execute", "ok"}).inc();
  requests.with({"/cancel", "bad_request"}).inc();
  tokens.inc(7);
  queue.set(3);
  latency.observe(0.05);
  latency.observe(0.1);  // le is inclusive
  latency.observe(0.7);
  latency.observe(4);

  EXPECT_EQ(r.render(),
            "# HELP x_requests_total Requests.\n"
            "# TYPE x_requests_total counter\n"
            "x_requests_total{endpoint=\"/cancel\",outcome=\"bad_request\"} 1\n"
            "x_requests_total{endpoint=\"/execute\",outcome=\"ok\"} 2\n"
            "# HELP x_tokens_total Tokens.\n"
            "# TYPE x_tokens_total counter\n"
            "x_tokens_total 7\n"
            "# HELP x_queue Queue.\n"
            "# TYPE x_queue gauge\n"
            "x_queue 3\n"
            "# HELP x_up Up.\n"
            "# TYPE x_up gauge\n"
            "x_up 12.5\n"
            "# HELP x_latency_seconds Latency.\n"
            "# TYPE x_latency_seconds histogram\n"
            "x_latency_seconds_bucket{le=\"0.1\"} 2\n"
            "x_latency_seconds_bucket{le=\"0.5\"} 2\n"
            "x_latency_seconds_bucket{le=\"1\"} 3\n"
            "x_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "x_latency_seconds_sum 4.85\n"
            "x_latency_seconds_count 4\n");
}

TEST(Metrics, WorkerMetricSetNamesAndTypes) {
  WorkerMetrics m;
  m.generated_tokens.inc(5);
  m.requests.with({"/v1/completions", "ok"}).inc();
  m.kv_cache_usage_ratio.set(0.25);
  const std::string text = m.registry.render();
  for (const char* line :
       {"# TYPE rbees_requests_total counter\n",
        "rbees_requests_total{endpoint=\"/v1/completions\",outcome=\"ok\"} 1\n",
        "# TYPE rbees_prompt_tokens_total counter\nrbees_prompt_tokens_total 0\n",
        "# TYPE rbees_generated_tokens_total counter\nrbees_generated_tokens_total 5\n",
        "# TYPE rbees_prefix_cache_hit_tokens_total counter\n", "# TYPE rbees_time_to_first_token_seconds histogram\n",
        "rbees_time_to_first_token_seconds_bucket{le=\"0.005\"} 0\n",
        "# TYPE rbees_inter_token_latency_seconds histogram\n", "rbees_inter_token_latency_seconds_count 0\n",
        "# TYPE rbees_queue_length gauge\n", "# TYPE rbees_running_sequences gauge\n",
        "rbees_kv_cache_usage_ratio 0.25\n", "# TYPE rbees_vram_bytes gauge\n",
        "# TYPE rbees_uptime_seconds gauge\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& c = r.add_counter("c", "c");
  auto& f = r.add_counter_family("f", "f", {"k"});
  auto& h = r.add_histogram("h", "h", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        f.with({i % 2 ? "a" : "b"}).inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(f.with({"a"}).value(), 20000);
  EXPECT_EQ(h.snapshot().count, 40000u);
  EXPECT_EQ(h.snapshot().cumulative[0], 40000u);
}

}  // namespace
}  // namespace rbees::server
