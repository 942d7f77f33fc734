#!/usr/bin/env bash
# GPU benchmark, steps 2 and 3 (same machine, right after prepare.sh):
#   measure.sh engine   quantizes to Q8_0 and Q4_0 with llama-quantize, then llama-bench against
#                       `rbees-workerd bench` on each file (prefill 512, decode 128, streams for F16)
#   measure.sh batched  llama-batched-bench on F16, and llama-server against `rbees-workerd serve`
#                       through HTTP at 1 and 64 streams (bench/http_load.py), then bench/gpu/report.py
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out="${OUT:-/tmp/rbees-gpu}"
models=/tmp/models
bin=/tmp/anchor/bin
ours="$here/build-cuda/rbees-workerd"
mkdir -p "$out"
case "${1:-}" in
engine)
  for q in Q8_0 Q4_0; do
    lq=$(echo $q | tr 'A-Z' 'a-z')
    [ -f "$models/llama2-7b-$lq.gguf" ] ||
      "$bin/llama-quantize" "$models/llama2-7b-f16.gguf" "$models/llama2-7b-$lq.gguf" $q >"$out/quantize-$lq.log" 2>&1
  done
  for t in f16 q8_0 q4_0; do
    f="$models/llama2-7b-$t.gguf"
    "$bin/llama-bench" -m "$f" -ngl 99 -p 512 -n 128 -r 3 -o json >"$out/llama-bench-$t.json" 2>"$out/llama-bench-$t.log"
    echo "llama-bench $t rc=$?"
    streams="1"
    [ $t = f16 ] && streams="1 8 32 64 128"
    "$ours" bench --model "$f" --device cuda:0 --prompt-tokens 512 --gen-tokens 128 --streams $streams -r 2 \
      >"$out/ours-bench-$t.txt" 2>"$out/ours-bench-$t.log"
    echo "ours bench $t rc=$?"; cat "$out/ours-bench-$t.txt"
    grep -E "cpu_fallback|graph_placement" "$out/ours-bench-$t.log" | head -n 2
  done
  ;;
batched)
  f="$models/llama2-7b-f16.gguf"
  "$bin/llama-batched-bench" -m "$f" -ngl 99 -c 36864 -b 2048 -ub 512 -npp 16 -ntg 128 -npl 1,8,32,64,128 \
    >"$out/llama-batched-bench-f16.txt" 2>"$out/llama-batched-bench-f16.log"
  echo "llama-batched-bench rc=$?"; cat "$out/llama-batched-bench-f16.txt"
  "$bin/llama-server" -m "$f" -ngl 99 -np 64 -c $((64 * 512)) --port 8090 >"$out/llama-server.log" 2>&1 &
  ls_pid=$!
  "$ours" serve --model "$f" --device cuda:0 --port 8091 --max-seqs 64 --max-queue 64 --ctx-size $((64 * 512)) \
    >"$out/ours-serve.log" 2>&1 &
  our_pid=$!
  for port in 8090 8091; do
    for i in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
  done
  python3 "$here/bench/http_load.py" --url http://127.0.0.1:8090 --streams 1,64 --max-tokens 128 |
    tee "$out/http-llama-server.jsonl" | sed 's/^/llama-server /'
  python3 "$here/bench/http_load.py" --url http://127.0.0.1:8091 --streams 1,64 --max-tokens 128 |
    tee "$out/http-rbees-workerd.jsonl" | sed 's/^/rbees-workerd /'
  kill $ls_pid $our_pid; wait
  ;;
*) echo "usage: measure.sh engine|batched" >&2; exit 2 ;;
esac
if [ "${1:-}" = batched ]; then python3 "$here/bench/gpu/report.py" "$out"; fi
