#!/usr/bin/python3
"""TLS handshakes per second per worker, full and resumed, against what
`openssl speed` suggests one core can do.

One wsedge worker with an ECDSA P-256 certificate; wsedge-bench --mode tls
connects, completes the TLS handshake and closes, over and over (with
--tls-resume, offering the previous session). The figure is handshakes per
second of wsedge's own CPU (user + system), i.e. what one fully busy worker
would do, so the load generator sharing the cores does not distort it.

The reference: a full TLS 1.3 handshake costs the server one ECDSA P-256
signature and two X25519 operations (key share and shared secret), so a core
can do at most 1 / (t_sign + 2 t_x25519) of them.

Usage: tls_handshakes.py [--build DIR] [--seconds 8] [--out FILE]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port, raise_fd_limit, wait_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def openssl_speed():
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "ecdsap256", "ecdhx25519"], capture_output=True,
                         text=True).stdout
    sign = float(re.search(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)", out).group(1))
    x25519 = float(re.search(r"253 bits ecdh \(X25519\)\s+\S+\s+([\d.]+)", out).group(1))
    return sign, x25519


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build-release"))
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "handshakes.md"))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    bench = os.path.join(build, "bench/wsedge-bench")
    work = tempfile.mkdtemp(prefix="wsedge-hs-")
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    sign, x25519 = openssl_speed()
    per_core = 1 / (1 / sign + 2 / x25519)
    echo_port, port = free_port(), free_port()
    conf = os.path.join(work, "wsedge.yaml")
    with open(conf, "w") as f:
        f.write(f"workers: 1\nlisteners:\n  - address: 127.0.0.1:{port}\n    tls:\n      certificates: "
                f"[ {{ cert: {cert}, key: {key} }} ]\n    routes: [ {{ pool: e }} ]\n"
                f"pools:\n  e:\n    backends: [ 127.0.0.1:{echo_port} ]\n")
    echo = subprocess.Popen([bench, "echo", "--listen", f"127.0.0.1:{echo_port}"], stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([os.path.join(build, "proxy/wsedge"), "-c", conf, "--log-level", "warn"],
                             preexec_fn=raise_fd_limit)
    rows = []
    try:
        wait_port(echo_port)
        wait_port(port)
        for version in ("1.3", "1.2"):
            for resume in (False, True):
                cmd = [bench, "run", "--url", f"wss://localhost:{port}/", "--insecure", "--mode", "tls",
                       "--tls-version", version, "--conns", "20", "--duration", f"{args.seconds}s", "--warmup",
                       "1s", "--json", "--watch-pid", str(proxy.pid)] + (["--tls-resume"] if resume else [])
                r = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout)
                per_cpu = r["handshakes_per_s"] * r["duration_s"] / r["watched_cpu_s"]
                rows.append({"version": version, "resumed": resume, "handshakes_per_s": r["handshakes_per_s"],
                             "per_worker_cpu_s": per_cpu, "resumed_count": r["tls_resumed"], "errors": r["errors"]})
                print(f"tls {version} {'resumed' if resume else 'full':8} {per_cpu:,.0f} per worker-second "
                      f"({r['handshakes_per_s']:,.0f}/s wall, {r['tls_resumed']} resumed, {r['errors']} errors)",
                      file=sys.stderr)
    finally:
        for p in (proxy, echo):
            p.terminate()
            p.wait(10)
    full13 = rows[0]["per_worker_cpu_s"]
    lines = [f"`openssl speed` here: ECDSA P-256 {sign:,.0f} signs/s, X25519 {x25519:,.0f} ops/s, so a core can do "
             f"about **{per_core:,.0f} full TLS 1.3 handshakes/s** (1 / (t_sign + 2 t_x25519)); 50% of that is "
             f"{per_core / 2:,.0f}.", "",
             "| TLS | handshake | per worker CPU-second | vs openssl speed estimate | resumed vs full |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        full = next(x for x in rows if x["version"] == r["version"] and not x["resumed"])["per_worker_cpu_s"]
        lines.append(f"| {r['version']} | {'resumed' if r['resumed'] else 'full'} | {r['per_worker_cpu_s']:,.0f} | "
                     f"{r['per_worker_cpu_s'] / per_core * 100:.0f}% | "
                     f"{r['per_worker_cpu_s'] / full:.2f}x |")
    lines += ["", f"Full TLS 1.3: {full13 / per_core * 100:.0f}% of the openssl-speed estimate (goal: 50%)."]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
