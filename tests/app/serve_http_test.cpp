// The real daemon over HTTP with the default model: health, /execute validation, the SSE stream,
// greedy output against the transformers reference, stop strings and logprobs.
#include <cmath>

#include "app/daemon.hpp"
#include "model/reference.hpp"

namespace rbees::app::testing {
namespace {

class ServeHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new Daemon({"--model", kModelDir, "--worker-id", "http-test-worker"});
    ASSERT_TRUE(daemon_->wait_healthy()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  static Daemon* daemon_;
};
Daemon* ServeHttp::daemon_ = nullptr;

TEST_F(ServeHttp, HealthReportsTheLoadedModel) {
  const json config = json::parse(read_file(kModelDir + "/config.json"));
  const json tokenizer = json::parse(read_file(kModelDir + "/tokenizer.json"));
  const size_t vocab = tokenizer["model"]["vocab"].size();
  auto res = daemon_->client().Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const json h = json::parse(res->body);
  EXPECT_EQ(h["status"], "healthy");
  EXPECT_EQ(h["worker_id"], "http-test-worker");
  EXPECT_EQ(h["model"], "wp-llama-5m");
  EXPECT_EQ(h["device"], "cpu");
  EXPECT_EQ(h["resident"], true);
  // Health names the type the weights have in memory: the default model's bf16 matrices are held as
  // f16 (ggml's bf16 CPU kernels round activations to bf16; f16 keeps greedy output on the reference).
  ASSERT_EQ(config["dtype"], "bfloat16");
  EXPECT_EQ(h["quant_kind"], "f16");
  EXPECT_EQ(h["vram_bytes"], 0);
  EXPECT_EQ(h["tokenizer_kind"], "hf-json");
  EXPECT_EQ(h["vocab_size"].get<size_t>(), std::max<size_t>(vocab, config["vocab_size"].get<size_t>()));
  EXPECT_EQ(h["context_length"], config["max_position_embeddings"]);
  ASSERT_TRUE(h["uptime_seconds"].is_number());
  EXPECT_GT(h["uptime_seconds"].get<double>(), 0.0);
}

// Every rule broken at once: one 400 lists them all, fields named as in the body.
TEST_F(ServeHttp, ExecuteValidationListsEveryViolation) {
  const json body = {{"job_id", ""}, {"prompt", ""}, {"max_tokens", 2049},        {"temperature", 2.5},
                     {"top_p", 1.5}, {"top_k", -1},  {"repetition_penalty", 0.0}, {"min_p", -0.1},
                     {"seed", -3}};
  auto res = daemon_->client().Post("/execute", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 400);
  const json errs = json::parse(res->body)["errors"];
  std::map<std::string, std::string> by_field;
  for (const auto& e : errs) {
    ASSERT_TRUE(e.contains("message"));
    by_field[e["field"]] = e["constraint"];
  }
  EXPECT_EQ(by_field["job_id"], "non_empty");
  EXPECT_EQ(by_field["prompt"], "length(1..=32768)");
  EXPECT_EQ(by_field["max_tokens"], "range(1..=2048)");
  EXPECT_EQ(by_field["temperature"], "range(0.0..=2.0)");
  EXPECT_TRUE(by_field.count("top_p"));
  EXPECT_TRUE(by_field.count("top_k"));
  EXPECT_TRUE(by_field.count("repetition_penalty"));
  EXPECT_TRUE(by_field.count("min_p"));
  EXPECT_TRUE(by_field.count("seed"));
  EXPECT_EQ(by_field.size(), 9u) << errs.dump();

  // Stop strings: too many, and elements named stop[i].
  const json stops = {
      {"job_id", "v2"}, {"prompt", "x"}, {"max_tokens", 0}, {"stop", {"a", "", std::string(101, 'b'), "c", "d"}}};
  res = daemon_->client().Post("/execute", stops.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 400);
  by_field.clear();
  json errors = json::parse(res->body)["errors"];
  for (const auto& e : errors) by_field[e["field"]] = e["constraint"];
  EXPECT_EQ(by_field["stop"], "max_count(4)");
  EXPECT_TRUE(by_field.count("stop[1]"));
  EXPECT_EQ(by_field["stop[2]"], "max_length(100)");
  EXPECT_EQ(by_field["max_tokens"], "range(1..=2048)");

  // A prompt over 32768 code points (multi-byte ones, so bytes would be a different count).
  std::string long_prompt;
  for (int i = 0; i < 32769; ++i) long_prompt += "\xc3\xa9";
  res = daemon_->client().Post("/execute", json{{"job_id", "v3"}, {"prompt", long_prompt}}.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["errors"][0]["field"], "prompt");

  // Wrong types, missing fields and malformed JSON: the same shape.
  res = daemon_->client().Post("/execute", json{{"prompt", 5}, {"temperature", "hot"}}.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 400);
  by_field.clear();
  errors = json::parse(res->body)["errors"];
  for (const auto& e : errors) by_field[e["field"]] = e["constraint"];
  EXPECT_TRUE(by_field.count("job_id"));
  EXPECT_TRUE(by_field.count("prompt"));
  EXPECT_TRUE(by_field.count("temperature"));
  res = daemon_->client().Post("/execute", "{\"job_id\": ", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 400);
  EXPECT_FALSE(json::parse(res->body)["errors"].empty());
}

TEST_F(ServeHttp, StreamEventsComeInOrderWithTheirFields) {
  const auto r = execute(*daemon_, greedy_body("order-1", "The prince", 12));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_GE(r.events.size(), 3u);
  EXPECT_EQ(r.events.front().event, "started");
  const json& started = r.events.front().data;
  EXPECT_EQ(started["type"], "started");
  EXPECT_EQ(started["job_id"], "order-1");
  EXPECT_EQ(started["model"], "wp-llama-5m");
  EXPECT_TRUE(std::regex_match(started["started_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")));
  int next_i = 0;
  bool seen_end = false;
  for (size_t k = 1; k < r.events.size(); ++k) {
    const auto& e = r.events[k];
    EXPECT_EQ(e.data["type"], e.event);
    ASSERT_FALSE(seen_end) << "event after end: " << e.event;
    if (e.event == "token") {
      EXPECT_EQ(e.data["i"], next_i++);
      EXPECT_FALSE(e.data["t"].get<std::string>().empty());
    } else if (e.event == "metrics") {
      EXPECT_TRUE(e.data["tokens_per_sec"].is_number());
      EXPECT_TRUE(e.data["vram_bytes"].is_number());
    } else {
      ASSERT_EQ(e.event, "end");
      seen_end = true;
      EXPECT_EQ(e.data["tokens_out"], 12);
      EXPECT_EQ(e.data["stop_reason"], "max_tokens");
      EXPECT_TRUE(e.data["decode_time_ms"].is_number());
      EXPECT_FALSE(e.data.contains("stop_sequence_matched"));
    }
  }
  EXPECT_TRUE(seen_end);
  EXPECT_GT(next_i, 0);
}

TEST_F(ServeHttp, GreedyExecuteEqualsTheReferenceContinuation) {
  int k = 0;
  for (const auto& c : reference_cases()) {
    const auto r = execute(
        *daemon_, greedy_body("greedy-" + std::to_string(k++), c["prompt"], static_cast<int>(c["greedy_ids"].size())));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.text, c["greedy_text"].get<std::string>()) << c["prompt"];
    EXPECT_EQ(r.last_type, "end");
  }
}

TEST_F(ServeHttp, StopStringCutsTheOutputBeforeIt) {
  int n = 0;
  for (const auto& c : reference_cases()) {
    const std::string full = c["greedy_text"];
    // A stop string from the middle of the continuation, at its first occurrence.
    const size_t at = full.find(' ', full.size() / 2);
    ASSERT_NE(at, std::string::npos);
    const std::string stop = full.substr(at, 5);
    const size_t first = full.find(stop);
    json body = greedy_body("stop-" + std::to_string(n++), c["prompt"], static_cast<int>(c["greedy_ids"].size()));
    body["stop"] = {"\x01never", stop};
    const auto r = execute(*daemon_, body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.text, full.substr(0, first)) << "stop " << json(stop);
    EXPECT_EQ(r.end["stop_reason"], "stop_sequence");
    EXPECT_EQ(r.end["stop_sequence_matched"], stop);
  }
}

// The first generated token's top log-probabilities against the reference logits' log-softmax.
// Measured at full precision (F32 weights and KV cache): the reference is fp32, and the default f16
// weights and cache move log-probabilities by up to about 2e-2.
TEST(ServeLogprobs, CompletionLogprobsMatchTheReference) {
  // The exact path end to end: F32 weights and cache, and the plain attention (the CPU's flash kernel
  // rounds its running sums, about 3e-3 in these log-probabilities).
  Daemon full({"--model", kModelDir, "--quant", "f32", "--kv-type", "f32", "--flash-attn", "off"});
  ASSERT_TRUE(full.wait_healthy()) << full.log();
  Daemon* daemon_ = &full;
  const auto tensors = model::testing::read_safetensors(source_path("tests/data/wp-llama-5m.ref-given.safetensors"));
  const auto cases = reference_cases();
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto& logits = tensors.at("case" + std::to_string(k) + ".logits");
    const int64_t rows = logits.shape[0], vocab = logits.shape[1];
    const float* last = logits.f32.data() + (rows - 1) * vocab;
    double mx = -INFINITY;
    for (int64_t i = 0; i < vocab; ++i) mx = std::max<double>(mx, last[i]);
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(last[i] - mx);
    std::vector<std::pair<double, int>> lp;
    for (int64_t i = 0; i < vocab; ++i) lp.push_back({last[i] - mx - std::log(sum), static_cast<int>(i)});
    std::sort(lp.begin(), lp.end(), std::greater<>());

    const json body = {{"prompt", cases[k]["prompt"]}, {"max_tokens", 1}, {"temperature", 0}, {"logprobs", 5}};
    auto res = daemon_->client().Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json out = json::parse(res->body);
    const json& logprobs = out["choices"][0]["logprobs"];
    EXPECT_NEAR(logprobs["token_logprobs"][0].get<double>(), lp[0].first, 1e-3);
    const json& top = logprobs["top_logprobs"][0];
    ASSERT_EQ(top.size(), 5u) << top.dump();
    for (int j = 0; j < 5; ++j) {
      auto text = daemon_->client().Post("/detokenize", json{{"tokens", {lp[j].second}}}.dump(), "application/json");
      ASSERT_TRUE(text);
      const std::string piece = json::parse(text->body)["content"];
      ASSERT_TRUE(top.contains(piece)) << "token " << lp[j].second << " " << json(piece) << " in " << top.dump();
      EXPECT_NEAR(top[piece].get<double>(), lp[j].first, 1e-3) << "case " << k << " rank " << j;
    }
  }
}

