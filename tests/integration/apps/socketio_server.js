// A Socket.IO app, as a user would write it, for the integration tests.
// Usage: node socketio_server.js PORT NAME [--peer PORT]...
//
// Default Socket.IO options (long polling first, then the upgrade to
// WebSocket), on 127.0.0.1:PORT. Prints "ready" once listening.
//
// Events (each answers through its ack):
//   echo (data)              -> { data, server, transport }
//   join (room)              -> { room, server, members }
//   broadcast ({room, text}) -> emits "message" {text, from} to the room here
//                               and on every --peer, then acks { server, delivered }
//
// Socket.IO keeps its rooms in memory, per process: a real deployment with
// several backends uses an adapter (Redis and the like) so that a broadcast
// reaches a room's members on every backend. --peer is the smallest such
// relay: the broadcast is POSTed to each peer's /relay, straight to the peer
// (never through the proxy), and the ack waits for the peers' answers.
//
// Plain HTTP, beside Socket.IO's /socket.io/:
//   GET /stats   -> what this backend saw (JSON, see `stats` below)
//   POST /relay  -> {room, event, data}: emitted to the room here
//
// Every engine.io connection_error (code 1 is "Session ID unknown": a
// polling request or an upgrade that reached a backend which never issued
// its sid) is printed as a line "connection_error {json}" and kept in /stats.
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2]);
const name = process.argv[3];
const peers = [];
for (let i = 4; i < process.argv.length; i++) {
  if (process.argv[i] === '--peer' && i + 1 < process.argv.length) peers.push(Number(process.argv[++i]));
  else {
    console.error(`unknown argument ${process.argv[i]}`);
    process.exit(2);
  }
}
if (!port || !name) {
  console.error('usage: node socketio_server.js PORT NAME [--peer PORT]...');
  process.exit(2);
}

const stats = {
  server: name,
  connections: 0,           // Socket.IO connections (sockets) opened here
  polling_requests: 0,      // HTTP requests under /socket.io/
  polling_without_cookie: 0,
  upgrades: 0,              // WebSocket upgrades under /socket.io/
  upgrades_without_cookie: 0,
  cookies: {},              // cookie name -> requests and upgrades that carried it
  connection_errors: [],    // engine.io's connection_error events
};

function countCookies(req, kind) {
  const header = req.headers.cookie;
  if (!header) {
    stats[`${kind}_without_cookie`]++;
    return;
  }
  for (const part of header.split(';')) {
    const cookie = part.trim().split('=')[0];
    if (cookie) stats.cookies[cookie] = (stats.cookies[cookie] || 0) + 1;
  }
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function members(room) {
  const set = io.sockets.adapter.rooms.get(room);
  return set ? set.size : 0;
}

// Requests Socket.IO does not claim (everything outside /socket.io/).
const httpServer = http.createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/stats') return reply(res, 200, stats);
  if (req.method === 'POST' && req.url === '/relay') {
    try {
      const { room, event, data } = await readJson(req);
      io.to(room).emit(event, data);
      return reply(res, 200, { server: name, delivered: members(room) });
    } catch (e) {
      return reply(res, 400, { error: String(e) });
    }
  }
  reply(res, 404, { error: 'not found' });
});

const io = new Server(httpServer); // the defaults: polling, then the upgrade

// Count before engine.io sees them (it took over the 'request' listeners
// when it attached; a prepended one runs first).
httpServer.prependListener('request', (req) => {
  if (req.url.startsWith('/socket.io/')) {
    stats.polling_requests++;
    countCookies(req, 'polling');
  }
});
httpServer.prependListener('upgrade', (req) => {
  if (req.url.startsWith('/socket.io/')) {
    stats.upgrades++;
    countCookies(req, 'upgrades');
  }
});

io.engine.on('connection_error', (err) => {
  const e = {
    code: err.code,
    message: err.message,
    url: err.req ? err.req.url : undefined,
    context: err.context,
  };
  stats.connection_errors.push(e);
  console.log(`connection_error ${JSON.stringify(e)}`);
});

function relay(peer, body) {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port: peer, path: '/relay', method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
      (res) => {
        readJson(res).then((r) => resolve(r.delivered || 0), () => resolve(0));
      });
    req.on('error', (e) => {
      console.log(`relay to ${peer} failed: ${e.message}`);
      resolve(0);
    });
    req.end(data);
  });
}

io.on('connection', (socket) => {
  stats.connections++;
  socket.on('echo', (data, ack) => {
    if (typeof ack === 'function') ack({ data, server: name, transport: socket.conn.transport.name });
  });
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack({ room, server: name, members: members(room) });
  });
  socket.on('broadcast', async (msg, ack) => {
    const payload = { text: msg.text, from: name };
    io.to(msg.room).emit('message', payload);
    let delivered = members(msg.room);
    const counts = await Promise.all(peers.map((p) => relay(p, { room: msg.room, event: 'message', data: payload })));
    for (const n of counts) delivered += n;
    if (typeof ack === 'function') ack({ server: name, delivered });
  });
});

httpServer.listen(port, '127.0.0.1', () => console.log('ready'));

process.on('SIGTERM', () => {
  console.log(`stats ${JSON.stringify(stats)}`);
  io.close();
  process.exit(0);
});
