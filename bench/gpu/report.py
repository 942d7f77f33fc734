#!/usr/bin/env python3
"""Prints the GPU benchmark report (rbees-workerd against llama.cpp) as Markdown, and writes a plot.

  report.py [--out DIR] OUTDIR [OUTDIR ...]
Reads, from the folders that bench/gpu/prepare.sh and measure.sh write into (the later folder wins when
a file is in several): bandwidth.json, llama-bench-{f16,q8_0,q4_0}.json, ours-bench-{f16,q8_0,q4_0}.txt,
llama-batched-bench-f16.txt, http-llama-server.jsonl, http-rbees-workerd.jsonl.
Prints three or four tables (single stream, aggregate decode, HTTP) with ratios ours/theirs and the
fraction of the memory-bandwidth limit (weight bytes x decode steps per second / copy bandwidth).
Writes DIR/report.md (the same text), DIR/plot.json and DIR/plot.svg (through bench/plot_svg.py);
DIR defaults to the first OUTDIR. A missing file skips its part with a one-line note on stderr.
Standard library only.
"""
import argparse
import json
import os
import re
import subprocess
import sys

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
    txt = txt.split("per forward pass")[0]  # the per-pass table that follows has look-alike labels
    r = {"agg": {}, "phase": {}}
    for kind in ("prefill", "decode"):
        m = re.search(rf"^{kind}, 1 stream, (\d+) tokens\s+([\d.]+)\s*$", txt, re.M)
        if m:
            r[kind] = (int(m.group(1)), float(m.group(2)))
    for key, label in (("agg", "decode aggregate"), ("phase", "decode phase")):
        for m in re.finditer(rf"^{label}, (\d+) streams.*\s([\d.]+)\s*$", txt, re.M):
            r[key][int(m.group(1))] = float(m.group(2))
    return r


def parse_llama_bench(txt):
    r = {}
    for e in json.loads(txt):
        kind = "prefill" if e["n_gen"] == 0 else "decode" if e["n_prompt"] == 0 else None
        if kind:
            r[kind] = (e["n_prompt"] or e["n_gen"], e["avg_ts"])
            r["size"] = e["model_size"]
    return r


def parse_batched(txt):
    rows, cols = {}, None
    for line in txt.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "S_TG t/s" in cells:
            cols = cells
        elif cols and len(cells) == len(cols) and cells[0].replace(".", "").isdigit():
            c = dict(zip(cols, cells))
            rows[int(c["B"])] = {"S_TG": float(c["S_TG t/s"]), "T_TG": float(c["T_TG s"])}
    return rows


def parse_jsonl(txt):
    return {j["streams"]: j for j in map(json.loads, filter(str.strip, txt.splitlines()))}


def f1(x):
    return "-" if x is None else f"{x:.1f}"


def ratio(o, t):
    return f"{o / t:.2f}" if o is not None and t else "-"


def row(name, vals):
    return f"| {name} | " + " | ".join(vals) + " |"


bw = load("bandwidth.json", json.loads)
bps = bw["bandwidth_GBps"] * 1e9 if bw else None


def frac(size, steps_per_s):
    return f"{100 * size * steps_per_s / bps:.1f}%" if bps and size and steps_per_s else "-"


lines = [f"GPU: {bw['gpu']}, device-to-device copy bandwidth {bw['bandwidth_GBps']:.0f} GB/s" if bw
         else "GPU: unknown (no bandwidth.json), bandwidth fractions left out", ""]
ours = {t: load(f"ours-bench-{t}.txt", parse_ours) for t in TYPES}
lb = {t: load(f"llama-bench-{t}.json", parse_llama_bench) for t in TYPES}

rows = []
for t in TYPES:
    o, l = ours[t] or {}, lb[t] or {}
    for kind in ("prefill", "decode"):
        if kind in o and kind in l:
            (n, ot), lt = o[kind], l[kind][1]
            fo, fl = (frac(l["size"], ot), frac(l["size"], lt)) if kind == "decode" else ("-", "-")
            rows.append(f"| {t} | {kind} {n} | {ot:.1f} | {lt:.1f} | {ot / lt:.2f} | {fo} | {fl} |")
