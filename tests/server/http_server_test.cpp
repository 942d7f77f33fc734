#include "server/http_server.hpp"

#include "fake_engine.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <future>
#include <thread>

namespace rbees::server {
namespace {

using nlohmann::json;
using testing::FakeEngine;

struct SseEvent {
  std::string event;
  json data;
};

// Splits an SSE body into events ("event:" + "data:" lines, blank-line separated).
std::vector<SseEvent> parse_sse(const std::string& body) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string block = body.substr(pos, end - pos);
    pos = end + 2;
    SseEvent ev;
    size_t line_start = 0;
    while (line_start <= block.size()) {
      size_t line_end = block.find('\n', line_start);
      if (line_end == std::string::npos) line_end = block.size();
      const std::string line = block.substr(line_start, line_end - line_start);
      if (line.rfind("event: ", 0) == 0) ev.event = line.substr(7);
      if (line.rfind("data: ", 0) == 0) {
        const std::string d = line.substr(6);
        ev.data = d == "[DONE]" ? json("[DONE]") : json::parse(d);
      }
      line_start = line_end + 1;
    }
    out.push_back(ev);
  }
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(std::optional<std::string> api_key = std::nullopt, bool with_engine = true, size_t max_body = 1 << 20) {
    ServerOptions options;
    options.worker_id = "w-test";
    options.api_key = api_key;
    options.max_body_bytes = max_body;
    metrics_ = std::make_shared<WorkerMetrics>();
    server_ = std::make_unique<HttpServer>(options, metrics_);
    port_ = server_->bind("127.0.0.1", 0);
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen(); });
    engine_ = std::make_shared<FakeEngine>();
    if (with_engine) server_->set_engine(engine_);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Client client(std::optional<std::string> key = std::nullopt) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(std::chrono::seconds(30));
    if (key) c.set_bearer_token_auth(key->c_str());
    return c;
  }

  std::shared_ptr<WorkerMetrics> metrics_;
  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<FakeEngine> engine_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HttpServerTest, HealthLoadingThenHealthyThenDraining) {
  start(std::nullopt, /*with_engine=*/false);
  auto c = client();
  auto loading = c.Get("/health");
  ASSERT_TRUE(loading);
  EXPECT_EQ(loading->status, 503);
  EXPECT_EQ(json::parse(loading->body)["status"], "loading");
  auto refused = c.Post("/execute", R"({"job_id":"j","prompt":"x"})", "application/json");
  EXPECT_EQ(refused->status, 503);

  server_->set_engine(engine_);
  auto healthy = c.Get("/health");
  EXPECT_EQ(healthy->status, 200);
  const json h = json::parse(healthy->body);
  EXPECT_EQ(h["status"], "healthy");
  EXPECT_EQ(h["worker_id"], "w-test");
  EXPECT_EQ(h["model"], "fake-model");
  EXPECT_EQ(h["device"], "cpu");
  EXPECT_EQ(h["resident"], true);
  EXPECT_EQ(h["quant_kind"], "f16");
  EXPECT_EQ(h["vram_bytes"], 0);
  EXPECT_EQ(h["tokenizer_kind"], "hf-json");
  EXPECT_EQ(h["vocab_size"], 128);
  EXPECT_EQ(h["context_length"], 1024);
  EXPECT_TRUE(h["uptime_seconds"].is_number());
  EXPECT_EQ(h["api_key_required"], false);

  server_->begin_drain();
  auto draining = c.Get("/health");
  EXPECT_EQ(draining->status, 503);
  EXPECT_EQ(json::parse(draining->body)["status"], "draining");
  auto shutting = c.Post("/execute", R"({"job_id":"j","prompt":"x"})", "application/json");
  EXPECT_EQ(shutting->status, 503);
  EXPECT_EQ(json::parse(shutting->body)["code"], "SHUTTING_DOWN");
}

