#!/usr/bin/env bash
# make demo: wsedge terminating wss:// in front of an echo backend, loaded by
# wsedge-bench for about 10 seconds. Exits 0 only if nothing went wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-release
certs=conf/examples/demo-certs
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== building wsedge (Release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DWSEDGE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

echo "== a self-signed certificate for localhost in $certs/"
mkdir -p "$certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$certs/localhost.key" -out "$certs/localhost.pem" 2>/dev/null

wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "demo: nothing listening on 127.0.0.1:$1" >&2
  return 1
}

echo "== wsedge-bench echo on 127.0.0.1:9000; wsedge (conf/examples/demo.yaml) on wss://127.0.0.1:8443"
"$build/bench/wsedge-bench" echo --listen 127.0.0.1:9000 2>/dev/null &
pids+=($!)
wait_port 9000
"$build/proxy/wsedge" -c conf/examples/demo.yaml --log-level warn &
pids+=($!)
wait_port 8443

echo "== wsedge-bench run: 100 connections, 1 KiB messages, 1 in flight, 10 s (+2 s warm-up)"
"$build/bench/wsedge-bench" run --url wss://localhost:8443/ --ca "$certs/localhost.pem" \
  --conns 100 --size 1KiB --duration 10s --warmup 2s --watch-pid "${pids[1]}"
