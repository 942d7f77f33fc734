#pragma once
// Test support: the transformers reference outputs of the default model (tests/data/
// wp-llama-5m.ref-given.{json,safetensors}), the model files, and comparison helpers.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "loader/load.hpp"
#include "model/llama_model.hpp"

namespace rbees::model::testing {

inline std::string source_path(const std::string& rel) {
  return std::string(RBEES_SOURCE_DIR) + "/" + rel;
}
inline const std::string kHfDir = source_path("models/wp-llama-5m");
inline const std::string kF16Gguf = source_path("tests/data/wp-llama-5m-f16.gguf");
inline const std::string kQ8Gguf = source_path("tests/data/wp-llama-5m-q8_0.gguf");

struct RefTensor {
  std::vector<int64_t> shape;  // as stored: [n_tokens, dim]
  std::vector<float> f32;
  std::vector<int32_t> i32;
};

// A minimal reader for the reference safetensors file (F32 and I32 only): an 8-byte little-endian
// header length, a JSON header, then the data.
inline std::map<std::string, RefTensor> read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  const auto meta = nlohmann::json::parse(header);
  const std::streamoff base = 8 + static_cast<std::streamoff>(header_len);
  std::map<std::string, RefTensor> out;
  for (const auto& [name, info] : meta.items()) {
    if (name == "__metadata__") continue;
    RefTensor t;
    t.shape = info.at("shape").get<std::vector<int64_t>>();
    const auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
    const size_t n_bytes = offsets[1] - offsets[0];
    in.seekg(base + static_cast<std::streamoff>(offsets[0]));
    const std::string dtype = info.at("dtype");
    if (dtype == "F32") {
      t.f32.resize(n_bytes / 4);
      in.read(reinterpret_cast<char*>(t.f32.data()), static_cast<std::streamsize>(n_bytes));
    } else if (dtype == "I32") {
      t.i32.resize(n_bytes / 4);
      in.read(reinterpret_cast<char*>(t.i32.data()), static_cast<std::streamsize>(n_bytes));
    } else {
      throw std::runtime_error("unexpected dtype " + dtype + " for " + name);
    }
    out.emplace(name, std::move(t));
  }
  return out;
}

struct Reference {
  std::map<std::string, RefTensor> tensors;
  nlohmann::json cases;

  static const Reference& get() {
    static const Reference ref = [] {
      Reference r;
      r.tensors = read_safetensors(source_path("tests/data/wp-llama-5m.ref-given.safetensors"));
      std::ifstream in(source_path("tests/data/wp-llama-5m.ref-given.json"));
      r.cases = nlohmann::json::parse(in).at("cases");
      return r;
    }();
    return ref;
  }
  const RefTensor& at(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw std::runtime_error("reference lacks " + name);
    return it->second;
  }
  std::vector<int32_t> input_ids(int c) const { return at("case" + std::to_string(c) + ".input_ids").i32; }
  std::vector<int32_t> greedy_ids(int c) const { return at("case" + std::to_string(c) + ".greedy_ids").i32; }
  int n_cases() const { return static_cast<int>(cases.size()); }
};

