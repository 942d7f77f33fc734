#!/usr/bin/env bash
# Obtains the ggml source this project builds on and prints the path of its ggml/ folder.
# The source is the llama.cpp snapshot inside the npm package node-llama-cpp, pinned by version and
# sha512; it is cached outside any build tree so later builds reuse it without a download.
set -euo pipefail

NLC_VERSION="3.22.1"
NLC_SHA512="bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw=="
CACHE_DIR="${RBEES_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rbees-workerd}"
SRC_DIR="$CACHE_DIR/llama.cpp-nlc-$NLC_VERSION"

if [ -f "$SRC_DIR/ggml/CMakeLists.txt" ] && [ -f "$SRC_DIR/.rbees-complete" ]; then
  echo "$SRC_DIR/ggml"
  exit 0
fi

mkdir -p "$CACHE_DIR"
work=$(mktemp -d "$CACHE_DIR/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "fetching node-llama-cpp@$NLC_VERSION from the npm registry" >&2
(cd "$work" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null 2>"$work/npm.log") || {
  cat "$work/npm.log" >&2
  echo "error: npm pack node-llama-cpp@$NLC_VERSION failed" >&2
  exit 1
}
tgz="$work/node-llama-cpp-$NLC_VERSION.tgz"
actual=$(sha512sum "$tgz" | awk '{print $1}' | xxd -r -p | base64 -w0)
if [ "$actual" != "$NLC_SHA512" ]; then
  echo "error: sha512 mismatch for node-llama-cpp-$NLC_VERSION.tgz: expected $NLC_SHA512, got $actual" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work" package/llama/gitRelease.bundle
rm -rf "$SRC_DIR.tmp"
git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" "$SRC_DIR.tmp"
rm -rf "$SRC_DIR"
mv "$SRC_DIR.tmp" "$SRC_DIR"
touch "$SRC_DIR/.rbees-complete"
echo "$SRC_DIR/ggml"
