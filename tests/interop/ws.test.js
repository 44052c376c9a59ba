// Interop with a WebSocket client nobody here wrote (npm `ws`): echo round
// trips of every length class, text and binary, with and without
// permessage-deflate, plain and over TLS; idle pings; graceful shutdown;
// slow consumers.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const WebSocket = require('ws');
const { startServer, makeCertificate } = require('./lib/server');

const SIZES = [0, 125, 126, 65535, 65536, 1024 * 1024];

function open(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...opts });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function roundTrip(ws, payload, binary) {
  return new Promise((resolve, reject) => {
    const onError = (e) => reject(e);
    ws.once('error', onError);
    ws.once('message', (data, isBinary) => {
      ws.off('error', onError);
      resolve({ data, isBinary });
    });
    ws.send(payload, { binary });
  });
}

function textOf(size) {
  // Multi-byte characters included so UTF-8 validation is exercised; exact
  // byte size kept by padding with ASCII.
  const unit = 'héllo wörld ✓ ';
  const n = Buffer.byteLength(unit);
  return unit.repeat(Math.floor(size / n)) + 'x'.repeat(size % n);
}

async function echoMatrix(t, url, compression, clientOpts = {}) {
  const ws = await open(url, { perMessageDeflate: compression, ...clientOpts });
  t.after(() => ws.terminate());
  if (compression) assert.match(ws.extensions, /permessage-deflate/, 'deflate negotiated');
  else assert.equal(ws.extensions, '');
  for (const size of SIZES) {
    const text = textOf(size);
    const r1 = await roundTrip(ws, text, false);
    assert.equal(r1.isBinary, false, `text ${size} came back as text`);
    assert.equal(r1.data.toString('utf8'), text, `text ${size}`);
    const bin = crypto.randomBytes(size);
    const r2 = await roundTrip(ws, bin, true);
    assert.equal(r2.isBinary, true, `binary ${size} came back as binary`);
    assert.ok(Buffer.compare(Buffer.from(r2.data), bin) === 0, `binary ${size}`);
  }
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  ws.close(1000, 'bye');
  assert.equal(await closed, 1000);
}

test('echo with npm ws', async (t) => {
  const srv = await startServer({
    env: {
      SWITCHBOARD_DEBUG_ECHO_PATH: '/echo',
      SWITCHBOARD_WEBSOCKET_COMPRESSION: 'true',
      SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE: String(2 * 1024 * 1024),
      SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: String(16 * 1024 * 1024),
    },
  });
  t.after(() => srv.stop());
  await t.test('without compression', (tt) => echoMatrix(tt, `${srv.wsUrl}/echo`, false));
  await t.test('with permessage-deflate', (tt) => echoMatrix(tt, `${srv.wsUrl}/echo`, true));
  await t.test('with permessage-deflate, no context takeover, small windows', (tt) => echoMatrix(tt, `${srv.wsUrl}/echo`, {
    clientNoContextTakeover: true, serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11,
  }));
  await t.test('messages over max_message_size close with 1009', async () => {
    const ws = await open(`${srv.wsUrl}/echo`);
    const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(Buffer.alloc(2 * 1024 * 1024 + 1));
    assert.equal(await closed, 1009);
  });
  await t.test('a path that is not a WebSocket endpoint is not upgraded', async () => {
    await assert.rejects(open(`${srv.wsUrl}/nope`), /404/);
  });
});

test('compression off in config: the offer is declined', async (t) => {
  const srv = await startServer({ env: { SWITCHBOARD_DEBUG_ECHO_PATH: '/echo' } });
  t.after(() => srv.stop());
  const ws = await open(`${srv.wsUrl}/echo`, { perMessageDeflate: true });
  assert.equal(ws.extensions, '');
  const r = await roundTrip(ws, 'plain', false);
  assert.equal(r.data.toString(), 'plain');
  ws.terminate();
});

