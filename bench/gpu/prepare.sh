#!/usr/bin/env bash
# GPU benchmark, step 1 of 3 (on the GPU machine, after scripts/gpu/prepare-carry.sh here):
# builds our worker, then the llama.cpp anchor (same snapshot, CUDA, sm_90) on the same ggml build, writes a
# random-weight Llama-2-7B-shaped F16 GGUF and measures device-to-device copy bandwidth.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out="${OUT:-/tmp/rbees-gpu}"
models=/tmp/models
mkdir -p "$out" "$models" /tmp/llama-src
[ -d /tmp/llama-src/llama.cpp-nlc-3.22.1 ] || tar -C /tmp/llama-src -xJf "$here/.carry/llama-src.tar.xz"
src=/tmp/llama-src/llama.cpp-nlc-3.22.1
t0=$(date +%s)
"$here/scripts/gpu/build.sh" "$here/build-cuda" >"$out/build.log" 2>&1
echo "ours built rc=$? after $(( $(date +%s) - t0 )) s"
# The anchor links the very ggml our worker was built with (same source, flags and kernels), so both
# run identical kernels and ggml's CUDA code is compiled once.
# ggml's installed package config does not name the CUDA libraries a static ggml-cuda needs.
cuda=$(dirname "$(dirname "$(command -v nvcc)")")
cuda_libs="-L$cuda/lib64 -L$cuda/lib64/stubs -lcudart -lcublas -lcublasLt -lcuda"
ls "$cuda"/lib64/libnccl* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libnccl* >/dev/null 2>&1 && cuda_libs="$cuda_libs -lnccl"
cmake --install "$here/build-cuda/ggml" --prefix /tmp/ggml-install >"$out/ggml-install.log" 2>&1
(
  cmake -S "$src" -B /tmp/anchor -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_USE_SYSTEM_GGML=ON \
    -DCMAKE_PREFIX_PATH=/tmp/ggml-install -DBUILD_SHARED_LIBS=OFF \
    -DCMAKE_CXX_STANDARD_LIBRARIES="$cuda_libs" -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF &&
    cmake --build /tmp/anchor -j "$(nproc)" --target llama-bench llama-batched-bench llama-server llama-quantize
) >"$out/anchor-build.log" 2>&1 &
anchor=$!
"$here/build-cuda/rbees-make-random-gguf" --shape llama2-7b --vocab-from "$here/.carry/vocab-llama2.gguf" \
  --out "$models/llama2-7b-f16.gguf" --type f16
echo "f16 model written after $(( $(date +%s) - t0 )) s"
wait $anchor
echo "anchor built rc=$? after $(( $(date +%s) - t0 )) s"
tail -n 3 "$out/anchor-build.log"
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