// ||ours - ref|| / ||ref||.
inline double rel_l2(const std::vector<float>& ours, const std::vector<float>& ref) {
  EXPECT_EQ(ours.size(), ref.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < std::min(ours.size(), ref.size()); ++i) {
    const double d = static_cast<double>(ours[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

inline int argmax(const float* row, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i) {
    if (row[i] > row[best]) best = i;
  }
  return best;
}

// GGUF llama files hold Q/K rows permuted within each head ([first half, second half] ->
// interleaved pairs). Maps a projection computed with such rows back to Hugging Face row order:
// hf[h*D + half*D/2 + j] = gguf[h*D + 2j + half], for every token.
inline std::vector<float> unpermute_rows(const std::vector<float>& x, int head_dim, int width) {
  std::vector<float> out(x.size());
  const int half = head_dim / 2;
  for (size_t t = 0; t < x.size() / width; ++t) {
    for (int h = 0; h < width / head_dim; ++h) {
      for (int j = 0; j < half; ++j) {
        for (int s = 0; s < 2; ++s) {
          out[t * width + h * head_dim + s * half + j] = x[t * width + h * head_dim + 2 * j + s];
        }
      }
    }
  }
  return out;
}

// A whole prompt as one sequence, every position wanting logits.
inline Batch prompt_batch(const std::vector<int32_t>& ids, int32_t seq = 0, int32_t pos0 = 0) {
  Batch b;
  for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], pos0 + static_cast<int32_t>(i), seq, true);
  return b;
}

// The device the model tests run on: the CPU unless RBEES_TEST_DEVICE names another ("cuda:0").
// Prompts of 40, 70, 100, ... tokens for sequences 0 to n_seqs - 1 in one batch, each wanting the
// logits of its last token: several runs in one pass. next_pos gets each sequence's next position.
inline Batch staggered_prompts(int n_seqs, int64_t n_vocab, std::vector<int32_t>& next_pos) {
  Batch b;
  next_pos.assign(static_cast<size_t>(n_seqs), 0);
  for (int32_t s = 0; s < n_seqs; ++s) {
    const int32_t len = 40 + 30 * s;
    for (int32_t i = 0; i < len; ++i) b.add(static_cast<int32_t>((7 * i + 11 * s + 1) % n_vocab), i, s, i + 1 == len);
    next_pos[static_cast<size_t>(s)] = len;
  }
  return b;
}

// Three staggered prompts, then `steps` decode steps (rows in the order 2, 0, 1) fed by the picks;
// returns each pass's picks by sequence. One pass after another with the real tokens, or (ahead)
// each decode step prepared while the one before computes, its tokens 0 until that one's picks are
// waited for, then launched with them (LlamaModel::prepare_ahead, the engine's overlapped steps).
// With `logits`, the passes bring their logits rows back (appended to `*logits`, batch order) and
// the picks are their greatest values, taken on the host.
inline std::vector<std::vector<int32_t>> greedy_steps(LlamaModel& m, KvCache& kv, int steps, bool ahead,
                                                      std::vector<float>* logits = nullptr) {
  std::vector<int32_t> pos;
  const Batch prompts = staggered_prompts(3, m.n_vocab(), pos);
  const std::vector<int32_t> order = {2, 0, 1};
  auto by_seq = [&](std::span<const int32_t> rows, bool decode) {
    std::vector<int32_t> out(3);
    for (size_t i = 0; i < 3 && i < rows.size(); ++i) {
      out[static_cast<size_t>(decode ? order[i] : static_cast<int32_t>(i))] = rows[i];
    }
    return out;
  };
  auto decode_step = [&](const std::vector<int32_t>& tokens) {
    Batch d;
    for (int32_t s : order) d.add(tokens[static_cast<size_t>(s)], pos[static_cast<size_t>(s)]++, s, true);
    return d;
  };
  const size_t n_vocab = static_cast<size_t>(m.n_vocab());
  // Each row's greatest value's index.
  auto argmax = [&](std::span<const float> rows) {
    std::vector<int32_t> ids;
    for (size_t r = 0; r * n_vocab < rows.size(); ++r) {
      const auto row = rows.subspan(r * n_vocab, n_vocab);
      ids.push_back(static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin()));
    }
    return ids;
  };
  auto pass = [&](const Batch& b) {
    if (logits) {
      const std::span<const float> rows = m.forward_view(b, kv);
      logits->insert(logits->end(), rows.begin(), rows.end());
      return argmax(rows);
    }
    const std::span<const int32_t> ids = m.forward_greedy(b, kv);
    return std::vector<int32_t>(ids.begin(), ids.end());
  };
  std::vector<std::vector<int32_t>> picks;
  if (!ahead) {
    picks.push_back(by_seq(pass(prompts), false));
    for (int step = 0; step < steps; ++step) picks.push_back(by_seq(pass(decode_step(picks.back())), true));
    return picks;
  }
  EXPECT_TRUE(m.can_run_ahead(prompts, kv));
  m.prepare_ahead(prompts, kv, logits == nullptr);
  m.launch_ahead(prompts.tokens);
  for (int step = 0; step <= steps; ++step) {
    if (step < steps) m.prepare_ahead(decode_step({0, 0, 0}), kv, logits == nullptr);
    EXPECT_TRUE(m.has_launched());
    const LlamaModel::AheadRows rows = m.wait_ahead();
    EXPECT_EQ(rows.picks.empty(), logits != nullptr);
    picks.push_back(
        by_seq(logits ? argmax(rows.logits) : std::vector<int32_t>(rows.picks.begin(), rows.picks.end()), step > 0));
    if (step < steps) {
      std::vector<int32_t> tokens;
      for (int32_t s : order) tokens.push_back(picks.back()[static_cast<size_t>(s)]);
      m.launch_ahead(tokens);
    }
    // Read once the next pass is launched: its rows land elsewhere.
    if (logits) logits->insert(logits->end(), rows.logits.begin(), rows.logits.end());
  }
  return picks;
}

inline core::Device test_device() {
  const char* want = std::getenv("RBEES_TEST_DEVICE");
  return core::Device(core::find_device(want != nullptr ? want : "cpu"), 1);
}

