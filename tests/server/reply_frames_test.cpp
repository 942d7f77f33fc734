// A job's events cross from the engine's thread to the front end's through StreamChannel, and the
// front end writes them as the worker protocol's SSE events (ExecuteFrames) or OpenAI's chunks and
// responses (OpenAiFrames): byte for byte what the protocols define, however the events are batched.
#include "server/execute_frames.hpp"
#include "server/execute_sink.hpp"
#include "server/openai_frames.hpp"
#include "server/openai_sink.hpp"
#include "server/stream_channel.hpp"

#include "fake_engine.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace rbees::server {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::system_clock;

engine::TokenEvent token(int32_t id, std::string text) {
  engine::TokenEvent t;
  t.id = id;
  t.text = std::move(text);
  return t;
}

engine::FinalResult ended(engine::FinishReason reason, std::string trailing = "") {
  engine::FinalResult r;
  r.reason = reason;
  r.trailing_text = std::move(trailing);
  r.prompt_tokens = 4;
  r.tokens_out = 3;
  r.decode_ms = 20.0;
  return r;
}

// Every event queued so far, and whether the channel is closed.
std::pair<std::vector<StreamEvent>, bool> drain(StreamChannel& channel) {
  std::vector<StreamEvent> events;
  const bool closed = channel.take(events);
  return {std::move(events), closed};
}

TEST(StreamChannel, CarriesEventsInOrderAcrossThreadsAndWakesTheReaderForEach) {
  StreamChannel channel;
  std::atomic<int> wakes{0};
  channel.set_notify([&] { ++wakes; });
  std::thread engine([&] {
    for (int i = 0; i < 100; ++i) channel.push({0, token(i, std::to_string(i))});
    channel.push({0, ended(engine::FinishReason::eos)});
    channel.close();
  });
  std::vector<StreamEvent> seen;
  bool closed = false;
  std::vector<StreamEvent> batch;
  while (!closed) {
    closed = channel.take(batch);
    for (auto& e : batch) seen.push_back(std::move(e));
  }
  engine.join();
  ASSERT_EQ(seen.size(), 101u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(std::get<engine::TokenEvent>(seen[i].data).text, std::to_string(i));
  EXPECT_EQ(std::get<engine::FinalResult>(seen[100].data).reason, engine::FinishReason::eos);
  EXPECT_EQ(wakes, 102);  // each push and the close

  // Nothing is taken in after the close.
  channel.push({0, token(1, "late")});
  auto [late, still_closed] = drain(channel);
  EXPECT_TRUE(late.empty());
  EXPECT_TRUE(still_closed);
}

TEST(ExecuteFrames, WritesTheProtocolsEventsWithTextOnlyTokensNumbered) {
  auto channel = std::make_shared<StreamChannel>();
  ExecuteSink sink(channel, nullptr);
  sink.on_token(token(5, "Pri"));
  sink.on_token(token(6, ""));  // text held back: no event
  sink.on_token(token(7, "nce"));
  sink.on_finish(ended(engine::FinishReason::max_tokens, " A"));
  auto [events, closed] = drain(*channel);
  EXPECT_TRUE(closed);
  EXPECT_EQ(events.size(), 3u);

  ExecuteFrames frames("job-1", "wp", system_clock::time_point{milliseconds(0)}, 0);
  std::string out;
  frames.add(events, out);
  EXPECT_EQ(out,
            "event: started\ndata: {\"job_id\":\"job-1\",\"model\":\"wp\",\"started_at\":\"1970-01-01T00:00:00.000Z\","
            "\"type\":\"started\"}\n\n"
            "event: token\ndata: {\"i\":0,\"t\":\"Pri\",\"type\":\"token\"}\n\n"
            "event: token\ndata: {\"i\":1,\"t\":\"nce\",\"type\":\"token\"}\n\n"
            "event: token\ndata: {\"i\":2,\"t\":\" A\",\"type\":\"token\"}\n\n"
            "event: metrics\ndata: {\"tokens_per_sec\":150.0,\"type\":\"metrics\",\"vram_bytes\":0}\n\n"
            "event: end\ndata: {\"decode_time_ms\":20.0,\"stop_reason\":\"max_tokens\",\"tokens_out\":3,\"type\":"
            "\"end\"}\n\n");

  // The same events one at a time: the same bytes, and `started` before any of them.
  ExecuteFrames again("job-1", "wp", system_clock::time_point{milliseconds(0)}, 0);
  std::string pieces;
  again.add({}, pieces);
  EXPECT_EQ(pieces.rfind("event: started\n", 0), 0u);
  EXPECT_EQ(pieces.find("event: token"), std::string::npos);
  for (const auto& e : events) again.add({&e, 1}, pieces);
  EXPECT_EQ(pieces, out);
}

TEST(ExecuteFrames, EndsWithAnErrorEventForACancelOrAFailure) {
  const auto started = system_clock::time_point{milliseconds(0)};
  ExecuteFrames cancelled("j", "m", started, 0);
  std::string out;
  cancelled.add(std::vector<StreamEvent>{{0, ended(engine::FinishReason::cancelled)}}, out);
  EXPECT_NE(out.find("event: error\ndata: {\"code\":\"CANCELLED\",\"message\":\"the job was cancelled\","
                     "\"retriable\":false,\"type\":\"error\"}\n\n"),
            std::string::npos);

  engine::FinalResult timeout = ended(engine::FinishReason::cancelled);
  timeout.failure = engine::Failure{engine::FailureKind::timeout, "too slow", true};
  ExecuteFrames failed("j", "m", started, 0);
  out.clear();
  failed.add(std::vector<StreamEvent>{{0, timeout}}, out);
  EXPECT_NE(out.find("event: error\ndata: {\"code\":\"TIMEOUT\",\"message\":\"too slow\",\"retriable\":true,"
                     "\"type\":\"error\"}\n\n"),
            std::string::npos);
  EXPECT_EQ(out.find("event: end"), std::string::npos);
}

OpenAiContext chat_context(bool stream, int n_choices) {
  OpenAiContext c;
  c.id = "chatcmpl-1";
  c.model = "wp";
  c.created = 7;
  c.chat = true;
  c.stream = stream;
  c.include_usage = true;
  c.n_choices = n_choices;
  c.n_per_prompt = n_choices;
  return c;
}

std::string chunk(int index, const json& delta, const json& finish = nullptr) {
  return "data: " +
         json{{"id", "chatcmpl-1"},
              {"object", "chat.completion.chunk"},
              {"created", 7},
              {"model", "wp"},
              {"choices",
               json::array({{{"index", index}, {"logprobs", nullptr}, {"finish_reason", finish}, {"delta", delta}}})}}
             .dump() +
         "\n\n";
}

TEST(OpenAiFrames, StreamsEachChoicesChunksThenUsageAndDone) {
  auto channel = std::make_shared<StreamChannel>();
  auto sink = std::make_shared<OpenAiSink>(2, false, channel, nullptr);
  auto first = sink->choice(0), second = sink->choice(1);
  first->on_token(token('a', "a"));
  second->on_token(token('b', "b"));
  first->on_finish(ended(engine::FinishReason::eos));
  EXPECT_FALSE(channel->closed());
  second->on_finish(ended(engine::FinishReason::max_tokens, "!"));
  auto [events, closed] = drain(*channel);
  EXPECT_TRUE(closed);

  OpenAiFrames frames(chat_context(true, 2), {});
  std::string out;
  frames.add(events, out);
  const json usage = {{"prompt_tokens", 4},
                      {"completion_tokens", 6},
                      {"total_tokens", 10},
                      {"prompt_tokens_details", {{"cached_tokens", 0}}}};
  const std::string usage_chunk = "data: " +
                                  json{{"id", "chatcmpl-1"}, {"object", "chat.completion.chunk"}, {"created", 7},
                                       {"model", "wp"},      {"choices", json::array()},          {"usage", usage}}
                                      .dump() +
                                  "\n\n";
  const std::string expected = chunk(0, {{"role", "assistant"}, {"content", ""}}) + chunk(0, {{"content", "a"}}) +
                               chunk(1, {{"role", "assistant"}, {"content", ""}}) + chunk(1, {{"content", "b"}}) +
                               chunk(0, json::object(), "stop") + chunk(1, {{"content", "!"}}, "length") + usage_chunk +
                               "data: [DONE]\n\n";
  EXPECT_EQ(out, expected);
}

TEST(OpenAiFrames, CollectsAResponseNotStreamedWithLogprobsNamedByTheEngine) {
  auto engine = std::make_shared<testing::FakeEngine>();
  OpenAiContext c = chat_context(false, 1);
  c.logprobs = 1;
  auto channel = std::make_shared<StreamChannel>();
  auto sink = std::make_shared<OpenAiSink>(1, false, channel, nullptr);
  auto choice = sink->choice(0);
  engine::TokenEvent t = token('x', "x");
  t.logprob = -0.5f;
  t.top_logprobs = {{'x', -0.5f}};
  choice->on_token(t);
  choice->on_finish(ended(engine::FinishReason::eos));

  OpenAiFrames frames(c, engine);
  std::string out;
  frames.add(drain(*channel).first, out);
  EXPECT_TRUE(out.empty());  // nothing streamed
  const HttpResponse r = frames.response();
  EXPECT_EQ(r.status, 200);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "x");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["token"], "x");
  EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["bytes"], json::array({'x'}));
  EXPECT_EQ(body["usage"]["completion_tokens"], 3);
}

