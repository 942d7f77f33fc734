#include "loader/tensor_layout.hpp"

#include <map>

#include "loader/load_error.hpp"

namespace rbees::loader {

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  const int64_t embd = c.n_embd, q = int64_t{c.n_head} * c.head_dim, kv = int64_t{c.n_head_kv} * c.head_dim;
  const int64_t ff = c.n_ff, vocab = c.n_vocab;
  std::vector<ExpectedTensor> t;
  t.push_back({"token_embd.weight", {embd, vocab}});
  t.push_back({"output_norm.weight", {embd}});
  if (!c.tie_word_embeddings) t.push_back({"output.weight", {embd, vocab}});
  t.push_back({"rope_freqs.weight", {c.head_dim / 2}, false});
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    t.push_back({b + "attn_norm.weight", {embd}});
    t.push_back({b + "attn_q.weight", {embd, q}});
    t.push_back({b + "attn_k.weight", {embd, kv}});
    t.push_back({b + "attn_v.weight", {embd, kv}});
    t.push_back({b + "attn_output.weight", {q, embd}});
    if (c.attention_bias) {
      t.push_back({b + "attn_q.bias", {q}});
      t.push_back({b + "attn_k.bias", {kv}});
      t.push_back({b + "attn_v.bias", {kv}});
    }
    if (c.attention_out_bias) t.push_back({b + "attn_output.bias", {embd}});
    t.push_back({b + "ffn_norm.weight", {embd}});
    t.push_back({b + "ffn_gate.weight", {embd, ff}});
    t.push_back({b + "ffn_up.weight", {embd, ff}});
    t.push_back({b + "ffn_down.weight", {ff, embd}});
    if (c.mlp_bias) {
      t.push_back({b + "ffn_gate.bias", {ff}});
      t.push_back({b + "ffn_up.bias", {ff}});
      t.push_back({b + "ffn_down.bias", {embd}});
    }
  }
  return t;
}

std::string shape_string(const int64_t* ne, int n_dims) {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

void check_tensors(const ModelSource& src, const std::string& weights_file) {
  // The layer count comes from metadata. Checked against the file first: a forged count would
  // otherwise build a list of expected tensors as long as the count (gigabytes) before naming the
  // first one missing. Every layer has at least nine tensors.
  const int n_layer = src.config.n_layer;
  if (n_layer > 0) {
    const std::string last = "blk." + std::to_string(n_layer - 1) + ".attn_norm.weight";
    const std::string says = "the metadata says " + std::to_string(n_layer) + " layers, but ";
    if (static_cast<std::size_t>(n_layer) > src.tensors.size() / 9) {
      throw LoadError(weights_file, says + "the file has only " + std::to_string(src.tensors.size()) +
                                        " tensors (a layer has at least 9)");
    }
    if (src.find(last) == nullptr) throw LoadError(weights_file, says + "the file has no tensor '" + last + "'");
  }
  for (const auto& e : expected_tensors(src.config)) {
    const TensorView* v = src.find(e.name);
    if (v == nullptr) {
      if (e.required) throw LoadError(weights_file, "missing tensor '" + e.name + "'");
      continue;
    }
    bool ok = v->n_dims == static_cast<int>(e.ne.size());
    for (std::size_t d = 0; ok && d < e.ne.size(); ++d) ok = v->ne[d] == e.ne[d];
    if (!ok) {
      std::string named = "tensor '" + v->name + "'";
      if (!v->source_name.empty() && v->source_name != v->name)
        named = "tensor '" + v->source_name + "' (" + v->name + ")";
      throw LoadError(v->file, named + " has shape " + shape_string(v->ne, v->n_dims) + " (ggml order), expected " +
                                   shape_string(e.ne.data(), static_cast<int>(e.ne.size())) + " from the model config");
    }
  }
}

std::string dominant_weight_type(const ModelSource& src) {
  std::map<ggml_type, int> counts;
  int total = 0;
  for (const auto& [name, v] : src.tensors) {
    if (name.rfind("blk.", 0) != 0 || v.n_dims != 2) continue;
    ++counts[v.type];
    ++total;
  }
  for (const auto& [type, n] : counts)
    if (2 * n > total) return ggml_type_name(type);
  return total == 0 ? "" : "mixed";
}

}  // namespace rbees::loader
