// Drives Socket.IO clients against a URL, for the integration tests.
// Usage: node socketio_client.js URL [--transports default|websocket] [--clients N]
//                                [--ca FILE] [--room NAME] [--timeout SECONDS]
//
// URL is http(s):// or ws(s):// (the same to Socket.IO). Each client is its
// own Manager (forceNew), so its own engine.io session and its own cookie
// jar; reconnection is off, so a failure shows instead of being retried.
//
// withCredentials: true gives each client a cookie jar (engine.io-client
// 6.6+, in Node): Set-Cookie from polling responses is kept, and the jar's
// cookies go on every later polling request and on the WebSocket upgrade,
// which is what lets a cookie-sticky proxy keep one client on one backend.
// (A 101's Set-Cookie is not read into the jar; a websocket-only client
// makes one request per connection, so there is nothing to bring back.)
//
// Steps, all clients at once, each bounded by --timeout (default 30 s):
//   connect; echo with ack (in default mode still over polling, mostly);
//   in default mode wait for every client's upgrade to websocket;
//   echo again; join one room; client 0 broadcasts one message to the room;
//   every client must get it; disconnect.
// Prints one JSON summary line and exits 0 only if every step held for
// every client, the transport at the end is websocket for all of them, and
// no client saw its server change.
const fs = require('fs');
const { io } = require('socket.io-client');

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node socketio_client.js URL [--transports default|websocket] [--clients N] ' +
                '[--ca FILE] [--room NAME] [--timeout SECONDS]');
  process.exit(2);
}

const args = process.argv.slice(2);
const url = args.shift();
if (!url || url.startsWith('--')) usage('no URL');
const opt = { transports: 'default', clients: 20, ca: null, room: 'lobby', timeout: 30 };
while (args.length) {
  const k = args.shift();
  const v = args.shift();
  if (v === undefined) usage(`${k} needs a value`);
  if (k === '--transports') opt.transports = v;
  else if (k === '--clients') opt.clients = Number(v);
  else if (k === '--ca') opt.ca = v;
  else if (k === '--room') opt.room = v;
  else if (k === '--timeout') opt.timeout = Number(v);
  else usage(`unknown option ${k}`);
}
if (!['default', 'websocket'].includes(opt.transports)) usage('--transports is default or websocket');
if (!(opt.clients >= 1)) usage('--clients must be at least 1');

const summary = {
  url,
  transports: opt.transports,
  clients: opt.clients,
  connected: 0,
  echoed: 0,             // first echo acks
  echoed_over: {},       // transport each first echo went over
  upgraded: 0,           // clients whose engine went polling -> websocket
  echoed_after_upgrade: 0,
  joined: 0,
  broadcast_delivered: null, // as the servers counted it
  received: 0,           // clients that got the broadcast
  final_transport: {},   // transport name -> clients, just before disconnecting
  servers: {},           // server name -> clients (from the acks)
  cookies: {},           // cookie name -> clients whose jar holds it
  disconnected: 0,
  errors: [],
  stage: 'start',
};

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  console.log(JSON.stringify(summary));
  process.exit(summary.errors.length === 0 ? 0 : 1);
}
function fail(msg) {
  summary.errors.push(msg);
}

const timer = setTimeout(() => {
  fail(`timed out after ${opt.timeout}s at stage ${summary.stage}`);
  finish();
}, opt.timeout * 1000);

const options = {
  forceNew: true,
  reconnection: false,
  withCredentials: true,
  timeout: opt.timeout * 1000,
};
if (opt.transports === 'websocket') options.transports = ['websocket'];
if (opt.ca) options.ca = fs.readFileSync(opt.ca);

const clients = [];
for (let i = 0; i < opt.clients; i++) {
  const c = { i, socket: io(url, options), server: null, upgraded: false, done: false, got: null };
  c.socket.on('connect_error', (err) => {
    // engine.io-client's errors carry the HTTP status or the socket error.
    const d = err.description;
    const why = d === undefined ? '' : typeof d === 'number' ? ` (HTTP status ${d})` : ` (${d.message || d})`;
    fail(`client ${i}: connect_error: ${err.message}${why}`);
  });
  c.socket.on('disconnect', (reason, details) => {
    if (!c.done) {
      const why = details && details.description ? `: ${details.description.message || details.description}` : '';
      fail(`client ${i}: disconnected (${reason}${why}) at stage ${summary.stage}`);
    }
  });
  c.socket.io.on('open', () => {
    const engine = c.socket.io.engine;
    engine.on('upgrade', (transport) => {
      if (transport.name === 'websocket') c.upgraded = true;
    });
    engine.on('upgradeError', (err) => fail(`client ${i}: upgrade failed: ${err.message}`));
  });
  c.socket.on('message', (m) => { c.got = m; });
  clients.push(c);
}

