// The official Centrifugo JavaScript SDK (npm `centrifuge` 5.x) over the
// HTTP-based bidirectional emulation: `http_stream` (a fetch() stream of
// newline-delimited JSON) and `sse` (an EventSource, npm `eventsource`), each
// with POST /emulation carrying the client's later commands. Connect,
// subscribe, publish, presence, history, pings answered through /emulation,
// recovery after a server disconnect, the fallback from a refused WebSocket to
// http_stream, /emulation's errors, CORS on every browser endpoint, the
// per-transport connection metric, and the SDK in Chromium on another origin.
//
// Expected behaviour is Centrifugo's (centrifugal/centrifuge: emulation.go,
// handler_http_stream.go, handler_sse.go) and centrifuge-js's transports.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { EventSource } = require('eventsource');
const {
  sleep, waitFor, nextEvent, recordEvents, cleanupStack,
  connectionToken, startCentrifugo, api, apiDisconnect, newClient, connectClient,
} = require('./lib/centrifuge');
const { request } = require('./lib/server');
const { bundlePage, servePage, launch, skip: browserSkip } = require('./lib/sdk-page');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALLOWED = 'https://app.example.com';

const NAMESPACES = [
  {
    name: 'chat', presence: true, join_leave: true, history_size: 100, history_ttl: '300s', allow_recovery: true,
    allow_subscribe_for_client: true, allow_publish_for_subscriber: true, allow_presence_for_subscriber: true,
    allow_history_for_subscriber: true,
  },
];

const PATHS = { http_stream: '/connection/http_stream', sse: '/connection/sse' };

// An SDK client over one emulation transport (or a list of transports).
function emulationClient(srv, transports, opts = {}) {
  const list = (Array.isArray(transports) ? transports : [transports]).map((name) => ({
    transport: name,
    endpoint: name === 'websocket' ? `${srv.wsUrl}/connection/nowhere` : `${srv.url}${PATHS[name]}`,
  }));
  return newClient(list, { emulationEndpoint: `${srv.url}/emulation`, eventsource: EventSource, ...opts });
}

function subscription(client, channel, opts = {}) {
  const sub = client.newSubscription(channel, { minResubscribeDelay: 50, maxResubscribeDelay: 300, ...opts });
  const log = recordEvents(sub, ['subscribing', 'subscribed', 'unsubscribed', 'publication', 'join', 'leave', 'error']);
  return { sub, log };
}

