#!/usr/bin/env bash
# Prepares .carry/ for a GPU machine that has a CUDA toolkit but no network and no Debian packages:
#   .carry/deps/        the -dev packages' headers and static libraries (extracted .debs)
#   .carry/llama-src.tar.xz   the pinned llama.cpp snapshot without .git, models, docs and unused backends
#   .carry/vocab-llama2.gguf  a 32000-token Llama 2 vocabulary for the random benchmark models
#   .carry/war-and-peace.txt  the serving benchmark's prompt corpus
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
carry="$here/.carry"
mkdir -p "$carry/debs" "$carry/deps"

(cd "$carry/debs" && apt-get download -q nlohmann-json3-dev libcli11-dev libboost-dev libboost1.74-dev libpcre2-dev \
  libutf8proc-dev libgtest-dev libgmock-dev googletest >/dev/null 2>&1) || {
  echo "apt-get download failed" >&2
  exit 1
}
for f in "$carry"/debs/*.deb; do dpkg-deb -x "$f" "$carry/deps"; done
rm -rf "$carry/debs" "$carry/deps/usr/share/doc" "$carry/deps/usr/src"
# Of Boost's 160 MB of headers, only those the HTTP front end includes travel (the carry's size limit).
used=$(mktemp)
for f in "$here"/src/server/http_*.cpp; do
  g++ -std=c++20 -M -MT x -I"$here/src" -isystem "$carry/deps/usr/include" \
    -I"$(dirname "$("$here/scripts/ggml-source.sh")")/vendor/cpp-httplib" "$f" 2>/dev/null
done | tr ' \\' '\n\n' | grep "$carry/deps/usr/include/boost/" | sort -u >"$used"
if [ -s "$used" ]; then
  kept=$(mktemp -d)
  (cd "$carry/deps/usr/include" && sed "s|^$carry/deps/usr/include/||" "$used" | xargs -I{} cp --parents {} "$kept/")
  rm -rf "$carry/deps/usr/include/boost" && mv "$kept/boost" "$carry/deps/usr/include/boost"
fi
rm -f "$used"

src=$(dirname "$("$here/scripts/ggml-source.sh")")
tar -C "$(dirname "$src")" -cJf "$carry/llama-src.tar.xz" \
  --exclude=.git --exclude="$(basename "$src")/models" --exclude="$(basename "$src")/docs" \
  --exclude="$(basename "$src")/tools/ui/src" --exclude="$(basename "$src")/tools/ui/tests" \
  --exclude="$(basename "$src")/tools/ui/static" --exclude="$(basename "$src")/media" \
  --exclude="$(basename "$src")/benches" --exclude="$(basename "$src")/gguf-py" \
  --exclude='ggml-vulkan' --exclude='ggml-sycl' --exclude='ggml-opencl' --exclude='ggml-cann' \
  --exclude='ggml-hexagon' --exclude='ggml-webgpu' --exclude='ggml-openvino' --exclude='ggml-et' \
  --exclude='ggml-metal' --exclude='ggml-virtgpu' --exclude='ggml-zdnn' --exclude='ggml-musa' \
  "$(basename "$src")"
if [ -f "$here/../shared/models/llama-2-tiny-random.gguf" ]; then
  cp "$here/../shared/models/llama-2-tiny-random.gguf" "$carry/vocab-llama2.gguf"
fi
if [ -f "$here/../shared/data/war-and-peace.txt" ]; then
  cp "$here/../shared/data/war-and-peace.txt" "$carry/war-and-peace.txt"
fi
du -sh "$carry"/*
