// The unidirectional transports with raw clients, as Centrifugo documents
// them: /connection/uni_websocket (npm `ws`; the connect request is the first
// message or the cf_connect parameter), /connection/uni_sse (npm
// `eventsource`; cf_connect) and /connection/uni_http_stream (fetch() with
// the connect request as the POST body). Each: a connect push first, then
// publications of the token's `channels` claim without the {"push":...}
// envelope, "{}" pings that need no answer, recovery through `subs`, a clear
// refusal of a malformed connect request, and the per-transport metric.
//
// Expected behaviour is Centrifugo's (internal/uniws, unisse, unihttpstream;
// centrifuge client.go: connect push, defaultUniErrorCodeToDisconnect).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { EventSource } = require('eventsource');
const {
  WebSocket, sleep, waitFor, withTimeout, connectionToken, startCentrifugo, api,
} = require('./lib/centrifuge');
const { request } = require('./lib/server');

const NAMESPACES = [
  // Server-side subscriptions recover only with force_recovery (Centrifugo: EnableRecovery = ForceRecovery).
  { name: 'feed', history_size: 100, history_ttl: '300s', force_recovery: true },
];

// A raw client on one uni transport, collecting every JSON message.
async function openUni(srv, transport, connectRequest, { viaUrl = false } = {}) {
  const messages = [];
  const state = { closed: false, closeCode: null, close: () => {} };
  const push = (text) => { for (const line of text.split('\n')) if (line.trim()) messages.push(JSON.parse(line)); };
  const body = JSON.stringify(connectRequest);
  if (transport === 'uni_websocket') {
    const url = `${srv.wsUrl}/connection/uni_websocket${viaUrl ? `?cf_connect=${encodeURIComponent(body)}` : ''}`;
    const ws = new WebSocket(url);
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    ws.on('close', (code) => { state.closed = true; state.closeCode = code; });
    ws.on('error', () => {});
    await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'ws open');
    if (!viaUrl) ws.send(body);
    state.ws = ws;
    state.close = () => ws.terminate();
  } else if (transport === 'uni_sse') {
    const es = new EventSource(`${srv.url}/connection/uni_sse?cf_connect=${encodeURIComponent(body)}`);
    es.onmessage = (e) => push(e.data);
    es.onerror = () => { state.closed = true; es.close(); };
    state.close = () => es.close();
  } else {
    const controller = new AbortController();
    const res = await fetch(`${srv.url}/connection/uni_http_stream`, { method: 'POST', body, signal: controller.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body) {
          buf += decoder.decode(chunk, { stream: true });
          const end = buf.lastIndexOf('\n');
          if (end >= 0) { push(buf.slice(0, end)); buf = buf.slice(end + 1); }
        }
      } catch (e) { /* aborted */ }
      state.closed = true;
    })();
    state.close = () => controller.abort();
  }
  state.messages = messages;
  return state;
}

