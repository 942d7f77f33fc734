// Requests constrained by a grammar or JSON schema: the output obeys it, also when the model's graph
// picks greedy tokens on the device (a constrained greedy sequence's mask is then added to its logits
// there), and a bad grammar is refused at submission naming the field.
#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "engine/batch_engine.hpp"
#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

struct Text : Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;
  std::vector<int32_t> ids;
  std::optional<FinalResult> end;
  void on_token(const TokenEvent& ev) override {
    std::lock_guard lk(mu);
    text += ev.text;
    ids.push_back(ev.id);
  }
  void on_finish(const FinalResult& r) override {
    std::lock_guard lk(mu);
    text += r.trailing_text;
    end = r;
    cv.notify_all();
  }
  bool client_gone() const override { return false; }
  void wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return end.has_value(); });
  }
};

Request request(const std::string& id, std::optional<grammar::GrammarSpec> g, float temperature) {
  Request r;
  r.job_id = id;
  r.prompt = TextPrompt{"Pierre said that", true};
  r.sampling.temperature = temperature;
  r.sampling.seed = 7;
  r.max_tokens = 200;
  r.grammar = std::move(g);
  r.grammar_field = "grammar";
  return r;
}

TEST(BatchEngineGrammar, ConstrainedOutputObeysItsGrammarBesideGreedyOnDeviceSequences) {
  auto rt = test_support::load_test_runtime();
  BatchEngineOptions o;
  o.ctx_size = 1024;
  o.max_seqs = 4;
  o.greedy_on_device = true;
  BatchEngine engine(*rt, o);
  const std::string words = "root ::= [a-z]{2,8} (\", \" [a-z]{2,8}){2,4} \".\"\n";
  const std::string schema = R"({"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":20},
      "w":{"type":"string","maxLength":6}},"required":["n","w"],"additionalProperties":false})";
  std::vector<Request> reqs = {
      request("plain", std::nullopt, 0.0f),
      request("words", grammar::GrammarSpec{grammar::GrammarKind::kGbnf, words}, 0.0f),
      request("schema", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, schema}, 0.0f),
      request("sampled", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, schema}, 0.9f),
  };
  reqs[0].max_tokens = 30;
  reqs[0].ignore_eos = true;
  std::vector<std::shared_ptr<Text>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<Text>());
    ASSERT_EQ(engine.submit(r, sinks.back()).admission, Admission::accepted) << r.job_id;
  }
  for (auto& s : sinks) s->wait();
  EXPECT_EQ(sinks[0]->end->tokens_out, 30);
  EXPECT_TRUE(std::regex_match(sinks[1]->text, std::regex("[a-z]{2,8}(, [a-z]{2,8}){2,4}\\."))) << sinks[1]->text;
  EXPECT_EQ(sinks[1]->end->reason, FinishReason::eos);
  for (int i : {2, 3}) {
    SCOPED_TRACE(sinks[i]->text);
    EXPECT_EQ(sinks[i]->end->reason, FinishReason::eos);
    const auto j = nlohmann::json::parse(sinks[i]->text);
    ASSERT_EQ(j.size(), 2u);
    EXPECT_GE(j.at("n").get<int>(), 1);
    EXPECT_LE(j.at("n").get<int>(), 20);
    EXPECT_LE(j.at("w").get<std::string>().size(), 6u);
  }
}

// Constrained greedy sequences picked on the device, under their masks, take the tokens the host's
// pick gives. The batch-invariant model keeps each row's logits independent of the batch, so that
// the two runs may batch differently.
TEST(BatchEngineGrammar, MaskedPicksOnTheDeviceAreTheHostsPicks) {
  if (test_support::test_device() != "cpu") GTEST_SKIP() << "batch-invariant mode is the CPU's";
  auto rt = test_support::load_test_runtime(true);
  const std::string words = "root ::= [a-z]{2,8} (\", \" [a-z]{2,8}){2,6} \".\"\n";
  const std::string schema = R"({"type":"object","properties":{"names":{"type":"array","items":{"type":"string",
      "maxLength":8},"maxItems":3},"n":{"type":"integer","minimum":1,"maximum":20}},"required":["names","n"],
      "additionalProperties":false})";
  std::vector<Request> reqs = {
      request("schema", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, schema}, 0.0f),
      request("schema2", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, schema}, 0.0f),
      request("words", grammar::GrammarSpec{grammar::GrammarKind::kGbnf, words}, 0.0f),
      request("plain", std::nullopt, 0.0f),
  };
  reqs[1].prompt = TextPrompt{"The old prince", true};
  reqs[3].max_tokens = 40;
  reqs[3].ignore_eos = true;
  std::vector<std::vector<std::vector<int32_t>>> ids(2);
  std::vector<BatchEngineStats> stats(2);
  for (bool on_device : {false, true}) {
    BatchEngineOptions o;
    o.ctx_size = 2048;
    o.max_seqs = 4;
    o.greedy_on_device = on_device;
    BatchEngine engine(*rt, o);
    std::vector<std::shared_ptr<Text>> sinks;
    for (const auto& r : reqs) {
      sinks.push_back(std::make_shared<Text>());
      ASSERT_EQ(engine.submit(r, sinks.back()).admission, Admission::accepted) << r.job_id;
    }
    for (auto& s : sinks) {
      s->wait();
      ids[on_device].push_back(s->ids);
    }
    engine.wait_idle();
    stats[on_device] = engine.detailed_stats();
    for (int i : {0, 1}) EXPECT_TRUE(nlohmann::json::accept(sinks[i]->text)) << sinks[i]->text;
  }
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(ids[1][i], ids[0][i]) << reqs[i].job_id;
  EXPECT_EQ(stats[0].device_picks, 0u);
  // Every token was picked on the device, the constrained ones under their masks.
  uint64_t constrained = 0, all = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    all += ids[1][i].size();
    if (i < 3) constrained += ids[1][i].size();
  }
  EXPECT_EQ(stats[1].device_picks, all);
  EXPECT_EQ(stats[1].masked_device_picks, constrained);
  EXPECT_GT(constrained, 20u);
}

