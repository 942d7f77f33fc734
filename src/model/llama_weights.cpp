#include "model/llama_weights.hpp"

#include "loader/rope_factors.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "model/weight_buffer_type.hpp"
#include "ops/rope.hpp"

namespace rbees::model {
namespace {

bool is_float(ggml_type t) {
  return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16;
}

void to_f32(ggml_type type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case GGML_TYPE_F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case GGML_TYPE_F16: ggml_fp16_to_fp32_row(static_cast<const ggml_fp16_t*>(src), dst, n); return;
    case GGML_TYPE_BF16: ggml_bf16_to_fp32_row(static_cast<const ggml_bf16_t*>(src), dst, n); return;
    default: throw std::logic_error(std::string("cannot convert from ") + ggml_type_name(type));
  }
}

void from_f32(const float* src, ggml_type type, void* dst, int64_t n) {
  switch (type) {
    case GGML_TYPE_F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case GGML_TYPE_F16: ggml_fp32_to_fp16_row(src, static_cast<ggml_fp16_t*>(dst), n); return;
    case GGML_TYPE_BF16: ggml_fp32_to_bf16_row_ref(src, static_cast<ggml_bf16_t*>(dst), n); return;
    default: throw std::logic_error(std::string("cannot convert to ") + ggml_type_name(type));
  }
}

std::string shape_str(const int64_t* ne, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// One tensor to create: where it comes from and where its pointer goes.
struct Planned {
  const loader::TensorView* view = nullptr;  // null: computed (values below)
  std::vector<float> values;
  ggml_tensor* tensor = nullptr;
};

// Allocates every tensor of `ctx` in one buffer of `buft` for weights; null when ctx holds none.
ggml_backend_buffer_t alloc_weights(ggml_context* ctx, ggml_backend_buffer_type_t buft, const std::string& path) {
  if (ggml_get_first_tensor(ctx) == nullptr) return nullptr;
  ggml_backend_buffer_t b = ggml_backend_alloc_ctx_tensors_from_buft(ctx, buft);
  if (b == nullptr) {
    throw std::runtime_error("could not allocate " + path + "'s weights in " + ggml_backend_buft_name(buft));
  }
  ggml_backend_buffer_set_usage(b, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
  return b;
}

}  // namespace

LayerPlacement place_layers(int n_layer, std::optional<int> gpu_layers) {
  if (gpu_layers && *gpu_layers < 0) throw std::invalid_argument("gpu_layers must not be negative");
  // llama.cpp counts the output layer as layer n_layer: all n_layer + 1 of them is everything.
  if (!gpu_layers || *gpu_layers > n_layer) return {};
  LayerPlacement p;
  p.first_device_layer = n_layer - *gpu_layers;
  p.input_on_device = false;
  p.output_on_device = false;
  return p;
}

LayerPlacement split_layers(int n_layer, const std::vector<float>& shares) {
  if (shares.empty()) throw std::invalid_argument("a split needs at least one device");
  double sum = 0;
  for (float f : shares) {
    if (!(f >= 0)) throw std::invalid_argument("tensor split shares must not be negative");
    sum += f;
  }
  if (!(sum > 0)) throw std::invalid_argument("tensor split shares must not all be zero");
  std::vector<double> cumulative;
  double acc = 0;
  for (float f : shares) cumulative.push_back(acc += f / sum);
  LayerPlacement p;
  for (int il = 0; il < n_layer; ++il) {
    const double at = static_cast<double>(il) / n_layer;
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), at);
    p.layer_devices.push_back(std::min(static_cast<int>(it - cumulative.begin()), static_cast<int>(shares.size()) - 1));
  }
  p.output_device = static_cast<int>(shares.size()) - 1;
  return p;
}

