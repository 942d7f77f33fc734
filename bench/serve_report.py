#!/usr/bin/env python3
"""Markdown table and SVG plot of a serving benchmark run, from its raw files only.

  serve_report.py DIR [--out FILE.md] [--svg FILE.svg]
DIR is what bench/serve_bench.sh wrote: meta.json and one <server>-c<clients>-r<run>.json(.gz) per closed-loop
run, one <server>-q<rate>-r<run>.json(.gz) per open-loop run (bench/serve_bench.py's output, whose summary is
recomputed here from the per-request records).
Prints the tables (and writes them to --out); with several runs a cell is the median of the runs with
their min-max, and ratios are of the medians. --svg: throughput and TTFT p99 against clients, two
panels drawn by bench/plot_svg.py. A run of ours against another build of ours (serve_bench.sh
--ours-baseline) compares with that build where the others compare with llama-server.
"""
import argparse
import glob
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import summarize  # noqa: E402

OURS, ANCHOR, BASELINE = "ours", "llama-server", "ours-baseline"
NAMES = {OURS: "rbees-workerd", ANCHOR: "llama-server", BASELINE: "baseline build"}


def other_side(meta):
    """What ours is compared with: llama-server, or another build of ours when no llama-server ran."""
    return BASELINE if BASELINE in meta.get("servers", []) else ANCHOR
MEASURES = [  # label, how to read it from a summary, seconds (else a rate with that many decimals)
    ("output tok/s", lambda s: s["output_tok_s"], 1),
    ("requests/s", lambda s: s["requests_s"], 2),
    ("TTFT p50", lambda s: s["ttft_s"]["p50"], None),
    ("TTFT p99", lambda s: s["ttft_s"]["p99"], None),
    ("TPOT p50", lambda s: s["tpot_s"]["p50"], None),
    ("TPOT p99", lambda s: s["tpot_s"]["p99"], None),
    ("ITL p99", lambda s: s["itl_s"]["p99"], None),
]


def load_runs(folder):
    """{(server, clients): [(summary, raw) per run]} for closed loop; open loop keyed (server, "q<rate>")."""
    runs = {}
    paths = glob.glob(os.path.join(folder, "*-[cq]*.json")) + glob.glob(os.path.join(folder, "*-[cq]*.json.gz"))
    for path in sorted(paths):
        m = re.fullmatch(r"(.+)-(?:c(\d+)|(q(?:inf|\d+(?:\.\d+)?)))(?:-r(\d+))?\.json(?:\.gz)?",
                         os.path.basename(path))
        if m:
            raw = json.load(gzip.open(path, "rt") if path.endswith(".gz") else open(path))
            point = int(m.group(2)) if m.group(2) else m.group(3)
            runs.setdefault((m.group(1), point), []).append((summarize(raw["records"]), raw))
    return runs


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cell(values, digits):
    """One run: its value; several: median (min-max). Times in ms, or in s from a median of 1 s up."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    m = median(values)
    if digits is None:
        scale, digits, unit = (1000, 0, " ms") if m < 1 else (1, 2, " s")
    else:
        scale, unit = 1, ""
    f = lambda x: f"{x * scale:.{digits}f}"
    return f"{f(m)}{unit}" if len(values) == 1 else f"{f(m)}{unit} ({f(min(values))}-{f(max(values))})"


def header(meta, raw):
    w = raw["workload"]
    slots = "slots = clients" if meta["slots"] == "auto" else f"{meta['slots']} slots"
    where = meta["cpu"] if meta["device"] == "cpu" else f"{meta['gpu']} ({meta['device']})"
    modified = meta.get("tree_modified")
    tree = f" plus uncommitted changes to {len(modified)} tracked files" if modified else ""
    runs = meta.get("runs", 1)
    stat = (f"{runs} runs per point, alternating the servers; a cell is the median (min-max) of the runs"
            if runs > 1 else "one run per point")
    ours_opts = (f"`--max-seqs N --ctx-size N*{meta['ctx_per_slot']}"
                 f"{(' ' + meta['ours_args']) if meta.get('ours_args') else ''}`")
    if other_side(meta) == ANCHOR:
        sides = f"llama-server `-np N -c N*{meta['ctx_per_slot']} --cache-ram 0`, ours {ours_opts}"
        ratio = "Ratio: rbees-workerd / llama-server"
    else:
        sides = (f"both builds of ours {ours_opts}; the baseline build is `{meta.get('ours_baseline')}` "
                 f"({meta.get('ours_baseline_version', '').strip()})")
        ratio = "Ratio: this commit's rbees-workerd / the baseline build"
    return "\n".join([
        f"Serving benchmark, {meta['date']}, machine `{meta['machine']}` ({where}, {meta['cores']} cores), "
        f"commit {meta['commit']}{tree}.",
        "",
        f"Model `{os.path.basename(meta['model'])}`, {meta['threads']} threads, {slots}, "
        f"{meta['ctx_per_slot']} tokens of context per slot ({sides}). "
        f"Workload (bench/serve_bench.py): {len(w['requests'])} requests per point, each its own slice of "
        f"{os.path.basename(w['corpus'])}{opening(w)}; prompts {w['prompt_tokens']} tokens "
        f"({w['tokenizer'].split(' at ')[0]}), output {w['max_tokens']} tokens, ignore_eos, temperature "
        f"{raw['mode']['temperature']}{truncations(raw['mode'])}, seed {w['seed']}; {loops(meta)}, streaming "
        f"/v1/completions; {stat}. "
        "TPOT = (latency - TTFT) / (output tokens - 1); ITL: every gap between streamed tokens. "
        f"{ratio} (above 1 is better for rates, worse for times).",
    ])


def truncations(mode):
    """The requests' top_p, top_k and min_p where the run set them (older runs have none)."""
    given = [f"{k} {mode[k]}" for k in ("top_p", "top_k", "min_p") if mode.get(k) is not None]
    return (" with " + ", ".join(given)) if given else ""


