#include "loader/quantize.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

#include "core/log.hpp"

namespace rbees::loader {
namespace {

// Memory for converted tensors; each buffer's address is stable once allocated.
class OwnedBuffers : public Mapping {
 public:
  uint8_t* allocate(std::size_t n) {
    buffers_.push_back(std::make_unique<uint8_t[]>(n));
    return buffers_.back().get();
  }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_block_matrix(const std::string& name) {
  static const char* kSuffixes[] = {".attn_q.weight",   ".attn_k.weight", ".attn_v.weight",  ".attn_output.weight",
                                    ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"};
  if (name.rfind("blk.", 0) != 0) return false;
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes), [&](const char* s) { return ends_with(name, s); });
}

std::vector<ggml_type> fallback_chain(ggml_type target) {
  switch (target) {
    case GGML_TYPE_Q4_K: return {GGML_TYPE_Q4_K, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0, GGML_TYPE_F16};
    case GGML_TYPE_Q4_0: return {GGML_TYPE_Q4_0, GGML_TYPE_Q8_0, GGML_TYPE_F16};
    case GGML_TYPE_Q8_0: return {GGML_TYPE_Q8_0, GGML_TYPE_F16};
    case GGML_TYPE_F16: return {GGML_TYPE_F16};
    default: throw std::invalid_argument(std::string("unsupported quantization target ") + ggml_type_name(target));
  }
}

// Source rows to f32: plain copy for F32, the type's own dequantizer for everything else.
void rows_to_f32(const TensorView& v, int64_t row0, int64_t nrows, float* out) {
  const std::size_t row_bytes = ggml_row_size(v.type, v.ne[0]);
  const auto* src = static_cast<const uint8_t*>(v.data) + static_cast<std::size_t>(row0) * row_bytes;
  const int64_t n = nrows * v.ne[0];
  if (v.type == GGML_TYPE_F32) {
    std::memcpy(out, src, static_cast<std::size_t>(n) * sizeof(float));
  } else {
    ggml_get_type_traits(v.type)->to_float(src, out, n);
  }
}

// Converts the whole tensor into dst (rows of `type`), rows split among threads.
void convert(const TensorView& v, ggml_type type, uint8_t* dst) {
  const int64_t n_per_row = v.ne[0];
  const int64_t nrows = v.ne[1] * v.ne[2] * v.ne[3];
  const std::size_t dst_row = ggml_row_size(type, n_per_row);
  const int64_t n_threads =
      std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(1, nrows / 16));
  const int64_t per_thread = (nrows + n_threads - 1) / n_threads;
  auto work = [&](int64_t first, int64_t last) {
    constexpr int64_t kChunk = 16;  // rows converted to f32 at a time: bounded scratch memory
    std::vector<float> scratch(static_cast<std::size_t>(kChunk * n_per_row));
    for (int64_t r = first; r < last; r += kChunk) {
      const int64_t rows = std::min(kChunk, last - r);
      rows_to_f32(v, r, rows, scratch.data());
      uint8_t* out = dst + static_cast<std::size_t>(r) * dst_row;
      if (type == GGML_TYPE_F32) {
        std::memcpy(out, scratch.data(), static_cast<std::size_t>(rows * n_per_row) * sizeof(float));
      } else {
        ggml_quantize_chunk(type, scratch.data(), out, 0, rows, n_per_row, nullptr);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < n_threads; ++t) {
    const int64_t first = t * per_thread, last = std::min(nrows, first + per_thread);
    if (first < last) threads.emplace_back(work, first, last);
  }
  work(0, std::min(nrows, per_thread));
  for (auto& th : threads) th.join();
}

}  // namespace

ggml_type parse_quant(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "q8_0") return GGML_TYPE_Q8_0;
  if (n == "q4_0") return GGML_TYPE_Q4_0;
  if (n == "q4_k") return GGML_TYPE_Q4_K;
  if (n == "f16") return GGML_TYPE_F16;
  throw std::invalid_argument("unknown quantization '" + name + "' (expected q8_0, q4_0, q4_k or f16)");
}

void quantize_source(ModelSource& src, ggml_type target, std::vector<std::string>* fell_back) {
  const auto chain = fallback_chain(target);
  for (ggml_type t : chain) ggml_quantize_init(t);
  const bool embeddings_too = target == GGML_TYPE_F16 || target == GGML_TYPE_Q8_0;
  auto buffers = std::make_shared<OwnedBuffers>();
  std::vector<std::string> fallen;
  std::size_t converted = 0, bytes_before = 0, bytes_after = 0;

  for (auto& [name, v] : src.tensors) {
    ggml_type want;
    if (v.n_dims == 1) {
      want = GGML_TYPE_F32;  // norms, biases, rope factors: small, and kept exact
    } else if (is_block_matrix(name) || name == "output.weight" || (embeddings_too && name == "token_embd.weight")) {
      const int64_t row = v.ne[0];  // a named copy: clang before 16 cannot capture structured bindings
      auto fit = std::find_if(chain.begin(), chain.end(), [row](ggml_type t) { return row % ggml_blck_size(t) == 0; });
      want = *fit;  // f16 (block 1) always fits
      if (want != target) fallen.push_back(name);
    } else {
      continue;
    }
    if (v.type == want) continue;
    if (v.type != GGML_TYPE_F32 && ggml_get_type_traits(v.type)->to_float == nullptr)
      throw std::runtime_error("cannot convert tensor '" + name + "' from " + ggml_type_name(v.type));
    const std::size_t nbytes = ggml_row_size(want, v.ne[0]) * static_cast<std::size_t>(v.ne[1] * v.ne[2] * v.ne[3]);
    uint8_t* dst = buffers->allocate(nbytes);
    convert(v, want, dst);
    bytes_before += v.nbytes;
    bytes_after += nbytes;
    v.type = want;
    v.data = dst;
    v.nbytes = nbytes;
    ++converted;
  }
  src.mappings.push_back(std::move(buffers));

  if (!fallen.empty()) {
    std::string list;
    for (const auto& n : fallen) list += (list.empty() ? "" : ",") + n;
    log::info("quantize_fallback", "row length not a multiple of the block size; used a wider type",
              {{"target", ggml_type_name(target)}, {"tensors", list}});
  }
  log::info("quantized", "converted weights in memory",
            {{"target", ggml_type_name(target)},
             {"tensors", converted},
             {"bytes_before", bytes_before},
             {"bytes_after", bytes_after}});
  if (fell_back != nullptr) *fell_back = std::move(fallen);
}

}  // namespace rbees::loader
