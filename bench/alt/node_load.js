// A load client on Node's ws library, the yardstick for wsedge-bench's own
// cost: CONNS connections share RATE messages per second of SIZE bytes for
// SECONDS, and each echo is compared with what was sent. Prints one JSON
// line with the messages echoed and the CPU this process used.
// Usage: node node_load.js URL CONNS SIZE RATE SECONDS
const WebSocket = require('ws');
const crypto = require('crypto');
const [url, conns, size, rate, seconds] = [process.argv[2], ...process.argv.slice(3).map(Number)];
const payload = crypto.randomBytes(size);
const sockets = [];
let open = 0, received = 0, mismatches = 0, sent = 0;
for (let i = 0; i < conns; i++) {
  // wss: the suite may be pinned (TLS_CIPHERS, such as TLS_AES_128_GCM_SHA256), so that every proxy
  // pays for the same cipher; certificates are not checked (the benchmark's own, self-signed).
  const ws = new WebSocket(url, { perMessageDeflate: false, rejectUnauthorized: false,
                                  ...(process.env.TLS_CIPHERS ? { ciphers: process.env.TLS_CIPHERS } : {}) });
  ws.on('open', () => { if (++open === conns) start(); });
  ws.on('message', (data) => { received++; if (!Buffer.from(data).equals(payload)) mismatches++; });
  ws.on('error', (e) => { console.error(e.message); process.exit(2); });
  sockets.push(ws);
}
function start() {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  const timer = setInterval(() => {
    // Catch up to the schedule: rate messages per second since t0.
    const due = Math.floor(Number(process.hrtime.bigint() - t0) / 1e9 * rate);
    for (; sent < due; sent++) sockets[next++ % conns].send(payload, { binary: true });
  }, 1);
  setTimeout(() => {
    clearInterval(timer);
    const cpu = process.cpuUsage(cpu0);
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ messages: received, sent, mismatches, seconds: elapsed,
                                 msgs_per_s: received / elapsed, cpu_s: (cpu.user + cpu.system) / 1e6 }));
    process.exit(0);
  }, seconds * 1000);
}
