#!/usr/bin/env bash
# GPU benchmark, step 1 of 3 (on the GPU machine, after scripts/gpu/prepare-carry.sh here):
# builds our worker (scripts/gpu/build.sh) and, at the same time, the llama.cpp anchor from the same
# snapshot with its own default options plus CUDA for sm_90 (bench/build-anchor.sh -DGGML_CUDA=ON
# -DCMAKE_CUDA_ARCHITECTURES=90; off as well: the web UI, which needs a download, and the examples,
# neither of which changes the tools measured), writes a random-weight Llama-2-7B-shaped F16 GGUF and
# measures device-to-device copy bandwidth.
# Raw outputs and logs go to $OUT, else bench/results/<date>-<machine>-<commit>/gpu (machine: the GPU's
# name, or $MACHINE; commit: $RBEES_COMMIT, which a copied tree without git history needs); the folder
# is remembered in /tmp/rbees-gpu-out for measure.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
export MACHINE=${MACHINE:-${gpu:-gpu}}
out="${OUT:-$(python3 "$here/bench/results_meta.py" dir gpu)}"
models=/tmp/models
mkdir -p "$out" "$models"
rm -f "$out/meta.json"  # measure.sh adds its keys to what this run writes
echo "$out" >/tmp/rbees-gpu-out
echo "raw outputs: $out"
# No network here: the anchor builds from the carried snapshot, which ggml-source.sh then finds in place.
if [ -f "$here/.carry/llama-src.tar.xz" ]; then
  [ -d /tmp/llama-src/llama.cpp-nlc-3.22.1 ] || { mkdir -p /tmp/llama-src && tar -C /tmp/llama-src -xJf "$here/.carry/llama-src.tar.xz"; }
  touch /tmp/llama-src/llama.cpp-nlc-3.22.1/.rbees-complete
  export RBEES_CACHE_DIR=/tmp/llama-src
fi
t0=$(date +%s)
ANCHOR_BUILD_DIR=/tmp/anchor JOBS=$(nproc) "$here/bench/build-anchor.sh" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_EXAMPLES=OFF >"$out/anchor-build.log" 2>&1 &
anchor=$!
"$here/scripts/gpu/build.sh" "$here/build-cuda" >"$out/build.log" 2>&1
echo "ours built rc=$? after $(( $(date +%s) - t0 )) s"
"$here/build-cuda/rbees-make-random-gguf" --shape llama2-7b --vocab-from "$here/.carry/vocab-llama2.gguf" \
  --out "$models/llama2-7b-f16.gguf" --type f16
echo "f16 model written after $(( $(date +%s) - t0 )) s"
wait $anchor
echo "anchor built rc=$? after $(( $(date +%s) - t0 )) s"
tail -n 3 "$out/anchor-build.log"
"$here/bench/describe_builds.sh" /tmp/anchor/bin "$here/build-cuda/rbees-workerd" >"$out/builds.txt"
python3 "$here/bench/results_meta.py" write "$out" benchmark=gpu gpu="\"$gpu\"" model_shape=llama2-7b \
  anchor_label="\"$("$here/bench/describe_builds.sh" --label /tmp/anchor/bin)\"" statistic="median, min-max"
python3 - <<'PY' | tee "$out/bandwidth.json"
import json, torch
n = 4 << 30  # 4 GiB each way
a = torch.empty(n, dtype=torch.uint8, device="cuda"); b = torch.empty_like(a)
a.random_(0, 255)
for _ in range(3): b.copy_(a)
torch.cuda.synchronize()
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
times = []
for _ in range(10):
    s.record(); b.copy_(a); e.record(); torch.cuda.synchronize(); times.append(s.elapsed_time(e) / 1e3)
times.sort(); t = times[len(times) // 2]
print(json.dumps({"d2d_copy_bytes_moved": 2 * n, "seconds": t, "bandwidth_GBps": 2 * n / t / 1e9,
                  "gpu": torch.cuda.get_device_name(0)}))
PY