async function metricValue(srv, name, labels) {
  const res = await request(`${srv.url}/metrics`);
  const line = res.body.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

for (const transport of ['http_stream', 'sse']) {
  test(`centrifuge SDK over ${transport}: connect, subscribe, publish, presence, history, pings`, async (t) => {
    // Pings every second: the session survives several only if its pongs come back through /emulation.
    const srv = await startCentrifugo({
      namespaces: NAMESPACES, env: { SWITCHBOARD_CLIENT_PING_INTERVAL: '1s', SWITCHBOARD_CLIENT_PONG_TIMEOUT: '800ms' },
    });
    t.after(() => srv.stop());
    const defer = cleanupStack(t);
    const alice = emulationClient(srv, transport, { token: connectionToken('alice', { info: { name: 'Alice' } }) });
    defer(() => alice.disconnect());
    const log = recordEvents(alice, ['connecting', 'connected', 'disconnected', 'error']);
    const ctx = await connectClient(alice);
    assert.equal(ctx.transport, transport);
    assert.match(ctx.client, UUID);
    assert.equal(await metricValue(srv, 'switchboard_client_connections', `transport="${transport}"`), 1,
      `the connection is counted under transport="${transport}"`);

    const a = subscription(alice, 'chat:room', { joinLeave: true });
    const subscribed = nextEvent(a.sub, 'subscribed', { label: 'alice subscribed' });
    a.sub.subscribe();
    await subscribed;

    // A second client on the same transport publishes; both get it.
    const bob = emulationClient(srv, transport, { token: connectionToken('bob') });
    defer(() => bob.disconnect());
    await connectClient(bob);
    const b = subscription(bob, 'chat:room');
    const bobSubscribed = nextEvent(b.sub, 'subscribed', { label: 'bob subscribed' });
    b.sub.subscribe();
    await bobSubscribed;
    await waitFor(() => a.log.of('join').some((j) => j.info.user === 'bob'), { label: 'alice sees bob join' });
    await b.sub.publish({ text: 'hello from bob' });
    await api(srv, 'publish', { channel: 'chat:room', data: { text: 'from the API' } });
    await waitFor(() => a.log.of('publication').length === 2 && b.log.of('publication').length === 2,
      { label: 'both publications at both clients' });
    assert.deepEqual(a.log.of('publication').map((p) => p.data.text), ['hello from bob', 'from the API']);
    assert.equal(a.log.of('publication')[0].info.user, 'bob');
    assert.deepEqual(a.log.of('publication').map((p) => p.offset), [1, 2]);

    const presence = await a.sub.presence();
    const users = Object.values(presence.clients).map((c) => c.user).sort();
    assert.deepEqual(users, ['alice', 'bob']);
    const stats = await a.sub.presenceStats();
    assert.deepEqual([stats.numClients, stats.numUsers], [2, 2]);
    const history = await a.sub.history({ limit: 10 });
    assert.deepEqual(history.publications.map((p) => p.data.text), ['hello from bob', 'from the API']);
    assert.equal(history.offset, 2);

    // Several ping intervals: pongs go through /emulation, so no 3012.
    await sleep(3500);
    assert.equal(alice.state, 'connected');
    assert.equal(log.of('connecting').length, 1, `no reconnect: ${JSON.stringify(log.of('connecting'))}`);
    assert.equal(log.of('error').length, 0, `no errors: ${JSON.stringify(log.of('error'))}`);
    assert.ok(!/3012|no pong/.test(srv.stderr), 'no pong timeout on the server');

    // A client disconnect ends its stream and its presence.
    const left = nextEvent(a.sub, 'leave', { label: 'bob leaves' });
    bob.disconnect();
    await left;
    await waitFor(async () => (await metricValue(srv, 'switchboard_client_connections', `transport="${transport}"`)) === 1,
      { label: 'the metric drops to one' });
  });

  test(`centrifuge SDK over ${transport}: recovery after a server disconnect`, async (t) => {
    const srv = await startCentrifugo({ namespaces: NAMESPACES });
    t.after(() => srv.stop());
    const defer = cleanupStack(t);
    const channel = 'chat:recover';
    const client = emulationClient(srv, transport, { token: connectionToken('rec-user') });
    defer(() => client.disconnect());
    const clientLog = recordEvents(client, ['connecting', 'connected', 'disconnected']);
    const s = subscription(client, channel, { recoverable: true });
    s.sub.subscribe();
    await connectClient(client);
    await waitFor(() => s.log.of('subscribed').length === 1, { label: 'first subscribed' });
    const epoch = s.log.of('subscribed')[0].streamPosition.epoch;

    const N = 40;
    for (let i = 0; i < N; i++) {
      await api(srv, 'publish', { channel, data: { n: i } });
      if (i === 10) await apiDisconnect(srv, 'rec-user', 3011, 'force reconnect');
      await sleep(10);
    }
    await waitFor(() => s.log.of('publication').length >= N, {
      timeout: 10000, label: 'every publication', describe: () => `${s.log.of('publication').length}/${N}`,
    });
    await sleep(200);
    assert.deepEqual(s.log.of('publication').map((p) => p.data.n), Array.from({ length: N }, (_, i) => i),
      'every publication once, in order');
    assert.ok(clientLog.of('connecting').some((c) => c.code === 3011 && c.reason === 'force reconnect'),
      `the disconnect push reached the SDK: ${JSON.stringify(clientLog.of('connecting'))}`);
    assert.equal(clientLog.of('disconnected').length, 0);
    const subs = s.log.of('subscribed');
    assert.equal(subs.length, 2);
    assert.equal(subs[1].wasRecovering, true);
    assert.equal(subs[1].recovered, true);
    assert.equal(subs[1].streamPosition.epoch, epoch);
    assert.equal(clientLog.of('connected').length, 2);
    assert.ok(clientLog.of('connected').every((c) => c.transport === transport));
  });
}

test('fallback: a refused WebSocket, then http_stream connects', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  t.after(() => srv.stop());
  const defer = cleanupStack(t);
  // The websocket endpoint points at a path the server answers with 404.
  const client = emulationClient(srv, ['websocket', 'http_stream', 'sse'], { token: connectionToken('carol') });
  defer(() => client.disconnect());
  const errors = recordEvents(client, ['error']);
  const ctx = await connectClient(client, 10000);
  assert.equal(ctx.transport, 'http_stream');
  assert.ok(errors.of('error').some((e) => e.type === 'transport'), 'the WebSocket attempt failed first');
  const s = subscription(client, 'chat:fallback');
  const subscribed = nextEvent(s.sub, 'subscribed');
  s.sub.subscribe();
  await subscribed;
  await api(srv, 'publish', { channel: 'chat:fallback', data: { ok: true } });
  await waitFor(() => s.log.of('publication').length === 1, { label: 'publication over the fallback' });
});

