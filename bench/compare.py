#!/usr/bin/python3
"""Side-by-side comparison: the same wsedge-bench scenarios through wsedge,
nginx, HAProxy and Caddy (each with 2 workers or threads, in front of the same
`wsedge-bench echo`), through the parse-nothing byte relay (the floor), and
straight to the backend (the baseline).

Every proxy's own CPU (user + system, from /proc/PID/stat) is read over the
measured window and divided by the messages echoed. Results go to
OUT/compare.md, OUT/compare.json and OUT/compare.png. Everything runs on
127.0.0.1; every process started is stopped.

Usage: compare.py [--quick] [--targets wsedge,nginx,...] [--scenarios a,b]
                  [--schemes ws,wss] [--out DIR] [--build DIR] [--baseline DIR]

--baseline DIR adds a target "baseline": wsedge built from another commit
(DIR is that build), run in the same interleaved rounds, so a change can be
shown not to cost anything. Target "observed" is wsedge with its access log
written to a file and /metrics scraped once a second.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = ["nginx", "haproxy", "caddy"]

# name: (title, wsedge-bench arguments, what the figure of merit is)
SCENARIOS = {
    "1k": ("100 conns x 1 KiB x 1 in flight", ["--conns", "100", "--size", "1KiB", "--inflight", "1"], "msgs"),
    "64b_rate": ("1,000 conns x 64 B, open loop at 20,000 msg/s",
                 ["--conns", "1000", "--size", "64", "--rate", "20000", "--connect-rate", "2000"], "latency"),
    "1m": ("10 conns x 1 MiB x 1 in flight", ["--conns", "10", "--size", "1MiB", "--inflight", "1"], "mb"),
    "64k": ("10 conns x 64 KiB x 1 in flight", ["--conns", "10", "--size", "64KiB", "--inflight", "1"], "msgs"),
    "64b": ("1,000 conns x 64 B x 1 in flight", ["--conns", "1000", "--size", "64", "--inflight", "1",
                                                "--connect-rate", "2000"], "msgs"),
}


_handed_out = set()


def free_port():
    """A free port, never one this process was given before (the kernel may
    offer a port it just freed again)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def raise_fd_limit():
    """For every child: as root, lift the descriptor limit for all alike."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if os.geteuid() == 0:
            resource.setrlimit(resource.RLIMIT_NOFILE, (1 << 20, 1 << 20))
            return
    except (ValueError, OSError):
        pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]
    except OSError:
        return []


def ensure_tools():
    """Installs the peers and plotting from Debian when missing."""
    need = {"nginx": "nginx-light", "haproxy": "haproxy", "caddy": "caddy"}
    missing = [pkg for tool, pkg in need.items() if not shutil.which(tool)]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        missing.append("python3-matplotlib")
    if missing:
        print(f"compare: installing {' '.join(missing)}", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                       check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


class Target:
    """A process (or none) that clients connect through."""

    def __init__(self, name, workdir, echo_port, build, cert):
        self.name, self.dir, self.echo, self.build, self.cert = name, workdir, echo_port, build, cert
        self.proc = None
        self.port = free_port()
        self.tls_port = free_port()
        self.log = open(os.path.join(workdir, f"{name}.log"), "w")

    def url(self, scheme):
        if self.name == "direct":
            return f"{scheme}://127.0.0.1:{self.echo_tls if scheme == 'wss' else self.echo}/"
        return f"{scheme}://127.0.0.1:{self.tls_port if scheme == 'wss' else self.port}/"

    def pids(self):
        if not self.proc:
            return []
        return [self.proc.pid] + children(self.proc.pid)

    def start(self):
        cmd, env = getattr(self, f"_{self.name}")()
        if cmd is None:
            return
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **env},
                                     cwd=self.dir, preexec_fn=raise_fd_limit)
        wait_port(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- one method per target: the command line and environment ------------

    def _direct(self):
        return None, {}

    def _relay(self):
        return [os.path.join(self.build, "bench/wsedge-bench"), "relay", "--listen", f"127.0.0.1:{self.port}",
                "--to", f"127.0.0.1:{self.echo}", "--threads", "2"], {}

    def _baseline(self):
        return self._wsedge(self.baseline_build)

    def _observed(self):
        """wsedge with the admin API scraped once a second and the access log to a file."""
        admin = free_port()
        extra = (f"admin: {{ address: 127.0.0.1:{admin} }}\n"
                 f"access_log: {{ path: {os.path.join(self.dir, 'access.log')} }}\n")

        def scrape():
            import urllib.request
            while self.proc is None or self.proc.poll() is None:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read()
                except OSError:
                    pass
                time.sleep(1)

        threading.Thread(target=scrape, daemon=True).start()
        return self._wsedge(extra=extra)

    def _wsedge(self, build=None, extra=""):
        tls = ""
        if self.cert:
            tls = (f"  - address: 127.0.0.1:{self.tls_port}\n"
                   f"    tls:\n      certificates:\n        - {{ cert: {self.cert[0]}, key: {self.cert[1]} }}\n"
                   "    routes: [ { pool: echo } ]\n")
        conf = self.write("wsedge.yaml", f"""workers: 2
