#!/usr/bin/python3
"""What terminating TLS costs each proxy, measured with a client that is not
ours: Node's ws library (over Node's OpenSSL for wss), CONNS connections
sharing RATE messages of SIZE bytes per second, every echo compared. For each
target and scheme, the proxy's own CPU (user + system of all its processes,
from /proc/PID/stat, from before the client starts to after it ends) is
divided by the messages echoed; wss minus ws is the cost of TLS. The client
pins TLS_AES_128_GCM_SHA256, the suite nginx and HAProxy are limited to in
compare.py, so every proxy pays for the same cipher. Rounds are interleaved
across targets; the median is reported. Writes OUT/tls-overhead.md.

Usage: tls_overhead.py [--targets wsedge,nginx,haproxy] [--baseline DIR] [--rate 10000]
                       [--conns 100] [--size 1024] [--seconds 10] [--repeat 3]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, Target, ensure_tools, free_port, raise_fd_limit, wait_port  # noqa: E402
from http_compare import cpu_ticks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    return cpu_ticks(pids) / TICKS


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="wsedge,nginx,haproxy")
    ap.add_argument("--baseline", help="another wsedge build, run as target 'baseline'")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    ensure_tools()
    targets = args.targets.split(",")
    if args.baseline and "baseline" not in targets:
        targets.insert(1, "baseline")
    work = tempfile.mkdtemp(prefix="wsedge-tls-overhead-")
    cert = (os.path.join(work, "cert.pem"), os.path.join(work, "key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", cert[1], "-out", cert[0]], check=True, capture_output=True)
    bench = os.path.join(os.path.abspath(args.build), "bench/wsedge-bench")
    results = {}  # (target, scheme) -> [cpu us per message]
    for rep in range(args.repeat):
        for scheme in ("ws", "wss"):
            for name in targets:
                echo_port = free_port()
                echo = subprocess.Popen([bench, "echo", "--listen", f"127.0.0.1:{echo_port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=raise_fd_limit)
                wait_port(echo_port)
                t = Target(name, work, echo_port, os.path.abspath(args.build), cert)
                t.echo_tls = None
                t.baseline_build = os.path.abspath(args.baseline) if args.baseline else None
                try:
                    t.start()
                    time.sleep(0.3)
                    pids = t.pids()
                    before = cpu_seconds(pids)
                    out = subprocess.run(
                        ["node", os.path.join(HERE, "alt/node_load.js"), t.url(scheme), str(args.conns),
                         str(args.size), str(args.rate), str(args.seconds)],
                        capture_output=True, text=True, timeout=120 + args.seconds,
                        env={**os.environ, "NODE_PATH": "/usr/share/nodejs", "TLS_CIPHERS": "TLS_AES_128_GCM_SHA256"})
                    used = cpu_seconds(pids) - before
                finally:
                    t.stop()
                    echo.send_signal(signal.SIGTERM)
                    echo.wait(10)
                try:
                    r = json.loads(out.stdout)
                except json.JSONDecodeError:
                    sys.exit(f"tls_overhead: {name} {scheme}: the client failed: {out.stderr[-400:]}")
                if r["mismatches"] or r["messages"] < 0.95 * r["sent"]:
                    sys.exit(f"tls_overhead: {name} {scheme}: {r}")
                us = used / r["messages"] * 1e6
                results.setdefault((name, scheme), []).append(us)
                print(f"tls_overhead: round {rep} {scheme:3} {name:8} {r['msgs_per_s']:>8,.0f} msg/s "
                      f"proxy CPU {us:6.2f} us/msg", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in results.items()}
    peers = [n for n in targets if n in ("nginx", "haproxy", "caddy")]
    best_wss = min((med[(n, "wss")] for n in peers), default=None)
    lines = [f"Node ws client (Node's OpenSSL, TLS_AES_128_GCM_SHA256 pinned), {args.conns} connections, "
             f"{args.size} B messages at {args.rate:,} msg/s for {args.seconds} s, against one wsedge-bench echo; "
             f"median of {args.repeat} interleaved rounds; measured {time.strftime('%Y-%m-%d')}.", "",
             "| target | ws CPU per message | wss CPU per message | TLS overhead | wss vs best peer |",
             "|---|---:|---:|---:|---:|"]
    for n in targets:
        ws, wss = med[(n, "ws")], med[(n, "wss")]
        vs = f"{wss / best_wss:.2f}x" if best_wss else "-"
        lines.append(f"| {n} | {ws:.2f} us | {wss:.2f} us | {wss - ws:+.2f} us | {vs} |")
    md = "\n".join(lines) + "\n"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tls-overhead.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