TEST(BatchEngineGrammar, BadGrammarsAreRefusedAtSubmissionNamingTheField) {
  auto rt = test_support::load_test_runtime();
  BatchEngineOptions o;
  o.ctx_size = 1024;
  BatchEngine engine(*rt, o);
  auto r = request("bad", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, R"({"not":{}})"}, 0.0f);
  r.grammar_field = "response_format.json_schema.schema";
  auto res = engine.submit(r, std::make_shared<Text>());
  EXPECT_EQ(res.admission, Admission::invalid);
  EXPECT_EQ(res.field, "response_format.json_schema.schema");
  EXPECT_EQ(res.constraint, "grammar");
  EXPECT_EQ(res.message, "unsupported keyword 'not' at #");
  r = request("bad2", grammar::GrammarSpec{grammar::GrammarKind::kGbnf, "root ::= x\n"}, 0.0f);
  res = engine.submit(r, std::make_shared<Text>());
  EXPECT_EQ(res.admission, Admission::invalid);
  EXPECT_EQ(res.message, "rule 'root' refers to undefined rule 'x'");
  r = request("eos", grammar::GrammarSpec{grammar::GrammarKind::kJsonObject, ""}, 0.0f);
  r.ignore_eos = true;
  res = engine.submit(r, std::make_shared<Text>());
  EXPECT_EQ(res.admission, Admission::invalid);
  EXPECT_EQ(res.message, "cannot be combined with ignore_eos");
}

// The masks of a step's constrained sequences are computed while the model computes the step; the
// tokens must be those of masks computed after it, as sampling did. The batch-invariant model makes
// each token's logits independent of how the steps happened to batch the sequences.
TEST(BatchEngineGrammar, MasksComputedWhileTheModelComputesChangeNoToken) {
  if (test_support::test_device() != "cpu") GTEST_SKIP() << "batch-invariant mode is the CPU's";
  RuntimeOptions ro;
  ro.model_path = std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m";
  ro.device = "cpu";
  ro.threads = 1;
  ro.batch_invariant = true;
  auto rt = ModelRuntime::load(ro);
  const std::string schema = R"({"type":"object","properties":{"names":{"type":"array","items":{"type":"string"}},
      "n":{"type":"integer"}},"required":["names","n"]})";
  const std::string words = "root ::= [a-z]{2,8} (\", \" [a-z]{2,8}){2,6} \".\"\n";
  std::vector<Request> reqs = {
      request("schema", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, schema}, 0.0f),
      request("schema2", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, schema}, 0.0f),
      request("words", grammar::GrammarSpec{grammar::GrammarKind::kGbnf, words}, 0.0f),
      request("sampled", grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, schema}, 0.9f),
      request("penalised", grammar::GrammarSpec{grammar::GrammarKind::kJsonObject, ""}, 0.0f),
      request("plain", std::nullopt, 0.0f),
  };
  reqs[1].prompt = TextPrompt{"The old prince", true};
  reqs[4].sampling.repetition_penalty = 1.3f;
  reqs[5].max_tokens = 40;
  reqs[5].ignore_eos = true;
  std::vector<std::vector<std::vector<int32_t>>> ids(2);
  for (bool ahead : {false, true}) {
    BatchEngineOptions o;
    o.ctx_size = 2048;
    o.max_seqs = 6;
    o.masks_while_computing = ahead;
    BatchEngine engine(*rt, o);
    std::vector<std::shared_ptr<Text>> sinks;
    for (const auto& r : reqs) {
      sinks.push_back(std::make_shared<Text>());
      ASSERT_EQ(engine.submit(r, sinks.back()).admission, Admission::accepted) << r.job_id;
    }
    for (auto& s : sinks) s->wait();
    for (size_t i = 0; i < sinks.size(); ++i) {
      EXPECT_GE(sinks[i]->ids.size(), 4u) << reqs[i].job_id;
      if (i < 2) EXPECT_EQ(sinks[i]->text.substr(0, 1), "{") << sinks[i]->text;
      ids[ahead].push_back(sinks[i]->ids);
    }
    EXPECT_GT(engine.detailed_stats().mask_ms, 0.0);
  }
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(ids[1][i], ids[0][i]) << reqs[i].job_id;
}

}  // namespace
}  // namespace rbees::engine
