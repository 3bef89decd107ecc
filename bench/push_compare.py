#!/usr/bin/python3
"""Push side by side: wsedge against nginx's nchan module, each with 2
workers, on one real redis-server (nchan in its Redis `nostore` mode, wsedge
with pubsub.redis), the same subscribers and the same publisher:
`wsedge-bench push`, 128 B messages, every message checked at every
subscriber for loss, duplicates and order, latency counted from the intended
publish time.

Scenarios (as issue 14 names them):
  fanout   1 channel x 10,000 subscribers at 100 publishes/s (1 M deliveries/s offered)
  unicast  10,000 channels x 1 subscriber at 10,000 publishes/s
  rooms    100 channels x 100 subscribers at 1,000 publishes/s
  rooms2k  the same at 2,000 publishes/s

Both are published through their HTTP publisher (nchan's publisher location,
wsedge's POST /publish, which goes through Redis) over 4 keep-alive
connections; wsedge is also measured with the publisher on Redis itself
(`PUBLISH wsedge:CH`, what services do), as `wsedge-redis`. Rounds are
interleaved; each run has a fresh Redis and proxy; the median round (by
deliveries/s) is reported. Also: the proxy's RSS per idle subscriber at
10,000 subscribers. Writes OUT/push_compare.md and OUT/push_compare.json.
Everything runs on 127.0.0.1; every process started is stopped.

Usage: push_compare.py [--quick] [--rounds N] [--duration S] [--scenarios a,b]
                       [--targets wsedge,wsedge-redis,nchan] [--build DIR] [--out DIR]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare import children, free_port, raise_fd_limit, wait_port  # noqa: E402
from idle_rss import rss_kb  # noqa: E402

SCENARIOS = {
    "fanout": ("1 channel x 10,000 subscribers at 100 publishes/s", 10000, 1, 100),
    "unicast": ("10,000 channels x 1 subscriber at 10,000 publishes/s", 10000, 10000, 10000),
    "rooms": ("100 channels x 100 subscribers at 1,000 publishes/s", 10000, 100, 1000),
    "rooms2k": ("100 channels x 100 subscribers at 2,000 publishes/s", 10000, 100, 2000),
}
TARGETS = ["wsedge", "wsedge-redis", "nchan"]
STARTED = []


class Proc:
    def __init__(self, name, cmd, workdir, port):
        self.name, self.port = name, port
        self.log = open(os.path.join(workdir, f"{name}.log"), "w")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir,
                                  start_new_session=True, preexec_fn=raise_fd_limit)
        STARTED.append(self)
        wait_port(port)

    def pids(self):
        return [self.p.pid] + children(self.p.pid)

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()


def ensure_tools():
    missing = []
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if not os.path.exists("/usr/lib/nginx/modules/ngx_nchan_module.so"):
        missing += ["nginx", "libnginx-mod-nchan"]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                       check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def start_redis(work):
    port = free_port()
    return Proc("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--client-output-buffer-limit", "pubsub", "256mb", "64mb", "60"],
                work, port)


def start_wsedge(work, build, redis_port):
    port, admin = free_port(), free_port()
    conf = os.path.join(work, "wsedge.yaml")
    with open(conf, "w") as f:
        f.write(f"""workers: 2
admin: {{ address: 127.0.0.1:{admin} }}
pubsub:
  redis: {{ address: 127.0.0.1:{redis_port}, prefix: "wsedge:" }}
listeners:
  - address: 127.0.0.1:{port}
    routes:
      - match: {{ path_prefix: /live }}
        push: {{ channels: path }}