async function metricValue(srv, transport) {
  const res = await request(`${srv.url}/metrics`);
  const line = res.body.split('\n').find((l) => l.startsWith(`switchboard_client_connections{transport="${transport}"}`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

for (const transport of ['uni_websocket', 'uni_sse', 'uni_http_stream']) {
  test(`${transport}: connect push, publications of the token's channels, pings, recovery`, async (t) => {
    const srv = await startCentrifugo({
      namespaces: NAMESPACES, env: { SWITCHBOARD_CLIENT_PING_INTERVAL: '1s', SWITCHBOARD_CLIENT_PONG_TIMEOUT: '500ms' },
    });
    t.after(() => srv.stop());
    const first = await api(srv, 'publish', { channel: 'feed:a', data: { n: 1 } });
    const token = connectionToken('uni-user', { channels: ['feed:a', 'feed:b'] });
    const c = await openUni(srv, transport, { token });
    t.after(() => c.close());
    await waitFor(() => c.messages.length >= 1, { label: 'connect push' });
    const connect = c.messages[0].connect;
    assert.ok(connect, `a connect push first: ${JSON.stringify(c.messages[0])}`);
    assert.equal(c.messages[0].id, undefined, 'a push, not a reply');
    assert.equal(connect.pong, undefined, 'no pong expected from a unidirectional client');
    assert.equal(connect.ping, 1);
    assert.deepEqual(Object.keys(connect.subs).sort(), ['feed:a', 'feed:b']);
    assert.equal(connect.subs['feed:a'].offset, 1);
    assert.equal(connect.subs['feed:a'].epoch, first.epoch);
    assert.equal(await metricValue(srv, transport), 1, `counted under transport="${transport}"`);

    await api(srv, 'publish', { channel: 'feed:a', data: { n: 2 } });
    await api(srv, 'publish', { channel: 'feed:b', data: { m: 1 } });
    await waitFor(() => c.messages.filter((m) => m.pub).length === 2, { label: 'two publications' });
    const pubs = c.messages.filter((m) => m.pub);
    assert.deepEqual(pubs[0], { channel: 'feed:a', pub: { data: { n: 2 }, offset: 2 } }, 'no {"push":..} envelope');
    assert.deepEqual(pubs[1], { channel: 'feed:b', pub: { data: { m: 1 }, offset: 1 } });

    // Pings every second, never answered: the connection stays.
    await sleep(2600);
    const pings = c.messages.filter((m) => Object.keys(m).length === 0).length;
    assert.ok(pings >= 2, `at least two {} pings, got ${pings}`);
    assert.equal(c.closed, false, 'still open without pongs');
    if (transport === 'uni_websocket') {
      // Commands after the connect request are ignored, as in Centrifugo.
      c.ws.send(JSON.stringify({ id: 5, subscribe: { channel: 'feed:c' } }));
      await sleep(200);
      assert.equal(c.messages.filter((m) => m.id !== undefined).length, 0, 'no reply to a command');
      assert.equal(c.closed, false);
    }
    c.close();

    // Recovery: come back with the last position seen in feed:a.
    await api(srv, 'publish', { channel: 'feed:a', data: { n: 3 } });
    await api(srv, 'publish', { channel: 'feed:a', data: { n: 4 } });
    const back = await openUni(srv, transport, {
      token, subs: { 'feed:a': { recover: true, epoch: first.epoch, offset: 2 } },
    }, { viaUrl: transport === 'uni_websocket' });
    t.after(() => back.close());
    await waitFor(() => back.messages.length >= 1, { label: 'connect push after recovery' });
    const sub = back.messages[0].connect.subs['feed:a'];
    assert.equal(sub.recovered, true, JSON.stringify(sub));
    assert.equal(sub.was_recovering, true);
    assert.deepEqual(sub.publications.map((p) => p.data.n), [3, 4]);
    assert.equal(sub.offset, 4);
  });
}

test('unidirectional transports refuse a malformed connect request clearly', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  t.after(() => srv.stop());
  // HTTP ones: 400 naming the problem, before any stream.
  let r = await request(`${srv.url}/connection/uni_http_stream`, { method: 'POST', body: '{"token":' });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /request body: connect request/);
  r = await request(`${srv.url}/connection/uni_http_stream`, { method: 'POST', body: '{"token":5}' });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /token: expected a string/);
  r = await request(`${srv.url}/connection/uni_sse?cf_connect=${encodeURIComponent('[1]')}`);
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /cf_connect: connect request: expected a JSON object/);
  r = await request(`${srv.url}/connection/uni_websocket?cf_connect=nope`, {
    headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
  });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /cf_connect/);

  // uni_websocket, first message: a disconnect push, then close 3501.
  const ws = new WebSocket(`${srv.wsUrl}/connection/uni_websocket`);
  const got = [];
  ws.on('message', (d) => got.push(d.toString()));
  await new Promise((resolve) => ws.once('open', resolve));
  const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.send('this is not JSON');
  const info = await withTimeout(closed, 5000, 'close after a bad connect');
  assert.deepEqual(info, { code: 3501, reason: 'bad request' });
  assert.deepEqual(got, ['{"disconnect":{"code":3501,"reason":"bad request"}}']);

  // An invalid token: disconnect 3500 in the stream, then its end.
  const res = await fetch(`${srv.url}/connection/uni_http_stream`, {
    method: 'POST', body: JSON.stringify({ token: connectionToken('x', { secret: 'wrong-secret' }) }),
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '{"disconnect":{"code":3500,"reason":"invalid token"}}\n');
  // An expired token: 3005 (Centrifugo maps the connect error to a disconnect).
  const expired = await fetch(`${srv.url}/connection/uni_http_stream`, {
    method: 'POST', body: JSON.stringify({ token: connectionToken('x', { exp: Math.floor(Date.now() / 1000) - 60, ttl: null }) }),
  });
  assert.equal(await expired.text(), '{"disconnect":{"code":3005,"reason":"connection expired"}}\n');
});

