#!/usr/bin/env bash
# Builds the benchmark anchor, llama.cpp's own tools (llama-bench, llama-batched-bench, llama-server,
# llama-tokenize, llama-quantize, llama-perplexity), from the same pinned snapshot our ggml comes from, outside the repo.
# Prints the folder holding the binaries. Extra CMake arguments (e.g. -DGGML_CUDA=ON) pass through.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ggml_dir=$("$here/scripts/ggml-source.sh")
src=$(dirname "$ggml_dir")
cache="${RBEES_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rbees-workerd}"
suffix=$(echo "$*" | md5sum | cut -c1-8)
build="${ANCHOR_BUILD_DIR:-$cache/anchor-build-$suffix}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF "${launcher[@]}" "$@" >&2
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target llama-bench llama-batched-bench llama-server \
  llama-tokenize llama-quantize llama-perplexity >&2
echo "$build/bin"