""")
    proc = Proc("wsedge", [os.path.join(build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"], work, port)
    proc.admin = admin
    wait_port(admin)
    return proc


def start_nchan(work, redis_port):
    port = free_port()
    tmp = os.path.join(work, "nginx-tmp")
    os.makedirs(tmp, exist_ok=True)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
user root;
worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
worker_rlimit_nofile 40000;
events {{ worker_connections 30000; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  upstream redis_bus {{ nchan_redis_server redis://127.0.0.1:{redis_port}; nchan_redis_storage_mode nostore; nchan_redis_nostore_fastpublish on; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location ~ ^/sub/(.+)$ {{ nchan_subscriber websocket; nchan_channel_id $1; nchan_redis_pass redis_bus; }}
    location ~ ^/pub/(.+)$ {{ nchan_publisher http; nchan_channel_id $1; nchan_redis_pass redis_bus; }}
  }}
}}
""")
    return Proc("nchan", ["nginx", "-c", conf, "-p", work], work, port)


def start_target(work, build, target, procs, channel):
    """A fresh Redis and the target on it (appended to procs, to stop):
    (proxy, subscribers' URL with channel in it, the publisher's URL)."""
    redis = start_redis(work)
    procs.append(redis)
    if target == "nchan":
        proxy = start_nchan(work, redis.port)
        procs.append(proxy)
        return proxy, f"ws://127.0.0.1:{proxy.port}/sub/{channel}", f"http://127.0.0.1:{proxy.port}/pub"
    proxy = start_wsedge(work, build, redis.port)
    procs.append(proxy)
    publish = (f"redis://127.0.0.1:{redis.port}/wsedge:" if target == "wsedge-redis"
               else f"http://127.0.0.1:{proxy.admin}/publish")
    return proxy, f"ws://127.0.0.1:{proxy.port}/live/{channel}", publish


def run_one(build, target, scenario, duration):
    _, subs, channels, rate = SCENARIOS[scenario]
    work = tempfile.mkdtemp(prefix=f"push-{target}-")
    procs = []
    try:
        proxy, url, publish = start_target(work, build, target, procs, "{channel}")
        time.sleep(0.5)
        cmd = [os.path.join(build, "bench/wsedge-bench"), "push", "--url", url, "--publish", publish,
               "--subscribers", str(subs), "--channels", str(channels), "--rate", str(rate),
               "--size", "128", "--duration", f"{duration}s", "--warmup", "1s", "--settle", "2s",
               "--drain", "10s", "--allow-loss", "--json"]
        for pid in proxy.pids():
            cmd += ["--watch-pid", str(pid)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 180,
                             preexec_fn=raise_fd_limit)
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        if not line.startswith("{"):
            return {"target": target, "scenario": scenario, "error": out.stderr[-600:]}
        r = json.loads(line)
        r.update(target=target, scenario=scenario, exit=out.returncode,
                 stderr=[x for x in out.stderr.splitlines() if "error" in x][:3])
        return r
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