TEST_F(HttpServerTest, ExecuteStreamsEventsInOrder) {
  start();
  auto c = client();
  auto res =
      c.Post("/execute", R"({"job_id":"job-7","prompt":"Hello","max_tokens":4,"stop":["zz"]})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  const auto events = parse_sse(res->body);
  ASSERT_EQ(events.size(), 7u) << res->body;
  EXPECT_EQ(events[0].event, "started");
  EXPECT_EQ(events[0].data["type"], "started");
  EXPECT_EQ(events[0].data["job_id"], "job-7");
  EXPECT_EQ(events[0].data["model"], "fake-model");
  EXPECT_EQ(events[0].data["started_at"].get<std::string>().back(), 'Z');
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(events[1 + i].event, "token");
    EXPECT_EQ(events[1 + i].data["type"], "token");
    EXPECT_EQ(events[1 + i].data["i"], i);
    EXPECT_EQ(events[1 + i].data["t"], std::string(1, static_cast<char>('a' + i)));
  }
  EXPECT_EQ(events[5].event, "metrics");
  EXPECT_EQ(events[6].event, "end");
  EXPECT_EQ(events[6].data["tokens_out"], 4);
  EXPECT_EQ(events[6].data["stop_reason"], "max_tokens");
  EXPECT_EQ(events[6].data["decode_time_ms"], 10.0);
  EXPECT_FALSE(events[6].data.contains("stop_sequence_matched"));

  ASSERT_EQ(engine_->requests.size(), 1u);
  EXPECT_EQ(engine_->requests[0].stop, std::vector<std::string>{"zz"});
  EXPECT_EQ(engine_->requests[0].max_tokens, 4);
}

TEST_F(HttpServerTest, ExecuteFailureEndsWithErrorEvent) {
  start();
  auto res = client().Post("/execute", R"({"job_id":"f","prompt":"fail"})", "application/json");
  const auto events = parse_sse(res->body);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].event, "error");
  EXPECT_EQ(events[1].data["code"], "INFERENCE_FAILED");
  EXPECT_EQ(events[1].data["retriable"], false);
}

TEST_F(HttpServerTest, ExecuteValidationListsAllErrors) {
  start();
  auto res = client().Post("/execute", R"({"prompt":"","max_tokens":0,"temperature":3})", "application/json");
  EXPECT_EQ(res->status, 400);
  const json body = json::parse(res->body);
  ASSERT_EQ(body["errors"].size(), 4u);
  EXPECT_EQ(body["errors"][0]["field"], "job_id");
  EXPECT_EQ(body["errors"][1]["field"], "prompt");
  EXPECT_EQ(body["errors"][2]["constraint"], "range(1..=2048)");
  EXPECT_EQ(body["errors"][3]["constraint"], "range(0.0..=2.0)");
  auto malformed = client().Post("/execute", "{oops", "application/json");
  EXPECT_EQ(malformed->status, 400);
  EXPECT_EQ(json::parse(malformed->body)["errors"][0]["constraint"], "json");
  EXPECT_TRUE(engine_->requests.empty());
}

TEST_F(HttpServerTest, ARefusalNamesTheEnginesFieldAndADuplicateJobIdIs409) {
  start();
  engine_->refuse_with = engine::Admission::invalid;
  engine_->refuse_field = "job_id";
  engine_->refuse_constraint = "unique";
  auto res = client().Post("/execute", R"({"job_id":"d","prompt":"x"})", "application/json");
  EXPECT_EQ(res->status, 409);
  EXPECT_NE(res->body.find("\"job_id\""), std::string::npos) << res->body;
  EXPECT_EQ(res->body.find("context_length"), std::string::npos) << res->body;
  engine_->refuse_field = "prompt";
  engine_->refuse_constraint = "valid";
  auto oov = client().Post("/v1/completions", R"({"prompt":[1,99999]})", "application/json");
  EXPECT_EQ(oov->status, 400);
  EXPECT_EQ(json::parse(oov->body)["error"]["param"], "prompt") << oov->body;
}

TEST_F(HttpServerTest, OverloadedIs503WithRetryAfter) {
  start();
  engine_->refuse_with = engine::Admission::overloaded;
  auto res = client().Post("/execute", R"({"job_id":"o","prompt":"x"})", "application/json");
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  const json body = json::parse(res->body);
  EXPECT_EQ(body["code"], "OVERLOADED");
  EXPECT_EQ(body["retriable"], true);
  EXPECT_TRUE(body["message"].is_string());

  auto openai = client().Post("/v1/completions", R"({"prompt":"x"})", "application/json");
  EXPECT_EQ(openai->status, 503);
  EXPECT_EQ(openai->get_header_value("Retry-After"), "1");
  const json o = json::parse(openai->body);
  EXPECT_EQ(o["code"], "OVERLOADED");
  EXPECT_EQ(o["retriable"], true);
  EXPECT_EQ(o["error"]["code"], "OVERLOADED");
}

