#include "app/bench_command.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/batching_options.hpp"
#include "core/log.hpp"
#include "engine/batch_engine.hpp"
#include "engine/generator.hpp"
#include "engine/model_runtime.hpp"
#include "grammar/grammar_spec.hpp"

namespace rbees::app {

namespace {

using Clock = std::chrono::steady_clock;

// Prompt of exactly n tokens: BOS (when the tokenizer adds one), then ids spread over the vocabulary.
// Token content does not change the cost of a forward pass; distinct prompts keep the prefix cache
// out of the measurement.
std::vector<int32_t> synthetic_prompt(const engine::ModelRuntime& rt, int n, int salt) {
  std::vector<int32_t> ids;
  const auto& tok = rt.tokenizer();
  if (tok.add_bos() && tok.bos_id()) ids.push_back(*tok.bos_id());
  const int64_t vocab = rt.config().n_vocab;
  for (int i = 0; static_cast<int>(ids.size()) < n; ++i) {
    int32_t id = static_cast<int32_t>((static_cast<int64_t>(i) * 7919 + salt * 104729 + 1000) % vocab);
    if (tok.is_special(id)) id = static_cast<int32_t>((id + 1) % vocab);
    ids.push_back(id);
  }
  return ids;
}

// One aggregate run, shared by its streams' sinks. The engine thread alone calls on_token, so the
// counters it touches need no lock until the run ends.
struct AggregateRun {
  std::mutex mu;
  std::condition_variable cv;
  int remaining = 0;      // streams not finished (under mu)
  int without_first = 0;  // streams that have no token yet
  int64_t tokens = 0;     // over all streams
  int64_t tokens_at_phase = 0;
  Clock::time_point phase_start;
  std::string failure;  // the first stream that failed (under mu)
};

struct CountingSink : engine::Sink {
  AggregateRun* run;
  int tokens = 0;
  void on_token(const engine::TokenEvent&) override {
    ++run->tokens;
    // The decode phase starts once every stream has its first token (its prompt is in the cache).
    if (++tokens == 1 && --run->without_first == 0) {
      run->phase_start = Clock::now();
      run->tokens_at_phase = run->tokens;
    }
  }
  void on_finish(const engine::FinalResult& end) override {
    std::lock_guard lk(run->mu);
    if (end.failure && run->failure.empty()) run->failure = end.failure->message;
    --run->remaining;
    run->cv.notify_all();
  }
  bool client_gone() const override { return false; }
};

// Tokens per second of one run: over the whole run (prompts included), and over its decode phase
// (from the moment every stream has its first token), which is what llama-batched-bench's S_TG
// measures.
struct AggregateRate {
  double total = 0;
  double phase = 0;
  int64_t tokens = 0;  // generated over all streams: what the rates count
};

// Every stream under `constraint` when given: it then ends where its grammar lets it end (the model
// picks end-of-generation there), so the rates count the tokens actually generated.
AggregateRate aggregate_decode(engine::BatchEngine& eng, const engine::ModelRuntime& rt, int streams, int gen, int salt,
                               const std::optional<grammar::GrammarSpec>& constraint = std::nullopt) {
  AggregateRun run;
  run.remaining = streams;
  run.without_first = streams;
  std::vector<std::shared_ptr<CountingSink>> sinks;
  const auto t0 = Clock::now();
  for (int s = 0; s < streams; ++s) {
    engine::Request r;
    r.job_id = "bench-" + std::to_string(salt) + "-" + std::to_string(s);
    r.prompt = engine::TokenPrompt{synthetic_prompt(rt, 16, salt * 1000 + s)};
    r.sampling.temperature = 0.0f;
    r.max_tokens = gen;
    r.ignore_eos = !constraint;  // a grammar decides where its output ends
    r.grammar = constraint;
    r.grammar_field = "bench grammar";
    auto sink = std::make_shared<CountingSink>();
    sink->run = &run;
    sinks.push_back(sink);
    auto res = eng.submit(std::move(r), sink);
    if (res.admission != engine::Admission::accepted) throw std::runtime_error("bench request refused: " + res.message);
  }
  std::unique_lock lk(run.mu);
  run.cv.wait(lk, [&] { return run.remaining == 0; });
  const auto t1 = Clock::now();
  lk.unlock();
  eng.wait_idle();  // the last step's statistics published too
  if (!run.failure.empty()) throw std::runtime_error("a bench stream failed: " + run.failure);
  AggregateRate rate;
  rate.tokens = run.tokens;
  rate.total = static_cast<double>(run.tokens) / std::chrono::duration<double>(t1 - t0).count();
  const double phase_s = std::chrono::duration<double>(t1 - run.phase_start).count();
  if (run.tokens > run.tokens_at_phase && phase_s > 0) {
    rate.phase = static_cast<double>(run.tokens - run.tokens_at_phase) / phase_s;
  }
  return rate;
}

// The repetitions of one measurement. Every figure printed is their median with the range, the
// statistic the benchmark scripts compute from llama-bench's samples too.
struct Samples {
  std::vector<double> values;
  void add(double v) { values.push_back(v); }
  std::vector<double> sorted() const {
    auto v = values;
    std::sort(v.begin(), v.end());
    return v;
  }
  double median() const {
    const auto v = sorted();
    if (v.empty()) return 0;
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  double min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
  double max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
  // The run whose figure is the median (the upper middle one for an even count), for the per-pass
  // table, which describes one real run rather than an average of several.
  size_t median_run() const {
    std::vector<size_t> idx(values.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
    return idx.empty() ? 0 : idx[idx.size() / 2];
  }
  nlohmann::ordered_json json() const {
    return {{"samples_ts", values}, {"median_ts", median()}, {"min_ts", min()}, {"max_ts", max()}};
  }
};

// Where the time of one forward pass goes, on the host's clock, averaged over the passes since the
// last reset; "other" is the rest of the wall time (sampling, batching, streaming).
struct StepBreakdown {
  std::string label;
  double steps = 0, wall_ms = 0, build = 0, upload = 0, compute = 0, download = 0, reused = 0;
};

StepBreakdown breakdown(const std::string& label, const model::ForwardTimings& t, double wall_ms) {
  StepBreakdown b;
  b.label = label;
  const double n = t.graphs > 0 ? static_cast<double>(t.graphs) : 1.0;
  b.steps = static_cast<double>(t.graphs);
  b.wall_ms = wall_ms / n;
  b.build = t.build_ms / n;
  b.upload = t.upload_ms / n;
  b.compute = t.compute_ms / n;
  b.download = t.download_ms / n;
  b.reused = t.graphs > 0 ? 1.0 - static_cast<double>(t.graphs_built) / n : 0.0;
  return b;
}

void print_op_profile(const std::string& label, const model::OpProfile& p) {
  const auto rows = p.ranked();
  double total = 0;
  for (const auto& r : rows) total += r.second.ms;
  const double n = p.passes > 0 ? static_cast<double>(p.passes) : 1.0;
  std::printf("\nops of one forward pass, %s (%llu passes; each op run and waited for alone)\n", label.c_str(),
              static_cast<unsigned long long>(p.passes));
  std::printf("%-32s %8s %10s %7s\n", "op", "per pass", "ms/pass", "share");
  for (const auto& [op, e] : rows) {
    std::printf("%-32s %8.1f %10.3f %6.1f%%\n", op.c_str(), e.count / n, e.ms / n,
                total > 0 ? 100.0 * e.ms / total : 0);
  }
  std::printf("%-32s %8s %10.3f\n", "total", "", total / n);
}

nlohmann::ordered_json op_profile_json(const std::string& label, const model::OpProfile& p) {
  const double n = p.passes > 0 ? static_cast<double>(p.passes) : 1.0;
  nlohmann::ordered_json ops = nlohmann::ordered_json::array();
  for (const auto& [op, e] : p.ranked())
    ops.push_back({{"op", op}, {"per_pass", e.count / n}, {"ms_per_pass", e.ms / n}});
  return {{"label", label}, {"passes", p.passes}, {"ops", ops}};
}

nlohmann::ordered_json breakdown_json(const StepBreakdown& b) {
  return {{"label", b.label},          {"passes", b.steps},
          {"wall_ms", b.wall_ms},      {"build_ms", b.build},
          {"upload_ms", b.upload},     {"compute_ms", b.compute},
          {"download_ms", b.download}, {"other_ms", b.wall_ms - b.build - b.upload - b.compute - b.download},
          {"reused", b.reused}};
}

void print_row(const std::string& label, const Samples& s) {
  std::printf("%-40s %10.1f %10.1f %10.1f\n", label.c_str(), s.median(), s.min(), s.max());
}

// One side of the aggregate measurement (unconstrained, or every stream constrained), over its runs.
struct Side {
  Samples total, phase;
  int64_t tokens = 0;  // generated
  int runs = 0;
  uint64_t steps = 0;  // engine steps
  double mask_ms = 0, sample_ms = 0;
  uint64_t sampled = 0, device_picks = 0, masked_device_picks = 0;
  void add(const AggregateRate& r, const engine::BatchEngineStats& before, const engine::BatchEngineStats& after) {
    total.add(r.total);
    phase.add(r.phase);
    tokens += r.tokens;
    ++runs;
    steps += after.steps - before.steps;
    mask_ms += after.mask_ms - before.mask_ms;
    sample_ms += after.sample_ms - before.sample_ms;
    sampled += after.generated_tokens - before.generated_tokens;
    device_picks += after.device_picks - before.device_picks;
    masked_device_picks += after.masked_device_picks - before.masked_device_picks;
  }
};

// The tokens a stream generated on average, and the engine thread's host time per step.
nlohmann::ordered_json side_json(const Side& s, int streams) {
  const double steps = s.steps > 0 ? static_cast<double>(s.steps) : 1.0;
  return {{"tokens_per_stream", s.runs > 0 ? static_cast<double>(s.tokens) / (s.runs * streams) : 0.0},
          {"steps_per_run", s.runs > 0 ? static_cast<double>(s.steps) / s.runs : 0.0},
          {"mask_ms_per_step", s.mask_ms / steps},
          {"sample_ms_per_step", s.sample_ms / steps},
          // The share of tokens the device picked, and of those under a grammar's mask.
          {"device_picked_share", s.sampled > 0 ? static_cast<double>(s.device_picks) / s.sampled : 0.0},
          {"masked_device_picks", s.masked_device_picks}};
}

double ratio(double a, double b) {
  return b > 0 ? a / b : 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<grammar::GrammarSpec> bench_constraint(const BenchOptions& o) {
  if (!o.grammar_file.empty()) return grammar::GrammarSpec{grammar::GrammarKind::kGbnf, read_file(o.grammar_file)};
  if (!o.json_schema_file.empty()) {
    return grammar::GrammarSpec{grammar::GrammarKind::kJsonSchema, read_file(o.json_schema_file)};
  }
  return std::nullopt;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchOptions& o) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode throughput of a model on this machine");
  cmd->add_option("--model,-m", o.model, "A Hugging Face directory or a GGUF file (default: the embedded model)");
  cmd->add_option("--prompt-tokens", o.prompt_tokens, "Prompt length for the prefill measurement")
      ->check(CLI::PositiveNumber)
      ->default_val(512);
  cmd->add_option("--gen-tokens", o.gen_tokens, "Tokens generated per stream in the decode measurements")
      ->check(CLI::PositiveNumber)
      ->default_val(128);
  cmd->add_option("--streams", o.streams, "Concurrent stream counts for the aggregate decode measurement")
      ->default_str("1 4 8 16");
  cmd->add_option("--prefill-chunk", o.prefill_chunk, "Prompt tokens per engine step")
      ->check(CLI::PositiveNumber)
      ->default_val(512);
  cmd->add_option("--repetitions,-r", o.repetitions,
                  "Runs of each measurement; the median and the range (min-max) are reported")
      ->check(CLI::PositiveNumber)
      ->default_val(1);
  cmd->add_flag("--json", o.json, "Print one JSON object (every run's figure, median, min, max) instead of the tables");
  auto* grammar = cmd->add_option("--grammar", o.grammar_file,
                                  "A GBNF grammar file: the aggregate decode is measured again with every stream "
                                  "constrained by it, and the two compared")
                      ->check(CLI::ExistingFile);
  cmd->add_option("--json-schema", o.json_schema_file,
                  "As --grammar, with a JSON Schema file (use one whose outputs can run --gen-tokens long)")
      ->check(CLI::ExistingFile)
      ->excludes(grammar);
  add_greedy_on_device_option(*cmd, o.greedy_on_device);
  cmd->add_flag("--masks-after-pass", o.masks_after_pass,
                "Compute the constrained streams' grammar masks after each forward pass instead of while the device "
                "computes it (the baseline of that overlap; the tokens are the same)");
  cmd->add_flag("--profile-ops", o.profile_ops,
                "Afterwards, time one decode run op by op (single stream and the most streams) and print where a "
                "forward pass spends its time");
  add_common_options(*cmd, o.common);
  add_split_options(*cmd, o.common);
  return cmd;
}

int run_bench(const BenchOptions& o) {
  apply_logging(o.common);
  engine::RuntimeOptions ro = runtime_options(o.model, o.common);
  auto rt = engine::ModelRuntime::load(ro);
  const int ctx = rt->context_length();
  if (o.prompt_tokens + 1 > ctx || 16 + o.gen_tokens > ctx) {
    throw std::invalid_argument("--prompt-tokens / --gen-tokens exceed the model's context of " + std::to_string(ctx));
  }

  Samples prefill, decode;
  std::vector<StepBreakdown> decode_splits;
  model::OpProfile single_profile, batch_profile;
  {
    engine::Generator gen(*rt, std::max(o.prompt_tokens + 1, 16 + o.gen_tokens));
    engine::GenerationRequest warm;
    warm.prompt = synthetic_prompt(*rt, 16, 0);
    warm.sampling.temperature = 0.0f;
    warm.max_tokens = 4;
    warm.ignore_eos = true;
    gen.generate(warm, nullptr);
    // And one prompt of the measured length, as llama-bench warms up with one run of its test: the
    // first pass of a shape builds its graph and picks its kernels.
    engine::GenerationRequest warm_prompt = warm;
    warm_prompt.prompt = synthetic_prompt(*rt, o.prompt_tokens, 999);
    warm_prompt.max_tokens = 1;
    gen.generate(warm_prompt, nullptr);
    for (int r = 0; r < o.repetitions; ++r) {
      engine::GenerationRequest p;
      p.prompt = synthetic_prompt(*rt, o.prompt_tokens, 1 + r);
      p.sampling.temperature = 0.0f;
      p.max_tokens = 1;
      p.ignore_eos = true;
      auto res = gen.generate(p, nullptr);
      prefill.add(o.prompt_tokens / (res.prefill_ms / 1000.0));

      engine::GenerationRequest d = warm;
      d.prompt = synthetic_prompt(*rt, 16, 100 + r);
      d.max_tokens = o.gen_tokens;
      rt->model().reset_timings();
      const auto t0 = Clock::now();
      res = gen.generate(d, nullptr);
      const double wall = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      decode.add((res.generated_tokens - 1) / (res.decode_ms / 1000.0));
      decode_splits.push_back(breakdown("decode, 1 stream", rt->model().timings(), wall));
    }
    if (o.profile_ops) {
      engine::GenerationRequest d = warm;
      d.prompt = synthetic_prompt(*rt, 16, 99);
      d.max_tokens = std::min(o.gen_tokens, 32);
      rt->model().set_op_profile(&single_profile);
      gen.generate(d, nullptr);
      rt->model().set_op_profile(nullptr);
    }
  }

  const std::optional<grammar::GrammarSpec> constraint = bench_constraint(o);
  struct Aggregate {
    int streams;
    Samples total, phase;
    Side plain, constrained;
  };
  std::vector<Aggregate> agg;
  // Per-pass averages of the run whose aggregate rate is the median, the single stream's first.
  std::vector<StepBreakdown> splits{decode_splits[decode.median_run()]};
  {
    const int max_streams = *std::max_element(o.streams.begin(), o.streams.end());
    engine::BatchEngineOptions eo;
    eo.max_seqs = max_streams;
    eo.max_queue = max_streams;
    eo.prefill_chunk = o.prefill_chunk;
    eo.masks_while_computing = !o.masks_after_pass;
    eo.greedy_on_device = o.greedy_on_device;
    // Room per stream rounded up to 256 cells, as llama-batched-bench's per-sequence KV streams are.
    eo.ctx_size = max_streams * ((16 + o.gen_tokens + eo.block_size + 255) / 256 * 256);
    engine::BatchEngine eng(*rt, eo);
    aggregate_decode(eng, *rt, 1, 4, 0);                              // warm-up
    if (constraint) aggregate_decode(eng, *rt, 1, 4, 0, constraint);  // and the grammar's compile
    int salt = 1;
    for (int s : o.streams) {
      Aggregate a{s, {}, {}, {}, {}};
      std::vector<StepBreakdown> runs;
      for (int r = 0; r < o.repetitions; ++r) {
        rt->model().reset_timings();
        auto before = eng.detailed_stats();
        const auto t0 = Clock::now();
        const AggregateRate rate = aggregate_decode(eng, *rt, s, o.gen_tokens, salt++);
        const double wall = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        runs.push_back(breakdown("aggregate, " + std::to_string(s) + " streams", rt->model().timings(), wall));
        a.total.add(rate.total);
        a.phase.add(rate.phase);
        a.plain.add(rate, before, eng.detailed_stats());
        // The constrained run right after the unconstrained one with the same salt, so that both
        // sides meet the same conditions on the machine, repetition by repetition.
        if (constraint) {
          before = eng.detailed_stats();
          const AggregateRate c = aggregate_decode(eng, *rt, s, o.gen_tokens, salt - 1, constraint);
          a.constrained.add(c, before, eng.detailed_stats());
        }
      }
      splits.push_back(runs[a.total.median_run()]);
      agg.push_back(std::move(a));
    }
    if (o.profile_ops) {
      rt->model().set_op_profile(&batch_profile);
      aggregate_decode(eng, *rt, max_streams, std::min(o.gen_tokens, 32), salt++);
      rt->model().set_op_profile(nullptr);
    }
  }
  const int max_streams = *std::max_element(o.streams.begin(), o.streams.end());
  const std::string batch_label = "aggregate, " + std::to_string(max_streams) + " streams (16-token prompts included)";

  if (o.json) {
    nlohmann::ordered_json j = {{"model", rt->name()},
                                {"device", rt->device().info().id},
                                {"threads", rt->device().n_threads()},
                                {"repetitions", o.repetitions}};
    j["prefill"] = {{"prompt_tokens", o.prompt_tokens}};
    j["prefill"].update(prefill.json());
    j["decode"] = {{"prompt_tokens", 16}, {"gen_tokens", o.gen_tokens}};
    j["decode"].update(decode.json());
    // "aggregate": over the whole run, the 16-token prompts' prefill included; "phase": from the
    // moment every stream has its first token (llama-batched-bench's S_TG).
    for (const auto& a : agg) {
      nlohmann::ordered_json e = {{"streams", a.streams}, {"prompt_tokens", 16}, {"gen_tokens", o.gen_tokens}};
      e.update(a.total.json());
      e["phase"] = a.phase.json();
      e["host"] = side_json(a.plain, a.streams);
      if (constraint) {
        nlohmann::ordered_json c = a.constrained.total.json();
        c["phase"] = a.constrained.phase.json();
        c["host"] = side_json(a.constrained, a.streams);
        e["constrained"] = c;
        // Constrained over unconstrained, of the medians.
        e["constrained_ratio"] = ratio(a.constrained.total.median(), a.total.median());
        e["constrained_phase_ratio"] = ratio(a.constrained.phase.median(), a.phase.median());
      }
      j["aggregate"].push_back(e);
    }
    for (const auto& b : splits) j["per_pass"].push_back(breakdown_json(b));
    if (o.profile_ops) {
      j["op_profile"] = {op_profile_json("decode, 1 stream", single_profile),
                         op_profile_json(batch_label, batch_profile)};
    }
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }

  std::printf("model: %s  device: %s  threads: %d  runs: %d\n", rt->name().c_str(), rt->device().info().id.c_str(),
              rt->device().n_threads(), o.repetitions);
  std::printf("%-40s %10s %10s %10s\n", "tokens/s", "median", "min", "max");
  print_row("prefill, 1 stream, " + std::to_string(o.prompt_tokens) + " tokens", prefill);
  print_row("decode, 1 stream, " + std::to_string(o.gen_tokens) + " tokens", decode);
  // "aggregate": generated tokens over the whole run, their 16-token prompts' prefill included;
  // "phase": from the moment every stream has its first token (llama-batched-bench's S_TG).
  for (const auto& a : agg) print_row("decode aggregate, " + std::to_string(a.streams) + " streams (engine)", a.total);
  for (const auto& a : agg) print_row("decode phase, " + std::to_string(a.streams) + " streams (engine)", a.phase);
  if (constraint) {
    for (const auto& a : agg) {
      print_row("constrained aggregate, " + std::to_string(a.streams) + " streams", a.constrained.total);
    }
    for (const auto& a : agg) {
      print_row("constrained phase, " + std::to_string(a.streams) + " streams", a.constrained.phase);
    }
    // Of the medians; the tokens a stream generated, on average (a grammar may end a stream early);
    // the engine thread's host time per step for the masks (computed while the device computes)
    // and the sampling.
    std::printf("\n%-10s %10s %10s %12s %12s %12s %12s %12s\n", "streams", "ratio", "phase", "tok/stream",
                "c tok/stream", "c mask ms", "c sample ms", "sample ms");
    for (const auto& a : agg) {
      const auto u = side_json(a.plain, a.streams), c = side_json(a.constrained, a.streams);
      std::printf("%-10d %10.3f %10.3f %12.1f %12.1f %12.3f %12.3f %12.3f\n", a.streams,
                  ratio(a.constrained.total.median(), a.total.median()),
                  ratio(a.constrained.phase.median(), a.phase.median()), u["tokens_per_stream"].get<double>(),
                  c["tokens_per_stream"].get<double>(), c["mask_ms_per_step"].get<double>(),
                  c["sample_ms_per_step"].get<double>(), u["sample_ms_per_step"].get<double>());
    }
  }
  // Averages per forward pass of the median run (the single-stream run includes its 16-token prefill).
  std::printf("\n%-28s %6s %8s %7s %7s %8s %8s %7s %7s\n", "per forward pass (ms)", "passes", "wall", "build", "upload",
              "compute", "download", "other", "reused");
  for (const auto& b : splits) {
    const double other = b.wall_ms - b.build - b.upload - b.compute - b.download;
    std::printf("%-28s %6.0f %8.3f %7.3f %7.3f %8.3f %8.3f %7.3f %6.0f%%\n", b.label.c_str(), b.steps, b.wall_ms,
                b.build, b.upload, b.compute, b.download, other, 100.0 * b.reused);
  }
  if (o.profile_ops) {
    print_op_profile("decode, 1 stream", single_profile);
    print_op_profile(batch_label, batch_profile);
  }
  return 0;
}

}  // namespace rbees::app
