#!/usr/bin/env node
// Minimal echo server on the npm `ws` package: the reference peer that
// bench/run measures Switchboard against. Echoes every message back with its
// opcode (text stays text, binary stays binary); ws answers pings itself.
//
//   node bench/peers/ws-echo.js --port 9001 [--host 127.0.0.1] [--path /echo]
//
// Prints "listening HOST:PORT pid PID" on stdout once ready.
'use strict';

const { parseServerOptions } = require('./lib/options');

const path = require('path');
// Resolve `ws` from the repository's node_modules wherever we are started from.
const { WebSocketServer } = require(require.resolve('ws', { paths: [path.join(__dirname, '..', '..'), __dirname] }));

const opts = parseServerOptions('ws-echo', 'node bench/peers/ws-echo.js --port PORT [--host 127.0.0.1] [--path /echo]', { path: '/echo' });

const wss = new WebSocketServer({
  host: opts.host,
  port: opts.port,
  path: opts.path,
  perMessageDeflate: false, // the load generator never offers it; keep the comparison like for like
  clientTracking: false, // no Set of every socket: we never broadcast
  maxPayload: 16 * 1024 * 1024,
  backlog: 4096,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {}); // a client vanishing mid-frame is not our problem
});
wss.on('listening', () => {
  const a = wss.address();
  console.log(`listening ${a.address}:${a.port} pid ${process.pid}`);
});
wss.on('error', (e) => {
  console.error(`ws-echo: ${e.message}`);
  process.exit(1);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
