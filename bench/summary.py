"""The one statistic every benchmark figure is reported with: the median of the runs, with their range.

Shared by bench/cpu_report.py, bench/gpu/report.py and bench/make_results.py. Standard library only.
"""
import json
import os
import statistics


def median_range(samples):
    """(median, min, max) of a list of numbers, or None when it is empty."""
    s = [float(x) for x in samples if x is not None]
    return (statistics.median(s), min(s), max(s)) if s else None


def cell(samples, digits=1):
    """'median (min-max)' for a table cell; '-' when there is nothing."""
    m = median_range(samples)
    if m is None:
        return "-"
    return f"{m[0]:.{digits}f} ({m[1]:.{digits}f}-{m[2]:.{digits}f})"


def ratio(ours, theirs):
    """Ratio of the medians, or '-'."""
    a, b = median_range(ours), median_range(theirs)
    return f"{a[0] / b[0]:.2f}" if a and b and b[0] else "-"


def load_meta(folder):
    path = os.path.join(folder, "meta.json")
    return json.load(open(path)) if os.path.isfile(path) else {}


def jsonl(path):
    """The JSON objects of a file that holds one a line; other lines (logs, blank) are skipped."""
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def provenance(meta, folder):
    """The line every section starts with: date, machine, commit, where the raw outputs are."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rel = os.path.relpath(os.path.abspath(folder), root)
    modified = meta.get("tree_modified")
    tree = ("" if modified is None or not modified
            else f" plus uncommitted changes to {len(modified)} tracked files (listed in meta.json)")
    return (f"Date {meta.get('date', '?')}, machine `{meta.get('machine', '?')}` ({meta.get('cpu', '?')}, "
            f"{meta.get('cores', '?')} cores), commit {meta.get('commit', '?')}{tree}. Raw outputs: `{rel}/`.")
