// The plain SSE endpoint GET /sse against the real binary, with the npm
// `eventsource` package (the WHATWG EventSource for Node) and raw HTTP: live
// events on several channels, API publish to event, resume through
// Last-Event-ID after a drop (every publication exactly once, in order),
// ?last_event_id=, the explicit reset, and the refusals (400/401/403).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const crypto = require('node:crypto');
const { EventSource } = require('eventsource');
const { startServer, request } = require('./lib/server');
const plain = require('./lib/plain');
const { waitFor } = plain;
const writeConfig = (text) => plain.writeConfig(text, 'sb-plain-sse-');
const publish = (srv, channel, data) => plain.publish(srv, KEY, channel, data);

const KEY = 'plain-sse-key';
const SECRET = 'plain-sse-secret';

const CONFIG = `
[server]
# SIGTERM spreads disconnects over 80 % of this (docs/operations.md)
drain_timeout = "1s"
[api]
key = "${KEY}"
[client]
token_hmac_secret = "${SECRET}"
allow_anonymous = true
recovery_max_publications = 500
[channel]
allow_subscribe_for_anonymous = true
allow_subscribe_for_client = true
history_size = 1000
history_ttl = "300s"
[[channel.namespace]]
name = "live"
allow_subscribe_for_anonymous = true
allow_subscribe_for_client = true
[[channel.namespace]]
name = "members"
allow_subscribe_for_client = true
`;


function token(sub) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ sub, exp: Math.floor(Date.now() / 1000) + 600 });
  return head + '.' + crypto.createHmac('sha256', SECRET).update(head).digest('base64url');
}



// Parses an SSE byte stream into {event, id, data} blocks (comments kept as
// {comment}), enough to check what the server wrote exactly.
function parseSse(text) {
  const blocks = [];
  for (const raw of text.split('\n\n')) {
    if (!raw) continue;
    const b = {};
    for (const line of raw.split('\n')) {
      if (line.startsWith(':')) b.comment = line.slice(1).trim();
      const m = /^(\w+): ?(.*)$/.exec(line);
      if (m) b[m[1]] = m[1] === 'data' && b.data !== undefined ? b.data + '\n' + m[2] : m[2];
    }
    blocks.push(b);
  }
  return blocks;
}

// A raw streaming GET: collects the body; `blocks()` parses complete events.
function rawStream(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const s = { status: res.statusCode, headers: res.headers, text: '', ended: false };
      res.setEncoding('utf8');
      res.on('data', (d) => { s.text += d; });
      res.on('end', () => { s.ended = true; });
      s.blocks = () => parseSse(s.text.slice(0, s.text.lastIndexOf('\n\n') + 2));
      s.close = () => req.destroy();
      resolve(s);
    });
    req.on('error', reject);
  });
}