// A unidirectional client that stops reading finds, once it reads again, the
// publications queued before it fell behind, then {"disconnect":{"code":3008,
// "reason":"slow"}} (and on the WebSocket close 3008), and the end.
for (const transport of ['uni_websocket', 'uni_http_stream']) {
  test(`${transport}: a client that stops reading gets disconnect 3008 "slow" after its queued data`, async (t) => {
    const srv = await startCentrifugo({
      namespaces: NAMESPACES,
      env: { SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: '262144', SWITCHBOARD_SERVER_WORKERS: '1',
        SWITCHBOARD_WEBSOCKET_CLOSE_TIMEOUT: '20s' },
    });
    t.after(() => srv.stop());
    const body = JSON.stringify({ token: connectionToken('slow-user', { channels: ['feed:slow'] }) });
    let text = '';
    const state = { ended: false, closeCode: null };
    let resume;
    if (transport === 'uni_websocket') {
      const ws = new WebSocket(`${srv.wsUrl}/connection/uni_websocket`, { maxPayload: 64 * 1024 * 1024 });
      ws.on('message', (d) => { text += d.toString() + '\n'; });
      ws.on('close', (code) => { state.closeCode = code; state.ended = true; });
      ws.on('error', () => {});
      await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'ws open');
      t.after(() => ws.terminate());
      ws.send(body);
      await waitFor(() => text.includes('"connect"'), { label: 'connect push' });
      ws._socket.pause();  // stops reading: the kernel buffers fill, then the write queue
      resume = () => ws._socket.resume();
    } else {
      const controller = new AbortController();
      t.after(() => controller.abort());
      const res = await fetch(`${srv.url}/connection/uni_http_stream`, { method: 'POST', body, signal: controller.signal });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const readAll = async (until) => {
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ done: true }));
          if (done) { state.ended = true; return; }
          text += decoder.decode(value, { stream: true });
          if (until && until()) return;
        }
      };
      await readAll(() => text.includes('"connect"'));
      resume = () => { readAll(null); };  // until now nothing reads
    }
    const data = { blob: 'x'.repeat(60000) };
    const health = async () => JSON.parse((await request(`${srv.url}/health`)).body);
    let published = 0;
    const deadline = Date.now() + 20000;
    while ((await health()).slow_consumer_disconnects < 1 && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 20 }, () => api(srv, 'publish', { channel: 'feed:slow', data })));
      published += 20;
    }
    assert.ok((await health()).slow_consumer_disconnects >= 1, `no slow consumer after ${published} publications`);
    resume();
    await waitFor(() => state.ended, { label: 'the end of the stream', timeout: 15000 });
    const messages = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    assert.deepEqual(messages[messages.length - 1], { disconnect: { code: 3008, reason: 'slow' } });
    const pubs = messages.filter((m) => m.pub).length;
    assert.ok(pubs > 0 && pubs < published, `read ${pubs} of ${published} publications first`);
    if (transport === 'uni_websocket') assert.equal(state.closeCode, 3008);
  });
}
