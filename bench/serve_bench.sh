#!/usr/bin/env bash
# Serving benchmark: `rbees-workerd serve` against llama-server (llama.cpp's own, the anchor) on the same
# GGUF, slots, per-slot context and threads, one after the other in one run, at each client count, with
# the same request list (bench/serve_bench.py: distinct corpus prompts, streaming, ignore_eos, closed loop).
# Raw outputs (workload, per-run JSON with every request, server logs, meta.json) go to
#   bench/results/<YYYY-MM-DD>-<machine>-<shortcommit>/serve/
# and bench/serve_report.py then prints the markdown table (serve.md) and writes the plot (serve.svg).
#
# Defaults are the CPU target workload of issue 14: the embedded model's F16 GGUF, 2 threads, 8 clients
# (and 1, 4, 16 for the plot), prompts 100 to 700 tokens, 64 to 256 out, 1024 context per slot, slots =
# clients; about 10 minutes on 2 cores. GPU: --device cuda:0 (llama-server gets -ngl 999), e.g.
#   bench/serve_bench.sh --device cuda:0 --model /tmp/models/llama2-7b-f16.gguf --anchor-bin /tmp/anchor/bin \
#     --ours build-cuda/rbees-workerd --clients 16,64 --prompt-tokens 100:1000 --ctx-per-slot 1536 --num-requests 256
# Options (default):
#   --model FILE (../shared/models/wp-llama-5m-f16.gguf)  --device cpu|cuda:N (cpu)  --threads N (2)
#   --clients LIST (1,4,8,16)  --slots N|auto (auto: slots = clients, servers restarted per count)
#   --ctx-per-slot N (1024)  --prompt-tokens A:B (100:700)  --max-tokens A:B (64:256)  --num-requests N (48)
#   --seed N (1)  --servers LIST (ours,llama-server)  --ours BIN (build/rbees-workerd)
#   --anchor-bin DIR ($ANCHOR_BIN, else bench/build-anchor.sh's)  --machine NAME  --out DIR  --port N (18190)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model="$here/../shared/models/wp-llama-5m-f16.gguf"
device=cpu threads=2 clients=1,4,8,16 slots=auto ctx=1024 ptok=100:700 otok=64:256 nreq=48 seed=1
servers=ours,llama-server ours="$here/build/rbees-workerd" bin="${ANCHOR_BIN:-}" machine="" out="" port=18190
while [ $# -gt 0 ]; do
  case "$1" in
  --model) model=$2 ;; --device) device=$2 ;; --threads) threads=$2 ;; --clients) clients=$2 ;;
  --slots) slots=$2 ;; --ctx-per-slot) ctx=$2 ;; --prompt-tokens) ptok=$2 ;; --max-tokens) otok=$2 ;;
  --num-requests) nreq=$2 ;; --seed) seed=$2 ;; --servers) servers=$2 ;; --ours) ours=$2 ;;
  --anchor-bin) bin=$2 ;; --machine) machine=$2 ;; --out) out=$2 ;; --port) port=$2 ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done
[ -f "$model" ] || { echo "no model file $model" >&2; exit 1; }
model=$(realpath "$model")
if [ "$device" = cpu ]; then ngl=0; else ngl=999; fi
if [ -z "$machine" ]; then
  if [ "$device" = cpu ]; then machine="cpu-$(nproc)core"
  else machine=$(nvidia-smi --query-gpu=name --format=csv,noheader -i "${device#cuda:}" 2>/dev/null | head -n 1 |
    tr 'A-Z' 'a-z' | sed 's/[^a-z0-9]\+/-/g; s/^-//; s/-$//'); machine=${machine:-gpu}; fi
fi
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
out="${out:-$here/bench/results/$(date +%F)-$machine-$commit/serve}"
mkdir -p "$out"
if [ -z "$bin" ]; then
  cuda_arg=(); [ "$device" = cpu ] || cuda_arg=(-DGGML_CUDA=ON)
  bin=$("$here/bench/build-anchor.sh" "${cuda_arg[@]}" 2>"$out/anchor-build.log" | tail -n 1)
fi
IFS=, read -ra levels <<<"$clients"
maxc=$(printf '%s\n' "${levels[@]}" | sort -n | tail -n 1)
[ "$slots" = auto ] || maxc=$slots
queue=$((maxc > 64 ? maxc : 64))