if rows:
    lines += ["### Single stream", "",
              "| file | measurement | rbees-workerd tok/s | llama-bench tok/s | ratio | ours % of BW limit | llama-bench % of BW limit |",
              "|---|---|---:|---:|---:|---:|---:|"] + rows + [""]
else:
    note("no single-stream pair of ours-bench and llama-bench, skipping that table")

series = {}
bb, of = load("llama-batched-bench-f16.txt", parse_batched), ours["f16"]
size = (lb["f16"] or {}).get("size")
if bb and of and (of["phase"] or of["agg"]):
    mine = of["phase"] or of["agg"]
    bs = sorted(set(mine) & set(bb))
    series["rbees-workerd engine"] = [[b, mine[b]] for b in sorted(mine)]
    series["llama-batched-bench"] = [[b, bb[b]["S_TG"]] for b in sorted(bb)]
    lines += ["### Aggregate decode (engine), F16", "",
              "Note: ours is the " + ("decode-phase rate (after every stream has its first token), as S_TG is"
                                      if of["phase"] else "aggregate rate including prefill (no decode-phase figure in the file)"),
              "", row("B", map(str, bs)), "|---|" + "---:|" * len(bs),
              row("rbees-workerd tok/s", [f1(mine[b]) for b in bs]),
              row("llama-batched-bench S_TG tok/s", [f1(bb[b]["S_TG"]) for b in bs]),
              row("ratio", [ratio(mine[b], bb[b]["S_TG"]) for b in bs]),
              row("ours % of BW limit", [frac(size, mine[b] / b) for b in bs]),
              row("llama-batched-bench % of BW limit", [frac(size, bb[b]["S_TG"] / b) for b in bs])]
    if of["phase"] and of["agg"]:
        lines.append(row("rbees-workerd incl. prefill tok/s", [f1(of["agg"].get(b)) for b in bs]))
    lines.append("")
else:
    note("no llama-batched-bench table or no aggregate figures in ours-bench-f16.txt, skipping that table")

hl, ho = load("http-llama-server.jsonl", parse_jsonl), load("http-rbees-workerd.jsonl", parse_jsonl)
if hl or ho:
    hl, ho = hl or {}, ho or {}
    lines += ["### HTTP (F16, /v1/completions, 128 tokens each)", "",
              "| streams | rbees-workerd tok/s | llama-server tok/s | ratio | errors (ours / llama-server) |",
              "|---:|---:|---:|---:|---|"]
    for n in sorted(set(hl) | set(ho)):
        o, t = ho.get(n, {}).get("tokens_per_s"), hl.get(n, {}).get("tokens_per_s")
        e = f"{ho.get(n, {}).get('errors', '-')} / {hl.get(n, {}).get('errors', '-')}"
        lines.append(f"| {n} | {f1(o)} | {f1(t)} | {ratio(o, t)} | {e} |")
    lines.append("")
    for name, h in (("rbees-workerd HTTP", ho), ("llama-server HTTP", hl)):
        if h:
            series[name] = [[n, h[n]["tokens_per_s"]] for n in sorted(h)]

text = "\n".join(lines)
print(text)
out = a.out or a.dirs[0]
try:
    os.makedirs(out, exist_ok=True)
    if not os.access(out, os.W_OK) or os.stat(out).st_mode & 0o222 == 0:
        raise OSError("folder is read-only")
    open(os.path.join(out, "report.md"), "w").write(text + "\n")
    if series:
        plot = {"title": f"Aggregate decode, llama2-7b F16, {bw['gpu'] if bw else 'GPU'}",
                "x_label": "concurrent streams (B)", "y_label": "tokens/s", "series": series}
        json.dump(plot, open(os.path.join(out, "plot.json"), "w"), indent=1)
        svg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plot_svg.py")
        subprocess.run([sys.executable, svg, os.path.join(out, "plot.json"), os.path.join(out, "plot.svg")], check=True)
    else:
        note("nothing to plot")
except (OSError, subprocess.CalledProcessError) as e:
    note(f"could not write into {out} ({e}); use --out DIR")