test('/emulation: errors name the problem', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  t.after(() => srv.stop());
  const post = (body, headers = {}) => request(`${srv.url}/emulation`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body,
  });
  let r = await post(JSON.stringify({ session: 'no-such-session', data: '{"id":1,"ping":{}}' }));
  assert.equal(r.status, 404);
  assert.match(JSON.parse(r.body).error.message, /unknown session "no-such-session"/);
  r = await post('{"session":');
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /not valid JSON/);
  r = await post(JSON.stringify({ session: 's', data: { id: 1 } }));
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /"data" must be a JSON string/);
  r = await post(JSON.stringify({ data: '{}' }));
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /"session" is missing/);
  r = await post('x', { 'Content-Type': 'application/octet-stream' });
  assert.equal(r.status, 415);
  r = await request(`${srv.url}/emulation`);
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'POST, OPTIONS');

  // A live session on another node id: 404 naming the node.
  const res = await fetch(`${srv.url}/connection/http_stream`, {
    method: 'POST', body: JSON.stringify({ id: 1, connect: { token: connectionToken('dave') } }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  const reader = res.body.getReader();
  const { value } = await reader.read();
  const reply = JSON.parse(Buffer.from(value).toString().split('\n')[0]);
  assert.match(reply.connect.session, UUID);
  assert.notEqual(reply.connect.session, reply.connect.client, 'the session id is not the public client id');
  r = await post(JSON.stringify({ session: reply.connect.session, node: 'elsewhere', data: '{"id":2,"ping":{}}' }));
  assert.equal(r.status, 404);
  assert.match(JSON.parse(r.body).error.message, /unknown node "elsewhere"/);
  r = await post(JSON.stringify({ session: reply.connect.session, node: reply.connect.node, data: '{"id":2,"ping":{}}' }));
  assert.equal(r.status, 204);
  const { value: next } = await reader.read();
  assert.equal(Buffer.from(next).toString(), '{"id":2,"ping":{}}\n');
  // Malformed commands for a live session: a disconnect push, then the stream ends.
  r = await post(JSON.stringify({ session: reply.connect.session, data: 'garbage' }));
  assert.equal(r.status, 204);
  let rest = '';
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    rest += Buffer.from(chunk.value).toString();
  }
  assert.equal(rest, '{"push":{"disconnect":{"code":3501,"reason":"bad request"}}}\n');
  r = await post(JSON.stringify({ session: reply.connect.session, data: '{"id":3,"ping":{}}' }));
  assert.equal(r.status, 404, 'an ended session is unknown');

  // The connect command is required.
  r = await request(`${srv.url}/connection/http_stream`, { method: 'POST', body: '' });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /connect command/);
  r = await request(`${srv.url}/connection/sse`);
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /cf_connect/);
});