TEST_F(HttpServerTest, ApiKeyRequiredExceptForHealth) {
  start(std::string("sekret"));
  EXPECT_EQ(client().Get("/health")->status, 200);
  auto denied = client().Post("/execute", R"({"job_id":"a","prompt":"x","max_tokens":1})", "application/json");
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(json::parse(denied->body)["code"], "UNAUTHORIZED");
  EXPECT_EQ(client(std::string("wrong")).Get("/metrics")->status, 401);
  auto openai = client().Get("/v1/models");
  EXPECT_EQ(openai->status, 401);
  EXPECT_EQ(json::parse(openai->body)["error"]["code"], "invalid_api_key");
  auto ok = client(std::string("sekret"))
                .Post("/execute", R"({"job_id":"a","prompt":"x","max_tokens":1})", "application/json");
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(engine_->requests.size(), 1u);
  const std::string metrics = client(std::string("sekret")).Get("/metrics")->body;
  EXPECT_NE(metrics.find("rbees_requests_total{endpoint=\"/execute\",outcome=\"unauthorized\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("rbees_requests_total{endpoint=\"/metrics\",outcome=\"unauthorized\"} 1\n"),
            std::string::npos);
}

// Streams /execute on another thread, reporting the body seen so far; `stop_after_first_token`
// makes the client hang up after the first token event.
struct StreamingCall {
  std::promise<void> first_token;
  std::string body;
  std::thread thread;

  StreamingCall(int port, const std::string& payload, bool stop_after_first_token) {
    thread = std::thread([this, port, payload, stop_after_first_token] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(std::chrono::seconds(30));
      httplib::Request req;
      req.method = "POST";
      req.path = "/execute";
      req.body = payload;
      req.set_header("Content-Type", "application/json");
      bool signalled = false;
      req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        body.append(data, len);
        if (!signalled && body.find("event: token") != std::string::npos) {
          signalled = true;
          first_token.set_value();
          if (stop_after_first_token) return false;
        }
        return true;
      };
      c.send(req);
      if (!signalled) first_token.set_value();
    });
  }
  ~StreamingCall() {
    if (thread.joinable()) thread.join();
  }
};

TEST_F(HttpServerTest, CancelEndsTheStreamWithCancelled) {
  start();
  StreamingCall call(port_, R"({"job_id":"long","prompt":"hang"})", false);
  call.first_token.get_future().wait();
  auto res = client().Post("/cancel", R"({"job_id":"long"})", "application/json");
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(json::parse(res->body)["cancelled"], true);
  call.thread.join();
  const auto events = parse_sse(call.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().event, "started");
  EXPECT_EQ(events.back().event, "error");
  EXPECT_EQ(events.back().data["code"], "CANCELLED");
  EXPECT_EQ(engine_->wait_finished("long"), engine::FinishReason::cancelled);
  // Idempotent: cancelling again is still 202.
  EXPECT_EQ(client().Post("/cancel", R"({"job_id":"long"})", "application/json")->status, 202);
  EXPECT_EQ(client().Post("/cancel", R"({"job_id":""})", "application/json")->status, 400);
}

TEST_F(HttpServerTest, ClientDisconnectCancelsTheJob) {
  start();
  { StreamingCall call(port_, R"({"job_id":"gone","prompt":"hang"})", true); }
  EXPECT_EQ(engine_->wait_finished("gone"), engine::FinishReason::cancelled);
  // The server goes on serving.
  auto res = client().Post("/execute", R"({"job_id":"next","prompt":"x","max_tokens":2})", "application/json");
  EXPECT_EQ(parse_sse(res->body).back().data["stop_reason"], "max_tokens");
}

