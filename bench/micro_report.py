#!/usr/bin/python3
"""Runs wsedge-micro once and checks the codec targets as ratios within that run.

Usage: micro_report.py PATH/TO/wsedge-micro [--markdown OUT.md]
Exit status is 0 whatever the figures: this is a benchmark, not a test.
"""
import json
import subprocess
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    out = subprocess.run(
        [binary, "--benchmark_format=json", "--benchmark_min_time=0.3",
         "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
        check=True, capture_output=True, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]
        ns = b["cpu_time"]
        if name.startswith("BM_FrameParse") and b.get("items_per_second"):
            ns = 1e9 / b["items_per_second"]  # per frame, not per batch of frames
        rows[name] = {"ns": ns, "gbps": b.get("bytes_per_second", 0) / 1e9,
                      "label": b.get("label", "")}

    def gbps(name):
        return rows[name]["gbps"]

    checks = [
        ("BM_Unmask >= 0.8x BM_Memcpy at 16384",
         gbps("BM_Unmask/16384") / gbps("BM_Memcpy/16384"), 0.8, "ratio"),
        ("BM_Unmask at 64 B <= 10 ns per call", rows["BM_Unmask/64"]["ns"], 10.0, "max"),
        ("BM_Utf8Ascii >= 0.8x BM_Memcpy at 16384",
         gbps("BM_Utf8Ascii/16384") / gbps("BM_Memcpy/16384"), 0.8, "ratio"),
        ("BM_Utf8Mixed >= 5x BM_Utf8Scalar at 16384",
         gbps("BM_Utf8Mixed/16384") / gbps("BM_Utf8Scalar/16384"), 5.0, "ratio"),
    ]
    lines = ["| benchmark | 64 B | 1 KiB | 16 KiB | 1 MiB |", "|---|---|---|---|---|"]
    for base in ["BM_Memcpy", "BM_Unmask", "BM_UnmaskScalar", "BM_Utf8Ascii", "BM_Utf8Mixed",
                 "BM_Utf8Scalar", "BM_FrameParse"]:
        cells = []
        for size in [64, 1024, 16384, 1048576]:
            r = rows.get(f"{base}/{size}")
            cells.append(f"{r['gbps']:.1f} GB/s ({r['ns']:.1f} ns)" if r else "-")
        label = rows.get(f"{base}/64", {}).get("label", "")
        unit = " (ns per frame)" if base == "BM_FrameParse" else ""
        lines.append(f"| {base}{unit}{' [' + label + ']' if label else ''} | " + " | ".join(cells) + " |")
    hs = rows.get("BM_HandshakeParse")
    if hs:
        lines.append(f"| BM_HandshakeParse | {hs['ns']:.0f} ns per request ({hs['gbps']:.2f} GB/s) | | | |")
    lines += ["", "| target | measured | goal | met |", "|---|---|---|---|"]
    for name, value, goal, kind in checks:
        met = value >= goal if kind == "ratio" else value <= goal
        unit = "x" if kind == "ratio" else " ns"
        lines.append(f"| {name} | {value:.2f}{unit} | {goal}{unit} | {'yes' if met else 'NO'} |")
    text = "\n".join(lines)
    print(text)
    if "--markdown" in sys.argv:
        with open(sys.argv[sys.argv.index("--markdown") + 1], "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
