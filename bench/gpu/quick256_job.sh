#!/usr/bin/env bash
# A short GPU session's check of 256 clients, ours alone: builds rbees-workerd by itself (the random
# model written meanwhile), then serves the 256-client workload of serve_job.sh step 3 with its
# defaults and with each "label:options" of MORE256 (";"-separated). Everything goes straight to $OUT
# as it is made, so a run cut short by the session's limit still returns what finished.
# Run from a checkout that carries .carry/ (scripts/gpu/prepare-carry.sh).
set -u
O=${OUT:-/tmp/gpu}
mkdir -p "$O"
t0=$(date +%s)
el() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$O/quick.log"; }
el "start, commit ${RBEES_COMMIT:-unknown}"
mkdir -p /tmp/llama-src /tmp/models
tar -C /tmp/llama-src -xJf .carry/llama-src.tar.xz && touch /tmp/llama-src/llama.cpp-nlc-3.22.1/.rbees-complete
export RBEES_CACHE_DIR=/tmp/llama-src
src=/tmp/llama-src/llama.cpp-nlc-3.22.1
carry="$(pwd)/.carry"
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DRBEES_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DGGML_CUDA_COMPRESSION_MODE=none -DRBEES_TESTS=OFF -DRBEES_GGML_DIR="$src/ggml" \
  -DRBEES_HTTPLIB_SOURCE_DIR="$src/vendor/cpp-httplib" -DCMAKE_PREFIX_PATH="$carry/deps/usr" \
  -DCMAKE_INCLUDE_PATH="$carry/deps/usr/include" -DCMAKE_LIBRARY_PATH="$carry/deps/usr/lib/x86_64-linux-gnu" \
  >"$O/build.log" 2>&1
cmake --build build-cuda -j16 --target rbees-make-random-gguf >>"$O/build.log" 2>&1
M=/tmp/models/llama2-7b-f16.gguf
build-cuda/rbees-make-random-gguf --shape llama2-7b --vocab-from .carry/vocab-llama2.gguf --out "$M" --type f16 \
  >"$O/model.log" 2>&1 &
cmake --build build-cuda -j16 --target rbees-workerd >>"$O/build.log" 2>&1
el "built rc=$?"
wait
el "model written"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$O/quick.log"
serve() {
  local label=$1
  shift
  build-cuda/rbees-workerd serve --model "$M" --device cuda:0 --port 18290 --max-queue 512 "$@" >"$O/$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18290/health >"$O/health-$label.json" && break; sleep 0.5; done
  timeout "${T256:-75}" python3 bench/serve_bench.py --url http://127.0.0.1:18290 --label "$label" \
    --tokenizer-url http://127.0.0.1:18290 --corpus .carry/war-and-peace.txt --prompt-tokens 100:1000 \
    --max-tokens 64:256 --seed 2 --num-requests 384 --concurrency 256 --out "$O/$label-c256.json.gz" \
    >"$O/console-$label.txt" 2>&1
  el "256 clients, $label rc=$?"
  kill $pid
  wait $pid
}
serve ours-defaults
IFS=';' read -ra more <<<"${MORE256:-}"
for m in "${more[@]}"; do
  # shellcheck disable=SC2086
  serve "ours-${m%%:*}" ${m#*:}
done
el done
