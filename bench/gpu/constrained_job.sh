#!/usr/bin/env bash
# Constrained decoding on the GPU: aggregate decode of STREAMS concurrent streams, unconstrained and
# with every stream under a JSON schema (`rbees-workerd bench --json-schema`), the same runs and
# statistic (median, min-max) for both, and their ratio. Ours only.
#
# Run alone, on the GPU machine from a checkout that carries .carry/ (scripts/gpu/prepare-carry.sh):
#   bash bench/gpu/constrained_job.sh
# or as a piece of a combined job, which sets the paths and calls the function:
#   source bench/gpu/constrained_job.sh; MODEL=... OURS=... OUTDIR=... constrained_job
# Settings (environment): MODEL (the random Llama-2-7B-shaped F16 file; written when absent), OURS
# (our binary; built into build-cuda when absent), OUTDIR (raw JSON and logs), DEVICE (cuda:0),
# STREAMS (64), GEN (tokens per stream, 128), RUNS (3), SCHEMA (bench/gpu/constrained_schema.json:
# an array of at least 128 strings, without maxItems, so a stream can run GEN tokens), LOG (progress,
# appended: /tmp/gpu/master.log when run alone; none when OUTDIR is given, as a combined job logs
# this script's output itself and writing into its log from here would interleave with it).

constrained_job() (
  set -u
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local model=${MODEL:-/tmp/models/llama2-7b-f16.gguf}
  local ours=${OURS:-$here/build-cuda/rbees-workerd}
  local out=${OUTDIR:-/tmp/gpu/constrained}
  local device=${DEVICE:-cuda:0} streams=${STREAMS:-64} gen=${GEN:-128} runs=${RUNS:-3}
  local schema=${SCHEMA:-$here/bench/gpu/constrained_schema.json}
  local log=${LOG-}
  [ -n "$log" ] || [ -n "${OUTDIR:-}" ] || log=/tmp/gpu/master.log
  [ -n "$log" ] || log=/dev/null
  local t0
  t0=$(date +%s)
  mkdir -p "$out" "$(dirname "$log")"
  el() { echo "[constrained $(($(date +%s) - t0)) s] $*" | tee -a "$log"; }

  if [ ! -x "$ours" ]; then
    # As serve_job.sh builds ours: the carried llama.cpp snapshot and Debian packages, no network.
    local carry=$here/.carry src=/tmp/llama-src/llama.cpp-nlc-3.22.1
    [ -d "$src" ] || { mkdir -p /tmp/llama-src && tar -C /tmp/llama-src -xJf "$carry/llama-src.tar.xz"; }
    touch "$src/.rbees-complete"
    export RBEES_CACHE_DIR=/tmp/llama-src
    ours=$here/build-cuda/rbees-workerd
    cmake -S "$here" -B "$here/build-cuda" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRBEES_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 -DRBEES_TESTS=OFF -DRBEES_GGML_DIR="$src/ggml" \
      -DRBEES_HTTPLIB_SOURCE_DIR="$src/vendor/cpp-httplib" -DCMAKE_PREFIX_PATH="$carry/deps/usr" \
      -DCMAKE_INCLUDE_PATH="$carry/deps/usr/include" -DCMAKE_LIBRARY_PATH="$carry/deps/usr/lib/x86_64-linux-gnu" \
      >"$out/build.log" 2>&1
    cmake --build "$here/build-cuda" -j"$(nproc)" --target rbees-workerd rbees-make-random-gguf >>"$out/build.log" 2>&1
    el "ours built rc=$?"
  fi
  if [ ! -e "$model" ]; then
    mkdir -p "$(dirname "$model")"
    "$(dirname "$ours")/rbees-make-random-gguf" --shape llama2-7b --vocab-from "$here/.carry/vocab-llama2.gguf" \
      --out "$model" --type f16 >"$out/model.log" 2>&1
    el "model written rc=$?"
  fi

  local result=$out/constrained-$streams.json
  "$ours" bench --model "$model" --device "$device" --streams "$streams" --gen-tokens "$gen" -r "$runs" --json \
    --json-schema "$schema" >"$result" 2>"$out/constrained-$streams.log"
  local rc=$?
  el "bench, $streams streams, $gen tokens, $runs runs: rc=$rc"
  python3 - "$result" <<'PY' | tee -a "$log" | tee "$out/constrained-$streams.txt"
import json, sys
j = json.load(open(sys.argv[1]))
for a in j["aggregate"]:
    c = a["constrained"]
    print(f"{a['streams']} streams: unconstrained {a['median_ts']:.1f} tok/s ({a['min_ts']:.1f}-{a['max_ts']:.1f}), "
          f"constrained {c['median_ts']:.1f} tok/s ({c['min_ts']:.1f}-{c['max_ts']:.1f}), "
          f"ratio {a['constrained_ratio']:.3f} (decode phase {a['constrained_phase_ratio']:.3f}); "
          f"tokens/stream {a['host']['tokens_per_stream']:.1f} vs {c['host']['tokens_per_stream']:.1f}; "
          f"host ms/step: masks {c['host']['mask_ms_per_step']:.3f} (while the device computes), "
          f"sampling {c['host']['sample_ms_per_step']:.3f} vs {a['host']['sample_ms_per_step']:.3f}; "
          f"picked on the device {c['host'].get('device_picked_share', 0):.3f} vs {a['host'].get('device_picked_share', 0):.3f}")
PY
  grep -h engine_totals "$out/constrained-$streams.log" | cut -c1-600 >>"$log"
  return $rc
)

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  constrained_job
fi