test('echo over TLS (wss) with a self-signed certificate', async (t) => {
  const { cert, key } = makeCertificate();
  const srv = await startServer({
    tls: true,
    env: {
      SWITCHBOARD_SERVER_TLS_CERT: cert,
      SWITCHBOARD_SERVER_TLS_KEY: key,
      SWITCHBOARD_DEBUG_ECHO_PATH: '/echo',
      SWITCHBOARD_WEBSOCKET_COMPRESSION: 'true',
      SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE: String(2 * 1024 * 1024),
      SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: String(16 * 1024 * 1024),
    },
  });
  t.after(() => srv.stop());
  await t.test('https /health', async () => {
    const https = require('node:https');
    const body = await new Promise((resolve, reject) => {
      https.get(`${srv.url}/health`, { rejectUnauthorized: false }, (res) => {
        let d = '';
        res.on('data', (c) => { d += c; });
        res.on('end', () => resolve({ status: res.statusCode, d }));
      }).on('error', reject);
    });
    assert.equal(body.status, 200);
    assert.equal(JSON.parse(body.d).status, 'ok');
  });
  await t.test('wss without compression', (tt) => echoMatrix(tt, `${srv.wsUrl}/echo`, false, { rejectUnauthorized: false }));
  await t.test('wss with compression', (tt) => echoMatrix(tt, `${srv.wsUrl}/echo`, true, { rejectUnauthorized: false }));
  await t.test('a plain-text client on the TLS port is dropped, the server lives on', async () => {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => {});  // a reset is an acceptable way to be dropped
    await new Promise((r) => s.once('connect', r));
    s.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((r) => s.once('close', r));
    const ws = await open(`${srv.wsUrl}/echo`, { rejectUnauthorized: false });
    assert.equal((await roundTrip(ws, 'still here', false)).data.toString(), 'still here');
    ws.terminate();
  });
});