def opening(w):
    """The shared opening of every prompt, where the workload has one."""
    p = w.get("shared_prefix")
    return (f", after the same opening slice of {p['tokens']} tokens (a blank line between; the own part's "
            "length below excludes it)") if p else ""


def loops(meta):
    """The modes the run measured, for the header."""
    if not meta.get("rates"):
        return "closed loop"
    modes = ["closed loop (each client sends its next request when its last one ends)"] if meta["clients"] else []
    if meta.get("rates"):
        modes.append(f"open loop on {meta['rate_slots']} slots (requests arrive at the rate, Poisson, whatever is "
                     "still running; arrivals seeded by the run, the same for both servers)")
    return " and ".join(modes)


def table(meta, runs, open_loop=False):
    other = other_side(meta)
    first = "requests/s offered" if open_loop else "clients"
    points = [f"q{r}" for r in meta.get("rates", [])] if open_loop else meta["clients"]
    rows = [f"| {first} | measure | rbees-workerd | {NAMES[other]} | ratio |", "|---:|---|---:|---:|---:|"]
    for point in points:
        c = point[1:] if open_loop else point
        o, a = ([s for s, _ in runs.get((n, point), [])] for n in (OURS, other))
        if not o and not a:
            continue
        for label, get, digits in MEASURES:
            vo, va = [get(s) for s in o], [get(s) for s in a]
            mo, ma = median(vo), median(va)
            r = f"{mo / ma:.2f}" if mo is not None and ma else "-"
            rows.append(f"| {c} | {label} | {cell(vo, digits)} | {cell(va, digits)} | {r} |")
        if any(raw["workload"].get("shared_prefix") for n in (OURS, other) for _, raw in runs.get((n, point), [])):
            # A shared opening's reuse, as each server reports it (usage.prompt_tokens_details).
            share = lambda side: [100.0 * s["cached_tokens"] / s["prompt_tokens"] for s in side if s["prompt_tokens"]]
            co, ca = share(o), share(a)
            rows.append(f"| {c} | prompt tokens from cache, % | {cell(co, 1)} | {cell(ca, 1)} | |")
        errs = [sum(s["errors"] for s in side) for side in (o, a)]
        if any(errs):
            rows.append(f"| {c} | errors (all runs) | {errs[0]} | {errs[1]} | |")
    return "\n".join(rows)


def notes(runs):
    """Requests counted differently by a server, and errors: what a reader should know of the figures."""
    out = []
    for (name, c), rs in sorted(runs.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        c = f"{c} clients" if isinstance(c, int) else f"{c[1:]} requests/s"
        for i, (s, _) in enumerate(rs, 1):
            odd = {k: s[k] for k in ("output_not_max_tokens", "chunks_not_tokens", "prompt_count_off") if s[k]}
            if odd or s["errors"]:
                out.append(f"- {NAMES.get(name, name)}, {c}, run {i}: {s['errors']} errors"
                           + "".join(f", {k} {v}" for k, v in odd.items())
                           + (f" (first: {s['first_errors'][0]})" if s["first_errors"] else ""))
    return "\n".join(out)


def plot(meta, runs, svg_path):
    if not meta["clients"]:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    panels = []
    for title, y_label, get in (("Output throughput", "output tokens/s", lambda s: s["output_tok_s"]),
                                ("TTFT p99", "milliseconds", lambda s: 1000 * (s["ttft_s"]["p99"] or 0.0))):
        series = {NAMES[n]: [[c, median([get(s) for s, _ in runs[(n, c)]])] for c in meta["clients"]
                             if (n, c) in runs] for n in (OURS, other_side(meta))}
        series = {k: v for k, v in series.items() if v}
        if not any(y for pts in series.values() for _, y in pts):
            return
        data = {"title": f"{title}, {meta['machine']} {meta['commit']}", "x_label": "clients",
                "y_label": y_label, "series": series}
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "d.json"), os.path.join(tmp, "p.svg")
            json.dump(data, open(src, "w"))
            subprocess.run([sys.executable, os.path.join(here, "plot_svg.py"), src, dst], check=True)
            panels.append(open(dst).read())
    # Two plot_svg.py charts side by side: nested <svg> elements, each moved by its x attribute.
    w = int(re.search(r'width="(\d+)"', panels[0]).group(1))
    h = int(re.search(r'height="(\d+)"', panels[0]).group(1))
    inner = [p.replace("<svg ", f'<svg x="{i * w}" y="0" ', 1) for i, p in enumerate(panels)]
    with open(svg_path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{h}">\n'
                + "\n".join(inner) + "\n</svg>\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--out", help="also write the markdown here")
    ap.add_argument("--svg", help="write the plot here")
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    runs = load_runs(a.dir)
    if not runs:
        sys.exit(f"no <server>-c<clients>-r<run>.json in {a.dir}")
    md = header(meta, next(iter(runs.values()))[0][1]) + "\n"
    if not meta.get("rates"):
        md += "\n" + table(meta, runs) + "\n"
    else:
        if meta["clients"]:
            md += "\nClosed loop:\n\n" + table(meta, runs) + "\n"
        md += "\nOpen loop:\n\n" + table(meta, runs, open_loop=True) + "\n"
    n = notes(runs)
    if n:
        md += "\nCounted differently or failed:\n" + n + "\n"
    print(md, end="")
    if a.out:
        open(a.out, "w").write(md)
    if a.svg:
        plot(meta, runs, a.svg)


if __name__ == "__main__":
    main()
