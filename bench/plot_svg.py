#!/usr/bin/env python3
"""Writes an SVG line plot of aggregate throughput against concurrency for several engines.

  plot_svg.py DATA.json OUT.svg
DATA.json: {"title": str, "x_label": str, "y_label": str, "series": {name: [[x, y], ...]}}
Standard library only; the x axis is logarithmic (base 2).
"""
import json
import math
import sys

data = json.load(open(sys.argv[1]))
W, H, L, R, T, B = 640, 400, 70, 160, 40, 50
xs = [p[0] for s in data["series"].values() for p in s]
ys = [p[1] for s in data["series"].values() for p in s]
x0, x1 = math.log2(min(xs)), math.log2(max(xs))
y1 = max(ys) * 1.1


def px(x):
    return L + (math.log2(x) - x0) / max(x1 - x0, 1e-9) * (W - L - R)


def py(y):
    return H - B - y / y1 * (H - T - B)


colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">{data["title"]}</text>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
         f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">{data["x_label"]}</text>',
         f'<text x="16" y="{(T+H-B)/2}" transform="rotate(-90 16 {(T+H-B)/2})" text-anchor="middle">{data["y_label"]}</text>']
for x in sorted(set(xs)):
    parts.append(f'<text x="{px(x)}" y="{H-B+16}" text-anchor="middle">{x}</text>')
for i in range(6):
    y = y1 * i / 5
    parts.append(f'<text x="{L-6}" y="{py(y)+4}" text-anchor="end">{y:.0f}</text>')
    parts.append(f'<line x1="{L}" y1="{py(y)}" x2="{W-R}" y2="{py(y)}" stroke="#ddd"/>')
for i, (name, pts) in enumerate(data["series"].items()):
    c = colors[i % len(colors)]
    path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
    for x, y in pts:
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
    parts.append(f'<text x="{W-R+10}" y="{T+20+18*i}" fill="{c}">{name}</text>')
parts.append("</svg>")
open(sys.argv[2], "w").write("\n".join(parts))
