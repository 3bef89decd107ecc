#!/usr/bin/python3
"""What routing costs: the handshake rate through one wsedge worker with 100
routes of mixed matchers (only the last one matching) against the same
worker with one route, in the same run.

Both proxies run side by side (one worker each) in front of one
wsedge-bench echo backend; wsedge-bench --mode storm connects, upgrades and
closes over and over. Runs are interleaved and the medians compared, as
ratios: handshakes per second, and handshakes per second of the proxy's own
CPU (user + system), which the load generator sharing the cores distorts
less.

Usage: routing.py [--build DIR] [--seconds 8] [--repeat 3] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port, raise_fd_limit, wait_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def hundred_routes():
    """99 routes that do not match /target/... (each kind of matcher), then the one that does."""
    kinds = [
        "{{ path: /exact/{i} }}",
        "{{ path_prefix: /prefix{i} }}",
        "{{ path_regex: '^/room{i}/[0-9]+$' }}",
        "{{ host: 'h{i}.example.com', path_prefix: /target }}",
        "{{ host: '*.w{i}.example.com' }}",
        "{{ path_prefix: /target, header: [ {{ name: X-Tenant, value: t{i} }} ] }}",
        "{{ path_prefix: /target, query: {{ name: v, value: 'q{i}' }} }}",
        "{{ path_prefix: /target, subprotocol: proto{i} }}",
    ]
    routes = [f"      - match: {kinds[i % len(kinds)].format(i=i)}\n        pool: e\n" for i in range(99)]
    routes.append("      - match: { path_prefix: /target }\n        pool: e\n")
    return "".join(routes)


def config(port, echo_port, routes):
    return (f"workers: 1\nlisteners:\n  - address: 127.0.0.1:{port}\n    routes:\n{routes}"
            f"pools:\n  e:\n    backends: [ 127.0.0.1:{echo_port} ]\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build-release"))
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "routing.md"))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    bench = os.path.join(build, "bench/wsedge-bench")
    work = tempfile.mkdtemp(prefix="wsedge-routing-")
    echo_port = free_port()
    variants = {"1 route": "      - match: { path_prefix: /target }\n        pool: e\n",
                "100 routes": hundred_routes()}
    procs, ports = [], {}
    echo = subprocess.Popen([bench, "echo", "--listen", f"127.0.0.1:{echo_port}"], stderr=subprocess.DEVNULL,
                            preexec_fn=raise_fd_limit)
    results = {name: [] for name in variants}
    try:
        wait_port(echo_port)
        for name, routes in variants.items():
            port = free_port()
            conf = os.path.join(work, f"{name.replace(' ', '-')}.yaml")
            with open(conf, "w") as f:
                f.write(config(port, echo_port, routes))
            p = subprocess.Popen([os.path.join(build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"],
                                 preexec_fn=raise_fd_limit)
            procs.append(p)
            wait_port(port)
            ports[name] = (port, p.pid)
        for _ in range(args.repeat):
            for name, (port, pid) in ports.items():
                cmd = [bench, "run", "--url", f"ws://127.0.0.1:{port}/target/x", "--mode", "storm", "--conns", "20",
                       "--duration", f"{args.seconds}s", "--warmup", "1s", "--json", "--watch-pid", str(pid)]
                r = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                                              preexec_fn=raise_fd_limit).stdout)
                per_cpu = r["handshakes_per_s"] * r["duration_s"] / r["watched_cpu_s"]
                results[name].append((r["handshakes_per_s"], per_cpu, r["errors"]))
                print(f"routing: {name:10} {r['handshakes_per_s']:9,.0f} handshakes/s, {per_cpu:9,.0f} per proxy "
                      f"CPU-second, {r['errors']} errors", file=sys.stderr)
    finally:
        for p in procs + [echo]:
            p.terminate()
            p.wait(10)
    med = {n: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
               sum(x[2] for x in v)) for n, v in results.items()}
    base = med["1 route"]
    lines = ["| config | handshakes/s (median) | per proxy CPU-second (median) | ratio to 1 route (rate, CPU) | errors |",
             "|---|---:|---:|---:|---:|"]
    for name, (rate, per_cpu, errors) in med.items():
        lines.append(f"| {name} | {rate:,.0f} | {per_cpu:,.0f} | {rate / base[0]:.3f}, {per_cpu / base[1]:.3f} | {errors} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"Routing cost, {args.repeat} interleaved runs of {args.seconds} s (`bench/routing.py`):\n\n"
                    + table)


if __name__ == "__main__":
    main()
