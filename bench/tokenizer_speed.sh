#!/usr/bin/env bash
# Encoding speed of rbees-workerd's tokenizer against llama.cpp's llama-tokenize on the same text (War and
# Peace by default), both loading their vocabulary from the same GGUF file.
#
# What is timed, on both sides the same: the wall time of the whole command (process start, vocabulary
# load, reading the input, encoding, writing the ids), N runs each, alternating the two sides; and the
# same commands on a one-word text ("load-only": everything but the encoding). The report gives both
# medians with min-max, and encode = whole - load-only (difference of the medians).
#   ours:   rbees-workerd tokenize --no-special --tokenizer GGUF < [text as a JSON string] > ids
#   theirs: llama-tokenize -m GGUF -f TEXT --ids --no-bos --no-escape --log-disable > ids
# (no BOS on either side; --no-escape so the text is read verbatim, as ours reads it).
# Raw outputs: bench/results/<date>-<machine>-<commit>/tokenizer/ (times.jsonl, one line a run;
# meta.json with the token counts and whether the ids agree); bench/make_results.py renders them.
#
# usage: bench/tokenizer_speed.sh [--binary PATH] [--gguf FILE] [--text FILE] [--llama-tokenize PATH] [--runs N]
# Defaults: build/rbees-workerd, tests/data/wp-llama-5m-f16.gguf, ../shared/data/war-and-peace.txt,
# $ANCHOR_BIN/llama-tokenize (else bench/build-anchor.sh's build), 5 runs.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
binary="$here/build/rbees-workerd"
text="$here/../shared/data/war-and-peace.txt"
llama_tokenize=""
gguf="$here/tests/data/wp-llama-5m-f16.gguf"
runs=5

while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --text) text="$2"; shift 2 ;;
    --llama-tokenize) llama_tokenize="$2"; shift 2 ;;
    --gguf) gguf="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

[[ -x "$binary" ]] || { echo "no rbees-workerd binary at $binary (use --binary)" >&2; exit 1; }
[[ -f "$text" ]] || { echo "no text file at $text (use --text)" >&2; exit 1; }
[[ -f "$gguf" ]] || { echo "no GGUF file at $gguf (use --gguf)" >&2; exit 1; }
if [[ -z "$llama_tokenize" ]]; then
  bin=${ANCHOR_BIN:-$("$here/bench/build-anchor.sh" 2>/dev/null | tail -n 1)}
  llama_tokenize="$bin/llama-tokenize"
fi
[[ -x "$llama_tokenize" ]] || { echo "no llama-tokenize at $llama_tokenize (use --llama-tokenize)" >&2; exit 1; }

out=$(python3 "$here/bench/results_meta.py" dir tokenizer)
rm -f "$out/meta.json"
echo "raw outputs: $out" >&2
python3 "$here/bench/results_meta.py" write "$out" benchmark=tokenizer runs="$runs" gguf="\"${gguf#"$here"/}\"" \
  text="\"$(basename "$text")\"" text_bytes="$(stat -c %s "$text")" statistic="median, min-max"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$binary" "$llama_tokenize" "$gguf" "$text" "$runs" "$tmp" "$out" "$here/bench/results_meta.py" <<'PY'
import json, os, subprocess, sys, time
ours, theirs, gguf, text, runs, tmp, out, meta = sys.argv[1:9]
runs = int(runs)
word = os.path.join(tmp, "word.txt")
open(word, "w").write("Well")
inputs = {"whole": text, "load-only": word}
for name, path in inputs.items():
    json.dump([open(path, encoding="utf-8").read()], open(os.path.join(tmp, name + ".json"), "w"))

def command(side, name):
    if side == "rbees-workerd":
        return [ours, "tokenize", "--no-special", "--tokenizer", gguf], os.path.join(tmp, name + ".json")
    return [theirs, "-m", gguf, "-f", inputs[name], "--ids", "--no-bos", "--no-escape", "--log-disable"], None

def run(side, name):
    argv, stdin = command(side, name)
    ids = os.path.join(tmp, f"{side}-{name}.ids")
    with open(ids, "w") as o, open(os.path.join(out, f"{side}-{name}.log"), "w") as err, \
            open(stdin or os.devnull) as i:
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdin=i, stdout=o, stderr=err).returncode
        s = time.perf_counter() - t0
    if rc:
        sys.exit(f"{side} on {name} failed (rc {rc}); see {out}/{side}-{name}.log")
    return s, ids

def ids_of(side, path):
    t = open(path).read()
    return json.loads(t)[0] if side == "rbees-workerd" else json.loads(t)

with open(os.path.join(out, "times.jsonl"), "w") as f:
    for name in inputs:
        for r in range(runs):
            for side in ("rbees-workerd", "llama-tokenize"):
                s, ids = run(side, name)
                f.write(json.dumps({"side": side, "input": name, "run": r + 1, "seconds": round(s, 6)}) + "\n")
                f.flush()
a = ids_of("rbees-workerd", os.path.join(tmp, "rbees-workerd-whole.ids"))
b = ids_of("llama-tokenize", os.path.join(tmp, "llama-tokenize-whole.ids"))
first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None if len(a) == len(b) else min(len(a), len(b)))
extra = [f"tokens_ours={len(a)}", f"tokens_llama={len(b)}", f"ids_agree={json.dumps(first is None)}"]
if first is not None:
    extra.append(f"first_difference_at={first}")
subprocess.run([sys.executable, meta, "write", out, *extra], check=True)
PY
python3 - "$out" <<'PY'
import json, statistics, sys
t = {}
for line in open(sys.argv[1] + "/times.jsonl"):
    j = json.loads(line)
    t.setdefault((j["side"], j["input"]), []).append(j["seconds"])
for (side, name), s in sorted(t.items()):
    print(f"{side:15} {name:9} median {statistics.median(s):.3f} s  (min {min(s):.3f}, max {max(s):.3f})")
PY