// An EventSource whose underlying response can be cut from the client side
// (dropNow): the EventSource then reconnects by itself, with Last-Event-ID.
function droppableEventSource(url) {
  const requests = [];
  let cut = null;
  const es = new EventSource(url, {
    fetch: async (input, init) => {
      requests.push({ url: String(input), lastEventId: new Headers(init.headers).get('last-event-id') });
      const res = await fetch(input, init);
      const reader = res.body.getReader();
      let controllerRef;
      const body = new ReadableStream({
        start(controller) { controllerRef = controller; },
        async pull(controller) {
          const { value, done } = await reader.read().catch(() => ({ done: true }));
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel() { reader.cancel().catch(() => {}); },
      });
      cut = () => {
        reader.cancel().catch(() => {});
        try { controllerRef.close(); } catch {}
      };
      return new Response(body, { status: res.status, headers: res.headers });
    },
  });
  return { es, requests, dropNow: () => cut && cut() };
}

test('plain SSE endpoint', async (t) => {
  const srv = await startServer({ args: ['--config', writeConfig(CONFIG)] });
  t.after(() => srv.stop());

  await t.test('response head: event stream, close-delimited, no caching or proxy buffering', async () => {
    const s = await rawStream(`${srv.url}/sse?channel=head`);
    try {
      assert.equal(s.status, 200);
      assert.equal(s.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(s.headers['cache-control'], 'no-cache');
      assert.equal(s.headers['x-accel-buffering'], 'no');
      assert.equal(s.headers.connection, 'close');
      assert.equal(s.headers['content-length'], undefined);
      assert.equal(s.headers['transfer-encoding'], undefined);
      await waitFor(() => s.blocks().length >= 2, 'the opening blocks');
      const [retry, subscribed] = s.blocks();
      assert.equal(retry.retry, '3000');
      assert.equal(subscribed.event, 'subscribed');
      const d = JSON.parse(subscribed.data);
      assert.equal(d.channels.length, 1);
      assert.equal(d.channels[0].channel, 'head');
      assert.equal(d.channels[0].offset, 0);
      assert.match(subscribed.id, new RegExp(`^${d.channels[0].epoch}:0$`));
    } finally {
      s.close();
    }
  });

  await t.test('live events on two channels through EventSource, published with the API', async () => {
    const es = new EventSource(`${srv.url}/sse?channel=news&channel=live:ticker`);
    const messages = [];
    let subscribed = null;
    es.addEventListener('subscribed', (e) => { subscribed = JSON.parse(e.data); });
    es.onmessage = (e) => messages.push({ id: e.lastEventId, data: JSON.parse(e.data) });
    try {
      await waitFor(() => subscribed, 'the subscribed event');
      const epoch = subscribed.channels[0].epoch;
      assert.deepEqual(subscribed.channels[1], { channel: 'live:ticker', offset: 0 });
      const p1 = await publish(srv, 'news', { text: 'hello' });
      await publish(srv, 'live:ticker', { price: 7 });
      const p2 = await publish(srv, 'news', { text: 'again' });
      await waitFor(() => messages.length >= 3, 'three events');
      assert.deepEqual(messages.map((m) => m.data), [
        { channel: 'news', offset: p1.offset, data: { text: 'hello' } },
        { channel: 'live:ticker', offset: 0, data: { price: 7 } },
        { channel: 'news', offset: p2.offset, data: { text: 'again' } },
      ]);
      // The id holds the position in every channel, in request order.
      assert.equal(messages[0].id, `${epoch}:${p1.offset},0`);
      assert.equal(messages[2].id, `${epoch}:${p2.offset},0`);
      assert.equal(p1.epoch, epoch);
    } finally {
      es.close();
    }
  });

  await t.test('resume through Last-Event-ID after a drop: every publication once, in order', async () => {
    const { es, requests, dropNow } = droppableEventSource(`${srv.url}/sse?channel=feed&channel=live:x`);
    const got = [];
    let opens = 0;
    es.addEventListener('subscribed', () => { opens += 1; });
    es.addEventListener('reset', (e) => got.push({ reset: e.data }));
    es.onmessage = (e) => got.push(JSON.parse(e.data).data.n);
    try {
      await waitFor(() => opens === 1, 'the first subscribed event');
      let n = 0;
      const publishSome = async (count) => {
        for (let i = 0; i < count; i++) {
          n += 1;
          await publish(srv, 'feed', { n });
          await new Promise((r) => setTimeout(r, 15));
        }
      };
      await publishSome(20);
      await waitFor(() => got.length === 20, '20 live events');
      dropNow();
      // Publications continue while the client is away (its retry is 3 s).
      const during = publishSome(60);
      await waitFor(() => opens === 2, 'the reconnect', 10000);
      await during;
      await publishSome(10);
      await waitFor(() => got.length >= 90, 'all 90 publications', 10000);
      await new Promise((r) => setTimeout(r, 200));  // anything extra would show now
      assert.deepEqual(got, Array.from({ length: 90 }, (_, i) => i + 1));
      assert.equal(requests.length, 2);
      assert.equal(requests[0].lastEventId, null);
      assert.match(requests[1].lastEventId, /^[A-Za-z0-9]+:20,0$/);
    } finally {
      es.close();
    }
  });

  await t.test('?last_event_id= resumes as the header does', async () => {
    const first = await rawStream(`${srv.url}/sse?channel=q1`);
    await waitFor(() => first.blocks().length >= 2, 'subscribed');
    const start = first.blocks()[1].id;
    first.close();
    const p = [];
    for (let i = 0; i < 3; i++) p.push(await publish(srv, 'q1', { i }));
    const s = await rawStream(`${srv.url}/sse?channel=q1&last_event_id=${encodeURIComponent(start)}`);
    try {
      await waitFor(() => s.blocks().length >= 5, 'the missed publications');
      const events = s.blocks().filter((b) => !b.event && b.data);
      assert.deepEqual(events.map((b) => JSON.parse(b.data).data), [{ i: 0 }, { i: 1 }, { i: 2 }]);
      assert.deepEqual(events.map((b) => b.id), p.map((x) => `${x.epoch}:${x.offset}`));
      // The header wins over the query parameter (it is the newer one).
      const h = await rawStream(`${srv.url}/sse?channel=q1&last_event_id=${encodeURIComponent(start)}`,
        { 'Last-Event-ID': `${p[2].epoch}:${p[2].offset}` });
      await waitFor(() => h.blocks().length >= 2, 'subscribed');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(h.blocks().filter((b) => !b.event && b.data).length, 0);
      h.close();
    } finally {
      s.close();
    }
  });

  await t.test('a position that cannot be recovered is an explicit reset, then live', async () => {
    const p = await publish(srv, 'stale', { x: 1 });
    const s = await rawStream(`${srv.url}/sse?channel=stale&channel=live:y`, { 'Last-Event-ID': 'oldEpoch:1,0' });
    try {
      await waitFor(() => s.blocks().some((b) => b.event === 'reset'), 'the reset event');
      const reset = s.blocks().find((b) => b.event === 'reset');
      const d = JSON.parse(reset.data);
      assert.equal(d.channel, 'stale');
      assert.equal(d.recovered, false);
      assert.equal(d.epoch, p.epoch);
      assert.equal(d.offset, p.offset);
      assert.match(d.reason, /epoch/);
      assert.equal(reset.id, `${p.epoch}:${p.offset},0`);
      const live = await publish(srv, 'stale', { x: 2 });
      await waitFor(() => s.blocks().some((b) => !b.event && b.data), 'a live event');
      const ev = s.blocks().filter((b) => !b.event && b.data);
      assert.equal(ev.length, 1);
      assert.deepEqual(JSON.parse(ev[0].data), { channel: 'stale', offset: live.offset, data: { x: 2 } });
    } finally {
      s.close();
    }
  });

  await t.test('a client that goes away, or keeps sending, leaves its channels', async () => {
    const subs = async () => {
      const r = await request(`${srv.url}/api/info`, { method: 'POST', headers: { 'X-API-Key': KEY }, body: '{}' });
      return JSON.parse(r.body).result.nodes[0].num_subs;
    };
    const base = await subs();
    const s = await rawStream(`${srv.url}/sse?channel=g1&channel=g2&channel=live:g3`);
    await waitFor(() => s.blocks().length >= 2, 'subscribed');
    assert.equal(await subs(), base + 3);
    s.close();
    for (let i = 0; i < 100 && (await subs()) !== base; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await subs(), base);

    // Nothing is read after the request; over 4 KiB of it is not a stream reader.
    const sock = net.connect(srv.port, '127.0.0.1');
    let got = '';
    const closed = new Promise((resolve) => sock.on('close', resolve));
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    sock.write('GET /sse?channel=g4 HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => got.includes('event: subscribed'), 'subscribed');
    assert.equal(await subs(), base + 1);
    sock.write('x'.repeat(1000));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sock.destroyed, false, 'a little input is ignored');
    sock.write('x'.repeat(5000));
    await closed;
    for (let i = 0; i < 100 && (await subs()) !== base; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await subs(), base);
  });

  await t.test('refusals are plain HTTP answers naming the problem', async () => {
    const cases = [
      ['/sse', {}, 400, /missing channel/],
      ['/sse?channel=a&channel=a', {}, 400, /listed twice/],
      ['/sse?channel=nope:a', {}, 400, /unknown channel namespace/],
      [`/sse?${Array.from({ length: 17 }, (_, i) => `channel=c${i}`).join('&')}`, {}, 400, /at most 16/],
      ['/sse?channel=a&last_event_id=garbage', {}, 400, /last event id/],
      ['/sse?channel=a&token=not.a.jwt', {}, 401, /invalid token/],
      ['/sse?channel=a', { Authorization: 'Basic eA==' }, 401, /Bearer/],
      ['/sse?channel=members:x', {}, 403, /not allowed to subscribe/],
      ['/sse?channel=%24private', {}, 403, /subscription token/],
    ];
    for (const [url, headers, status, message] of cases) {
      const r = await request(`${srv.url}${url}`, { headers });
      assert.equal(r.status, status, `${url}: ${r.body}`);
      assert.equal(r.headers['content-type'], 'application/json');
      const body = JSON.parse(r.body);
      assert.equal(body.error.code, status);
      assert.match(body.error.message, message, url);
    }
    // With a token the members channel is open, from the header or the query.
    for (const [url, headers] of [[`/sse?channel=members:x`, { Authorization: `Bearer ${token('ann')}` }],
      [`/sse?channel=members:x&token=${token('ann')}`, {}]]) {
      const s = await rawStream(`${srv.url}${url}`, headers);
      assert.equal(s.status, 200);
      s.close();
    }
  });
});

test('a server shutdown ends open streams and the server exits promptly', async () => {
  const srv = await startServer({ args: ['--config', writeConfig(CONFIG)] });
  const s = await rawStream(`${srv.url}/sse?channel=bye`);
  await waitFor(() => s.blocks().length >= 2, 'subscribed');
  const t0 = Date.now();
  const { code } = await srv.stop();
  assert.equal(code, 0);
  await waitFor(() => s.ended, 'the end of the stream');
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
});

test('[plain] sets the heartbeat interval and the retry hint', async () => {
  const srv = await startServer({
    args: ['--config', writeConfig(CONFIG + '\n[plain]\nheartbeat_interval = "1s"\nretry = "750ms"\n')],
  });
  try {
    const s = await rawStream(`${srv.url}/sse?channel=beat`);
    await waitFor(() => /^: ping$/m.test(s.text), 'a heartbeat comment within the configured interval', 5000);
    assert.match(s.text, /^retry: 750$/m);
    s.close();
  } finally {
    await srv.stop();
  }
});

// A client that stops reading finds, once it reads again, the events queued
// before it fell behind and then `event: disconnect` 3008 "slow" (reconnect
// with Last-Event-ID), and the stream ends.
test('a stream that is not read ends with event: disconnect 3008 "slow"', async (t) => {
  const srv = await startServer({ args: ['--config', writeConfig(CONFIG)],
    env: { SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: '262144', SWITCHBOARD_SERVER_WORKERS: '1' } });
  t.after(() => srv.stop());
  let text = '';
  let ended = false;
  let res;
  await new Promise((resolve, reject) => {
    const req = http.get(`${srv.url}/sse?channel=live:slow`, { agent: false }, (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (d) => { text += d; if (text.includes('event: subscribed')) resolve(); });
      r.on('end', () => { ended = true; });
      r.on('error', () => { ended = true; });
    });
    req.on('error', reject);
  });
  res.pause();  // stops reading: the kernel buffers fill, then the write queue
  const data = { blob: 'x'.repeat(60000) };
  const health = async () => JSON.parse((await request(`${srv.url}/health`)).body);
  let published = 0;
  const deadline = Date.now() + 20000;
  while ((await health()).slow_consumer_disconnects < 1 && Date.now() < deadline) {
    await Promise.all(Array.from({ length: 20 }, () => publish(srv, 'live:slow', data)));
    published += 20;
  }
  assert.ok((await health()).slow_consumer_disconnects >= 1, `no slow consumer after ${published} publications`);
  res.resume();
  await waitFor(() => ended, 'the end of the stream', 15000);
  const blocks = parseSse(text);
  const last = blocks[blocks.length - 1];
  assert.equal(last.event, 'disconnect');
  assert.deepEqual(JSON.parse(last.data), { code: 3008, reason: 'slow' });
  const delivered = blocks.filter((b) => b.id && !b.event).length;
  assert.ok(delivered > 0 && delivered < published, `read ${delivered} of ${published} publications first`);
});