LlamaWeights::LlamaWeights(const loader::ModelSource& source, const core::Device& device,
                           const WeightOptions& options) {
  const auto& c = source.config;
  if (options.float_matrix_type && !is_float(*options.float_matrix_type)) {
    throw std::invalid_argument("float_matrix_type must be F32, F16 or BF16");
  }
  if (c.n_head <= 0 || c.n_head_kv <= 0 || c.n_head % c.n_head_kv != 0) {
    throw std::invalid_argument("n_head must be a positive multiple of n_head_kv");
  }
  const int64_t hd = c.head_dim > 0 ? c.head_dim : c.n_embd / c.n_head;
  const int64_t n_q = hd * c.n_head;
  const int64_t n_kv = hd * c.n_head_kv;
  placement_ = options.placement ? *options.placement : place_layers(c.n_layer, options.gpu_layers);
  std::vector<const core::Device*> devices = options.devices;
  if (devices.empty()) devices.push_back(&device);
  if (placement_.n_devices() > static_cast<int>(devices.size())) {
    throw std::invalid_argument("the layer placement names more devices than the model has");
  }
  ggml_backend_dev_t cpu_dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  if (!placement_.everything_on_device() && cpu_dev == nullptr) throw std::runtime_error("ggml has no CPU device");

  // Room for every tensor, plus the fused tensors (four per layer at most) whose parts are views.
  const std::size_t n_tensors = source.tensors.size() + 4 * static_cast<std::size_t>(c.n_layer) + 8;
  ggml_init_params params{ggml_tensor_overhead() * n_tensors, nullptr, true};
  ctx_ = ggml_init(params);
  std::vector<Planned> plan;

  auto context_for = [&](ggml_backend_buffer_type_t buft, int dev = -1) {
    ggml_context*& c = extra_ctx_[{dev, buft}];
    if (c == nullptr) c = ggml_init({ggml_tensor_overhead() * n_tensors, nullptr, true});
    return c;
  };
  // The context of plain buffers on model device `where` (-1: the CPU's).
  auto plain_context = [&](int where) {
    return where == 0  ? ctx_
           : where > 0 ? context_for(devices[where]->buffer_type(), where)
                       : context_for(ggml_backend_dev_buffer_type(cpu_dev));
  };
  // Where the tensor named `name` with ggml shape `shape` goes, on model device `where` or (-1) in
  // CPU buffers; its view is null when it is optional and absent. `layer_matrix`: a repeating
  // layer's matrix, which --split-mode row splits by rows.
  struct Placed {
    const loader::TensorView* view = nullptr;
    ggml_type type = GGML_TYPE_F32;
    ggml_context* home = nullptr;
  };
  auto place = [&](const std::string& name, const std::vector<int64_t>& shape, bool required, bool matmul, int where,
                   bool layer_matrix) -> Placed {
    const loader::TensorView* v = source.find(name);
    if (v == nullptr) {
      if (required) throw std::runtime_error("model " + source.path + " lacks tensor " + name);
      return {};
    }
    const int n_dims = static_cast<int>(shape.size());
    bool same = true;
    for (int i = 0; i < 4; ++i) same = same && v->ne[i] == (i < n_dims ? shape[i] : 1);
    if (!same) {
      throw std::runtime_error("tensor " + name + " in " + v->file + " has shape " + shape_str(v->ne, 4) +
                               ", the config implies " + shape_str(shape.data(), n_dims));
    }
    ggml_type type = v->type;
    if (n_dims == 1) {
      if (!is_float(type)) throw std::runtime_error("tensor " + name + " has unsupported type " + ggml_type_name(type));
      type = GGML_TYPE_F32;
    } else if (options.float_matrix_type && is_float(type)) {
      type = *options.float_matrix_type;
    }
    ggml_backend_dev_t home_dev = where >= 0 ? devices[where]->info().dev : cpu_dev;
    ggml_context* home = plain_context(where);
    if (layer_matrix && options.row_split_type != nullptr && n_dims == 2) {
      home = context_for(options.row_split_type, 0);
    } else if (matmul && n_dims == 2) {
      if (ggml_backend_buffer_type_t fast = faster_matmul_buffer_type(home_dev, type, shape[0], shape[1])) {
        home = context_for(fast, where);
      }
    }
    return {v, type, home};
  };
  // Plans the upload of `name`'s data into `t` (a tensor, or a view of a fused one).
  auto plan_upload = [&](const std::string& name, const Placed& p, ggml_tensor* t) {
    ggml_set_name(t, name.c_str());
    if (p.type == p.view->type && p.view->nbytes != ggml_nbytes(t)) {
      throw std::runtime_error("tensor " + name + " in " + p.view->file + " holds " + std::to_string(p.view->nbytes) +
                               " bytes, expected " + std::to_string(ggml_nbytes(t)));
    }
    plan.push_back({p.view, {}, t});
    return t;
  };
  auto take = [&](const std::string& name, std::vector<int64_t> shape, bool required, bool matmul = false,
                  int where = 0, bool layer_matrix = false) -> ggml_tensor* {
    const Placed p = place(name, shape, required, matmul, where, layer_matrix);
    if (p.view == nullptr) return nullptr;
    return plan_upload(name, p, ggml_new_tensor(p.home, p.type, static_cast<int>(shape.size()), shape.data()));
  };
  // Matrices (or biases) that multiply the same input, stacked by rows into one tensor `fused` whose
  // parts are views: one product instead of several, with the same values per row. Only where all
  // parts are present, share a type and sit in the same plain buffer (not split by rows, not in a
  // repacked layout); else each part is taken alone and the result is null.
  auto take_fused = [&](const std::string& fused, const std::vector<std::string>& names, int64_t ne0,
                        const std::vector<int64_t>& rows, bool required, int where,
                        std::vector<ggml_tensor**> out) -> ggml_tensor* {
    const bool matrix = ne0 > 0;
    std::vector<Placed> parts;
    std::vector<std::vector<int64_t>> shapes;
    int64_t total = 0;
    bool fusable = options.fuse_projections;
    for (size_t i = 0; i < names.size(); ++i) {
      shapes.push_back(matrix ? std::vector<int64_t>{ne0, rows[i]} : std::vector<int64_t>{rows[i]});
      parts.push_back(place(names[i], shapes[i], required, matrix, where, matrix));
      const Placed& p = parts.back();
      fusable = fusable && p.view != nullptr && p.type == parts[0].type && p.home == parts[0].home;
      total += rows[i];
    }
    fusable = fusable && parts[0].home == plain_context(where);
    if (!fusable) {
      for (size_t i = 0; i < names.size(); ++i) {
        const Placed& p = parts[i];
        if (p.view == nullptr) continue;
        *out[i] = plan_upload(names[i], p,
                              ggml_new_tensor(p.home, p.type, static_cast<int>(shapes[i].size()), shapes[i].data()));
      }
      return nullptr;
    }
    ggml_tensor* t = matrix ? ggml_new_tensor_2d(parts[0].home, parts[0].type, ne0, total)
                            : ggml_new_tensor_1d(parts[0].home, parts[0].type, total);
    ggml_set_name(t, fused.c_str());
    int64_t first = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      ggml_tensor* part = matrix ? ggml_view_2d(parts[i].home, t, ne0, rows[i], t->nb[1], first * t->nb[1])
                                 : ggml_view_1d(parts[i].home, t, rows[i], first * t->nb[0]);
      *out[i] = plan_upload(names[i], parts[i], part);
      first += rows[i];
    }
    return t;
  };

  const int in_dev = placement_.input_on_device ? 0 : -1;
  const int out_dev = placement_.output_on_device ? placement_.output_device : -1;
  // Shared by every layer; the scheduler does not place RoPE by it, so it goes where most layers go.
  const int rope_dev = placement_.device_of(c.n_layer / 2);
  tok_embd = take("token_embd.weight", {c.n_embd, c.n_vocab}, true, false, in_dev);
  output_norm = take("output_norm.weight", {c.n_embd}, true, false, out_dev);
  output = take("output.weight", {c.n_embd, c.n_vocab}, false, true, out_dev);
  // Tied embeddings: place_layers keeps the input and output layers together; across devices the
  // output device gets its own copy, as llama.cpp duplicates it.
  if (output == nullptr) {
    output = in_dev == out_dev ? tok_embd : take("token_embd.weight", {c.n_embd, c.n_vocab}, true, true, out_dev);
  }
  rope_freqs = take("rope_freqs.weight", {hd / 2}, false, false, rope_dev);
  if (rope_freqs == nullptr && c.rope.scaling == loader::RopeScaling::llama3) {
    rope_freqs = ggml_new_tensor_1d(plain_context(rope_dev), GGML_TYPE_F32, hd / 2);
    ggml_set_name(rope_freqs, "rope_freqs.weight");
    plan.push_back({nullptr, loader::llama3_rope_factors(c.rope, static_cast<int>(hd)), rope_freqs});
  }

  layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    auto& L = layers[il];
    auto n = [&](const char* what) { return "blk." + std::to_string(il) + "." + what; };
    const int d = placement_.device_of(il);
    L.attn_norm = take(n("attn_norm.weight"), {c.n_embd}, true, false, d);
    L.wqkv = take_fused(n("attn_qkv.weight"), {n("attn_q.weight"), n("attn_k.weight"), n("attn_v.weight")}, c.n_embd,
                        {n_q, n_kv, n_kv}, true, d, {&L.wq, &L.wk, &L.wv});
    L.wo = take(n("attn_output.weight"), {n_q, c.n_embd}, true, true, d, true);
    // The biases are added to the fused product only when the matrices and all three biases fused.
    const std::vector<std::string> qkv_bias{n("attn_q.bias"), n("attn_k.bias"), n("attn_v.bias")};
    if (L.wqkv != nullptr) {
      L.bqkv =
          take_fused(n("attn_qkv.bias"), qkv_bias, 0, {n_q, n_kv, n_kv}, c.attention_bias, d, {&L.bq, &L.bk, &L.bv});
      if (L.bqkv == nullptr && (L.bq != nullptr || L.bk != nullptr || L.bv != nullptr)) L.wqkv = nullptr;
    } else {
      L.bq = take(qkv_bias[0], {n_q}, c.attention_bias, false, d);
      L.bk = take(qkv_bias[1], {n_kv}, c.attention_bias, false, d);
      L.bv = take(qkv_bias[2], {n_kv}, c.attention_bias, false, d);
    }
    L.bo = take(n("attn_output.bias"), {c.n_embd}, c.attention_out_bias, false, d);
    L.ffn_norm = take(n("ffn_norm.weight"), {c.n_embd}, true, false, d);
    L.ffn_gate_up = take_fused(n("ffn_gate_up.weight"), {n("ffn_gate.weight"), n("ffn_up.weight")}, c.n_embd,
                               {c.n_ff, c.n_ff}, true, d, {&L.ffn_gate, &L.ffn_up});
    L.ffn_down = take(n("ffn_down.weight"), {c.n_ff, c.n_embd}, true, true, d, true);
    const std::vector<std::string> ffn_bias{n("ffn_gate.bias"), n("ffn_up.bias")};
    if (L.ffn_gate_up != nullptr) {
      L.ffn_gate_up_b =
          take_fused(n("ffn_gate_up.bias"), ffn_bias, 0, {c.n_ff, c.n_ff}, c.mlp_bias, d, {&L.ffn_gate_b, &L.ffn_up_b});
      if (L.ffn_gate_up_b == nullptr && (L.ffn_gate_b != nullptr || L.ffn_up_b != nullptr)) L.ffn_gate_up = nullptr;
    } else {
      L.ffn_gate_b = take(ffn_bias[0], {c.n_ff}, c.mlp_bias, false, d);
      L.ffn_up_b = take(ffn_bias[1], {c.n_ff}, c.mlp_bias, false, d);
    }
    L.ffn_down_b = take(n("ffn_down.bias"), {c.n_embd}, c.mlp_bias, false, d);
  }

  if (ggml_get_first_tensor(ctx_) != nullptr) {
    buffer_ = ggml_backend_alloc_ctx_tensors_from_buft(ctx_, device.buffer_type());
    if (buffer_ == nullptr) {
      ggml_free(ctx_);
      throw std::runtime_error("could not allocate " + source.path + "'s weights on " + device.info().id);
    }
    ggml_backend_buffer_set_usage(buffer_, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
  }
  for (const auto& [key, ctx] : extra_ctx_) {
    if (ggml_backend_buffer_t b = alloc_weights(ctx, key.second, source.path)) {
      extra_buffers_.push_back(b);
      extra_devices_.push_back(key.first);
    }
  }

  std::size_t total = 0;
  for (const auto& p : plan) total += ggml_nbytes(p.tensor);
  std::size_t done = 0;
  if (options.progress) options.progress(0.0f);

  constexpr int64_t kChunk = 1 << 20;  // elements converted at a time
  std::vector<float> f32;
  std::vector<uint8_t> converted;
  for (const auto& p : plan) {
    ggml_tensor* t = p.tensor;
    if (p.view == nullptr) {
      ggml_backend_tensor_set(t, p.values.data(), 0, ggml_nbytes(t));
    } else if (p.view->type == t->type) {
      ggml_backend_tensor_set(t, p.view->data, 0, ggml_nbytes(t));
    } else {
      const int64_t n = ggml_nelements(t);
      const std::size_t src_es = ggml_type_size(p.view->type);
      const std::size_t dst_es = ggml_type_size(t->type);
      f32.resize(std::min(n, kChunk));
      converted.resize(f32.size() * dst_es);
      for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
        const int64_t m = std::min(kChunk, n - i0);
        to_f32(p.view->type, static_cast<const uint8_t*>(p.view->data) + i0 * src_es, f32.data(), m);
        from_f32(f32.data(), t->type, converted.data(), m);
        ggml_backend_tensor_set(t, converted.data(), i0 * dst_es, m * dst_es);
      }
    }
    done += ggml_nbytes(t);
    if (options.progress) options.progress(static_cast<float>(static_cast<double>(done) / total));
  }
}

