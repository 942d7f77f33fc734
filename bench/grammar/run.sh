#!/usr/bin/env bash
# Runs rbees-grammar-bench on Llama 3's vocabulary and writes the raw output under
# bench/results/<date>-<machine>-<commit>/grammar/.   bench/grammar/run.sh [BUILD_DIR] [MACHINE]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
machine=${2:-$(uname -m)}
llama=$(ls -d "$HOME"/.cache/rbees-workerd/llama.cpp-* | head -1)
out=$root/bench/results/$(date +%F)-$machine-$(git -C "$root" rev-parse --short HEAD)/grammar
mkdir -p "$out"
{
  echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  for schema in schema_20 schema_20_unbounded_strings; do
    "$build/rbees-grammar-bench" "$llama/models/ggml-vocab-llama-bpe.gguf" "$root/bench/grammar/$schema.json" \
      "$root/bench/grammar/schema_20.instances.jsonl" $([ $schema = schema_20 ] && echo "$llama/grammars/json.gbnf")
  done
} | tee "$out/grammar_bench.txt"
