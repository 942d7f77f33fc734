#!/usr/bin/env bash
# Builds ours for CUDA (sm_90) on the GPU machine into build-cuda/, from a checkout that carries
# .carry/ (scripts/gpu/prepare-carry.sh): unpacks the pinned llama.cpp snapshot, configures without
# tests and builds the given targets. Exports nothing; the snapshot lands in /tmp/llama-src.
#   bash bench/gpu/build_ours.sh LOG TARGET...
set -u
log=${1:?usage: build_ours.sh LOG TARGET...}
shift
mkdir -p /tmp/llama-src
[ -f /tmp/llama-src/llama.cpp-nlc-3.22.1/.rbees-complete ] ||
  { tar -C /tmp/llama-src -xJf .carry/llama-src.tar.xz && touch /tmp/llama-src/llama.cpp-nlc-3.22.1/.rbees-complete; }
export RBEES_CACHE_DIR=/tmp/llama-src
src=/tmp/llama-src/llama.cpp-nlc-3.22.1
carry="$(pwd)/.carry"
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DRBEES_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DRBEES_TESTS=OFF -DRBEES_GGML_DIR="$src/ggml" -DRBEES_HTTPLIB_SOURCE_DIR="$src/vendor/cpp-httplib" \
  -DCMAKE_PREFIX_PATH="$carry/deps/usr" -DCMAKE_INCLUDE_PATH="$carry/deps/usr/include" \
  -DCMAKE_LIBRARY_PATH="$carry/deps/usr/lib/x86_64-linux-gnu" >>"$log" 2>&1 &&
  cmake --build build-cuda -j16 --target "$@" >>"$log" 2>&1
