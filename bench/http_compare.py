#!/usr/bin/python3
"""Plain HTTP/1.1 proxying side by side: `wrk` through wsedge, nginx, HAProxy
and Caddy (2 workers or threads each, as in compare.py), and straight to the
backend (the baseline). The backend is one nginx (1 worker, keep-alive)
answering `200 "hello\\n"`.

Before anything is measured, one GET through every target must answer 200 with
the body "hello\\n", twice on one kept-alive connection. A target that fails
this, or a wrk run with non-2xx responses or socket errors, is reported as a
failure (and the exit status is 1), never as a figure.

Rounds are interleaved (each round runs every target once, the order rotated
each round), every run with a fresh backend and proxy, a warm-up, then
`wrk -t 1 -c 100 -d DURATION --latency`. Per target: req/s (the round with the
median req/s supplies every figure of the row), p50/p99 from wrk's latency
distribution, the proxy's own CPU (user + system over all its processes, from
/proc/PID/stat) per request, the connections the backend accepted during the
measured window (how well the proxy pools), and the req/s against the best of
nginx and HAProxy. Writes OUT/http_compare.md and OUT/http_compare.json.
Everything runs on 127.0.0.1; every process started is stopped.

Usage: http_compare.py [--quick] [--rounds N] [--duration S] [--targets a,b]
                       [--max-idle N] [--build DIR] [--out DIR]
"""
import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare import children, free_port, raise_fd_limit  # noqa: E402

PEERS = ["nginx", "haproxy"]  # the ratio is to the best of these
TARGETS = ["wsedge", "nginx", "haproxy", "caddy", "direct"]
BODY = b"hello\n"
WARMUP_S = 1
STARTED = []  # every Proc started, stopped in main's finally whatever happens


class Failure(Exception):
    pass


class Proc:
    """A child in its own process group, so stopping it also stops its
    children (nginx's workers), and Ctrl-C reaches only this script."""

    def __init__(self, name, cmd, workdir, port, env=None, stop_signal=signal.SIGTERM):
        self.name, self.port, self.stop_signal = name, port, stop_signal
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.log_path, "w") as log:
            try:
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                             env={**os.environ, **(env or {})}, preexec_fn=raise_fd_limit,
                                             start_new_session=True)
            except OSError as e:
                raise Failure(f"{name}: cannot start {cmd[0]}: {e}")
        STARTED.append(self)
        try:
            self.wait_listening()
        except BaseException:
            self.stop()
            STARTED.remove(self)
            raise

    def wait_listening(self, timeout=15):
        import socket
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise Failure(f"{self.name}: nothing listening on 127.0.0.1:{self.port} after {timeout} s")

    def log_tail(self, chars=400):
        try:
            with open(self.log_path, errors="replace") as f:
                return " / ".join(f.read()[-chars:].strip().splitlines())
        except OSError:
            return ""

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, self.stop_signal)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        try:  # whatever is left of the group (the leader, or orphaned workers)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def start_backend(d):
    port, status = free_port(), free_port()
    tmp = os.path.join(d, "tmp")
    os.makedirs(tmp, exist_ok=True)
    # keepalive_requests lifted so that the backend never closes a proxy's
    # pooled connection: the connections it accepts then say how the proxy pools.
    conf = write(os.path.join(d, "backend.conf"), f"""user root;
worker_processes 1;
daemon off;
pid {d}/backend.pid;
error_log {d}/backend-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 10000; }}
http {{
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 100000000;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "hello\\n"; }}
  }}
  server {{
    listen 127.0.0.1:{status};
    location / {{ stub_status; }}
  }}
}}
""")
    p = Proc("backend", ["nginx", "-c", conf, "-p", d], d, port)
    p.status_port = status
    return p


class BackendAccepts:
    """Connections the backend has accepted so far (nginx stub_status), read
    over one kept-alive connection so that reading adds none."""

    def __init__(self, backend):
        self.conn = http.client.HTTPConnection("127.0.0.1", backend.status_port, timeout=5)

    def __call__(self):
        try:
            self.conn.request("GET", "/")
            return int(self.conn.getresponse().read().decode().splitlines()[2].split()[0])
        except (OSError, http.client.HTTPException, IndexError, ValueError) as e:
            raise Failure(f"the backend's stub_status: {e}")

    def close(self):
        self.conn.close()


