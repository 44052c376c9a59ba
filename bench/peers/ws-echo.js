#!/usr/bin/env node
// Minimal echo server on the npm `ws` package: the reference peer that
// bench/run measures Switchboard against. Echoes every message back with its
// opcode (text stays text, binary stays binary); ws answers pings itself.
//
//   node bench/peers/ws-echo.js --port 9001 [--host 127.0.0.1] [--path /echo]
//
// Prints "listening HOST:PORT pid PID" on stdout once ready.
'use strict';

const path = require('path');
// Resolve `ws` from the repository's node_modules wherever we are started from.
const { WebSocketServer } = require(require.resolve('ws', { paths: [path.join(__dirname, '..', '..'), __dirname] }));

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 0, path: '/echo' };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].split('=', 2);
    const value = inline !== undefined ? inline : argv[++i];
    if (value === undefined) throw new Error(`missing value for ${key}`);
    if (key === '--host') opts.host = value;
    else if (key === '--port') opts.port = Number(value);
    else if (key === '--path') opts.path = value;
    else throw new Error(`unknown option ${key}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('bad --port');
  // Same rule as the load generator: this peer only ever listens on loopback.
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(opts.host)) throw new Error('--host must be a loopback address');
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`ws-echo: ${e.message}`);
  console.error('usage: node bench/peers/ws-echo.js --port PORT [--host 127.0.0.1] [--path /echo]');
  process.exit(2);
}

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
