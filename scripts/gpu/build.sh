#!/usr/bin/env bash
# On the GPU machine (no network): unpacks the carried llama.cpp snapshot and builds rbees-workerd with
# CUDA for Hopper against the carried dependencies. Usage: scripts/gpu/build.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build="${1:-$here/build-cuda}"
carry="$here/.carry"
if [ ! -d /tmp/llama-src ]; then
  mkdir -p /tmp/llama-src
  tar -C /tmp/llama-src -xJf "$carry/llama-src.tar.xz"
fi
src=$(ls -d /tmp/llama-src/*/ | head -n 1)
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DRBEES_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DRBEES_GGML_DIR="${src}ggml" -DRBEES_HTTPLIB_SOURCE_DIR="${src}vendor/cpp-httplib" \
  -DCMAKE_PREFIX_PATH="$carry/deps/usr" \
  -DCMAKE_INCLUDE_PATH="$carry/deps/usr/include" -DCMAKE_LIBRARY_PATH="$carry/deps/usr/lib/x86_64-linux-gnu" >&2
cmake --build "$build" -j"$(nproc)" >&2
echo "$build"