TEST(OpenAiFrames, TheFirstFailureEndsTheResponseAndStopsTheOtherChoices) {
  auto channel = std::make_shared<StreamChannel>();
  auto sink = std::make_shared<OpenAiSink>(2, false, channel, nullptr);
  auto first = sink->choice(0), second = sink->choice(1);
  EXPECT_FALSE(second->client_gone());
  engine::FinalResult failed = ended(engine::FinishReason::none);
  failed.failure = engine::Failure{engine::FailureKind::inference_failed, "the graph failed", true};
  first->on_finish(failed);
  EXPECT_TRUE(channel->closed());
  EXPECT_TRUE(second->client_gone());  // the engine ends it at its next step
  second->on_token(token('b', "b"));   // not heard
  second->on_finish(ended(engine::FinishReason::cancelled));
  auto [events, closed] = drain(*channel);
  EXPECT_TRUE(closed);
  ASSERT_EQ(events.size(), 1u);

  OpenAiFrames streamed(chat_context(true, 2), {});
  std::string out;
  streamed.add(events, out);
  EXPECT_EQ(
      out,
      "data: {\"error\":{\"code\":null,\"message\":\"the graph failed\",\"param\":null,\"type\":\"server_error\"}}"
      "\n\ndata: [DONE]\n\n");
  OpenAiFrames whole(chat_context(false, 2), {});
  whole.add(events, out);
  EXPECT_EQ(whole.response().status, 503);
}

}  // namespace
}  // namespace rbees::server
