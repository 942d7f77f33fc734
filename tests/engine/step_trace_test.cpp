#include "engine/step_trace.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/batch_engine.hpp"
#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

struct Ends : Sink {
  std::mutex mu;
  std::condition_variable cv;
  bool ended = false;
  void on_token(const TokenEvent&) override {}
  void on_finish(const FinalResult&) override {
    std::lock_guard lk(mu);
    ended = true;
    cv.notify_all();
  }
  bool client_gone() const override { return false; }
  void wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return ended; });
  }
};

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class StepTraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { runtime_ = test_support::load_test_runtime().release(); }
  static void TearDownTestSuite() {
    delete runtime_;
    runtime_ = nullptr;
  }
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("rbees-step-trace-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl"))
                .string();
    std::filesystem::remove(path_);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  static ModelRuntime* runtime_;
  std::string path_;
};
ModelRuntime* StepTraceTest::runtime_ = nullptr;

// Every prompt token, decode token and attended cell of a run appears in the trace once: the sums
// over its steps are what the requests' lengths give.
TEST_F(StepTraceTest, StepsAddUpToTheRunsTokensAndAttendedCells) {
  const std::vector<std::string> prompts = {
      "Well, Prince, so Genoa and Lucca are now just family estates of the Buonapartes.",
      "Anna Pavlovna had had a cough for some days.",
      "If you have nothing better to do, Count, come and spend the evening with a poor invalid."};
  constexpr int kMaxTokens = 5;
  int64_t want_prompt = 0, want_pairs = 0, want_cells = 0;
  {
    BatchEngineOptions o;
    o.ctx_size = 1024;
    o.max_seqs = 4;
    o.prefill_chunk = 8;  // several chunks per prompt, shared between the prompts
    o.step_trace = path_;
    BatchEngine engine(*runtime_, o);
    std::vector<std::shared_ptr<Ends>> ends;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto n = static_cast<int64_t>(runtime_->tokenizer().encode(prompts[i], true).size());
      want_prompt += n;
      want_pairs += n * (n + 1) / 2;
      // Decode tokens at positions n .. n + kMaxTokens - 2 attend over n + 1 .. n + kMaxTokens - 1 cells.
      for (int k = 1; k < kMaxTokens; ++k) want_cells += n + k;
      Request r;
      r.job_id = "j" + std::to_string(i);
      r.prompt = TextPrompt{prompts[i], true};
      r.sampling.temperature = 0.0f;
      r.max_tokens = kMaxTokens;
      r.ignore_eos = true;
      ends.push_back(std::make_shared<Ends>());
      ASSERT_TRUE(engine.submit(r, ends.back()).admission == Admission::accepted);
    }
    for (auto& e : ends) e->wait();
  }
  const auto lines = read_lines(path_);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0]["trace"], "steps");
  EXPECT_EQ(lines[0]["max_seqs"], 4);
  EXPECT_EQ(lines[0]["prefill_chunk"], 8);
  int64_t prompt = 0, pairs = 0, decode = 0, cells = 0, chunks = 0;
  double last_t = -1;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto& s = lines[i];
    EXPECT_LE(s["prompt_tokens"].get<int>(), 8) << "step " << i;
    EXPECT_GT(s["compute_ms"].get<double>(), 0.0) << "step " << i;
    EXPECT_GE(s["step_ms"].get<double>(), s["compute_ms"].get<double>()) << "step " << i;
    EXPECT_GE(s["t_ms"].get<double>(), last_t) << "step " << i;
    last_t = s["t_ms"].get<double>();
    prompt += s["prompt_tokens"].get<int64_t>();
    pairs += s["prompt_pairs"].get<int64_t>();
    decode += s["decode"].get<int64_t>();
    cells += s["decode_cells"].get<int64_t>();
    chunks += s["prompt_chunks"].get<int64_t>();
  }
  EXPECT_EQ(prompt, want_prompt);
  EXPECT_EQ(pairs, want_pairs);
  EXPECT_EQ(decode, static_cast<int64_t>(prompts.size()) * (kMaxTokens - 1));
  EXPECT_EQ(cells, want_cells);
  EXPECT_GE(chunks, (want_prompt + 7) / 8);
}

// A second engine appends to the same file after a header of its own.
TEST_F(StepTraceTest, EachEngineStartAppendsAHeader) {
  for (int max_seqs : {2, 3}) {
    BatchEngineOptions o;
    o.ctx_size = 256;
    o.max_seqs = max_seqs;
    o.step_trace = path_;
    BatchEngine engine(*runtime_, o);
  }
  const auto lines = read_lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["max_seqs"], 2);
  EXPECT_EQ(lines[1]["max_seqs"], 3);
}

TEST_F(StepTraceTest, AnUnwritablePathIsRefusedByName) {
  BatchEngineOptions o;
  o.ctx_size = 256;
  o.step_trace = "/nonexistent-dir-for-rbees/trace.jsonl";
  try {
    BatchEngine engine(*runtime_, o);
    FAIL() << "an engine started with an unwritable trace";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-for-rbees/trace.jsonl"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rbees::engine
