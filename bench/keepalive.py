#!/usr/bin/python3
"""What per-hop keepalive costs: wsedge's CPU and memory per connection with
ping_interval 1s on 10,000 idle WebSocket sessions, against the same
sessions with keepalive off, in the same run.

Each session is pinged on both hops every second (the client, wsedge-bench
--mode idle, and the backend, wsedge-bench echo, answer every ping), so
10,000 sessions mean 20,000 pings and 20,000 pongs a second. This machine
caps each process at 20,000 descriptors and a session holds two, so the
sessions are split over three single-worker wsedge processes sharing the
port (SO_REUSEPORT spreads them unevenly; two could overflow). CPU is user + system time of both, over the measured
window, as a share of one core; memory is the growth of their resident
sets while the sessions are held, per session.

Usage: keepalive.py [--build DIR] [--conns 10000] [--seconds 30] [--out FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port, raise_fd_limit, wait_port  # noqa: E402
from idle_rss import rss_kb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """(user, system) seconds of these processes."""
    user = system = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / TICKS, system / TICKS


def measure(build, work, echo_port, conns, seconds, ping):
    port = free_port()
    limits = "limits: { ping_interval: 1s, ping_timeout: 10s }\n" if ping else ""
    procs = []
    for i in range(3):
        conf = os.path.join(work, f"wsedge-{'ping' if ping else 'off'}-{i}.yaml")
        with open(conf, "w") as f:
            f.write(f"workers: 1\nlisteners:\n  - address: 127.0.0.1:{port}\n    routes: [ {{ pool: e }} ]\n"
                    f"pools:\n  e:\n    backends: [ 127.0.0.1:{echo_port} ]\n{limits}")
        procs.append(subprocess.Popen([os.path.join(build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"],
                                      preexec_fn=raise_fd_limit))
    bench = os.path.join(build, "bench/wsedge-bench")
    url = f"ws://127.0.0.1:{port}/"
    try:
        wait_port(port)
        subprocess.run([bench, "run", "--url", url, "--conns", "200", "--size", "16KiB", "--duration", "3s",
                        "--warmup", "0s", "--json"], capture_output=True, timeout=60, preexec_fn=raise_fd_limit)
        time.sleep(1)
        pids = [p.pid for p in procs]
        before = rss_kb(pids)
        rate = 4000
        settle = conns / rate + 4
        hold = settle + seconds + 4
        idle = subprocess.Popen([bench, "run", "--url", url, "--mode", "idle", "--conns", str(conns),
                                 "--connect-rate", str(rate), "--duration", f"{int(hold)}s", "--warmup", "0s",
                                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                preexec_fn=raise_fd_limit)
        time.sleep(settle)
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(pids), time.monotonic()
        during = rss_kb(pids)
        out, _ = idle.communicate(timeout=hold + 60)
        report = json.loads(out)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
    span = t1 - t0
    return {"ping": ping, "conns": conns, "cpu_share": (sum(cpu1) - sum(cpu0)) / span,
            "user_share": (cpu1[0] - cpu0[0]) / span, "system_share": (cpu1[1] - cpu0[1]) / span,
            "kib_per_conn": (during - before) / conns, "upgraded": report["upgraded"], "errors": report["errors"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build-release"))
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "keepalive.md"))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="wsedge-keepalive-")
    echo_port = free_port()
    echo = subprocess.Popen([os.path.join(build, "bench/wsedge-bench"), "echo", "--listen", f"127.0.0.1:{echo_port}"],
                            stderr=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
    rows = []
    try:
        wait_port(echo_port)
        for ping in (False, True):
            r = measure(build, work, echo_port, args.conns, args.seconds, ping)
            rows.append(r)
            print(f"keepalive {'1s' if ping else 'off'}: {r['cpu_share'] * 100:.2f}% of a core, "
                  f"{r['kib_per_conn']:.2f} KiB per session, upgraded {r['upgraded']}, errors {r['errors']}",
                  file=sys.stderr)
    finally:
        echo.terminate()
        echo.wait(10)
    lines = ["| ping_interval | idle sessions | wsedge CPU (share of one core) | of which user | of which kernel "
             "| RSS per session | upgraded | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {'1s' if r['ping'] else 'off'} | {r['conns']:,} | {r['cpu_share'] * 100:.2f}% | "
                     f"{r['user_share'] * 100:.2f}% | {r['system_share'] * 100:.2f}% | "
                     f"{r['kib_per_conn']:.2f} KiB | {r['upgraded']:,} | {r['errors']} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"Keepalive cost, {args.seconds} s measured (`bench/keepalive.py`):\n\n" + table)


if __name__ == "__main__":
    main()
