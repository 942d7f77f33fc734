#!/usr/bin/env python3
"""Markdown table and SVG plot of a serving benchmark run, from its raw files only.

  serve_report.py DIR [--out FILE.md] [--svg FILE.svg]
DIR is what bench/serve_bench.sh wrote: meta.json and one <server>-c<clients>.json per run
(bench/serve_bench.py's output, whose summary is recomputed here from the per-request records).
Prints the table (and writes it to --out); --svg: throughput and TTFT p99 against clients, two
panels drawn by bench/plot_svg.py.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import summarize  # noqa: E402

OURS, ANCHOR = "ours", "llama-server"
NAMES = {OURS: "rbees-workerd", ANCHOR: "llama-server"}


def load_runs(folder):
    runs = {}
    for path in glob.glob(os.path.join(folder, "*-c*.json")):
        m = re.fullmatch(r"(.+)-c(\d+)\.json", os.path.basename(path))
        if m:
            raw = json.load(open(path))
            runs[(m.group(1), int(m.group(2)))] = (summarize(raw["records"]), raw)
    return runs


def fmt_s(x):
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def header(meta, raw):
    w = raw["workload"]
    slots = "slots = clients" if meta["slots"] == "auto" else f"{meta['slots']} slots"
    where = meta["cpu"] if meta["device"] == "cpu" else f"{meta['gpu']} ({meta['device']})"
    dirty = " (with uncommitted changes)" if meta.get("dirty") else ""
    return "\n".join([
        f"Serving benchmark, {meta['date']}, machine {meta['machine']}: {where}, {meta['nproc']} cores; "
        f"commit {meta['commit']}{dirty}.",
        f"Model {os.path.basename(meta['model'])}, {meta['threads']} threads, {slots}, "
        f"{meta['ctx_per_slot']} tokens of context per slot (llama-server `-np N -c N*{meta['ctx_per_slot']} "
        f"--cache-ram 0`, ours `--max-seqs N --ctx-size N*{meta['ctx_per_slot']}`).",
        f"Workload: {len(w['requests'])} requests per client count, each its own slice of "
        f"{os.path.basename(w['corpus'])}; prompt {w['prompt_tokens']} tokens ({w['tokenizer'].split(' at ')[0]}), "
        f"output {w['max_tokens']} tokens, ignore_eos, temperature {raw['mode']['temperature']}, seed {w['seed']}; "
        f"closed loop, streaming /v1/completions (bench/serve_bench.py). "
        f"Ratio: rbees-workerd / llama-server (above 1 is better for rates, worse for times).",
    ])


def table(meta, runs):
    rows = ["| clients | measure | rbees-workerd | llama-server | ratio |", "|---:|---|---:|---:|---:|"]
    for c in meta["clients"]:
        o, a = (runs.get((n, c), (None,))[0] for n in (OURS, ANCHOR))
        if not o and not a:
            continue
        get = lambda s, k, q=None: (s[k][q] if q else s[k]) if s else None
        def num(x, d=1):
            return "-" if x is None else f"{x:.{d}f}"
        rows.append(f"| {c} | output tok/s | {num(get(o, 'output_tok_s'))} | {num(get(a, 'output_tok_s'))} | "
                    f"{ratio(get(o, 'output_tok_s'), get(a, 'output_tok_s'))} |")
        rows.append(f"| {c} | requests/s | {num(get(o, 'requests_s'), 2)} | {num(get(a, 'requests_s'), 2)} | "
                    f"{ratio(get(o, 'requests_s'), get(a, 'requests_s'))} |")
        for label, key, q in (("TTFT p50", "ttft_s", "p50"), ("TTFT p99", "ttft_s", "p99"),
                              ("TPOT p50", "tpot_s", "p50"), ("TPOT p99", "tpot_s", "p99"),
                              ("ITL p99", "itl_s", "p99")):
            rows.append(f"| {c} | {label} | {fmt_s(get(o, key, q))} | {fmt_s(get(a, key, q))} | "
                        f"{ratio(get(o, key, q), get(a, key, q))} |")
        errs = [get(s, "errors") or 0 for s in (o, a)]
        if any(errs):
            rows.append(f"| {c} | errors | {errs[0]} | {errs[1]} | |")
    return "\n".join(rows)


def notes(runs):
    """Requests counted differently by a server, and errors: what a reader should know of the figures."""
    out = []
    for (name, c), (s, _) in sorted(runs.items()):
        odd = {k: s[k] for k in ("output_not_max_tokens", "chunks_not_tokens", "prompt_count_off") if s[k]}
        if odd or s["errors"]:
            out.append(f"- {NAMES.get(name, name)}, {c} clients: {s['errors']} errors"
                       + "".join(f", {k} {v}" for k, v in odd.items())
                       + (f" (first: {s['first_errors'][0]})" if s["first_errors"] else ""))
    return "\n".join(out)


def plot(meta, runs, svg_path):
    here = os.path.dirname(os.path.abspath(__file__))
    panels = []
    for title, y_label, key in (("Output throughput", "output tokens/s", lambda s: s["output_tok_s"]),
                                ("TTFT p99", "milliseconds", lambda s: 1000 * (s["ttft_s"]["p99"] or 0.0))):
        series = {NAMES[n]: [[c, key(runs[(n, c)][0])] for c in meta["clients"] if (n, c) in runs]
                  for n in (OURS, ANCHOR)}
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
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{h}">\n' + "\n".join(inner) + "\n</svg>\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--out", help="also write the markdown here")
    ap.add_argument("--svg", help="write the plot here")
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    runs = load_runs(a.dir)
    if not runs:
        sys.exit(f"no <server>-c<clients>.json in {a.dir}")
    md = header(meta, next(iter(runs.values()))[1]) + "\n\n" + table(meta, runs) + "\n"
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
