// The OpenAI API's request semantics over real HTTP with the default model: the model named in a
// request, /v1/models/{id}, the field each refusal names, batches of prompts and n choices,
// logit_bias and the penalties on /execute, chat roles and continuing the final message.
#include <cmath>
#include <set>

#include "app/daemon.hpp"
#include "model/reference.hpp"

namespace rbees::app::testing {
namespace {

class ServeOpenAiApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new Daemon({"--model", kModelDir, "--served-model-name", "tolstoy,war-and-peace", "--served-model-name",
                          "wp", "--max-seqs", "4", "--max-queue", "4"});
    ASSERT_TRUE(daemon_->wait_healthy()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  struct Answer {
    int status = 0;
    json body;
    std::string raw;
  };
  static Answer post(const std::string& path, const json& body) { return post_to(*daemon_, path, body); }
  static Answer post_to(const Daemon& d, const std::string& path, const json& body) {
    auto res = d.client().Post(path, body.dump(), "application/json");
    if (!res) return {};
    Answer a{res->status, json(), res->body};
    if (res->get_header_value("Content-Type").find("json") != std::string::npos) a.body = json::parse(res->body);
    return a;
  }
  static Answer get(const std::string& path) {
    auto res = daemon_->client().Get(path);
    if (!res) return {};
    return {res->status, json::parse(res->body), res->body};
  }
  // The `param` of an OpenAI error, after checking the status and shape.
  static std::string param_of(const Answer& a, int status = 400) {
    EXPECT_EQ(a.status, status) << a.raw;
    if (!a.body.contains("error")) return "(no error object: " + a.raw + ")";
    EXPECT_EQ(a.body["error"]["type"], "invalid_request_error") << a.raw;
    return a.body["error"]["param"].is_string() ? a.body["error"]["param"].get<std::string>() : "(null)";
  }
  static std::string greedy(const std::string& prompt, int max_tokens) {
    const auto a = post("/v1/completions", {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}});
    EXPECT_EQ(a.status, 200) << a.raw;
    return a.body["choices"][0]["text"];
  }
  static Daemon* daemon_;
};
Daemon* ServeOpenAiApi::daemon_ = nullptr;

TEST_F(ServeOpenAiApi, TheModelMustBeTheServedOne) {
  const json body = {{"prompt", "Pierre"}, {"max_tokens", 2}, {"temperature", 0}};
  for (const char* name : {"wp-llama-5m", "tolstoy", "war-and-peace", "wp"}) {
    json named = body;
    named["model"] = name;
    const auto a = post("/v1/completions", named);
    EXPECT_EQ(a.status, 200) << name << " " << a.raw;
    EXPECT_EQ(a.body["model"], name);
  }
  // Omitted: allowed, and the response names the first served name.
  const auto omitted = post("/v1/completions", body);
  EXPECT_EQ(omitted.status, 200) << omitted.raw;
  EXPECT_EQ(omitted.body["model"], "tolstoy");

  json wrong = body;
  wrong["model"] = "gpt-4o-nonexistent";
  const auto a = post("/v1/completions", wrong);
  EXPECT_EQ(param_of(a, 404), "model");
  EXPECT_EQ(a.body["error"]["code"], "model_not_found");
  const auto chat = post("/v1/chat/completions",
                         {{"model", "gpt-4o-nonexistent"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}});
  EXPECT_EQ(param_of(chat, 404), "model");
  EXPECT_EQ(chat.body["error"]["code"], "model_not_found");
}

TEST_F(ServeOpenAiApi, ModelsListAndRetrieveTheServedNames) {
  const auto list = get("/v1/models");
  ASSERT_EQ(list.status, 200) << list.raw;
  std::vector<std::string> ids;
  for (const auto& m : list.body["data"]) {
    ids.push_back(m["id"]);
    EXPECT_EQ(m["object"], "model");
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"tolstoy", "war-and-peace", "wp", "wp-llama-5m"}));
  for (const auto& id : ids) {
    const auto one = get("/v1/models/" + id);
    EXPECT_EQ(one.status, 200) << id << " " << one.raw;
    EXPECT_EQ(one.body["id"], id);
    EXPECT_EQ(one.body["object"], "model");
    EXPECT_EQ(one.body["created"], list.body["data"][0]["created"]);
  }
  const auto missing = get("/v1/models/gpt-4o-nonexistent");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "model_not_found");
  // A percent-encoded id is decoded: "wp%2Dllama-5m" is the model's own name.
  EXPECT_EQ(get("/v1/models/wp%2Dllama-5m").status, 200);
  EXPECT_EQ(get("/v1/models/org%2Fwp").status, 404);
  // The metrics label the route, not each id.
  const std::string metrics = metrics_text(*daemon_);
  EXPECT_NE(metrics.find("endpoint=\"/v1/models/{id}\""), std::string::npos);
  EXPECT_EQ(metrics.find("gpt-4o-nonexistent"), std::string::npos);
}