// /tokenize gives the reference's ids and /detokenize turns them back into the text; with special
// tokens the BOS comes back as its text (/detokenize keeps special tokens).
TEST_F(ServeHttp, TokenizeAndDetokenizeRoundTrip) {
  const auto post = [](const std::string& path, const json& body) {
    auto res = daemon_->client().Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << path << " " << res->body;
    return json::parse(res->body);
  };
  for (const auto& c : reference_cases()) {
    const std::string prompt = c["prompt"];
    const json with_bos = post("/tokenize", {{"content", prompt}, {"add_special", true}})["tokens"];
    EXPECT_EQ(with_bos, c["input_ids"]) << prompt;
    EXPECT_EQ(post("/detokenize", {{"tokens", with_bos}})["content"], "<|begin_of_text|>" + prompt);
    const json plain = post("/tokenize", {{"content", prompt}, {"add_special", false}})["tokens"];
    EXPECT_EQ(post("/detokenize", {{"tokens", plain}})["content"], prompt);
    // The reference's continuation ids decode to the reference's text.
    EXPECT_EQ(post("/detokenize", {{"tokens", c["greedy_ids"]}})["content"], c["greedy_text"]) << prompt;
  }
}

}  // namespace
}  // namespace rbees::app::testing

namespace rbees::app::testing {
namespace {

// Teacher-forced top-1 agreement with the reference: the prompt plus the reference's first i
// continuation tokens go in as token ids, and the one greedy token out must be the reference's next
// one. Unlike free-running text, one near-tie does not derail every later position. Tokens are
// compared by their text (each id of this vocabulary has its own).
int teacher_forced_agreement(const Daemon& d, int* total) {
  int agree = 0;
  *total = 0;
  for (const auto& c : reference_cases()) {
    const auto& cont = c["greedy_ids"];
    json ids = c["input_ids"];
    for (const auto& next : cont) {
      const json body = {{"prompt", ids}, {"max_tokens", 1}, {"temperature", 0}, {"logprobs", 1}};
      auto res = d.client().Post("/v1/completions", body.dump(), "application/json");
      auto want = d.client().Post("/detokenize", json{{"tokens", {next}}}.dump(), "application/json");
      EXPECT_TRUE(res && want && res->status == 200 && want->status == 200);
      if (!res || !want || res->status != 200 || want->status != 200) return agree;
      agree += json::parse(res->body)["choices"][0]["logprobs"]["tokens"][0] == json::parse(want->body)["content"];
      ++*total;
      ids.push_back(next);
    }
  }
  return agree;
}

// Teacher-forced agreement floors: measured 230 of the 240 positions (5 prompts x 48 tokens) for
// Q8_0, both quantized on load and from tests/data/wp-llama-5m-q8_0.gguf, and 180 for Q4_K. The
// floors leave room for kernel changes, while a broken quantization fails them: Q8_0 blocks with
// their 32 values in reverse order agree at 1 of the 240. Free-running text is not compared for the
// quantized weights: one near-tie changes the rest of a continuation (Q8_0 leaves the reference
// after 1 to 36 tokens in four of the five prompts).
// F16 leaves the reference only at near ties, where CPUs' vector units round either way (the F16
// file's free-running continuation of case 1 does at token 14 with AVX-512 and not with AVX2).
const std::map<std::string, double> kAgreementFloor = {{"f16", 0.98}, {"q8_0", 0.90}, {"q4_k", 0.65}};

void expect_teacher_forced_agreement(const Daemon& d, const std::string& q) {
  int total = 0;
  const int agree = teacher_forced_agreement(d, &total);
  ASSERT_EQ(total, 240);
  ::testing::Test::RecordProperty("agreement_" + q, agree);
  EXPECT_GE(agree, kAgreementFloor.at(q) * total) << q << ": " << agree << " of " << total << " positions agree";
}

// The F16 GGUF of the default model keeps the reference's next token at (nearly) every position, and
// the Q8_0 GGUF at nearly every one.
TEST(ServeQuant, GgufFilesServeTheReference) {
  Daemon f16({"--model", source_path("tests/data/wp-llama-5m-f16.gguf")});
  ASSERT_TRUE(f16.wait_healthy()) << f16.log();
  expect_teacher_forced_agreement(f16, "f16");

  Daemon q8({"--model", source_path("tests/data/wp-llama-5m-q8_0.gguf")});
  ASSERT_TRUE(q8.wait_healthy()) << q8.log();
  expect_teacher_forced_agreement(q8, "q8_0");
}

TEST(ServeQuant, QuantOptionQuantizesTheWeightsOnLoad) {
  for (const auto& entry : kAgreementFloor) {
    const std::string& q = entry.first;
    Daemon d({"--model", kModelDir, "--quant", q});
    ASSERT_TRUE(d.wait_healthy()) << d.log();
    auto res = d.client(5).Get("/health");
    ASSERT_TRUE(res);
    std::string kind = json::parse(res->body)["quant_kind"];
    std::transform(kind.begin(), kind.end(), kind.begin(), ::tolower);
    EXPECT_EQ(kind, q);
    expect_teacher_forced_agreement(d, q);
  }
}

}  // namespace
}  // namespace rbees::app::testing
