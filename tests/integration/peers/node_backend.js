// A WebSocket echo backend on Node's ws library (Debian node-ws).
// Usage: node node_backend.js PORT [SUBPROTOCOL...]
// Prints "ready" once listening, and "closed CODE REASON" per connection.
const WebSocket = require('ws');
const port = Number(process.argv[2]);
const protocols = process.argv.slice(3);
const server = new WebSocket.Server({
  host: '127.0.0.1', port, perMessageDeflate: false, maxPayload: 64 << 20,
  handleProtocols: (offered) => {
    for (const p of protocols) if (offered.has(p)) return p;
    return false;
  },
});
server.on('listening', () => console.log('ready'));
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', (code, reason) => console.log(`closed ${code} ${reason}`));
});