// Each refusal names the field at fault.
TEST_F(ServeOpenAiApi, RefusalsNameTheirField) {
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", {1, 99999}}, {"max_tokens", 2}})), "prompt");
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", {"ok", {1, 99999}}}, {"max_tokens", 2}})), "prompt[1]");
  // The context is 1024 tokens: a longer prompt is the prompt's fault, a long max_tokens its own.
  std::string long_prompt;
  for (int i = 0; i < 1100; ++i) long_prompt += " war";
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", long_prompt}, {"max_tokens", 2}})), "prompt");
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", long_prompt}})), "prompt");
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", "Pierre"}, {"max_tokens", 1023}})), "max_tokens");
  EXPECT_EQ(param_of(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", long_prompt}}}}})),
            "messages");
  EXPECT_EQ(param_of(post("/v1/chat/completions",
                          {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_completion_tokens", 1023}})),
            "max_tokens");
  // A token id past the vocabulary (4096) in logit_bias, on every generating endpoint.
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", "Pierre"}, {"logit_bias", {{"4096", -100}}}})), "logit_bias");
  EXPECT_EQ(param_of(post("/v1/chat/completions",
                          {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"logit_bias", {{"99999", 5}}}})),
            "logit_bias");
  const auto execute_bias =
      post("/execute", {{"job_id", "bias-out"}, {"prompt", "Pierre"}, {"logit_bias", {{"4096", 1}}}});
  ASSERT_EQ(execute_bias.status, 400) << execute_bias.raw;
  EXPECT_EQ(execute_bias.body["errors"][0]["field"], "logit_bias");
  // Unknown roles, n and best_of.
  EXPECT_EQ(
      param_of(post(
          "/v1/chat/completions",
          {{"messages", {{{"role", "user"}, {"content", "Hi"}}, {{"role", "wizard"}, {"content", "Abracadabra"}}}}})),
      "messages[1].role");
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", "Pierre"}, {"n", 2}, {"best_of", 3}})), "best_of");
  // 4 slots and 4 queue places: 3 prompts of 3 choices cannot all run or wait.
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", {"a", "b", "c"}}, {"n", 3}, {"max_tokens", 1}})), "n");
  EXPECT_EQ(param_of(post("/v1/completions",
                          {{"prompt", json::array({"a", "b", "c", "d", "e", "f", "g", "h", "i"})}, {"max_tokens", 1}})),
            "prompt");
}

// A batch of prompts: each its own sequence, choices in order, usage summed; streamed chunks carry
// their choice's index.
TEST_F(ServeOpenAiApi, ABatchOfPromptsGivesAChoiceEach) {
  const std::vector<std::string> prompts = {"Pierre", "Natasha", "The war"};
  std::vector<std::string> alone;
  int prompt_tokens = 0;
  for (const auto& p : prompts) {
    const auto a = post("/v1/completions", {{"prompt", p}, {"max_tokens", 8}, {"temperature", 0}});
    ASSERT_EQ(a.status, 200) << a.raw;
    alone.push_back(a.body["choices"][0]["text"]);
    prompt_tokens += a.body["usage"]["prompt_tokens"].get<int>();
  }
  const json body = {{"prompt", prompts}, {"max_tokens", 8}, {"temperature", 0}};
  const auto batch = post("/v1/completions", body);
  ASSERT_EQ(batch.status, 200) << batch.raw;
  ASSERT_EQ(batch.body["choices"].size(), 3u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(batch.body["choices"][i]["index"], i);
    EXPECT_EQ(batch.body["choices"][i]["text"], alone[i]) << prompts[i];
    EXPECT_EQ(batch.body["choices"][i]["finish_reason"], "length");
  }
  EXPECT_EQ(batch.body["usage"]["prompt_tokens"], prompt_tokens);
  EXPECT_EQ(batch.body["usage"]["completion_tokens"], 24);
  EXPECT_EQ(batch.body["usage"]["total_tokens"], prompt_tokens + 24);

  // Token-id lists, as a batch.
  const auto ids = post("/tokenize", {{"content", "Natasha"}, {"add_special", true}});
  const auto by_ids = post(
      "/v1/completions", {{"prompt", {ids.body["tokens"], ids.body["tokens"]}}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_EQ(by_ids.status, 200) << by_ids.raw;
  EXPECT_EQ(by_ids.body["choices"][0]["text"], alone[1]);
  EXPECT_EQ(by_ids.body["choices"][1]["text"], alone[1]);

  json streamed = body;
  streamed["stream"] = true;
  streamed["stream_options"] = {{"include_usage", true}};
  auto res = daemon_->client().Post("/v1/completions", streamed.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  std::vector<std::string> texts(3);
  std::vector<std::string> finish(3);
  json usage;
  bool done = false;
  for (const auto& e : parse_sse(res->body)) {
    if (e.data.is_null()) {
      done = true;
      continue;
    }
    if (e.data.contains("usage") && !e.data["usage"].is_null()) usage = e.data["usage"];
    for (const auto& c : e.data["choices"]) {
      const size_t i = c["index"];
      ASSERT_LT(i, 3u);
      texts[i] += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) finish[i] = c["finish_reason"];
    }
  }
  EXPECT_TRUE(done);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(texts[i], alone[i]);
    EXPECT_EQ(finish[i], "length");
  }
  EXPECT_EQ(usage["completion_tokens"], 24);
  EXPECT_EQ(usage["prompt_tokens"], prompt_tokens);
}

// n samples of a prompt: identical when greedy; with a seed, sample i draws from seed + i, so each
// equals a one-choice request with that seed (compared with --batch-invariant: otherwise the six
// choices' shared batch moves the logits' last bits, and a draw near a boundary of the sampled
// distribution can go the other way), and they differ. Choice i of prompt p is p * n + i.
TEST_F(ServeOpenAiApi, NChoicesPerPrompt) {
  const auto same = post("/v1/completions", {{"prompt", "Pierre"}, {"n", 3}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_EQ(same.status, 200) << same.raw;
  ASSERT_EQ(same.body["choices"].size(), 3u);
  const std::string g = greedy("Pierre", 8);
  for (const auto& c : same.body["choices"]) EXPECT_EQ(c["text"], g);
  EXPECT_EQ(same.body["usage"]["completion_tokens"], 24);
  // The prompt counts once.
  EXPECT_EQ(same.body["usage"]["prompt_tokens"],
            post("/tokenize", {{"content", "Pierre"}, {"add_special", true}}).body["tokens"].size());

  const json sampled = {
      {"prompt", {"Pierre", "Natasha"}}, {"n", 3}, {"max_tokens", 12}, {"temperature", 1.0}, {"seed", 42}};
  Daemon invariant({"--model", kModelDir, "--batch-invariant"});
  ASSERT_TRUE(invariant.wait_healthy()) << invariant.log();
  const auto many = post_to(invariant, "/v1/completions", sampled);
  ASSERT_EQ(many.status, 200) << many.raw;
  ASSERT_EQ(many.body["choices"].size(), 6u);
  std::set<std::string> distinct;
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < 3; ++i) {
      const json& c = many.body["choices"][p * 3 + i];
      EXPECT_EQ(c["index"], p * 3 + i);
      const auto one =
          post_to(invariant, "/v1/completions",
                  {{"prompt", sampled["prompt"][p]}, {"max_tokens", 12}, {"temperature", 1.0}, {"seed", 42 + i}});
      EXPECT_EQ(c["text"], one.body["choices"][0]["text"]) << "prompt " << p << " sample " << i;
      distinct.insert(c["text"]);
    }
  }
  EXPECT_EQ(distinct.size(), 6u);

  // Chat: n choices, streamed with their index.
  const json chat = {{"messages", {{{"role", "user"}, {"content", "Who is Natasha?"}}}},
                     {"n", 2},
                     {"max_tokens", 6},
                     {"temperature", 0.9},
                     {"seed", 5},
                     {"stream", true}};
  json plain = chat;
  plain.erase("stream");
  // Compared on the --batch-invariant worker: elsewhere the two choices may share a step in one run
  // and not in the other (a slow machine admits the second a step later), and sampling at 0.9 can
  // show the logits' last bits. The first request puts the prompt in the prefix cache for both.
  ASSERT_EQ(post_to(invariant, "/v1/chat/completions", plain).status, 200);
  auto res = invariant.client().Post("/v1/chat/completions", chat.dump(), "application/json");
  ASSERT_TRUE(res);
  std::vector<std::string> texts(2);
  std::vector<int> roles(2);
  for (const auto& e : parse_sse(res->body)) {
    if (e.data.is_null()) continue;
    for (const auto& c : e.data["choices"]) {
      const size_t i = c["index"];
      ASSERT_LT(i, 2u);
      if (c["delta"].contains("role")) ++roles[i];
      if (c["delta"].contains("content")) texts[i] += c["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(roles, (std::vector<int>{1, 1}));
  const auto whole = post_to(invariant, "/v1/chat/completions", plain);
  ASSERT_EQ(whole.status, 200) << whole.raw;
  EXPECT_EQ(whole.body["choices"][0]["message"]["content"], texts[0]);
  EXPECT_EQ(whole.body["choices"][1]["message"]["content"], texts[1]);
  EXPECT_NE(texts[0], texts[1]);
}

// The n samples of one prompt are submitted together: the first computes the prompt, the others
// wait for its blocks and take them from the prefix cache (all but the last partial block: 16-token
// blocks), and the greedy samples still agree.
TEST_F(ServeOpenAiApi, NSamplesShareThePromptThroughThePrefixCache) {
  std::string prompt;
  for (int i = 0; i < 60; ++i) prompt += " Prince Andrew looked at Pierre.";
  const double before = metric_value(metrics_text(*daemon_), "rbees_prefix_cache_hit_tokens_total").value_or(-1);
  const auto a = post("/v1/completions", {{"prompt", prompt}, {"n", 4}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_EQ(a.status, 200) << a.raw;
  const double after = metric_value(metrics_text(*daemon_), "rbees_prefix_cache_hit_tokens_total").value_or(-1);
  const int n_prompt = a.body["usage"]["prompt_tokens"];
  std::cout << "n=4 of a " << n_prompt << "-token prompt: " << (after - before)
            << " prompt tokens from the prefix cache\n";
  EXPECT_EQ(after - before, 3 * ((n_prompt - 1) / 16 * 16));
  for (const auto& c : a.body["choices"]) EXPECT_EQ(c["text"], a.body["choices"][0]["text"]);
}

// /execute takes the OpenAI endpoints' sampling fields: a token banned with -100 never appears,
// and the penalties change a greedy continuation.
TEST_F(ServeOpenAiApi, ExecuteHonoursLogitBiasAndPenalties) {
  const auto c = reference_cases()[0];
  const int n = static_cast<int>(c["greedy_ids"].size());
  json banned = json::object();
  std::set<std::string> banned_text;
  for (const auto& id : c["greedy_ids"]) {
    banned[std::to_string(id.get<int>())] = -100;
    banned_text.insert(post("/detokenize", {{"tokens", {id}}}).body["content"].get<std::string>());
  }
  json body = greedy_body("ban-1", c["prompt"], n);
  body["logit_bias"] = banned;
  const auto r = execute(*daemon_, body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.end["tokens_out"], n);
  EXPECT_NE(r.text, c["greedy_text"].get<std::string>());
  // The same request through /v1/completions, whose logprobs list each token: none is banned, and
  // the text is /execute's.
  const auto listed =
      post("/v1/completions",
           {{"prompt", c["prompt"]}, {"max_tokens", n}, {"temperature", 0}, {"logit_bias", banned}, {"logprobs", 0}});
  ASSERT_EQ(listed.status, 200) << listed.raw;
  EXPECT_EQ(listed.body["choices"][0]["text"], r.text);
  const json& tokens = listed.body["choices"][0]["logprobs"]["tokens"];
  ASSERT_EQ(tokens.size(), static_cast<size_t>(n));
  for (const auto& t : tokens) EXPECT_EQ(banned_text.count(t.get<std::string>()), 0u) << t;

  // Sampled too: 64 tokens at temperature 1 never draw a banned token.
  const auto sampled = post("/v1/completions", {{"prompt", c["prompt"]},
                                                {"max_tokens", 64},
                                                {"temperature", 1.0},
                                                {"seed", 9},
                                                {"logit_bias", banned},
                                                {"logprobs", 0}});
  ASSERT_EQ(sampled.status, 200) << sampled.raw;
  for (const auto& t : sampled.body["choices"][0]["logprobs"]["tokens"]) EXPECT_EQ(banned_text.count(t), 0u) << t;
  json sampled_execute = {{"job_id", "ban-2"}, {"prompt", c["prompt"]}, {"max_tokens", 64}, {"temperature", 1.0},
                          {"seed", 9},         {"logit_bias", banned}};
  EXPECT_EQ(execute(*daemon_, sampled_execute).text, sampled.body["choices"][0]["text"]);

  for (const char* penalty : {"presence_penalty", "frequency_penalty"}) {
    json p = greedy_body(std::string("pen-") + penalty, c["prompt"], n);
    p[penalty] = 2.0;
    const auto out = execute(*daemon_, p);
    ASSERT_EQ(out.status, 200) << out.body;
    const auto same =
        post("/v1/completions", {{"prompt", c["prompt"]}, {"max_tokens", n}, {"temperature", 0}, {penalty, 2.0}});
    EXPECT_EQ(out.text, same.body["choices"][0]["text"]) << penalty;
    EXPECT_NE(out.text, c["greedy_text"].get<std::string>()) << penalty;
  }
}

// ignore_eos on /execute, as on /v1/completions: generation goes on past the end-of-sequence token
// to max_tokens, and the text is the same on both endpoints.
TEST_F(ServeOpenAiApi, ExecuteHonoursIgnoreEos) {
  // The model's end-of-sequence token (id 1) pushed up by logit_bias ends a plain request at once.
  const std::string prompt = reference_cases()[0]["prompt"];
  json body = greedy_body("eos-1", prompt, 40);
  body["logit_bias"] = {{"1", 100}};
  const auto stopped = execute(*daemon_, body);
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(stopped.end["tokens_out"], 1);
  EXPECT_EQ(stopped.end["stop_reason"], "eos");
  body["job_id"] = "eos-2";
  body["ignore_eos"] = true;
  const auto r = execute(*daemon_, body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.end["tokens_out"], 40);
  const auto same = post(
      "/v1/completions",
      {{"prompt", prompt}, {"max_tokens", 40}, {"temperature", 0}, {"logit_bias", {{"1", 100}}}, {"ignore_eos", true}});
  ASSERT_EQ(same.status, 200) << same.raw;
  EXPECT_EQ(same.body["usage"]["completion_tokens"], 40);
  EXPECT_EQ(r.text, same.body["choices"][0]["text"]);
  body["job_id"] = "eos-3";
  body["ignore_eos"] = "yes";
  const auto bad = post("/execute", body);
  ASSERT_EQ(bad.status, 400) << bad.raw;
  EXPECT_EQ(bad.body["errors"][0]["field"], "ignore_eos");
}

// echo with logprobs: the prompt's tokens come first in the logprobs, the first with null, each
// other with its log-probability given the tokens before it: the reference logits' log-softmax
// (within the default f16 weights' and cache's error), and computed even when the prompt is in the
// prefix cache.
TEST_F(ServeOpenAiApi, EchoWithLogprobsListsThePromptTokens) {
  const auto tensors = model::testing::read_safetensors(source_path("tests/data/wp-llama-5m.ref-given.safetensors"));
  const auto c = reference_cases()[1];
  const json& ids = c["input_ids"];
  const size_t n = ids.size();
  const auto& logits = tensors.at("case1.logits");
  const int64_t vocab = logits.shape[1];
  ASSERT_EQ(logits.shape[0], static_cast<int64_t>(n));
  // The prompt once without echo, so that its prefix is cached.
  const auto plain =
      post("/v1/completions", {{"prompt", c["prompt"]}, {"max_tokens", 3}, {"temperature", 0}, {"logprobs", 2}});
  ASSERT_EQ(plain.status, 200) << plain.raw;
  const json body = {{"prompt", c["prompt"]}, {"max_tokens", 3}, {"temperature", 0}, {"logprobs", 2}, {"echo", true}};
  const auto a = post("/v1/completions", body);
  ASSERT_EQ(a.status, 200) << a.raw;
  const json& choice = a.body["choices"][0];
  EXPECT_EQ(choice["text"], c["prompt"].get<std::string>() + plain.body["choices"][0]["text"].get<std::string>());
  EXPECT_EQ(a.body["usage"]["prompt_tokens"], n);
  EXPECT_EQ(a.body["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  const json& lp = choice["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), n + 3) << lp.dump();
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  double worst = 0;
  for (size_t j = 1; j < n; ++j) {
    const float* row = logits.f32.data() + (j - 1) * vocab;
    double mx = -INFINITY, sum = 0;
    for (int64_t v = 0; v < vocab; ++v) mx = std::max<double>(mx, row[v]);
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - mx);
    const double want = row[ids[j].get<int>()] - mx - std::log(sum);
    worst = std::max(worst, std::abs(lp["token_logprobs"][j].get<double>() - want));
    EXPECT_EQ(lp["top_logprobs"][j].size(), 2u);
  }
  EXPECT_LT(worst, 3e-2) << "largest difference from the reference over " << n - 1 << " prompt tokens";
  std::cout << "prompt logprobs: largest difference from the reference " << worst << "\n";
  // The prompt's token texts at their offsets into the echoed text (BOS has none), and the generated
  // tokens as without echo.
  const std::string text = choice["text"];
  for (size_t j = 1; j < n; ++j) {
    const std::string t = lp["tokens"][j];
    EXPECT_EQ(text.substr(lp["text_offset"][j].get<size_t>(), t.size()), t) << j;
  }
  const json& gen = plain.body["choices"][0]["logprobs"];
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(lp["tokens"][n + k], gen["tokens"][k]);
    EXPECT_NEAR(lp["token_logprobs"][n + k].get<double>(), gen["token_logprobs"][k].get<double>(), 1e-2);
  }

  // Streamed: the first chunk is the echo with the prompt's logprobs.
  json streamed = body;
  streamed["stream"] = true;
  auto res = daemon_->client().Post("/v1/completions", streamed.dump(), "application/json");
  ASSERT_TRUE(res);
  const auto events = parse_sse(res->body);
  ASSERT_FALSE(events.empty());
  const json& first = events[0].data["choices"][0];
  EXPECT_EQ(first["text"], c["prompt"]);
  EXPECT_EQ(first["logprobs"]["tokens"], json(std::vector<json>(lp["tokens"].begin(), lp["tokens"].begin() + n)));
}

// A final assistant message is continued when asked, with the model's template: the same tokens
// as the rendered conversation sent as a raw completion.
TEST_F(ServeOpenAiApi, ChatContinuesTheFinalAssistantMessage) {
  const json messages = {{{"role", "user"}, {"content", "Who is Pierre?"}},
                         {{"role", "assistant"}, {"content", "Pierre is"}}};
  // The template (models/wp-llama-5m/chat_template.jinja) without BOS, which a raw prompt gets from
  // the tokenizer, and with the final message left open.
  const std::string raw =
      "<|start_header_id|>user<|end_header_id|>\n\nWho is Pierre?<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\nPierre is";
  const auto want = post("/v1/completions", {{"prompt", raw}, {"max_tokens", 10}, {"temperature", 0}});
  ASSERT_EQ(want.status, 200) << want.raw;
  for (const json& ask : {json{{"continue_final_message", true}}, json{{"add_generation_prompt", false}},
                          json{{"continue_final_message", true}, {"add_generation_prompt", false}}}) {
    json body = {{"messages", messages}, {"max_tokens", 10}, {"temperature", 0}};
    body.update(ask);
    const auto a = post("/v1/chat/completions", body);
    ASSERT_EQ(a.status, 200) << ask << " " << a.raw;
    EXPECT_EQ(a.body["choices"][0]["message"]["content"], want.body["choices"][0]["text"]) << ask;
    EXPECT_EQ(a.body["usage"]["prompt_tokens"], want.body["usage"]["prompt_tokens"]) << ask;
  }
  // By default the final message is closed and a new assistant turn follows: a longer prompt.
  const auto closed = post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 10}, {"temperature", 0}});
  ASSERT_EQ(closed.status, 200) << closed.raw;
  EXPECT_GT(closed.body["usage"]["prompt_tokens"], want.body["usage"]["prompt_tokens"]);
  EXPECT_EQ(param_of(post("/v1/chat/completions", {{"messages", {messages[0]}}, {"continue_final_message", true}})),
            "continue_final_message");
  EXPECT_EQ(param_of(post("/v1/chat/completions",
                          {{"messages", messages}, {"continue_final_message", true}, {"add_generation_prompt", true}})),
            "add_generation_prompt");
}

}  // namespace
}  // namespace rbees::app::testing
