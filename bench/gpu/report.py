#!/usr/bin/env python3
"""Prints the GPU benchmark report (rbees-workerd against llama.cpp) as Markdown, and writes a plot.

  report.py [--out DIR] OUTDIR [OUTDIR ...]
Reads, from the folders that bench/gpu/prepare.sh and measure.sh write into (the later folder wins when
a file is in several): meta.json, bandwidth.json, llama-bench-{f16,q8_0,q4_0}.json (per-run samples_ts),
ours-bench-{f16,q8_0,q4_0}.json (`rbees-workerd bench --json`: per-run samples_ts),
llama-batched-bench-f16-r*.jsonl (one file a run), http-llama-server.jsonl and http-rbees-workerd.jsonl
(one line a run). Every cell is the median of the runs with min-max; ratios are of the medians.
Prints three or four tables (single stream, aggregate decode, HTTP) with ratios ours/theirs and the
fraction of the memory-bandwidth limit (weight bytes x decode steps per second / copy bandwidth, at the
median). Writes DIR/report.md (the same text), DIR/plot.json and DIR/plot.svg (through
bench/plot_svg.py); DIR defaults to the first OUTDIR. A missing file skips its part with a one-line
note on stderr. Standard library only.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from summary import cell, jsonl, load_meta, median_range, provenance  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("dirs", nargs="+")
ap.add_argument("--out")
a = ap.parse_args()
TYPES = ["f16", "q8_0", "q4_0"]


def note(msg):
    print(f"report.py: {msg}", file=sys.stderr)


def load(name, parse):
    """parse(text) of the last folder's copy of name, or None (with a note) when absent or unreadable."""
    path = next((os.path.join(d, name) for d in reversed(a.dirs) if os.path.isfile(os.path.join(d, name))), None)
    if path is None:
        note(f"{name} not found, skipping what needs it")
        return None
    try:
        return parse(open(path).read())
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        note(f"{path} unreadable ({e!r}), skipping what needs it")
        return None


def parse_ours(txt):
    j = json.loads(txt)
    r = {"agg": {}, "phase": {}}
    for kind in ("prefill", "decode"):
        n = j[kind]["prompt_tokens"] if kind == "prefill" else j[kind]["gen_tokens"]
        r[kind] = (n, j[kind]["samples_ts"])
    for e in j.get("aggregate", []):
        r["agg"][e["streams"]] = e["samples_ts"]
        r["phase"][e["streams"]] = e["phase"]["samples_ts"]
    return r


def parse_llama_bench(txt):
    r = {}
    for e in json.loads(txt):
        kind = "prefill" if e["n_gen"] == 0 else "decode" if e["n_prompt"] == 0 else None
        if kind:
            r[kind] = (e["n_prompt"] or e["n_gen"], e["samples_ts"])
            r["size"] = e["model_size"]
    return r


def load_batched():
    """{B: [S_TG of each run]} over every llama-batched-bench-f16-r*.jsonl of the last folder that has one."""
    for d in reversed(a.dirs):
        files = sorted(glob.glob(os.path.join(d, "llama-batched-bench-f16-r*.jsonl")))
        if files:
            rows = {}
            for f in files:
                for j in jsonl(f):
                    rows.setdefault(j["pl"], []).append(j["speed_tg"])
            return rows
    note("no llama-batched-bench-f16-r*.jsonl, skipping what needs it")
    return None


def parse_http(txt):
    """{streams: {"ts": [tokens/s of each run], "errors": failed requests over all runs}}"""
    r = {}
    for j in map(json.loads, filter(str.strip, txt.splitlines())):
        e = r.setdefault(j["streams"], {"ts": [], "errors": 0})
        e["ts"].append(j["tokens_per_s"])
        e["errors"] += j["errors"]
    return r


def med(samples):
    m = median_range(samples or [])
    return m[0] if m else None


def ratio(o, t):
    o, t = med(o), med(t)
    return f"{o / t:.2f}" if o is not None and t else "-"


def row(name, vals):
    return f"| {name} | " + " | ".join(vals) + " |"


bw = load("bandwidth.json", json.loads)
bps = bw["bandwidth_GBps"] * 1e9 if bw else None


def frac(size, steps_per_s):
    return f"{100 * size * steps_per_s / bps:.1f}%" if bps and size and steps_per_s else "-"


meta = {}
for d in a.dirs:
    meta.update(load_meta(d))
reps = meta.get("repetitions", "?")
lines = [f"### GPU: {meta.get('gpu') or (bw or {}).get('gpu', '?')}, {meta.get('date', '?')}, commit {meta.get('commit', '?')}",
         "", provenance(meta, a.dirs[-1]), "",
         f"Workload: random-weight {meta.get('model_shape', 'llama2-7b')}-shaped GGUF, F16 (Q8_0 and Q4_0 by "
         "`llama-quantize`), ignore_eos, everything on the GPU (`-ngl 99`, `--device cuda:0`).", "",
         f"Anchor: {meta.get('anchor_label', '?')} (options and libraries in `builds.txt`).", "",
         f"Method: both sides {reps} runs per figure; each cell is the median tokens/s with min-max in brackets "
         f"(llama-bench: of its per-run `samples_ts`; llama-batched-bench: of {reps} separate runs; ours: of "
         "`bench --json`'s runs; HTTP: of http_load.py's runs); ratio and bandwidth share are of the medians.", "",
         f"Device-to-device copy bandwidth {bw['bandwidth_GBps']:.0f} GB/s." if bw
         else "No bandwidth.json: bandwidth fractions left out", ""]