TEST_F(HttpServerTest, CompletionsNonStreaming) {
  start();
  auto res = client().Post("/v1/completions", R"({"model":"fake-model","prompt":"Hi","max_tokens":3,"logprobs":2})",
                           "application/json");
  ASSERT_EQ(res->status, 200) << res->body;
  const json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(body["model"], "fake-model");
  EXPECT_EQ(body["choices"][0]["text"], "abc");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"], (json{{"prompt_tokens", 3},
                                 {"completion_tokens", 3},
                                 {"total_tokens", 6},
                                 {"prompt_tokens_details", {{"cached_tokens", 0}}}}));
  const json& lp = body["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], (json{"a", "b", "c"}));
  EXPECT_EQ(lp["token_logprobs"], (json{-0.5, -0.5, -0.5}));
  EXPECT_EQ(lp["top_logprobs"][1], (json{{"b", -0.5}, {"c", -1.5}}));
  EXPECT_EQ(lp["text_offset"], (json{0, 1, 2}));
}

TEST_F(HttpServerTest, CompletionsStreamingWithUsage) {
  start();
  auto res = client().Post("/v1/completions",
                           R"({"prompt":"Hi","max_tokens":2,"stream":true,"stream_options":{"include_usage":true}})",
                           "application/json");
  ASSERT_EQ(res->status, 200);
  const auto events = parse_sse(res->body);
  ASSERT_EQ(events.size(), 5u) << res->body;
  EXPECT_EQ(events[0].data["choices"][0]["text"], "a");
  EXPECT_EQ(events[1].data["choices"][0]["text"], "b");
  EXPECT_EQ(events[2].data["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(events[3].data["choices"].empty());
  EXPECT_EQ(events[3].data["usage"]["completion_tokens"], 2);
  EXPECT_EQ(events[4].data, "[DONE]");
}

TEST_F(HttpServerTest, ChatCompletions) {
  start();
  auto res = client().Post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":2})",
                           "application/json");
  ASSERT_EQ(res->status, 200) << res->body;
  const json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"], (json{{"role", "assistant"}, {"content", "ab"}}));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  ASSERT_TRUE(std::holds_alternative<engine::ChatPrompt>(engine_->requests.at(0).prompt));

  auto streamed = client().Post("/v1/chat/completions",
                                R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"stream":true})",
                                "application/json");
  const auto events = parse_sse(streamed->body);
  ASSERT_EQ(events.size(), 5u) << streamed->body;
  EXPECT_EQ(events[0].data["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(events[1].data["choices"][0]["delta"]["content"], "a");
  EXPECT_EQ(events[2].data["choices"][0]["delta"]["content"], "b");
  EXPECT_EQ(events[3].data["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(events[4].data, "[DONE]");

  auto bad = client().Post("/v1/chat/completions", R"({"messages":[],"n":3})", "application/json");
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"]["type"], "invalid_request_error");
}

TEST_F(HttpServerTest, ChatToolCallsAsOpenAiShapesThem) {
  start();
  engine_->tool_format = chat::ToolCallFormat::kHermes;
  engine_->script =
      "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
  const std::string body =
      R"({"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"get_weather"}},
      {"type":"function","function":{"name":"get_time"}}])";
  auto res = client().Post("/v1/chat/completions", body + "}", "application/json");
  ASSERT_EQ(res->status, 200) << res->body;
  const json whole = json::parse(res->body);
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "tool_calls");
  const json& message = whole["choices"][0]["message"];
  EXPECT_EQ(message["content"], "Checking.\n");
  ASSERT_EQ(message["tool_calls"].size(), 2u);
  EXPECT_EQ(message["tool_calls"][0]["type"], "function");
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], R"({"city":"Paris"})");
  EXPECT_EQ(message["tool_calls"][0]["id"].get<std::string>().rfind("call_", 0), 0u);
  // No grammar for auto; the tools went to the template.
  EXPECT_FALSE(engine_->requests.at(0).grammar);
  EXPECT_EQ(std::get<engine::ChatPrompt>(engine_->requests.at(0).prompt).tools.size(), 2u);

  auto streamed = client().Post("/v1/chat/completions", body + R"(,"stream":true})", "application/json");
  ASSERT_EQ(streamed->status, 200);
  std::string content;
  std::vector<json> calls;  // what the SDKs accumulate, per index
  std::string finish;
  for (const auto& ev : parse_sse(streamed->body)) {
    if (ev.data == "[DONE]") break;
    const json& choice = ev.data["choices"][0];
    if (choice["finish_reason"].is_string()) finish = choice["finish_reason"];
    const json& delta = choice["delta"];
    if (delta.contains("content")) content += delta["content"].get<std::string>();
    if (!delta.contains("tool_calls")) continue;
    const json& tc = delta["tool_calls"][0];
    const size_t index = tc["index"];
    if (tc.contains("id")) {
      ASSERT_EQ(index, calls.size()) << "a call's first chunk carries its id";
      EXPECT_EQ(tc["type"], "function");
      EXPECT_EQ(tc["function"]["arguments"], "");
      calls.push_back(tc);
    } else {
      ASSERT_LT(index, calls.size());
      calls[index]["function"]["arguments"] =
          calls[index]["function"]["arguments"].get<std::string>() + tc["function"]["arguments"].get<std::string>();
    }
  }
  EXPECT_EQ(content, "Checking.\n");
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(calls[0]["function"]["arguments"], R"({"city":"Paris"})");
  EXPECT_EQ(calls[1]["function"]["name"], "get_time");
  EXPECT_EQ(calls[1]["function"]["arguments"], "{}");

  // tool_choice none: the tools are listed, the output is content as written.
  auto none = client().Post("/v1/chat/completions", body + R"(,"tool_choice":"none"})", "application/json");
  EXPECT_EQ(json::parse(none->body)["choices"][0]["message"]["content"], engine_->script);
  EXPECT_EQ(json::parse(none->body)["choices"][0]["finish_reason"], "stop");

  // required: the grammar for the template's syntax goes to the engine, named after tool_choice.
  client().Post("/v1/chat/completions", body + R"(,"tool_choice":"required"})", "application/json");
  ASSERT_TRUE(engine_->requests.back().grammar);
  EXPECT_EQ(engine_->requests.back().grammar_field, "tool_choice");
  EXPECT_NE(engine_->requests.back().grammar->text.find("<tool_call>"), std::string::npos);
}

