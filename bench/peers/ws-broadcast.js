#!/usr/bin/env node
// Minimal pub/sub broadcast server on the npm `ws` package: the "Node ws"
// peer of bench/run-peers, written the way a typical application would.
//
//   GET  /sub?channel=a[,b]          upgrades to WebSocket and subscribes the
//                                    socket to each channel given (a comma
//                                    list as nchan's /sub takes it; repeated
//                                    channel= and channel2= work too)
//   POST /pub?channel=a   (body)     sends the body as one text message to
//                                    every subscriber of `a`; answers 200
//                                    {"subscribers":N}
//   GET  /health                     200 ok
//
// Subscriptions are a Map channel -> Set of sockets; a broadcast sends the
// same string to each socket with ws's normal send() (no pre-framing tricks).
// permessage-deflate is off, as the load generator never offers it.
//
//   node bench/peers/ws-broadcast.js --port 9002 [--host 127.0.0.1]
//
// Prints "listening HOST:PORT pid PID" on stdout once ready.
'use strict';

const { parseServerOptions } = require('./lib/options');
const { handlePublishRequest } = require('./lib/publish');

const http = require('http');
const path = require('path');
// Resolve `ws` from the repository's node_modules wherever we are started from.
const { WebSocketServer } = require(require.resolve('ws', { paths: [path.join(__dirname, '..', '..'), __dirname] }));


const opts = parseServerOptions('ws-broadcast', 'node bench/peers/ws-broadcast.js --port PORT [--host 127.0.0.1]');

/** channel name -> Set of WebSocket */
const channels = new Map();

function subscribe(ws, channel) {
  let set = channels.get(channel);
  if (!set) {
    set = new Set();
    channels.set(channel, set);
  }
  set.add(ws);
}

function unsubscribeAll(ws, names) {
  for (const name of names) {
    const set = channels.get(name);
    if (!set) continue;
    set.delete(ws);
    if (set.size === 0) channels.delete(name);
  }
}

function channelsOf(url) {
  const values = [...url.searchParams.getAll('channel'), ...url.searchParams.getAll('channel2')];
  const names = values.flatMap((v) => v.split(','));
  return [...new Set(names.filter((n) => n.length > 0 && n.length <= 255))];
}


const server = http.createServer((req, res) => {
  handlePublishRequest(req, res, (channel, message) => {
    const set = channels.get(channel);
    let n = 0;
    if (set) {
      for (const ws of set) {
        if (ws.readyState === 1) {
          ws.send(message);
          n++;
        }
      }
    }
    return n;
  });
});
server.keepAliveTimeout = 60000;

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false, // subscriptions are our own Map; no second Set of every socket
  maxPayload: 64 * 1024,
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://localhost');
  const names = url.pathname === '/sub' ? channelsOf(url) : [];
  if (names.length === 0) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    for (const name of names) subscribe(ws, name);
    ws.on('close', () => unsubscribeAll(ws, names));
    ws.on('error', () => {}); // a client vanishing mid-frame is not our problem
  });
});

server.on('error', (e) => {
  console.error(`ws-broadcast: ${e.message}`);
  process.exit(1);
});
server.listen({ host: opts.host, port: opts.port, backlog: 4096 }, () => {
  const a = server.address();
  console.log(`listening ${a.address}:${a.port} pid ${process.pid}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
