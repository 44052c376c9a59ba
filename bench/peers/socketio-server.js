#!/usr/bin/env node
// Minimal Socket.IO 4 pub/sub server: the "Socket.IO" peer of bench/run-peers,
// written the way the Socket.IO docs suggest (rooms as channels).
//
//   Socket.IO on /socket.io/, WebSocket transport only (no long-polling and so
//   no upgrade dance): a client emits `subscribe` with a channel name (and an
//   optional acknowledgement callback) and the server does socket.join(channel).
//   POST /pub?channel=a  (body)  io.to(channel).emit('message', body), the body
//                                as a string; answers 200 {"subscribers":N}
//   GET  /health                 200 ok
//
// Socket.IO's own heartbeat (pingInterval 25 s) stays at its default.
//
//   node bench/peers/socketio-server.js --port 9003 [--host 127.0.0.1]
//
// Prints "listening HOST:PORT pid PID" on stdout once ready.
'use strict';

const { parseServerOptions } = require('./lib/options');
const { handlePublishRequest } = require('./lib/publish');

const http = require('http');
const path = require('path');
const { Server } = require(require.resolve('socket.io', { paths: [path.join(__dirname, '..', '..'), __dirname] }));

const opts = parseServerOptions('socketio-server', 'node bench/peers/socketio-server.js --port PORT [--host 127.0.0.1]');


// Socket.IO attaches to this server and answers /socket.io/ itself; every
// other request reaches this handler.
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/socket.io/')) return; // handled by Socket.IO
  handlePublishRequest(req, res, (channel, body) => {
    const room = io.sockets.adapter.rooms.get(channel);
    io.to(channel).emit('message', body);
    return room ? room.size : 0;
  });
});
server.keepAliveTimeout = 60000;

const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 64 * 1024,
});

io.on('connection', (socket) => {
  // `subscribe` with an acknowledgement callback, so a client knows when it is in the room.
  socket.on('subscribe', (channel, ack) => {
    const ok = typeof channel === 'string' && channel.length > 0 && channel.length <= 255;
    if (ok) socket.join(channel);
    if (typeof ack === 'function') ack(ok);
  });
});

server.on('error', (e) => {
  console.error(`socketio-server: ${e.message}`);
  process.exit(1);
});
server.listen({ host: opts.host, port: opts.port, backlog: 4096 }, () => {
  const a = server.address();
  console.log(`listening ${a.address}:${a.port} pid ${process.pid}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
