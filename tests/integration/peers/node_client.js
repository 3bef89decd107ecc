// A WebSocket client on Node's ws library: sends each size as a random
// message, checks the echo byte for byte, then closes with 1000.
// Usage: node node_client.js URL SIZE... [--fragment BYTES] [--protocol P]
// Prints "ok SIZE" per message and "done"; exits non-zero on any mismatch.
const WebSocket = require('ws');
const crypto = require('crypto');
const args = process.argv.slice(2);
const url = args.shift();
let fragment = 0;
const protocols = [];
const sizes = [];
while (args.length) {
  const a = args.shift();
  if (a === '--fragment') fragment = Number(args.shift());
  else if (a === '--protocol') protocols.push(args.shift());
  else sizes.push(Number(a));
}
const ws = new WebSocket(url, protocols, { perMessageDeflate: false, maxPayload: 64 << 20 });
let expected = null;
function next() {
  if (!sizes.length) { ws.close(1000, 'done'); return; }
  const n = sizes.shift();
  expected = crypto.randomBytes(n);
  if (fragment && n > fragment) {
    for (let off = 0; off < n; off += fragment) {
      const end = Math.min(n, off + fragment);
      ws.send(expected.subarray(off, end), { binary: true, fin: end === n });
    }
  } else {
    ws.send(expected, { binary: true });
  }
}
ws.on('open', () => { console.log(`protocol ${ws.protocol || '-'}`); next(); });
ws.on('message', (data) => {
  if (!Buffer.from(data).equals(expected)) {
    console.log(`mismatch at size ${expected.length} (got ${data.length})`);
    process.exit(2);
  }
  console.log(`ok ${expected.length}`);
  next();
});
ws.on('close', (code, reason) => { console.log(`closed ${code} ${reason}`); console.log('done'); process.exit(code === 1000 ? 0 : 3); });
ws.on('error', (e) => { console.log(`error ${e.message}`); process.exit(4); });
