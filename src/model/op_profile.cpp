#include "model/op_profile.hpp"

#include <algorithm>
#include <cstring>

namespace rbees::model {

namespace {

// The tensor a view chain starts from.
const ggml_tensor* view_root(const ggml_tensor* t) {
  while (t->view_src != nullptr) t = t->view_src;
  return t;
}

bool is_no_op(const ggml_tensor* t) {
  switch (t->op) {
    case GGML_OP_NONE:
    case GGML_OP_VIEW:
    case GGML_OP_RESHAPE:
    case GGML_OP_PERMUTE:
    case GGML_OP_TRANSPOSE: return true;
    default: return false;
  }
}

}  // namespace

std::string op_profile_key(const ggml_tensor* t) {
  std::string key = ggml_op_desc(t);
  // Attention's paths (home-region streams, gathered streams, a sequence's run) cost differently.
  if (std::strncmp(t->name, "attend_", 7) == 0) {
    const char* dash = std::strchr(t->name, '-');
    return key + " (" + std::string(t->name + 7, dash != nullptr ? dash : t->name + std::strlen(t->name)) + ")";
  }
  if (t->op != GGML_OP_MUL_MAT || t->src[0] == nullptr) return key;
  const ggml_tensor* a = view_root(t->src[0]);
  if (std::strncmp(a->name, "cache_", 6) == 0) return key + " (kv cache)";
  if (a->op == GGML_OP_NONE && (a->flags & GGML_TENSOR_FLAG_INPUT) == 0) {
    // A weight product's kernel and cost change with its token count: decode-sized batches read
    // the weights, prompt-sized ones compute.
    const int64_t n = t->src[1]->ne[1];
    return key + (n <= 64    ? " (weights, <=64 tokens)"
                  : n <= 512 ? " (weights, 65-512 tokens)"
                             : " (weights, >512 tokens)");
  }
  return key + " (activations)";
}

std::vector<std::pair<std::string, OpProfile::Entry>> OpProfile::ranked() const {
  std::vector<std::pair<std::string, Entry>> rows(by_op.begin(), by_op.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  return rows;
}

bool OpProfile::callback(ggml_tensor* t, bool ask, void* user_data) {
  auto* self = static_cast<OpProfile*>(user_data);
  if (is_no_op(t)) return false;  // computed together with the next op that counts
  if (ask) {
    self->started_ = std::chrono::steady_clock::now();
    return true;
  }
  Entry& e = self->by_op[op_profile_key(t)];
  ++e.count;
  e.ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - self->started_).count();
  return true;
}

}  // namespace rbees::model