ours = {t: load(f"ours-bench-{t}.json", parse_ours) for t in TYPES}
lb = {t: load(f"llama-bench-{t}.json", parse_llama_bench) for t in TYPES}

rows = []
for t in TYPES:
    o, l = ours[t] or {}, lb[t] or {}
    for kind in ("prefill", "decode"):
        if kind in o and kind in l:
            (n, ot), lt = o[kind], l[kind][1]
            fo, fl = (frac(l["size"], med(ot)), frac(l["size"], med(lt))) if kind == "decode" else ("-", "-")
            rows.append(f"| {t} | {kind} {n} | {cell(ot)} | {cell(lt)} | {ratio(ot, lt)} | {fo} | {fl} |")
if rows:
    lines += ["#### Single stream (`rbees-workerd bench` against `llama-bench`)", "",
              "| file | measurement | rbees-workerd tok/s | llama-bench tok/s | ratio | ours % of BW limit | llama-bench % of BW limit |",
              "|---|---|---:|---:|---:|---:|---:|"] + rows + [""]
else:
    note("no single-stream pair of ours-bench and llama-bench, skipping that table")

series = {}
bb, of = load_batched(), ours["f16"]
size = (lb["f16"] or {}).get("size")
if bb and of and (of["phase"] or of["agg"]):
    mine = of["phase"] or of["agg"]
    bs = sorted(set(mine) & set(bb))
    series["rbees-workerd engine"] = [[b, med(mine[b])] for b in sorted(mine)]
    series["llama-batched-bench"] = [[b, med(bb[b])] for b in sorted(bb)]
    lines += ["#### Aggregate decode (engine), F16: 16-token prompts, 128 tokens each", "",
              "Ours is the " + ("decode-phase rate (after every stream has its first token), as S_TG is"
                                if of["phase"] else "aggregate rate including prefill (no decode-phase figure in the file)")
              + "; llama-batched-bench `-npp 16 -ntg 128`.",
              "", row("B", map(str, bs)), "|---|" + "---:|" * len(bs),
              row("rbees-workerd tok/s", [cell(mine[b]) for b in bs]),
              row("llama-batched-bench S_TG tok/s", [cell(bb[b]) for b in bs]),
              row("ratio", [ratio(mine[b], bb[b]) for b in bs]),
              row("ours % of BW limit", [frac(size, med(mine[b]) / b) for b in bs]),
              row("llama-batched-bench % of BW limit", [frac(size, med(bb[b]) / b) for b in bs])]
    if of["phase"] and of["agg"]:
        lines.append(row("rbees-workerd incl. prefill tok/s", [cell(of["agg"].get(b)) for b in bs]))
    lines.append("")
else:
    note("no llama-batched-bench runs or no aggregate figures in ours-bench-f16.json, skipping that table")

hl, ho = load("http-llama-server.jsonl", parse_http), load("http-rbees-workerd.jsonl", parse_http)
if hl or ho:
    hl, ho = hl or {}, ho or {}
    lines += ["#### HTTP (F16, /v1/completions, identical short prompts, 128 tokens each; ours `--max-seqs 64` "
              "against `llama-server -np 64`, 32768-token context each)", "",
              "| streams | rbees-workerd tok/s | llama-server tok/s | ratio | failed requests (ours / llama-server) |",
              "|---:|---:|---:|---:|---|"]
    for n in sorted(set(hl) | set(ho)):
        o, t = ho.get(n, {}).get("ts"), hl.get(n, {}).get("ts")
        e = f"{ho.get(n, {}).get('errors', '-')} / {hl.get(n, {}).get('errors', '-')}"
        lines.append(f"| {n} | {cell(o)} | {cell(t)} | {ratio(o, t)} | {e} |")
    lines.append("")
    for name, h in (("rbees-workerd HTTP", ho), ("llama-server HTTP", hl)):
        if h:
            series[name] = [[n, med(h[n]["ts"])] for n in sorted(h)]

text = "\n".join(lines)
print(text)
out = a.out or a.dirs[0]
try:
    os.makedirs(out, exist_ok=True)
    if not os.access(out, os.W_OK) or os.stat(out).st_mode & 0o222 == 0:
        raise OSError("folder is read-only")
    open(os.path.join(out, "report.md"), "w").write(text + "\n")
    if series:
        plot = {"title": f"Aggregate decode (median of runs), llama2-7b F16, {bw['gpu'] if bw else 'GPU'}",
                "x_label": "concurrent streams (B)", "y_label": "tokens/s", "series": series}
        json.dump(plot, open(os.path.join(out, "plot.json"), "w"), indent=1)
        svg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plot_svg.py")
        subprocess.run([sys.executable, svg, os.path.join(out, "plot.json"), os.path.join(out, "plot.svg")], check=True)
    else:
        note("nothing to plot")
except (OSError, subprocess.CalledProcessError) as e:
    note(f"could not write into {out} ({e}); use --out DIR")