inline bool testing_on_gpu() {
  const char* want = std::getenv("RBEES_TEST_DEVICE");
  return want != nullptr && std::string(want) != "cpu";
}

// ggml-cuda multiplies F32 weights by 2-16 columns with TF32 tensor-core kernels (a 10-bit
// mantissa), so on a GPU the F32 path holds to about 1e-3 relative, not to the CPU's 1e-5; larger
// batches (cuBLAS) and single columns are exact F32. Tolerances below that floor are raised to it.
constexpr double kGpuF32Floor = 2e-3;
inline double device_tolerance(double cpu_tol) {
  return testing_on_gpu() ? std::max(cpu_tol, kGpuF32Floor) : cpu_tol;
}

// A loaded model with its source kept alive.
struct LoadedModel {
  core::Device device;
  loader::ModelSource source;
  std::unique_ptr<LlamaModel> model;

  LoadedModel(const std::string& path, ModelOptions options)
      : device(test_device()), source(loader::load_model_source(path)) {
    model = std::make_unique<LlamaModel>(source, device, std::move(options));
  }
  // On a device of the caller's choice rather than RBEES_TEST_DEVICE's.
  LoadedModel(const std::string& path, ModelOptions options, const core::DeviceInfo& on)
      : device(on, 1), source(loader::load_model_source(path)) {
    model = std::make_unique<LlamaModel>(source, device, std::move(options));
  }
};

inline ModelOptions exact_options(bool flash = false) {
  ModelOptions o;
  o.float_matrix_type = GGML_TYPE_F32;
  o.flash_attention = flash;
  return o;
}

// Exact, with flash attention, and a token's results independent of its batch (CPU only: on a GPU
// the kernels' summation order follows the batch shape, which device_tolerance() allows for).
inline ModelOptions invariant_options() {
  ModelOptions o = exact_options(true);
  o.batch_invariant = !testing_on_gpu();
  return o;
}

// Greedy continuation: prefill the prompt, then feed back the argmax one token at a time.
inline std::vector<int32_t> greedy(LlamaModel& m, KvCache& kv, const std::vector<int32_t>& prompt, int n_new,
                                   int32_t seq = 0) {
  Batch b;
  for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], static_cast<int32_t>(i), seq, i + 1 == prompt.size());
  std::vector<float> logits = m.forward(b, kv);
  std::vector<int32_t> out;
  int32_t pos = static_cast<int32_t>(prompt.size());
  for (int i = 0; i < n_new; ++i) {
    const int32_t next = argmax(logits.data(), m.n_vocab());
    out.push_back(next);
    if (i + 1 == n_new) break;
    Batch step;
    step.add(next, pos++, seq, true);
    logits = m.forward(step, kv);
  }
  return out;
}

// A greedy continuation of a reduced-precision model (F16 weights or cache) against the reference's:
// the same tokens, or the same up to a token where the exact model (F32 weights, as the reference
// computed) finds its choice and ours within kGreedyNearTie of each other. There the reduced
// precision's rounding, which differs between CPUs' vector units, may take either; what follows is
// another text and is not compared. A wrong token anywhere else still fails.
inline constexpr float kGreedyNearTie = 0.1f;  // as the engine tests' kNearTie

inline void expect_greedy_follows_reference(const std::vector<int32_t>& got, const std::vector<int32_t>& want,
                                            const std::vector<int32_t>& prompt, int c) {
  ASSERT_EQ(got.size(), want.size()) << "case " << c;
  size_t k = 0;
  while (k < got.size() && got[k] == want[k]) ++k;
  if (k == got.size()) return;
  static LoadedModel* const exact = new LoadedModel(kHfDir, exact_options());  // kept to the end: no exit-time teardown
  std::vector<int32_t> ids = prompt;
  ids.insert(ids.end(), want.begin(), want.begin() + static_cast<std::ptrdiff_t>(k));
  KvCache kv = exact->model->create_kv_cache(static_cast<int64_t>(ids.size()) + 1, GGML_TYPE_F32);
  const std::vector<float> logits = exact->model->forward(prompt_batch(ids), kv);
  const size_t n_vocab = static_cast<size_t>(exact->model->n_vocab());
  const float* row = logits.data() + (ids.size() - 1) * n_vocab;
  const float margin = row[want[k]] - row[got[k]];
  EXPECT_LT(margin, kGreedyNearTie) << "case " << c << ": token " << k << " is " << got[k] << ", the reference's "
                                    << want[k] << ", which the exact model prefers by " << margin;
  std::printf("case %d: leaves the reference at token %zu of %zu, a near tie (exact model's margin %.4f)\n", c, k,
              want.size(), static_cast<double>(margin));
}

}  // namespace rbees::model::testing
