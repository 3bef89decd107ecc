#!/usr/bin/python3
"""Memory per idle WebSocket connection: the growth of the proxy's resident
set while N upgraded, silent connections are held, divided by N.

Each proxy is warmed up first (traffic through it touches its buffers), so
the baseline includes fixed costs and the growth is what each connection
adds. Clients and backend are wsedge-bench (run --mode idle, and echo).

This machine caps every process at 20,000 descriptors (CAP_SYS_RESOURCE is
withheld, so the hard limit cannot be raised). A proxied connection holds
two sockets, so one process can hold at most ~9,990 of them: each proxy is
measured at 9,000; wsedge also at the full 10,000, split over two processes
(one worker each) sharing the port with SO_REUSEPORT, which changes nothing
per connection.

Usage: idle_rss.py [--conns 9000] [--targets wsedge,wsedge-2proc,nginx,haproxy,caddy] [--scheme ws|wss]
                   [--build DIR] [--out FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import Target, free_port, raise_fd_limit, wait_port  # noqa: E402


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def measure(build, work, echo_port, name, conns, scheme, cert):
    procs = []
    if name == "wsedge-2proc":
        # Two single-worker processes on one port: 10,000 sessions need more
        # than the 20,000 descriptors one process may hold here.
        port = free_port()
        tls = (f"    tls:\n      certificates: [ {{ cert: {cert[0]}, key: {cert[1]} }} ]\n"
               if scheme == "wss" else "")
        for i in range(2):
            conf = os.path.join(work, f"wsedge-2proc-{i}.yaml")
            with open(conf, "w") as f:
                f.write(f"workers: 1\nlisteners:\n  - address: 127.0.0.1:{port}\n{tls}    routes: [ {{ pool: e }} ]\n"
                        f"pools:\n  e:\n    backends: [ 127.0.0.1:{echo_port} ]\n")
            procs.append(subprocess.Popen([os.path.join(build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"],
                                          preexec_fn=raise_fd_limit))
        wait_port(port)
        url = f"{scheme}://127.0.0.1:{port}/"
        current_pids = lambda: [p.pid for p in procs]  # noqa: E731
        stop = lambda: [p.terminate() or p.wait(10) for p in procs]  # noqa: E731
    else:
        t = Target(name, work, echo_port, build, cert if scheme == "wss" else None)
        t.start()
        url = t.url(scheme)
        current_pids = t.pids  # nginx: the master and its workers
        stop = t.stop
    bench = os.path.join(build, "bench/wsedge-bench")
    try:
        # Warm up: touch the receive buffers and pools of every worker.
        tls_args = ["--insecure"] if scheme == "wss" else []
        subprocess.run([bench, "run", "--url", url, "--conns", "200", "--size", "16KiB", "--duration", "3s",
                        "--warmup", "0s", "--json", *tls_args], capture_output=True, timeout=60,
                       preexec_fn=raise_fd_limit)
        time.sleep(1)
        pids = current_pids()
        before = rss_kb(pids)
        rate = 4000
        hold = conns / rate + 8
        idle = subprocess.Popen([bench, "run", "--url", url, "--mode", "idle", "--conns", str(conns),
                                 "--connect-rate", str(rate), "--duration", f"{int(hold)}s", "--warmup", "0s",
                                 "--json", *tls_args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                preexec_fn=raise_fd_limit)
        time.sleep(conns / rate + 4)
        during = rss_kb(pids)
        out, _ = idle.communicate(timeout=hold + 60)
        report = json.loads(out)
    finally:
        stop()
    ok = report["upgraded"] == conns and report["errors"] == 0
    return {"target": name, "scheme": scheme, "conns": conns, "rss_before_kib": before, "rss_during_kib": during,
            "kib_per_conn": (during - before) / conns, "upgraded": report["upgraded"], "errors": report["errors"],
            "valid": ok}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=9000)
    ap.add_argument("--targets", default="wsedge,wsedge-2proc,nginx,haproxy,caddy")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                     "build-release"))
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file")
    ap.add_argument("--scheme", default="ws", choices=["ws", "wss"])
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="wsedge-idle-")
    cert = None
    if args.scheme == "wss":
        cert = (os.path.join(work, "cert.pem"), os.path.join(work, "key.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", cert[1], "-out", cert[0]], check=True, capture_output=True)
    echo_port = free_port()
    echo = subprocess.Popen([os.path.join(args.build, "bench/wsedge-bench"), "echo", "--listen",
                             f"127.0.0.1:{echo_port}"], stderr=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
    rows = []
    try:
        wait_port(echo_port)
        for name in args.targets.split(","):
            conns = 10000 if name == "wsedge-2proc" else args.conns
            r = measure(args.build, work, echo_port, name, conns, args.scheme, cert)
            rows.append(r)
            print(f"idle: {name:13} {conns} conns: {r['kib_per_conn']:.2f} KiB per connection "
                  f"({r['rss_before_kib'] / 1024:.1f} -> {r['rss_during_kib'] / 1024:.1f} MiB), "
                  f"upgraded {r['upgraded']}, errors {r['errors']}", file=sys.stderr)
    finally:
        echo.terminate()
        echo.wait(10)
    lines = ["| target | scheme | idle connections | RSS before | RSS while held | per connection |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        flag = "" if r["valid"] else " (not all upgraded: invalid)"
        lines.append(f"| {r['target']}{flag} | {r['scheme']} | {r['conns']:,} | {r['rss_before_kib'] / 1024:.1f} MiB | "
                     f"{r['rss_during_kib'] / 1024:.1f} MiB | {r['kib_per_conn']:.2f} KiB |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