def target_command(name, d, port, backend, build, max_idle=32):
    """(command, environment, stop signal) for one target; max_idle: idle
    backend connections kept per worker (wsedge, nginx) or per host (Caddy)."""
    be = f"127.0.0.1:{backend}"
    if name == "wsedge":
        conf = write(os.path.join(d, "wsedge.yaml"), f"""workers: 2
listeners:
  - address: 127.0.0.1:{port}
    routes: [ {{ pool: backend }} ]
pools:
  backend:
    backends: [ {be} ]
limits:
  upstream_keepalive: {{ max_idle: {max_idle}, idle_timeout: 30s }}
""")
        # SIGINT stops at once (SIGTERM would drain).
        return [os.path.join(build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"], {}, signal.SIGINT
    if name == "nginx":
        tmp = os.path.join(d, "tmp")
        os.makedirs(tmp, exist_ok=True)
        conf = write(os.path.join(d, "nginx.conf"), f"""user root;
worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 10000; }}
http {{
  access_log off;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  upstream backend {{
    server {be};
    keepalive {max_idle};
    keepalive_timeout 30s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
        return ["nginx", "-c", conf, "-p", d], {}, signal.SIGTERM
    if name == "haproxy":
        conf = write(os.path.join(d, "haproxy.cfg"), f"""global
  nbthread 2
  maxconn 4000
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
frontend fe
  bind 127.0.0.1:{port}
  default_backend be
backend be
  server s1 {be}
""")
        return ["haproxy", "-f", conf, "-db"], {}, signal.SIGTERM
    if name == "caddy":
        conf = write(os.path.join(d, "Caddyfile"), f"""{{
  admin off
  auto_https off
}}
http://127.0.0.1:{port} {{
  reverse_proxy {be} {{
    transport http {{
      keepalive_idle_conns_per_host {max_idle}
    }}
  }}
}}
""")
        return (["caddy", "run", "--config", conf, "--adapter", "caddyfile"],
                {"GOMAXPROCS": "2", "HOME": d, "XDG_DATA_HOME": d, "XDG_CONFIG_HOME": d}, signal.SIGTERM)
    raise ValueError(name)


def check_get(port, timeout=3.0):
    """Two GETs on one connection: both 200 with BODY, and the connection kept."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                for i in range(2):
                    c.request("GET", "/", headers={"Host": "127.0.0.1"})
                    r = c.getresponse()
                    body = r.read()
                    if r.status != 200 or body != BODY:
                        raise Failure(f"GET / answered {r.status} {body[:80]!r}, not 200 {BODY!r}")
                    if i == 0 and r.will_close:
                        raise Failure("GET / closed the client connection (no keep-alive)")
                return
            finally:
                c.close()
        except (Failure, OSError, http.client.HTTPException) as e:
            if time.monotonic() >= deadline:
                raise Failure(str(e) or type(e).__name__)
            time.sleep(0.1)


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


UNITS = {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_wrk(text):
    """The figures in wrk's output; anything missing raises Failure."""
    out = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m or not rps:
        raise Failure(f"no result in wrk's output: {text[-300:]!r}")
    out["requests"] = int(m.group(1))
    out["seconds"] = float(m.group(2)) * UNITS[m.group(3)] / 1e6
    out["req_per_s"] = float(rps.group(1))
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M):
        out[f"p{pct}_us"] = float(value) * UNITS[unit]
    if "p50_us" not in out or "p99_us" not in out:
        raise Failure("no latency distribution in wrk's output")
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = dict(zip(["connect", "read", "write", "timeout"], map(int, se.groups()))) if se else {}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(bad.group(1)) if bad else 0
    return out


def wrk(url, seconds):
    cmd = ["wrk", "-t", "1", "-c", "100", "-d", f"{seconds}s", "--latency", url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if p.returncode != 0:
        raise Failure(f"wrk exited with {p.returncode}: {(p.stderr or p.stdout)[-300:]!r}")
    r = parse_wrk(p.stdout)
    r["wrk_output"] = p.stdout
    problems = []
    if r["non_2xx"]:
        problems.append(f"{r['non_2xx']} non-2xx/3xx responses")
    errs = {k: v for k, v in r["socket_errors"].items() if v}
    if errs:
        problems.append("socket errors " + ", ".join(f"{k} {v}" for k, v in errs.items()))
    if r["requests"] == 0:
        problems.append("no requests completed")
    if problems:
        raise Failure(f"wrk ({seconds} s): " + "; ".join(problems))
    return r


def run_one(name, work, opts, seconds=None, tag="check"):
    """A fresh backend and target, and the check; then, when seconds is
    given, a warm-up and the measured run. Returns the run's figures, or
    raises Failure. opts: build and max_idle."""
    d = tempfile.mkdtemp(prefix=f"{tag}-{name}-", dir=work)
    procs = []
    try:
        backend = start_backend(d)
        procs.append(backend)
        port, target = backend.port, None
        if name != "direct":
            port = free_port()
            cmd, env, sig = target_command(name, d, port, backend.port, opts.build, opts.max_idle)
            target = Proc(name, cmd, d, port, env, sig)
            procs.append(target)
        check_get(port)
        if seconds is None:
            return {}
        url = f"http://127.0.0.1:{port}/"
        wrk(url, WARMUP_S)
        pids = target.pids() if target else []
        accepts = BackendAccepts(backend)
        try:
            accepts0, ticks0 = accepts(), cpu_ticks(pids)
            r = wrk(url, seconds)
            ticks1, accepts1 = cpu_ticks(pids), accepts()
        finally:
            accepts.close()
        for p in procs:
            if p.proc.poll() is not None:
                raise Failure(f"{p.name} exited during the run with {p.proc.returncode}: {p.log_tail()}")
        r["backend_conns_opened"] = accepts1 - accepts0
        if target:
            cpu_s = (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK")
            r["proxy_cpu_s"] = cpu_s
            r["proxy_cpu_us_per_req"] = cpu_s * 1e6 / r["requests"]
            r["proxy_processes"] = len(pids)
        return r
    finally:
        for p in reversed(procs):
            p.stop()
            STARTED.remove(p)


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Linux {os.uname().release}"


def versions(targets, build):
    def first_line(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    v = {"wrk": first_line(["wrk", "--version"]).split(" [")[0], "nginx": first_line(["nginx", "-v"])}
    if "haproxy" in targets:
        v["haproxy"] = first_line(["haproxy", "-v"]).split(" - ")[0]
    if "caddy" in targets:
        v["caddy"] = first_line(["caddy", "version"]).split()[0]
    if "wsedge" in targets:
        v["wsedge"] = os.path.join(build, "proxy/wsedge")
    return v


def warn_if_stale(binary):
    """Says so when a source file is newer than the wsedge binary."""
    if not os.path.exists(binary):
        return
    built = os.path.getmtime(binary)
    for top in ("proxy", "io", "conf", "tls"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                path = os.path.join(d, f)
                if f.endswith((".cpp", ".h")) and os.path.getmtime(path) > built:
                    print(f"http_compare: warning: {os.path.relpath(path, ROOT)} is newer than {binary}",
                          file=sys.stderr)
                    return


def ensure_tools(targets):
    need = {"wrk": "wrk", "nginx": "nginx-light"}
    if "haproxy" in targets:
        need["haproxy"] = "haproxy"
    if "caddy" in targets:
        need["caddy"] = "caddy"
    missing = [pkg for tool, pkg in need.items() if not shutil.which(tool)]
    if missing:
        print(f"http_compare: installing {' '.join(missing)}", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                       check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def summarize(targets, runs, failures):
    """One row per target: the round with the median req/s, or the failure."""
    rows = []
    for name in targets:
        if name in failures:
            rows.append({"target": name, "failed": failures[name]})
            continue
        group = sorted((r for r in runs if r["target"] == name), key=lambda r: r["req_per_s"])
        if not group:
            continue
        row = {k: v for k, v in group[len(group) // 2].items() if k != "wrk_output"}
        row["rounds"] = len(group)
        row["req_per_s_all"] = [r["req_per_s"] for r in group]
        rows.append(row)
    peers = [r for r in rows if r["target"] in PEERS and "failed" not in r]
    best = max(peers, key=lambda r: r["req_per_s"], default=None)
    for r in rows:
        if best and "failed" not in r:
            r["ratio_to_best_peer"] = r["req_per_s"] / best["req_per_s"]
    return rows, best


def markdown(rows, best, meta):
    def us(v):
        return f"{v:,.0f} µs" if v < 10_000 else f"{v / 1000:,.1f} ms"
    lines = [
        "# Plain HTTP/1.1 proxying: wsedge, nginx, HAProxy, Caddy", "",
        f"Measured {meta['date']} on {meta['machine']}.",
        f"Command: `{meta['command']}`.", "",
        f"Every figure is from the same interleaved run: {meta['rounds']} round(s), each running every target "
        f"once (order rotated each round) for {meta['duration_s']} s after a {WARMUP_S} s warm-up, with a fresh "
        "backend and proxy per run; a row is the round with the median req/s. "
        f"Load: `wrk -t 1 -c 100 -d {meta['duration_s']}s --latency` ({meta['versions']['wrk']}). Backend: one "
        "nginx, 1 worker, keep-alive, `return 200 \"hello\\n\"`. Every proxy runs 2 workers/threads, keeps "
        "client connections alive and pools keep-alive connections to the backend (nginx: at most "
        f"{meta['max_idle']} idle per worker; wsedge: {meta['max_idle']} per worker and backend for 30 s, "
        "those beyond for 1 s; Caddy: per host; HAProxy: `http-reuse always`, no cap). wrk, the proxy and the "
        f"backend share {os.cpu_count()} cores: read the ratios, not the absolute figures.", "",
        "| target | req/s | p50 | p99 | proxy CPU µs/req | backend conns opened in the run | vs best of nginx/HAProxy |",
        "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "failed" in r:
            why = r["failed"].replace("|", "\\|")
            lines.append(f"| {r['target']} | **FAILED**: {why} | | | | | |")
            continue
        cpu = f"{r['proxy_cpu_us_per_req']:.2f}" if "proxy_cpu_us_per_req" in r else "-"
        ratio = f"{r['ratio_to_best_peer']:.2f}x" if "ratio_to_best_peer" in r else "-"
        lines.append(f"| {r['target']} | {r['req_per_s']:,.0f} | {us(r['p50_us'])} | {us(r['p99_us'])} | "
                     f"{cpu} | {r['backend_conns_opened']:,} | {ratio} |")
    ws = next((r for r in rows if r["target"] == "wsedge"), None)
    lines.append("")
    if ws and "failed" not in ws and best:
        cpu = ""
        if best.get("proxy_cpu_us_per_req"):
            cpu = f", at {ws['proxy_cpu_us_per_req'] / best['proxy_cpu_us_per_req']:.2f}x its CPU per request"
        lines.append(f"wsedge: **{ws['ratio_to_best_peer']:.2f}x** the req/s of the best of nginx and HAProxy "
                     f"({best['target']}){cpu}.")
    else:
        lines.append("wsedge against the best of nginx and HAProxy: no figure (a target failed or was left out).")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round of 3 s (default: 3 rounds of 10 s)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (3)")
    ap.add_argument("--duration", type=int, help="seconds per measured run (10)")
    ap.add_argument("--targets", default=",".join(TARGETS), help=f"a subset of {','.join(TARGETS)}")
    default_build = os.path.join(ROOT, "build-release")
    if not os.path.exists(os.path.join(default_build, "proxy/wsedge")):
        default_build = os.path.join(ROOT, "build")
    ap.add_argument("--build", default=default_build, help="the wsedge build (build-release, else build)")
    ap.add_argument("--out", default=os.path.join(HERE, "results/tmp/http"))
    ap.add_argument("--max-idle", type=int, default=32,
                    help="idle backend connections kept: wsedge's upstream_keepalive max_idle and nginx's "
                         "keepalive (per worker), Caddy's keepalive_idle_conns_per_host (32, their defaults)")
    args = ap.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (3 if args.quick else 10)
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown targets {','.join(sorted(unknown))}")
    args.build = build = os.path.abspath(args.build)
    out = os.path.abspath(args.out)
    ensure_tools(targets)
    if "wsedge" in targets:
        warn_if_stale(os.path.join(build, "proxy/wsedge"))
    os.makedirs(out, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
            "command": " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
            "rounds": rounds, "duration_s": duration, "warmup_s": WARMUP_S, "build": build,
            "max_idle": args.max_idle,
            "versions": versions(targets, build)}

    def stop_on_sigterm(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    work = tempfile.mkdtemp(prefix="wsedge-http-compare-")
    failures, runs = {}, []
    try:
        for name in targets:  # every target must proxy before anything is measured
            try:
                run_one(name, work, args)
                print(f"http_compare: {name:8} check: GET / twice on one connection -> 200 {BODY!r}",
                      file=sys.stderr)
            except Failure as e:
                failures[name] = f"check: {e}"
                print(f"http_compare: {name:8} FAILED the check: {e}", file=sys.stderr)
        live = [t for t in targets if t not in failures]
        for rnd in range(rounds):
            order = live[rnd % len(live):] + live[:rnd % len(live)] if live else []
            for name in order:
                if name in failures:
                    continue
                try:
                    r = run_one(name, work, args, duration, f"r{rnd}")
                except Failure as e:
                    failures[name] = f"round {rnd + 1}: {e}"
                    print(f"http_compare: round {rnd + 1} {name:8} FAILED: {e}", file=sys.stderr)
                    continue
                r.update({"target": name, "round": rnd + 1})
                runs.append(r)
                cpu = r.get("proxy_cpu_us_per_req")
                print(f"http_compare: round {rnd + 1} {name:8} req/s {r['req_per_s']:>9,.0f}  "
                      f"p50 {r['p50_us']:>7,.0f} us  p99 {r['p99_us']:>7,.0f} us  "
                      f"cpu/req {'-' if cpu is None else f'{cpu:.2f} us':>9}  "
                      f"backend conns {r['backend_conns_opened']}", file=sys.stderr)
    finally:
        for p in list(STARTED):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
    rows, best = summarize(targets, runs, failures)
    md = markdown(rows, best, meta)
    with open(os.path.join(out, "http_compare.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "http_compare.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "failures": failures, "runs": runs}, f, indent=1)
    print(md)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("http_compare: interrupted; every process it started is stopped", file=sys.stderr)
        sys.exit(130)