server_cmd() { # name slots -> the command line, in the array cmd
  case "$1" in
  ours) cmd=("$ours" serve --model "$model" --device "$device" --threads "$threads" --max-seqs "$2"
    --max-queue "$queue" --ctx-size $(($2 * ctx)) --port "$port") ;;
  llama-server) cmd=("$bin/llama-server" -m "$model" -t "$threads" -ngl "$ngl" -np "$2" -c $(($2 * ctx))
    --cache-ram 0 --port "$port") ;;
  esac
}
wait_health() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}
start_server() { # name slots log
  server_cmd "$1" "$2"
  echo "$1 slots=$2: ${cmd[*]}" >>"$out/commands.txt"
  "${cmd[@]}" >"$3" 2>&1 &
  pid=$!
  wait_health $pid || { echo "$1 did not come up (log: $3)" >&2; kill $pid 2>/dev/null; wait $pid 2>/dev/null; return 1; }
}
stop_server() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }

# The request list, made once with one server's tokenizer (the anchor's when it runs: the same GGUF,
# the same vocabulary), then sent unchanged to every server.
IFS=, read -ra names <<<"$servers"
tok_server=${names[0]}
[[ ",$servers," == *,llama-server,* ]] && tok_server=llama-server
: >"$out/commands.txt"
echo "(measures the prompts only)" >>"$out/commands.txt"
start_server "$tok_server" 1 "$out/tokenizer-server.log" || exit 1
python3 "$here/bench/serve_bench.py" --tokenizer-url "http://127.0.0.1:$port" --num-requests "$nreq" \
  --prompt-tokens "$ptok" --max-tokens "$otok" --seed "$seed" --write-workload "$out/workload.json"
rc=$?
stop_server
[ $rc = 0 ] || exit 1

# What was run where, for the report's header (values through the environment: no quoting to get wrong).
version() { "$@" --version 2>&1 | grep -v '^$' | head -n 3 | tr '\n' ' '; }
export M_DATE=$(date +%F) M_MACHINE=$machine M_COMMIT=$commit M_MODEL=$model M_DEVICE=$device M_THREADS=$threads \
  M_CLIENTS=$clients M_SLOTS=$slots M_CTX_PER_SLOT=$ctx M_NUM_REQUESTS=$nreq M_PROMPT_TOKENS=$ptok \
  M_MAX_TOKENS=$otok M_SEED=$seed M_SERVERS=$servers M_NPROC=$(nproc)
export M_DIRTY=$(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null | head -c 1)
export M_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
export M_GPU=$([ "$device" = cpu ] || nvidia-smi --query-gpu=name --format=csv,noheader -i "${device#cuda:}" 2>/dev/null)
export M_OURS_VERSION=$(version "$ours") M_ANCHOR_VERSION=$(version "$bin/llama-server")
python3 - "$out/meta.json" <<'EOF'
import json, os, sys
m = {k[2:].lower(): v for k, v in os.environ.items() if k.startswith("M_")}
for k in ("threads", "ctx_per_slot", "num_requests", "seed", "nproc"):
    m[k] = int(m[k])
m["clients"] = [int(c) for c in m["clients"].split(",")]
m["servers"] = m["servers"].split(",")
m["dirty"] = m["dirty"] != ""
m["model_bytes"] = os.path.getsize(m["model"])
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF

bench_level() { # name clients
  python3 "$here/bench/serve_bench.py" --url "http://127.0.0.1:$port" --label "$1" --workload "$out/workload.json" \
    --num-requests "$nreq" --concurrency "$2" --out "$out/$1-c$2.json" | tee -a "$out/$1-console.txt"
}
# With slots = clients the servers restart per count anyway, so they alternate per count: drift of a
# shared machine then falls on both alike.
for name in "${names[@]}"; do : >"$out/$name-console.txt"; done
if [ "$slots" = auto ]; then
  for c in "${levels[@]}"; do
    for name in "${names[@]}"; do
      start_server "$name" "$c" "$out/$name-c$c.log" || continue
      bench_level "$name" "$c"
      stop_server
    done
  done
else
  for name in "${names[@]}"; do
    start_server "$name" "$slots" "$out/$name.log" || continue
    for c in "${levels[@]}"; do bench_level "$name" "$c"; done
    stop_server
  done
fi
python3 "$here/bench/serve_report.py" "$out" --out "$out/serve.md" --svg "$out/serve.svg"
echo "raw results: $out"