test('TLS misconfiguration is a clear start-up error', async () => {
  const { runBinary } = require('./lib/server');
  const r = await runBinary([], {
    SWITCHBOARD_SERVER_LISTEN: '127.0.0.1:0',
    SWITCHBOARD_SERVER_TLS_CERT: '/nonexistent/cert.pem',
    SWITCHBOARD_SERVER_TLS_KEY: '/nonexistent/key.pem',
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /tls_cert.*\/nonexistent\/cert\.pem/);
});

test('idle timeout: the server pings a silent client and drops a dead one', async (t) => {
  const srv = await startServer({
    env: { SWITCHBOARD_DEBUG_ECHO_PATH: '/echo', SWITCHBOARD_WEBSOCKET_IDLE_TIMEOUT: '400ms' },
  });
  t.after(() => srv.stop());
  await t.test('a live client gets pings, answers them, and stays connected', async () => {
    const ws = await open(`${srv.wsUrl}/echo`);
    let pings = 0;
    ws.on('ping', () => { pings++; });
    let closed = false;
    ws.on('close', () => { closed = true; });
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(pings >= 2, `expected pings, got ${pings}`);
    assert.equal(closed, false);
    ws.terminate();
  });
  await t.test('a client that never answers is closed', async () => {
    // Raw handshake, then silence: no pong will come back.
    const s = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write('GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const chunks = [];
    s.on('data', (d) => chunks.push(d));
    const started = Date.now();
    await new Promise((r) => s.once('close', r));
    const all = Buffer.concat(chunks);
    assert.match(all.toString('latin1'), /^HTTP\/1\.1 101 /);
    // After the 101: a ping frame (0x89), then a close frame (0x88).
    const frames = all.subarray(all.indexOf('\r\n\r\n') + 4);
    assert.ok(frames.includes(0x89), 'ping sent');
    assert.ok(frames.includes(0x88), 'close sent');
    assert.ok(Date.now() - started < 8000);
  });
});

test('SIGTERM: clients get 1001 and the process exits 0 within drain_timeout', async () => {
  const srv = await startServer({
    env: { SWITCHBOARD_DEBUG_ECHO_PATH: '/echo', SWITCHBOARD_SERVER_DRAIN_TIMEOUT: '3s' },
  });
  const clients = await Promise.all([1, 2, 3].map(() => open(`${srv.wsUrl}/echo`)));
  const codes = clients.map((ws) => new Promise((resolve) => ws.once('close', (code) => resolve(code))));
  const started = Date.now();
  const { code, signal } = await srv.stop('SIGTERM');
  assert.equal(signal, null);
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 3500, 'exited within the drain timeout');
  for (const c of await Promise.all(codes)) assert.equal(c, 1001);
  assert.match(srv.stderr, /draining/);
});

test('SIGTERM with a client that ignores the close still exits at the drain deadline', async () => {
  const srv = await startServer({
    env: { SWITCHBOARD_DEBUG_ECHO_PATH: '/echo', SWITCHBOARD_SERVER_DRAIN_TIMEOUT: '1s',
      SWITCHBOARD_WEBSOCKET_CLOSE_TIMEOUT: '30s' },
  });
  const s = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write('GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  s.on('data', () => {});
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  const { code } = await srv.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
  s.destroy();
});

test('a client that does not read is closed as a slow consumer; others are unaffected', async (t) => {
  const srv = await startServer({
    env: { SWITCHBOARD_DEBUG_ECHO_PATH: '/echo', SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: '262144',
      SWITCHBOARD_SERVER_WORKERS: '1' },
  });
  t.after(() => srv.stop());
  const good = await open(`${srv.wsUrl}/echo`);
  // A raw client that sends many masked 60 KB messages and never reads.
  const s = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write('GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  s.pause();  // never read: the server's replies pile up
  const payload = Buffer.alloc(60000, 0x61);
  const header = Buffer.from([0x82, 0x80 | 126, (payload.length >> 8) & 0xff, payload.length & 0xff, 0, 0, 0, 0]);
  const frame = Buffer.concat([header, payload]);  // zero mask key: payload unchanged
  let closed = false;
  s.on('close', () => { closed = true; });
  s.on('error', () => { closed = true; });
  const deadline = Date.now() + 15000;
  while (!closed && Date.now() < deadline) {
    if (!s.write(frame)) await new Promise((r) => { s.once('drain', r); setTimeout(r, 100); });
  }
  assert.ok(closed, 'the non-reading client was disconnected');
  const { request } = require('./lib/server');
  const health = JSON.parse((await request(`${srv.url}/health`)).body);
  assert.ok(health.slow_consumer_disconnects >= 1, 'counted as a slow consumer');
  const r = await roundTrip(good, 'fine', false);
  assert.equal(r.data.toString(), 'fine');
  good.terminate();
});

// A Centrifugo-protocol client that stops reading is told why, as Centrifugo
// tells it: once the client reads again it finds, after what was queued, a
// close frame with 3008 "slow" (so the SDK reconnects and recovers).
test('a protocol client that does not read gets close 3008 "slow" after its queued data', async (t) => {
  const KEY = 'slow-key';
  const srv = await startServer({
    env: { SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: '262144', SWITCHBOARD_SERVER_WORKERS: '1',
      SWITCHBOARD_WEBSOCKET_CLOSE_TIMEOUT: '20s', SWITCHBOARD_API_KEY: KEY,
      SWITCHBOARD_CLIENT_ALLOW_ANONYMOUS: 'true', SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_ANONYMOUS: 'true',
      SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_CLIENT: 'true' },
  });
  t.after(() => srv.stop());
  const { request } = require('./lib/server');
  const ws = await open(`${srv.wsUrl}/connection/websocket`);
  const subscribed = new Promise((resolve) => ws.on('message', (m) => {
    if (m.toString().split('\n').some((l) => l && JSON.parse(l).id === 2)) resolve();
  }));
  ws.send(JSON.stringify({ id: 1, connect: {} }) + '\n' + JSON.stringify({ id: 2, subscribe: { channel: 'firehose' } }));
  await subscribed;
  let messages = 0;
  ws.on('message', () => { messages += 1; });
  const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws._socket.pause();  // stops reading: the kernel buffers fill, then the write queue

  const data = JSON.stringify({ blob: 'x'.repeat(60000) });
  const health = async () => JSON.parse((await request(`${srv.url}/health`)).body);
  let published = 0;
  const deadline = Date.now() + 20000;
  while ((await health()).slow_consumer_disconnects < 1 && Date.now() < deadline) {
    const burst = [];
    for (let i = 0; i < 20; i++) {
      burst.push(request(`${srv.url}/api/publish`, { method: 'POST', headers: { 'X-API-Key': KEY },
        body: `{"channel":"firehose","data":${data}}` }));
    }
    for (const r of await Promise.all(burst)) assert.equal(r.status, 200, r.body);
    published += burst.length;
  }
  assert.ok((await health()).slow_consumer_disconnects >= 1, `no slow consumer after ${published} publications`);
  ws._socket.resume();
  const { code, reason } = await closed;
  assert.equal(code, 3008);
  assert.equal(reason, 'slow');
  assert.ok(messages > 1 && messages < published, `read ${messages} of ${published} before the close`);
});