LlamaWeights::~LlamaWeights() {
  for (ggml_backend_buffer_t b : extra_buffers_) ggml_backend_buffer_free(b);
  for (const auto& [key, ctx] : extra_ctx_) ggml_free(ctx);
  if (buffer_ != nullptr) ggml_backend_buffer_free(buffer_);
  if (ctx_ != nullptr) ggml_free(ctx_);
}

std::vector<ggml_backend_buffer_t> LlamaWeights::buffers() const {
  std::vector<ggml_backend_buffer_t> all;
  if (buffer_ != nullptr) all.push_back(buffer_);
  all.insert(all.end(), extra_buffers_.begin(), extra_buffers_.end());
  return all;
}

std::size_t LlamaWeights::bytes_on(int device) const {
  std::size_t n = device == 0 && buffer_ != nullptr ? ggml_backend_buffer_get_size(buffer_) : 0;
  for (size_t i = 0; i < extra_buffers_.size(); ++i) {
    if (extra_devices_[i] == device) n += ggml_backend_buffer_get_size(extra_buffers_[i]);
  }
  return n;
}

std::size_t LlamaWeights::bytes() const {
  std::size_t n = 0;
  for (ggml_backend_buffer_t b : buffers()) n += ggml_backend_buffer_get_size(b);
  return n;
}

}  // namespace rbees::model
