#!/usr/bin/env python3
"""Where a benchmark's raw outputs go, and the meta.json that says what they are.

  results_meta.py dir KIND            creates and prints bench/results/<YYYY-MM-DD>-<machine>-<commit>/KIND
  results_meta.py write DIR k=v ...   writes DIR/meta.json: date, machine, commit, CPU, cores, plus k=v
                                      (a value that parses as JSON is stored as such, else as a string)
  results_meta.py get DIR KEY         prints one value of DIR/meta.json

machine: $MACHINE, else the CPU model and core count (e.g. amd-epyc-2c); commit: $RBEES_COMMIT (for a
copied tree whose git history is stale or absent), else `git rev-parse --short HEAD`. $RESULT_DIR
replaces the whole path of `dir`. Standard library only.
"""
import datetime
import json
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine():
    if os.environ.get("MACHINE"):
        return re.sub(r"[^a-z0-9]+", "-", os.environ["MACHINE"].lower()).strip("-")
    words = re.sub(r"\((R|TM|tm|r)\)|CPU|Processor|@.*|\d+-Core", " ", cpu_model()).lower().split()
    return "-".join(words[:3] + [f"{os.cpu_count()}c"])


def git(*args):
    r = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
    return r.stdout.rstrip() if r.returncode == 0 else ""


def commit():
    return os.environ.get("RBEES_COMMIT") or git("rev-parse", "--short", "HEAD") or "unknown"


def today():
    return datetime.date.today().isoformat()


def result_dir(kind):
    path = os.environ.get("RESULT_DIR") or os.path.join(HERE, "results", f"{today()}-{machine()}-{commit()}", kind)
    os.makedirs(path, exist_ok=True)
    return path


def write(path, pairs):
    meta = {"date": today(), "time_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S"),
            "machine": machine(), "commit": commit(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "kernel": platform.release()}
    # Tracked files changed since the commit (the copied tree on a GPU machine has no history: unknown).
    status = git("status", "--porcelain", "--untracked-files=no") if not os.environ.get("RBEES_COMMIT") else None
    meta["tree_modified"] = None if status is None else sorted(l[3:] for l in status.splitlines())
    os.makedirs(path, exist_ok=True)
    old = os.path.join(path, "meta.json")
    if os.path.isfile(old):  # a later step of the same run adds its keys to what the first wrote
        meta = json.load(open(old))
    for p in pairs:
        k, v = p.split("=", 1)
        try:
            meta[k] = json.loads(v)
        except ValueError:
            meta[k] = v
    json.dump(meta, open(old, "w"), indent=1)
    open(old, "a").write("\n")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "dir":
        print(result_dir(sys.argv[2]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "get":
        print(json.load(open(os.path.join(sys.argv[2], "meta.json")))[sys.argv[3]])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