def idle_rss(build, target, subs=10000):
    """Proxy RSS per idle subscriber: the same subscribers, connected and quiet."""
    work = tempfile.mkdtemp(prefix=f"push-idle-{target}-")
    procs = []
    try:
        proxy, url, _ = start_target(work, build, target, procs, "idle")
        time.sleep(1)
        before = rss_kb(proxy.pids())
        load = subprocess.Popen([os.path.join(build, "bench/wsedge-bench"), "run", "--mode", "idle", "--url", url,
                                 "--conns", str(subs), "--connect-rate", "5000", "--warmup", "0s",
                                 "--duration", "8s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=raise_fd_limit)
        time.sleep(6)
        during = rss_kb(proxy.pids())
        load.wait(60)
        return {"target": target, "subscribers": subs, "rss_before_kb": before, "rss_kb": during,
                "bytes_per_subscriber": (during - before) * 1024 / subs}
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


def median_by(rows, key):
    good = sorted(rows, key=lambda r: r.get(key, 0))
    return good[len(good) // 2]


def report(results, idle, out_dir):
    lines = ["# Push: wsedge against nchan (bench/push_compare.py)", "",
             "Same machine, same run, interleaved rounds; 128 B messages; 2 workers each; one redis-server. "
             "`wsedge` is published through its admin POST /publish (which goes through Redis), `nchan` through "
             "its HTTP publisher, both over 4 keep-alive connections; `wsedge-redis` is published with "
             "PUBLISH on Redis itself. Deliveries/s count messages received in the measured window; latency is "
             "from the intended publish time (CO-corrected); lost = never delivered to a subscriber that stayed "
             "open; closed = subscribers the server closed (1013 for wsedge's full queue); unsent = publishes due "
             "that the HTTP publisher could not send because the server answered its requests too slowly.", "",
             "| scenario | target | deliveries/s | offered/s | p50 ms | p99 ms | p99.9 ms | max ms | lost | closed "
             "| unsent | proxy CPU µs/delivery |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for scenario in SCENARIOS:
        for target in TARGETS:
            rows = [r for r in results if r["scenario"] == scenario and r["target"] == target]
            if not rows:
                continue
            ok = [r for r in rows if "error" not in r]
            if not ok:
                lines.append(f"| {scenario} | {target} | failed: {rows[0]['error'][:80]!r} | | | | | | | | | |")
                continue
            r = median_by(ok, "deliveries_per_s")
            lines.append(
                f"| {scenario} | {target} | {r['deliveries_per_s']:,.0f} | {r['offered_deliveries_per_s']:,.0f} "
                f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} | {r['max_ms']:.1f} "
                f"| {r['lost']:,} | {r['closed_subscribers']:,} | {r.get('unsent', 0):,} "
                f"| {r.get('watched_cpu_us_per_delivery', 0):.2f} |")
    lines += ["", "## Ratios (median rounds)", ""]
    for scenario in SCENARIOS:
        def med(t):
            rows = [r for r in results if r["scenario"] == scenario and r["target"] == t and "error" not in r]
            return median_by(rows, "deliveries_per_s") if rows else None
        n = med("nchan")
        for t in ("wsedge", "wsedge-redis"):
            w = med(t)
            if n and w and n["deliveries_per_s"] and n["p99_ms"]:
                lines.append(f"- {scenario}, {t}/nchan: deliveries {w['deliveries_per_s'] / n['deliveries_per_s']:.2f}x, "
                             f"p99 {w['p99_ms'] / n['p99_ms']:.2f}x")
    if idle:
        lines += ["", "## Idle subscribers", "", "| target | subscribers | proxy RSS before | during | per subscriber |",
                  "|---|---:|---:|---:|---:|"]
        for i in idle:
            lines.append(f"| {i['target']} | {i['subscribers']:,} | {i['rss_before_kb']:,} KiB | {i['rss_kb']:,} KiB "
                         f"| {i['bytes_per_subscriber']:,.0f} B |")
    text = "\n".join(lines) + "\n"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "push_compare.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "push_compare.json"), "w") as f:
        json.dump({"runs": results, "idle": idle}, f, indent=1)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round of 3 s")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--no-idle", action="store_true", help="skip the idle-subscriber RSS")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "tmp", "push"))
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.duration = 1, 3
    ensure_tools()
    raise_fd_limit()
    scenarios = a.scenarios.split(",")
    targets = a.targets.split(",")
    results, idle = [], []
    try:
        for rnd in range(a.rounds):
            for scenario in scenarios:
                order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
                for target in order:
                    r = run_one(a.build, target, scenario, a.duration)
                    results.append(r)
                    print(f"round {rnd + 1} {scenario} {target}: " +
                          (f"{r['deliveries_per_s']:,.0f}/s p99 {r['p99_ms']:.2f} ms lost {r['lost']} "
                           f"closed {r['closed_subscribers']}" if "error" not in r else "failed " + r["error"][-200:]),
                          flush=True)
        if not a.no_idle:
            for target in ("wsedge", "nchan"):
                if target in targets:
                    idle.append(idle_rss(a.build, target))
    finally:
        for p in STARTED:
            p.stop()
    print(report(results, idle, a.out))


if __name__ == "__main__":
    main()