listeners:
  - address: 127.0.0.1:{self.port}
    routes: [ {{ pool: echo }} ]
{tls}pools:
  echo:
    backends: [ 127.0.0.1:{self.echo} ]
{extra}""")
        return [os.path.join(build or self.build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"], {}

    def _nginx(self):
        tmp = os.path.join(self.dir, "nginx-tmp")
        os.makedirs(tmp, exist_ok=True)
        tls = ""
        if self.cert:
            tls = (f"listen 127.0.0.1:{self.tls_port} ssl;\n    ssl_certificate {self.cert[0]};\n"
                   f"    ssl_certificate_key {self.cert[1]};\n    ssl_protocols TLSv1.3;\n"
                   "    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;\n")
        conf = self.write("nginx.conf", f"""user root;
worker_processes 2;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 19000; }}
http {{
  access_log off;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{
    listen 127.0.0.1:{self.port};
    {tls}
    location / {{
      proxy_pass http://127.0.0.1:{self.echo};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }}
  }}
}}
""")
        return ["nginx", "-c", conf, "-p", self.dir], {}

    def _haproxy(self):
        tls = ""
        if self.cert:
            pem = self.write("haproxy.pem", open(self.cert[0]).read() + open(self.cert[1]).read())
            tls = (f"  bind 127.0.0.1:{self.tls_port} ssl crt {pem} ssl-min-ver TLSv1.3 "
                   "ciphersuites TLS_AES_128_GCM_SHA256\n")
        conf = self.write("haproxy.cfg", f"""global
  nbthread 2
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
frontend fe
  bind 127.0.0.1:{self.port}
{tls}  default_backend be
backend be
  server s1 127.0.0.1:{self.echo} maxconn 9000
""")
        return ["haproxy", "-f", conf, "-db"], {}

    def _caddy(self):
        tls = ""
        if self.cert:
            # Go does not let TLS 1.3 suites be configured; it follows the
            # client (wsedge-bench offers AES-128-GCM first on AES hardware).
            tls = (f"https://127.0.0.1:{self.tls_port} {{\n  tls {self.cert[0]} {self.cert[1]} {{\n"
                   "    protocols tls1.3\n  }\n"
                   f"  reverse_proxy 127.0.0.1:{self.echo}\n}}\n")
        conf = self.write("Caddyfile", f"""{{
  admin off
  auto_https off
}}
http://127.0.0.1:{self.port} {{
  reverse_proxy 127.0.0.1:{self.echo}
}}
{tls}""")
        return ["caddy", "run", "--config", conf, "--adapter", "caddyfile"], {
            "GOMAXPROCS": "2", "HOME": self.dir, "XDG_DATA_HOME": self.dir, "XDG_CONFIG_HOME": self.dir}


def run_bench(build, url, args, duration, warmup, pids, extra_env=None):
    cmd = [os.path.join(build, "bench/wsedge-bench"), "run", "--url", url, "--json", "--duration", duration,
           "--warmup", warmup, *args]
    if url.startswith("wss://"):
        cmd.append("--insecure")
    for pid in pids:
        cmd += ["--watch-pid", str(pid)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, preexec_fn=raise_fd_limit)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return {"errors": -1, "error_samples": [out.stderr[-500:]]}


def medians(runs, targets, schemes, scenarios):
    """One row per scenario, scheme and target: the run with the median
    figure of merit (a run with errors counts as the worst)."""
    rows = []
    for scheme in schemes:
        for scenario in scenarios:
            merit = SCENARIOS[scenario][2]
            for name in targets:
                group = [r for r in runs if (r["scheme"], r["scenario"], r["target"]) == (scheme, scenario, name)]
                if not group:
                    continue
                if merit == "latency":
                    key = lambda r: -r.get("p99_us", 0) if r.get("errors") == 0 else -float("inf")
                else:
                    field = "mb_per_s" if merit == "mb" else "msgs_per_s"
                    key = lambda r, f=field: r.get(f, 0) if r.get("errors") == 0 else -1
                group.sort(key=key)
                row = dict(group[len(group) // 2])
                row["runs"] = len(group)
                rows.append(row)
    return rows


def evaluate(rows):
    """Adds ratio_to_best_peer and target checks (issue #4's list) to each row."""
    by_key = {}
    for r in rows:
        by_key.setdefault((r["scenario"], r["scheme"]), []).append(r)
    for (scenario, scheme), group in by_key.items():
        merit = SCENARIOS[scenario][2]
        peers = [r for r in group if r["target"] in PEERS and r.get("errors", 1) == 0]
        relay = next((r for r in group if r["target"] == "relay"), None)
        for r in group:
            if merit == "latency":
                best = min((p["p99_us"] for p in peers), default=None)
                r["ratio_to_best_peer"] = r["p99_us"] / best if best else None
            elif merit == "mb":
                best = max((p["mb_per_s"] for p in peers), default=None)
                r["ratio_to_best_peer"] = r["mb_per_s"] / best if best else None
            else:
                best = max((p["msgs_per_s"] for p in peers), default=None)
                r["ratio_to_best_peer"] = r["msgs_per_s"] / best if best else None
            if relay and relay.get("watched_cpu_us_per_msg"):
                r["cpu_ratio_to_relay"] = r["watched_cpu_us_per_msg"] / relay["watched_cpu_us_per_msg"]
            r["goal"], r["met"] = goal_for(r, scenario, scheme)


def goal_for(r, scenario, scheme):
    if r["target"] != "wsedge" or r.get("ratio_to_best_peer") is None:
        return "", None
    ratio = r["ratio_to_best_peer"]
    if scenario == "64b_rate":
        return "p99 <= 0.7x best peer", ratio <= 0.7
    if scheme == "wss" and scenario in ("1k", "1m"):
        return ">= 1.5x best peer", ratio >= 1.5
    if scenario == "1k":
        cpu = r.get("cpu_ratio_to_relay")
        ok = ratio >= 1.0 and (cpu is None or cpu <= 1.1)
        return ">= 1.0x best peer msgs/s, CPU <= 1.1x relay", ok
    if scenario in ("1m", "64k"):
        return ">= 1.5x best peer", ratio >= 1.5
    if scenario == "64b":
        cpu = r.get("cpu_ratio_to_relay")
        return "CPU <= 1.1x relay", cpu is not None and cpu <= 1.1
    return "", None


def markdown(rows, meta):
    lines = [f"Measured {meta['date']} on {meta['machine']}; {meta['duration']} per run after "
             f"{meta['warmup']} warm-up; median of {meta['repeat']} interleaved runs; wsedge-bench with 1 thread; "
             "every proxy with 2 workers/threads.", "",
             "| scenario | scheme | target | msgs/s | MB/s | p50 | p99 | proxy CPU us/msg | vs best peer "
             "| CPU vs relay | TLS suite | goal | met |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        def num(k, f="{:,.0f}"):
            v = r.get(k)
            return f.format(v) if isinstance(v, (int, float)) else "-"
        errors = r.get("errors", 0)
        name = r["target"] + (f" ({errors} errors)" if errors else "")
        cpu = num("watched_cpu_us_per_msg", "{:.2f}") if r["target"] != "direct" else "-"
        met = {True: "yes", False: "**NO**", None: ""}[r.get("met")]
        lines.append(f"| {SCENARIOS[r['scenario']][0]} | {r['scheme']} | {name} | {num('msgs_per_s')} | "
                     f"{num('mb_per_s', '{:,.1f}')} | {num('p50_us', '{:,.0f} us')} | {num('p99_us', '{:,.0f} us')} | "
                     f"{cpu} | {num('ratio_to_best_peer', '{:.2f}x')} | {num('cpu_ratio_to_relay', '{:.2f}x')} | "
                     f"{r.get('tls_cipher', '') if r['scheme'] == 'wss' else ''} | {r.get('goal', '')} | {met} |")
    return "\n".join(lines) + "\n"


def chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = sorted({(r["scenario"], r["scheme"]) for r in rows}, key=lambda k: (k[1], k[0]))
    targets = [t for t in ["wsedge", "nginx", "haproxy", "caddy", "relay", "direct"] if any(r["target"] == t for r in rows)]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4.2), squeeze=False)
    colors = {"wsedge": "#d62728", "nginx": "#2ca02c", "haproxy": "#1f77b4", "caddy": "#9467bd",
              "relay": "#7f7f7f", "direct": "#bcbd22"}
    for ax, (scenario, scheme) in zip(axes[0], groups):
        merit = SCENARIOS[scenario][2]
        key, label = {"msgs": ("msgs_per_s", "messages/s"), "mb": ("mb_per_s", "MB/s"),
                      "latency": ("p99_us", "p99 latency (us), lower is better")}[merit]
        vals = []
        for t in targets:
            r = next((x for x in rows if x["scenario"] == scenario and x["scheme"] == scheme and x["target"] == t), None)
            vals.append(r.get(key, 0) if r and r.get("errors", 1) == 0 else 0)
        ax.bar(targets, vals, color=[colors[t] for t in targets])
        ax.set_title(f"{SCENARIOS[scenario][0]}\n{scheme}", fontsize=9)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5 s runs with 1 s warm-up (default 10 s and 2 s)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per scenario and target, interleaved across targets; the median is reported")
    ap.add_argument("--targets", default="wsedge,nginx,haproxy,caddy,relay,direct")
    ap.add_argument("--scenarios", default="1k,64b_rate,1m")
    ap.add_argument("--schemes", default="ws,wss")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--baseline", help="another wsedge build, compared as target 'baseline'")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.out = os.path.abspath(args.out)
    ensure_tools()
    duration, warmup = ("5s", "1s") if args.quick else ("10s", "2s")
    targets = args.targets.split(",")
    if args.baseline and "baseline" not in targets:
        targets.insert(targets.index("wsedge") + 1 if "wsedge" in targets else 0, "baseline")
    schemes = args.schemes.split(",")
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="wsedge-compare-")
    cert = None
    if "wss" in schemes:
        cert = (os.path.join(work, "cert.pem"), os.path.join(work, "key.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", cert[1], "-out", cert[0]],
                       check=True, capture_output=True)
    bench = os.path.join(args.build, "bench/wsedge-bench")
    echo_log = open(os.path.join(work, "echo.log"), "w")

    def start_echoes():
        """Fresh backends for every run: nothing one run did can slow the next."""
        ports = (free_port(), free_port())
        procs = [subprocess.Popen([bench, "echo", "--listen", f"127.0.0.1:{ports[0]}"], stdout=echo_log,
                                  stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit)]
        wait_port(ports[0])
        if "wss" in schemes:
            procs.append(subprocess.Popen([bench, "echo", "--listen", f"127.0.0.1:{ports[1]}", "--tls",
                                           f"{cert[0]},{cert[1]}"], stdout=echo_log, stderr=subprocess.STDOUT,
                                          preexec_fn=raise_fd_limit))
            wait_port(ports[1])
        return ports, procs

    rows, runs = [], []
    for scheme in schemes:
        for scenario in args.scenarios.split(","):
            for rep in range(args.repeat):
                for name in targets:
                    if scheme == "wss" and name == "relay":
                        continue  # the relay carries bytes; it cannot terminate TLS
                    (echo_port, echo_tls), echoes = start_echoes()
                    t = Target(name, work, echo_port, args.build, cert)
                    t.echo_tls = echo_tls
                    t.baseline_build = os.path.abspath(args.baseline) if args.baseline else None
                    try:
                        t.start()
                        time.sleep(0.3)
                        r = run_bench(args.build, t.url(scheme), SCENARIOS[scenario][1], duration, warmup, t.pids())
                    finally:
                        t.stop()
                        for e in echoes:
                            e.send_signal(signal.SIGTERM)
                            e.wait(10)
                    r.update({"scenario": scenario, "scheme": scheme, "target": name, "run": rep})
                    runs.append(r)
                    print(f"compare: {scheme} {scenario:9} {name:8} msgs/s {r.get('msgs_per_s', 0):>10,.0f} "
                          f"MB/s {r.get('mb_per_s', 0):>8,.1f} p99 {r.get('p99_us', 0):>8,.0f} us "
                          f"cpu/msg {r.get('watched_cpu_us_per_msg', 0):6.2f} us errors {r.get('errors')}",
                          file=sys.stderr)
    echo_log.close()
    rows = medians(runs, targets, schemes, args.scenarios.split(","))
    evaluate(rows)
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPUs, {os.uname().release}",
            "duration": duration, "warmup": warmup, "repeat": args.repeat}
    md = markdown(rows, meta)
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "runs": runs}, f, indent=1)
    try:
        chart(rows, os.path.join(args.out, "compare.png"))
    except Exception as e:  # the table matters more than the picture
        print(f"compare: no chart: {e}", file=sys.stderr)
    print(md)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
