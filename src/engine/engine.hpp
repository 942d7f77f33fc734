#pragma once
// What the HTTP layer needs from the engine, as an abstract interface: admission of a request with
// a sink that receives its output, cancellation, health and tokenizer access. The concrete engine
// runs generation on its own thread(s) and calls the sink from there.

#include "chat/tool_calls.hpp"
#include "engine/finish_reason.hpp"
#include "engine/request.hpp"
#include "sampling/logprobs.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::engine {

// One generated token and the text it released (empty while text is held back for an incomplete
// character or a possible stop string; held text goes out with a later token).
struct TokenEvent {
  int32_t id = -1;
  std::string text;
  // When the request asked for logprobs: the chosen token's and the top alternatives.
  float logprob = 0.0f;
  std::vector<sampling::TokenLogprob> top_logprobs;
};

// One prompt token and how likely the model found it after the tokens before it (the first token
// has no such value). Reported for requests that ask for the prompt's log-probabilities
// (completions with echo and logprobs).
struct PromptTokenLogprob {
  int32_t id = -1;
  std::optional<float> logprob;
  std::vector<sampling::TokenLogprob> top_logprobs;
};

enum class FailureKind { timeout, vram_oom, inference_failed };

struct Failure {
  FailureKind kind = FailureKind::inference_failed;
  std::string message;
  bool retriable = false;
};

struct FinalResult {
  FinishReason reason = FinishReason::none;  // cancelled: by /cancel, disconnect or shutdown
  std::optional<std::string> stop_sequence;  // when reason == stop_sequence
  std::optional<Failure> failure;            // set instead of a normal end
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // reused from the prefix cache
  int32_t tokens_out = 0;
  double prefill_ms = 0.0;    // admission to the first token
  double decode_ms = 0.0;     // first token to the end
  std::string trailing_text;  // held-back text released at the end (EOS, max_tokens); may be empty
};

// Receives one request's output. Called from one engine thread (BatchEngine: its event thread), in
// order: on_prompt_logprobs when asked for, on_token any number of times, then on_finish exactly
// once. Implementations must not block for long: every request's events wait behind them.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void on_token(const TokenEvent& event) = 0;
  virtual void on_finish(const FinalResult& result) = 0;
  // Once, before the first on_token, for a request with echo and logprobs: every prompt token.
  virtual void on_prompt_logprobs(std::span<const PromptTokenLogprob> /*tokens*/) {}
  // True once the client is gone; the engine then ends the request as cancelled at its next step.
  virtual bool client_gone() const = 0;
};

enum class Admission { accepted, overloaded, shutting_down, invalid };

struct SubmitResult {
  Admission admission = Admission::accepted;
  std::string message;  // why not accepted (for invalid: e.g. prompt + max_tokens over the context)
  int32_t prompt_tokens = 0;
  // For invalid: the request field at fault and the constraint it broke, when not the context limit
  // (e.g. "response_format.json_schema.schema", "grammar").
  std::string field;
  std::string constraint;
};

// One device's part of the model (a model split across devices has several).
struct DeviceUsage {
  std::string id;         // "cpu", "cuda:1", "rpc:10.0.0.2:50052", "cpu-host" (--gpu-layers' CPU part)
  std::string ggml_name;  // ggml's device name
  int layers = 0;         // repeating layers placed there
  bool token_embd = false;
  bool output = false;
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes = 0;
};

struct HealthInfo {
  std::string model;           // model directory's or file's name
  std::string device;          // "cpu", "cuda:0", ...
  bool resident = true;        // every weight on the requested device
  std::string quant_kind;      // "bf16", "f16", "q8_0", "mixed", ...
  uint64_t vram_bytes = 0;     // 0 on CPU
  std::string tokenizer_kind;  // "hf-json", "gguf-spm", "gguf-bpe"
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  int64_t kv_cache_tokens = 0;  // cells of the KV cache, over all sequences
  int64_t region_tokens = 0;    // cells of each slot's home region (0: no regions)
  int max_home_span = 1;        // regions one sequence's home may span
  int64_t max_seqs = 0;         // sequences generating at once
  int64_t max_queue = 0;        // requests waiting beyond them (0 with max_seqs 0: not stated)
  std::vector<DeviceUsage> devices;
};

struct EngineStats {
  int64_t queue_length = 0;
  int64_t running_sequences = 0;
  double kv_cache_usage_ratio = 0.0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Admits the request or refuses it at once (before any output); the sink is kept until its
  // on_finish has been called.
  virtual SubmitResult submit(Request request, std::shared_ptr<Sink> sink) = 0;
  // Ends the job with reason cancelled within one step; false when no such job is running or queued.
  virtual bool cancel(const std::string& job_id) = 0;

  virtual HealthInfo health() const = 0;
  virtual EngineStats stats() const = 0;

  virtual std::vector<int32_t> tokenize(std::string_view text, bool add_special) const = 0;
  virtual std::string detokenize(std::span<const int32_t> ids) const = 0;
  // The text of one token as it appears in output (for logprobs listings); may be a partial
  // UTF-8 sequence for byte tokens.
  virtual std::string token_text(int32_t id) const = 0;
  // The syntax the model's chat template teaches for tool calls (kNone: no template, or none known).
  virtual chat::ToolCallFormat tool_call_format() const = 0;
};

}  // namespace rbees::engine