TEST_F(HttpServerTest, ToolsNeedATemplateWithACallSyntax) {
  start();  // the fake engine's template has none
  auto res = client().Post(
      "/v1/chat/completions",
      R"({"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"f"}}]})",
      "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["error"]["param"], "tools");
  EXPECT_TRUE(engine_->requests.empty());
}

TEST_F(HttpServerTest, ModelsTokenizeDetokenize) {
  start();
  auto models = json::parse(client().Get("/v1/models")->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "fake-model");
  auto tok = client().Post("/tokenize", R"({"content":"AB","add_special":true})", "application/json");
  EXPECT_EQ(json::parse(tok->body)["tokens"], (json{1, 65, 66}));
  auto detok = client().Post("/detokenize", R"({"tokens":[72,105]})", "application/json");
  EXPECT_EQ(json::parse(detok->body)["content"], "Hi");
  EXPECT_EQ(client().Post("/detokenize", R"({"tokens":[4096]})", "application/json")->status, 400);
}

TEST_F(HttpServerTest, NotFoundAndBodyLimit) {
  start(std::nullopt, true, 64);
  auto nf = client().Get("/nope");
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(json::parse(nf->body)["code"], "NOT_FOUND");
  auto big =
      client().Post("/execute", json{{"job_id", "j"}, {"prompt", std::string(200, 'x')}}.dump(), "application/json");
  EXPECT_EQ(big->status, 413);
  EXPECT_TRUE(json::parse(big->body).contains("message"));
}

TEST_F(HttpServerTest, MetricsEndpoint) {
  start();
  client().Post("/execute", R"({"job_id":"m","prompt":"x","max_tokens":3})", "application/json");
  client().Post("/execute", R"({})", "application/json");
  auto res = client().Get("/metrics");
  ASSERT_EQ(res->status, 200);
  const std::string& text = res->body;
  EXPECT_NE(text.find("rbees_requests_total{endpoint=\"/execute\",outcome=\"ok\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("rbees_requests_total{endpoint=\"/execute\",outcome=\"bad_request\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("rbees_generated_tokens_total 3\n"), std::string::npos);
  EXPECT_NE(text.find("rbees_prompt_tokens_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("rbees_time_to_first_token_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("rbees_inter_token_latency_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(text.find("rbees_queue_length 2\n"), std::string::npos);
  EXPECT_NE(text.find("rbees_running_sequences 3\n"), std::string::npos);
  EXPECT_NE(text.find("rbees_kv_cache_usage_ratio 0.5\n"), std::string::npos);
}

}  // namespace
}  // namespace rbees::server
