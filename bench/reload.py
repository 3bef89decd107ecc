#!/usr/bin/python3
"""What a reload costs under live load: how long until the last worker has
switched to the new configuration, with thousands of live sessions, and
whether the latency of an echo running through it moves.

One wsedge (2 workers, admin API on) holds --conns idle WebSocket sessions
(wsedge-bench --mode idle) to a wsedge-bench echo backend. An open-loop
echo (--rate messages/s over 50 more connections) runs in rounds of
--seconds: a steady round with no reload, then a round during which the
configuration is reloaded (POST /reload, alternating two valid files that
move a route between two pools) every --every seconds. Rounds are
interleaved --repeat times; p99s are medians over the rounds of a kind.
The switch time is the proxy's own figure (POST /reload's switch_ms: from
posting the new snapshot to the last worker having it); the round trip of
POST /reload, which also reads, checks and resolves the file, is reported
beside it.

This machine caps each process at 20,000 descriptors and a session holds
two, so one proxy can hold at most about 9,990 sessions: --conns defaults
to 9,900.

Usage: reload.py [--build DIR] [--conns 9900] [--rate 2000] [--seconds 10]
                 [--every 0.5] [--repeat 3] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port, raise_fd_limit, wait_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def config(port, admin, echo, moved_to):
    return f"""workers: 2
admin: {{ address: 127.0.0.1:{admin} }}
listeners:
  - address: 127.0.0.1:{port}
    routes:
      - {{ name: moved, match: {{ path_prefix: /moved }}, pool: {moved_to} }}
      - {{ name: echo, pool: a }}
pools:
  a: {{ backends: [ 127.0.0.1:{echo} ] }}
  b: {{ backends: [ 127.0.0.1:{echo} ], retries: 1 }}
"""


def post(url):
    req = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def active(admin):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/backends", timeout=10) as r:
        pools = json.loads(r.read())["pools"]
    return sum(b["sessions"] for p in pools for b in p["backends"])


def echo_round(bench, url, rate, seconds):
    out = subprocess.run([bench, "run", "--url", url, "--conns", "50", "--rate", str(rate), "--size", "64",
                          "--duration", f"{seconds}s", "--warmup", "1s", "--json"],
                         capture_output=True, text=True, timeout=seconds + 60, preexec_fn=raise_fd_limit)
    return json.loads(out.stdout.splitlines()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "../build-release"))
    ap.add_argument("--conns", type=int, default=9900)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--every", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out")
    args = ap.parse_args()
    bench = os.path.join(args.build, "bench/wsedge-bench")
    work = tempfile.mkdtemp(prefix="wsedge-reload-")
    echo, port, admin = free_port(), free_port(), free_port()
    conf = os.path.join(work, "wsedge.yaml")
    with open(conf, "w") as f:
        f.write(config(port, admin, echo, "a"))
    procs = [subprocess.Popen([bench, "echo", "--listen", f"127.0.0.1:{echo}"], preexec_fn=raise_fd_limit)]
    proxy = subprocess.Popen([os.path.join(args.build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"],
                             preexec_fn=raise_fd_limit)
    procs.append(proxy)
    url = f"ws://127.0.0.1:{port}/moved"
    try:
        wait_port(echo)
        wait_port(port)
        wait_port(admin)
        # The idle sessions, from two client processes (each within its descriptor cap).
        hold = args.repeat * 2 * (args.seconds + 5) + 120
        for n in (args.conns // 2, args.conns - args.conns // 2):
            procs.append(subprocess.Popen([bench, "run", "--url", f"ws://127.0.0.1:{port}/", "--conns", str(n),
                                           "--mode", "idle", "--connect-rate", "5000", "--duration", f"{hold}s",
                                           "--warmup", "0s"], stdout=subprocess.DEVNULL,
                                          preexec_fn=raise_fd_limit))
        deadline = time.monotonic() + 60
        while active(admin) < args.conns and time.monotonic() < deadline:
            time.sleep(0.5)
        held = active(admin)
        print(f"{held} idle sessions held", file=sys.stderr)

        steady, reloading, switches, trips, generations = [], [], [], [], []
        for _ in range(args.repeat):
            steady.append(echo_round(bench, url, args.rate, args.seconds)["p99_us"])
            stop = threading.Event()

            def reloader():
                moved = "a"
                while not stop.is_set():
                    moved = "b" if moved == "a" else "a"
                    with open(conf, "w") as f:
                        f.write(config(port, admin, echo, moved))
                    t0 = time.monotonic()
                    r = post(f"http://127.0.0.1:{admin}/reload")
                    trips.append((time.monotonic() - t0) * 1000)
                    assert r["ok"], r
                    switches.append(r["switch_ms"])
                    generations.append(r["generation"])
                    stop.wait(args.every)

            t = threading.Thread(target=reloader)
            t.start()
            result = echo_round(bench, url, args.rate, args.seconds)
            stop.set()
            t.join()
            reloading.append(result["p99_us"])
            assert result["errors"] == 0 and result["unexpected_closes"] == 0, result
        still = active(admin)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()

    rows = [
        "| idle sessions held | reloads | switch_ms median / max | POST /reload round trip median / max "
        "| echo p99 steady | echo p99 while reloading | difference | sessions after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {held:,} | {len(switches)} | {statistics.median(switches):.0f} / {max(switches)} ms "
        f"| {statistics.median(trips):.1f} / {max(trips):.1f} ms "
        f"| {statistics.median(steady) / 1000:.3f} ms | {statistics.median(reloading) / 1000:.3f} ms "
        f"| {(statistics.median(reloading) - statistics.median(steady)) / 1000:+.3f} ms | {still:,} |",
    ]
    text = "\n".join(rows)
    print(text)
    print(f"p99 by round, steady: {[round(x) for x in steady]} us; reloading: {[round(x) for x in reloading]} us;"
          f" last generation {max(generations)}", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"Reload under load (`bench/reload.py --conns {args.conns} --rate {args.rate} "
                    f"--seconds {args.seconds} --every {args.every} --repeat {args.repeat}`):\n\n{text}\n")


if __name__ == "__main__":
    main()