test('CORS: preflights, allowed origins echoed, others refused with 403', async (t) => {
  const srv = await startCentrifugo({
    namespaces: [{ name: 'pub', allow_subscribe_for_anonymous: true, allow_subscribe_for_client: true }],
    env: { SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: ALLOWED, SWITCHBOARD_CLIENT_ALLOW_ANONYMOUS: 'true' },
  });
  t.after(() => srv.stop());
  const endpoints = [
    ['/emulation', 'POST, OPTIONS'],
    ['/connection/http_stream', 'POST, OPTIONS'],
    ['/connection/sse', 'GET, POST, OPTIONS'],
    ['/connection/uni_http_stream', 'POST, OPTIONS'],
    ['/connection/uni_sse', 'GET, POST, OPTIONS'],
    ['/sse', 'GET, OPTIONS'],
    ['/poll', 'GET, OPTIONS'],
    ['/publish', 'POST, OPTIONS'],
    ['/presence', 'GET, OPTIONS'],
    ['/history', 'GET, OPTIONS'],
  ];
  for (const [path, methods] of endpoints) {
    const pre = await request(`${srv.url}${path}`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(pre.status, 204, `${path} preflight`);
    assert.equal(pre.headers['access-control-allow-origin'], ALLOWED, path);
    assert.equal(pre.headers['access-control-allow-credentials'], 'true', path);
    assert.equal(pre.headers['access-control-allow-methods'], methods, path);
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type', path);
    assert.equal(pre.headers['access-control-max-age'], '300', path);
    assert.equal(pre.headers.vary, 'Origin', path);
    const bad = await request(`${srv.url}${path}`, {
      method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(bad.status, 403, `${path} preflight from another origin`);
    assert.match(JSON.parse(bad.body).error.message, /origin "https:\/\/evil\.example" is not allowed/);
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
  }

  // Real requests from the allowed origin carry the headers, errors included.
  let r = await request(`${srv.url}/emulation`, {
    method: 'POST', headers: { Origin: ALLOWED, 'Content-Type': 'application/json' }, body: '{}',
  });
  assert.equal(r.status, 400);
  assert.equal(r.headers['access-control-allow-origin'], ALLOWED);
  assert.equal(r.headers.vary, 'Origin');
  r = await request(`${srv.url}/poll?channel=pub:x&timeout=0`, { headers: { Origin: ALLOWED } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], ALLOWED, '/poll answer');
  // Streams: the head carries them.
  for (const [path, init] of [
    ['/connection/http_stream', { method: 'POST', body: '{"id":1,"connect":{}}' }],
    [`/connection/sse?cf_connect=${encodeURIComponent('{"id":1,"connect":{}}')}`, {}],
    ['/connection/uni_http_stream', { method: 'POST', body: '{}' }],
    ['/sse?channel=pub:x', {}],
  ]) {
    const controller = new AbortController();
    const res = await fetch(`${srv.url}${path}`, { ...init, headers: { Origin: ALLOWED }, signal: controller.signal });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED, path);
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true', path);
    controller.abort();
  }
  // Another origin: 403 naming it; no Origin at all (not a browser): served.
  r = await request(`${srv.url}/connection/http_stream`, {
    method: 'POST', headers: { Origin: 'https://evil.example' }, body: '{"id":1,"connect":{}}',
  });
  assert.equal(r.status, 403);
  assert.match(JSON.parse(r.body).error.message, /"https:\/\/evil\.example"/);
  r = await request(`${srv.url}/poll?channel=pub:x&timeout=0`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], undefined, 'no CORS headers without an Origin');
});

// A real browser on another origin: Chromium sends the preflights and checks
// the CORS headers of the stream, of /emulation and of their errors.
test('centrifuge SDK in Chromium from another origin over http_stream and sse', { skip: browserSkip }, async (t) => {
  const defer = cleanupStack(t);
  const pageServer = await servePage(await bundlePage());
  defer(() => new Promise((resolve) => { pageServer.closeAllConnections(); pageServer.close(resolve); }));
  const pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
  const srv = await startCentrifugo({ namespaces: NAMESPACES, env: { SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: pageOrigin } });
  defer(() => srv.stop());
  const browser = await launch();
  defer(() => browser.close());

  for (const transport of ['http_stream', 'sse']) {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => window.sbCentrifuge !== undefined, null, { timeout: 5000 });
    const endpoints = [{ transport, endpoint: `${srv.url}${PATHS[transport]}` }];
    const connected = await page.evaluate(([e, tk, opts]) => window.sbCentrifuge.connect(e, tk, opts),
      [endpoints, connectionToken(`page-${transport}`), { emulationEndpoint: `${srv.url}/emulation` }]);
    assert.equal(connected.transport, transport);
    const channel = `chat:browser-${transport}`;
    // subscribe, presence and publish are commands sent through /emulation.
    await page.evaluate(([ch]) => window.sbCentrifuge.subscribe(ch), [channel]);
    const presence = await page.evaluate(([ch]) => window.sbCentrifuge.presence(ch), [channel]);
    assert.deepEqual(Object.keys(presence.clients), [connected.client]);
    await page.evaluate(([ch]) => window.sbCentrifuge.publish(ch, { from: 'page' }), [channel]);
    await api(srv, 'publish', { channel, data: { from: 'api' } });
    await waitFor(async () => (await page.evaluate(([ch]) => window.sbCentrifuge.events(ch, 'publication'), [channel]))
      .length === 2, { label: `both publications in the page over ${transport}` });
    const pubs = await page.evaluate(([ch]) => window.sbCentrifuge.events(ch, 'publication'), [channel]);
    assert.deepEqual(pubs.map((p) => p.data.from), ['page', 'api']);
    assert.deepEqual(await page.evaluate(() => window.sbCentrifuge.events('client', 'error')), []);
    assert.deepEqual(pageErrors, []);
    await page.evaluate(() => window.sbCentrifuge.disconnect());
    await page.close();
  }
});
