#!/usr/bin/env bash
# Encoding speed of rbees-workerd's tokenizer on a text corpus (War and Peace by default), and
# optionally of llama.cpp's llama-tokenize on the same text for comparison.
#
# usage: bench/tokenizer_speed.sh [--binary PATH] [--tokenizer PATH] [--text FILE]
#                                 [--llama-tokenize PATH --gguf FILE]
# Defaults: build/rbees-workerd, the embedded wp-llama-5m model, ../shared/data/war-and-peace.txt,
# tests/data/wp-llama-5m-f16.gguf for llama-tokenize.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
binary="$here/build/rbees-workerd"
tokenizer="$here/models/wp-llama-5m"
text="$here/../shared/data/war-and-peace.txt"
llama_tokenize=""
gguf="$here/tests/data/wp-llama-5m-f16.gguf"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --tokenizer) tokenizer="$2"; shift 2 ;;
    --text) text="$2"; shift 2 ;;
    --llama-tokenize) llama_tokenize="$2"; shift 2 ;;
    --gguf) gguf="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

[[ -x "$binary" ]] || { echo "no rbees-workerd binary at $binary (use --binary)" >&2; exit 1; }
[[ -f "$text" ]] || { echo "no text file at $text (use --text)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -c 'import json,sys; json.dump([open(sys.argv[1], encoding="utf-8").read()], open(sys.argv[2], "w"))' \
  "$text" "$tmp/input.json"
bytes=$(stat -c %s "$text")

# Our figure: the encode time the tokenize command logs (JSON parsing and process start excluded),
# best of three runs.
best=""
for _ in 1 2 3; do
  "$binary" tokenize --no-special --tokenizer "$tokenizer" --log-level debug --log-format json \
    < "$tmp/input.json" > "$tmp/ids.json" 2> "$tmp/log.jsonl"
  s=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("event") == "tokenize_done": print(e["seconds"])' "$tmp/log.jsonl")
  if [[ -z "$best" ]] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then best="$s"; fi
done
n_tokens=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[0]))' "$tmp/ids.json")
python3 -c "
b, s, n = $bytes, $best, $n_tokens
print(f'rbees-workerd tokenize: {b/1e6:.2f} MB -> {n} tokens in {s:.3f} s = {b/1e6/s:.2f} MB/s  (tokenizer: $tokenizer)')"

if [[ -n "$llama_tokenize" ]]; then
  # llama-tokenize loads the model too; its time is the whole command, so it is an upper bound.
  start=$(date +%s.%N)
  "$llama_tokenize" -m "$gguf" -f "$text" --ids --log-disable > "$tmp/llama_ids.txt"
  end=$(date +%s.%N)
  python3 -c "
b, s = $bytes, $end - $start
n = len(open('$tmp/llama_ids.txt').read().strip().strip('[]').split(','))
print(f'llama-tokenize (whole command): {b/1e6:.2f} MB -> {n} tokens in {s:.3f} s = {b/1e6/s:.2f} MB/s  (model: $gguf)')"
fi
