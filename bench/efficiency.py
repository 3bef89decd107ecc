#!/usr/bin/python3
"""How much CPU the load generator itself spends per message: wsedge-bench
against a Node ws client (the fastest alternative installable here; artillery
runs on the same library with more on top), at the same rate against the same
wsedge-bench echo backend. Writes results/efficiency.md.

Usage: efficiency.py [--build DIR] [--rate 20000] [--conns 100] [--size 1024] [--seconds 10]
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port, raise_fd_limit, wait_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build-release"))
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    bench = os.path.join(os.path.abspath(args.build), "bench/wsedge-bench")
    port = free_port()
    echo = subprocess.Popen([bench, "echo", "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL,
                            preexec_fn=raise_fd_limit)
    rows = []
    try:
        wait_port(port)
        url = f"ws://127.0.0.1:{port}/"
        # The Node client sends from a 1 ms timer; --tick-us 1000 batches the same way. Tick 0 (the
        # default) wakes for every single send, which costs a wake-up per message.
        for tick, name in ((1000, "wsedge-bench --tick-us 1000"), (0, "wsedge-bench (default: a wake-up per send)")):
            out = subprocess.run([bench, "run", "--url", url, "--conns", str(args.conns), "--size", str(args.size),
                                  "--rate", str(args.rate), "--tick-us", str(tick), "--duration", f"{args.seconds}s",
                                  "--warmup", "2s", "--json"],
                                 capture_output=True, text=True, timeout=120)
            r = json.loads(out.stdout)
            rows.append((name, r["msgs_per_s"], r["cpu_us_per_msg"], r["errors"], r["p99_us"]))
        node = subprocess.run(["node", os.path.join(HERE, "alt/node_load.js"), url, str(args.conns), str(args.size),
                               str(args.rate), str(args.seconds)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "NODE_PATH": "/usr/share/nodejs"})
        n = json.loads(node.stdout.strip().splitlines()[-1])
        rows.append(("Node ws client (1 ms timer)", n["msgs_per_s"], n["cpu_s"] * 1e6 / max(n["messages"], 1),
                     n["mismatches"], None))
    finally:
        echo.terminate()
        echo.wait(10)
    node = rows[-1][2]
    lines = [f"{args.conns} connections, {args.size}-byte messages, {args.rate:,} msg/s offered, "
             f"{args.seconds} s, against wsedge-bench echo; each client's own CPU (user + system) per message "
             "echoed.", "",
             "| load generator | msgs/s | CPU per message | vs Node | p99 (from scheduled time) | errors |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, mps, cpu, err, p99 in rows:
        p99s = f"{p99:,.0f} us" if p99 is not None else "not measured"
        lines.append(f"| {name} | {mps:,.0f} | {cpu:.2f} us | {cpu / node:.2f}x | {p99s} | {err} |")
    lines += ["", f"Sending on the same 1 ms grid as the Node client, wsedge-bench spends **{node / rows[0][2]:.1f}x "
                  "less CPU per message** (goal: no more than the fastest alternative). It also checks every byte of "
                  "every echo and masks each frame with a fresh CSPRNG key; the Node client compares whole "
                  "messages. With the default `--tick-us 0` every send is its own wake-up, which is "
                  f"{rows[1][2] / node:.2f}x Node's CPU here: the price of sending each message at its exact "
                  "scheduled time, which the fixed-rate latency runs want."]
    text = "\n".join(lines) + "\n"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "efficiency.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