function sameServer(c, server, what) {
  if (c.server === null) c.server = server;
  else if (c.server !== server) fail(`client ${c.i}: ${what} answered by ${server}, not ${c.server}`);
}

function until(pred, stage) {
  summary.stage = stage;
  return new Promise((resolve) => {
    const tick = () => {
      if (finished) return;
      if (summary.errors.length) return finish();
      if (pred()) return resolve();
      setTimeout(tick, 10);
    };
    tick();
  });
}

async function each(stage, fn) {
  summary.stage = stage;
  await Promise.all(clients.map(async (c) => {
    try {
      await fn(c);
    } catch (e) {
      fail(`client ${c.i}: ${stage}: ${e.message}`);
    }
  }));
  if (summary.errors.length) finish();
}

function ack(c, event, data) {
  return c.socket.timeout(opt.timeout * 1000).emitWithAck(event, data);
}

(async () => {
  await until(() => clients.every((c) => c.socket.connected), 'connect');
  summary.connected = clients.length;

  await each('echo', async (c) => {
    const r = await ack(c, 'echo', { n: c.i });
    if (!r || !r.data || r.data.n !== c.i) throw new Error(`echo came back as ${JSON.stringify(r)}`);
    summary.echoed++;
    summary.echoed_over[r.transport] = (summary.echoed_over[r.transport] || 0) + 1;
    sameServer(c, r.server, 'echo');
  });

  if (opt.transports === 'default') {
    await until(() => clients.every((c) => c.upgraded), 'upgrade');
    summary.upgraded = clients.filter((c) => c.upgraded).length;
  }

  await each('echo after upgrade', async (c) => {
    const r = await ack(c, 'echo', { n: -c.i });
    if (!r || !r.data || r.data.n !== -c.i) throw new Error(`echo came back as ${JSON.stringify(r)}`);
    if (r.transport !== 'websocket') throw new Error(`the server still sees ${r.transport}`);
    summary.echoed_after_upgrade++;
    sameServer(c, r.server, 'echo after upgrade');
  });

  await each('join', async (c) => {
    const r = await ack(c, 'join', opt.room);
    if (!r || r.room !== opt.room) throw new Error(`join came back as ${JSON.stringify(r)}`);
    summary.joined++;
    sameServer(c, r.server, 'join');
  });

  const text = `hello ${opt.room} ${process.pid}`;
  summary.stage = 'broadcast';
  try {
    const r = await ack(clients[0], 'broadcast', { room: opt.room, text });
    summary.broadcast_delivered = r.delivered;
  } catch (e) {
    fail(`broadcast: ${e.message}`);
    finish();
  }
  await until(() => clients.every((c) => c.got), 'receive');
  for (const c of clients) {
    if (c.got.text === text) summary.received++;
    else fail(`client ${c.i}: got ${JSON.stringify(c.got)}`);
  }

  for (const c of clients) {
    const t = c.socket.io.engine.transport.name;
    summary.final_transport[t] = (summary.final_transport[t] || 0) + 1;
    if (t !== 'websocket') fail(`client ${c.i}: ends on ${t}`);
    summary.servers[c.server] = (summary.servers[c.server] || 0) + 1;
    const jar = c.socket.io.engine._cookieJar;
    if (jar) {
      for (const [name] of jar.cookies) summary.cookies[name] = (summary.cookies[name] || 0) + 1;
    }
  }

  summary.stage = 'disconnect';
  for (const c of clients) {
    c.done = true;
    c.socket.disconnect();
    if (!c.socket.connected) summary.disconnected++;
  }
  summary.stage = 'done';
  clearTimeout(timer);
  finish();
})().catch((e) => {
  fail(`unexpected: ${e.stack || e}`);
  finish();
});
