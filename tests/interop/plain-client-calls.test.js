// The HTTP calls of plain clients (docs/plain.md) against the real binary:
// POST /publish, GET /presence, GET /history — tokens, the namespace rules
// exactly as for protocol clients (for_client, for_subscriber through
// ?client=, for_anonymous), bad JSON, missing or bad tokens, unknown
// namespaces, namespaces without presence or history, origins — and what
// streams with a user token add: a client id, presence while they are open
// (refreshed, removed at the end), join/leave, and the server API's
// disconnect.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { request } = require('./lib/server');
const {
  sleep, waitFor, cleanupStack, connectionToken, startCentrifugo, api, apiDisconnect,
} = require('./lib/centrifuge');

const NAMESPACES = [
  // Subscribers only: a plain call counts as subscribed with ?client= of its stream.
  { name: 'room', presence: true, join_leave: true, history_size: 50, history_ttl: '300s', allow_subscribe_for_client: true,
    allow_publish_for_subscriber: true, allow_presence_for_subscriber: true, allow_history_for_subscriber: true },
  // Any client with a token; anonymous too for publishing.
  { name: 'open', presence: true, history_size: 10, history_ttl: '300s', allow_subscribe_for_client: true,
    allow_publish_for_client: true, allow_publish_for_anonymous: true, allow_presence_for_client: true,
    allow_history_for_client: true },
  // No presence, no history.
  { name: 'bare', allow_subscribe_for_client: true, allow_publish_for_client: true, allow_presence_for_client: true,
    allow_history_for_client: true },
  // Anonymous subscribers.
  { name: 'anon', presence: true, allow_subscribe_for_client: true, allow_subscribe_for_anonymous: true },
  // Nothing allowed to clients.
  { name: 'closed', presence: true, history_size: 10, history_ttl: '300s' },
];

function call(srv, method, path, { token, query = {}, body, headers = {} } = {}) {
  const q = new URLSearchParams(query);
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  return request(`${srv.url}${path}?${q}`, { method, headers: h, body }).then((r) => {
    let json = null;
    try { json = JSON.parse(r.body); } catch (e) { /* not JSON */ }
    return { ...r, json };
  });
}
const publish = (srv, channel, data, opts = {}) => call(srv, 'POST', '/publish',
  { ...opts, query: { channel, ...(opts.query || {}) }, body: data === undefined ? opts.body : JSON.stringify(data) });
const presence = (srv, channel, opts = {}) => call(srv, 'GET', '/presence', { ...opts, query: { channel, ...(opts.query || {}) } });
const history = (srv, channel, opts = {}) => call(srv, 'GET', '/history', { ...opts, query: { channel, ...(opts.query || {}) } });

function expectError(r, status, message) {
  assert.equal(r.status, status, r.body);
  assert.equal(r.json.error.code, status);
  assert.match(r.json.error.message, message);
}

// A /ws stream; resolves once its subscribed message arrived.
function openWs(srv, query) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${srv.wsUrl}/ws?${query}`);
    const c = { ws, messages: [], closed: null };
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString());
      c.messages.push(msg);
      if (msg.type === 'subscribed') { c.subscribed = msg; resolve(c); }
    });
    ws.on('close', (code, reason) => { c.closed = { code, reason: reason.toString() }; });
    ws.on('error', reject);
  });
}

test('POST /publish, GET /presence, GET /history', { timeout: 60000 }, async (t) => {
  const defer = cleanupStack(t);
  const srv = await startCentrifugo({
    namespaces: NAMESPACES,
    env: {
      SWITCHBOARD_CLIENT_ALLOW_ANONYMOUS: 'true',
      // Presence lives 2 s unless refreshed: streams must refresh it.
      SWITCHBOARD_CLIENT_PING_INTERVAL: '1s', SWITCHBOARD_CLIENT_PONG_TIMEOUT: '500ms',
      SWITCHBOARD_CLIENT_PRESENCE_TTL: '2s', SWITCHBOARD_PLAIN_HEARTBEAT_INTERVAL: '1s',
      SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: 'http://good.example',
    },
  });
  defer(() => srv.stop());
  const ann = connectionToken('ann', { info: { name: 'Ann' } });
  const bob = connectionToken('bob');

  await t.test('publish: answers the position; the publication carries the caller', async () => {
    const c = await openWs(srv, `channel=open:a&token=${bob}`);
    defer(() => c.ws.close());
    const r = await publish(srv, 'open:a', { text: 'hi', n: [1, 2] }, { token: ann });
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(Object.keys(r.json), ['offset', 'epoch']);
    assert.equal(r.json.offset, 1);
    assert.equal(r.json.epoch, c.subscribed.channels[0].epoch);
    await waitFor(() => c.messages.length >= 2, { label: 'the publication' });
    const pub = c.messages[1];
    assert.deepEqual(pub.data, { text: 'hi', n: [1, 2] });
    assert.equal(pub.info.user, 'ann');
    assert.deepEqual(pub.info.conn_info, { name: 'Ann' });
    assert.match(pub.info.client, /^[0-9a-f-]{36}$/, 'a fresh client id when none is named');
    // Whitespace is not kept; a bare JSON scalar is fine; a channel without history answers offset 0.
    const spaced = await call(srv, 'POST', '/publish', { token: ann, query: { channel: 'open:a' }, body: ' { "a" : 1 }\n' });
    assert.equal(spaced.status, 200);
    const stored = await api(srv, 'history', { channel: 'open:a', limit: -1 });
    assert.equal(JSON.stringify(stored.publications[1].data), '{"a":1}');
    const bare = await publish(srv, 'bare:a', 7, { token: ann });
    assert.deepEqual(bare.json, { offset: 0 });
    // The token may come as ?token= too; anonymous where the namespace allows it.
    assert.equal((await publish(srv, 'open:a', 1, { query: { token: ann } })).status, 200);
    const anon = await publish(srv, 'open:a', 'anon');
    assert.equal(anon.status, 200, anon.body);
  });

  await t.test('publish: refusals name the problem', async () => {
    expectError(await publish(srv, 'open:a', undefined, { token: ann, body: '{"text":' }), 400, /body is not valid JSON/);
    expectError(await publish(srv, 'open:a', undefined, { token: ann, body: '' }), 400, /empty body/);
    expectError(await publish(srv, 'open:a', undefined, { token: ann, body: '{"a":1} x' }), 400, /not valid JSON/);
    expectError(await call(srv, 'POST', '/publish', { token: ann, body: '1' }), 400, /missing channel parameter/);
    expectError(await call(srv, 'POST', '/publish', { token: ann, query: 'channel=open:a&channel=open:b', body: '1' }), 400, /one channel per call/);
    expectError(await publish(srv, 'nope:a', 1, { token: ann }), 400, /unknown channel namespace in 'nope:a'/);
    expectError(await publish(srv, 'open:a\u0001', 1, { token: ann }), 400, /invalid channel name/);
    expectError(await publish(srv, 'closed:a', 1, { token: ann }), 403, /not allowed to publish to 'closed:a'/);
    expectError(await publish(srv, 'room:a', 1, { token: ann }), 403, /not allowed to publish to 'room:a'/);
    expectError(await publish(srv, 'bare:a', 1), 403, /not allowed to publish/);  // anonymous: only open allows it
    expectError(await publish(srv, 'open:a', 1, { token: 'x.y.z' }), 401, /invalid token/);
    expectError(await publish(srv, 'open:a', 1, { token: connectionToken('ann', { ttl: -5 }) }), 401, /token expired/);
    expectError(await publish(srv, 'open:a', 1, { headers: { Authorization: 'Basic abc' } }), 401, /Bearer/);
    const get = await call(srv, 'GET', '/publish', { token: ann, query: { channel: 'open:a' } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST, OPTIONS', 'OPTIONS: CORS preflights');
    expectError(await publish(srv, 'open:a', 1, { token: ann, headers: { Origin: 'http://evil.example' } }), 403, /origin/i);
    assert.equal((await publish(srv, 'open:a', 1, { token: ann, headers: { Origin: 'http://good.example' } })).status, 200);
  });

  await t.test('subscriber-only rules: ?client= names a stream of the caller in the channel', async () => {
    const c = await openWs(srv, `channel=room:x&token=${ann}`);
    defer(() => c.ws.close());
    const client = c.subscribed.client;
    assert.match(client, /^[0-9a-f-]{36}$/);
    const ok = await publish(srv, 'room:x', { text: 'as subscriber' }, { token: ann, query: { client } });
    assert.equal(ok.status, 200, ok.body);
    await waitFor(() => c.messages.some((m) => m.data && m.data.text === 'as subscriber'), { label: 'the publication' });
    assert.equal(c.messages.find((m) => m.data && m.data.text).info.client, client, 'published as that stream');
    const p = await presence(srv, 'room:x', { token: ann, query: { client } });
    assert.equal(p.status, 200, p.body);
    assert.deepEqual(p.json.presence, { [client]: { user: 'ann', client, conn_info: { name: 'Ann' } } });
    const h = await history(srv, 'room:x', { token: ann, query: { client } });
    assert.equal(h.status, 200, h.body);
    assert.deepEqual(h.json.publications.map((x) => x.data), [{ text: 'as subscriber' }]);
    // Without it, with someone else's, or with a made-up one: not subscribed.
    expectError(await presence(srv, 'room:x', { token: ann }), 403, /not allowed to read the presence of 'room:x'$/);
    expectError(await history(srv, 'room:x', { token: bob, query: { client } }), 403,
      /not allowed to read the history of 'room:x' \(client '.+' is not a stream of this user in the channel's presence\)/);
    expectError(await publish(srv, 'room:x', 1, { token: ann, query: { client: 'made-up' } }), 403, /not allowed to publish/);
    expectError(await presence(srv, 'room:y', { token: ann, query: { client } }), 403, /not allowed/);
  });

  await t.test('presence and history: shapes, limits and namespaces without them', async () => {
    for (let i = 1; i <= 12; i++) await api(srv, 'publish', { channel: 'open:h', data: { i } });
    const all = await history(srv, 'open:h', { token: bob });
    assert.equal(all.status, 200);
    assert.equal(all.headers['cache-control'], 'no-cache');
    assert.deepEqual(all.json.publications.map((p) => p.data.i), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'the 10 kept, oldest first');
    assert.deepEqual(all.json.publications[0], { channel: 'open:h', offset: 3, data: { i: 3 } });
    assert.equal(all.json.offset, 12);
    assert.match(all.json.epoch, /^\w+$/);
    const three = await history(srv, 'open:h', { token: bob, query: { limit: '3' } });
    assert.deepEqual(three.json.publications.map((p) => p.offset), [10, 11, 12]);
    const none = await history(srv, 'open:h', { token: bob, query: { limit: '0' } });
    assert.deepEqual(none.json, { publications: [], epoch: all.json.epoch, offset: 12 });
    expectError(await history(srv, 'open:h', { token: bob, query: { limit: '-1' } }), 400, /limit must be a whole number/);
    expectError(await history(srv, 'open:h', { token: bob, query: { limit: 'x' } }), 400, /limit/);
    expectError(await history(srv, 'bare:h', { token: bob }), 404, /keeps no history/);
    expectError(await presence(srv, 'bare:h', { token: bob }), 404, /keeps no presence/);
    expectError(await history(srv, 'closed:h', { token: bob }), 403, /not allowed to read the history of 'closed:h'/);
    expectError(await presence(srv, 'open:h'), 403, /not allowed to read the presence/);  // anonymous
    expectError(await presence(srv, 'nope:h', { token: bob }), 400, /unknown channel namespace/);
    const empty = await presence(srv, 'open:nobody', { token: bob });
    assert.deepEqual(empty.json, { presence: {} });
    // The history position resumes a stream exactly after it.
    const c = await openWs(srv, `channel=open:h&token=${bob}&since=${three.json.epoch}:${three.json.offset}`);
    defer(() => c.ws.close());
    await api(srv, 'publish', { channel: 'open:h', data: { i: 13 } });
    await waitFor(() => c.messages.length >= 2, { label: 'the next publication' });
    assert.deepEqual(c.messages.slice(1).map((m) => m.offset), [13]);
  });

  await t.test('streams with a token: presence while open (refreshed), join/leave, gone at the end', async () => {
    const watcher = await openWs(srv, `channel=room:p&token=${bob}&join_leave=true`);
    defer(() => watcher.ws.close());
    const sse = await request(`${srv.url}/presence?channel=room:p&client=${watcher.subscribed.client}`,
      { headers: { Authorization: `Bearer ${bob}` } });
    assert.equal(JSON.parse(sse.body).presence[watcher.subscribed.client].user, 'bob');

    // An SSE stream of Ann: a client id in its subscribed event, in presence, a join for the watcher.
    const ac = new AbortController();
    const res = await fetch(`${srv.url}/sse?channel=room:p&token=${ann}`, { signal: ac.signal });
    const reader = res.body.getReader();
    let text = '';
    await waitFor(async () => {
      const { value } = await reader.read();
      text += Buffer.from(value).toString();
      return text.includes('"client":');
    }, { label: 'the SSE subscribed event' });
    const annClient = JSON.parse(text.match(/event: subscribed\nid: .*\ndata: (.*)\n/)[1]).client;
    await waitFor(() => watcher.messages.some((m) => m.type === 'join' && m.info.client === annClient), { label: "Ann's join" });
    const join = watcher.messages.find((m) => m.type === 'join' && m.info.client === annClient);
    assert.deepEqual(join, { type: 'join', channel: 'room:p', info: { user: 'ann', client: annClient, conn_info: { name: 'Ann' } } });
    // Presence outlives its 2 s TTL because the streams refresh it.
    await sleep(3500);
    const p = await api(srv, 'presence', { channel: 'room:p' });
    assert.deepEqual(Object.keys(p.presence).sort(), [annClient, watcher.subscribed.client].sort());
    // The stream ends: presence goes, the watcher sees the leave.
    ac.abort();
    await waitFor(() => watcher.messages.some((m) => m.type === 'leave' && m.info.client === annClient), { label: "Ann's leave" });
    const after = await api(srv, 'presence', { channel: 'room:p' });
    assert.deepEqual(Object.keys(after.presence), [watcher.subscribed.client]);
    // Anonymous streams and streams without ?join_leave get no join/leave and hold no presence.
    const anon = await openWs(srv, 'channel=anon:q');
    defer(() => anon.ws.close());
    assert.equal(anon.subscribed.client, undefined);
    const quiet = await openWs(srv, `channel=room:p&token=${connectionToken('carl')}`);
    defer(() => quiet.ws.close());
    await waitFor(() => watcher.messages.some((m) => m.type === 'join' && m.info.user === 'carl'), { label: "Carl's join" });
    await sleep(200);
    assert.equal(quiet.messages.filter((m) => m.type === 'join' || m.type === 'leave').length, 0);
    assert.deepEqual(Object.keys((await api(srv, 'presence', { channel: 'anon:q' })).presence || {}), []);
  });

  await t.test('the server API disconnects plain streams of a user', async () => {
    const ws = await openWs(srv, `channel=open:d&token=${connectionToken('dora')}`);
    const res = await fetch(`${srv.url}/sse?channel=open:d&token=${connectionToken('dora')}`);
    const other = await openWs(srv, `channel=open:d&token=${connectionToken('eve')}`);
    defer(() => other.ws.close());
    await apiDisconnect(srv, 'dora', 3011, 'come back');
    await waitFor(() => ws.closed, { label: 'the /ws stream closed' });
    assert.deepEqual(ws.closed, { code: 3011, reason: 'come back' });
    const body = await res.text();  // the SSE stream ends after its disconnect event
    assert.match(body, /event: disconnect\ndata: \{"code":3011,"reason":"come back"\}\n\n$/);
    await sleep(100);
    assert.equal(other.closed, null, "another user's stream stays");
    assert.deepEqual(Object.keys((await api(srv, 'presence', { channel: 'open:d' })).presence), [other.subscribed.client]);
    // By client id: only that stream.
    const one = await openWs(srv, `channel=open:d&token=${connectionToken('eve')}`);
    await api(srv, 'disconnect', { user: 'eve', client: one.subscribed.client });
    await waitFor(() => one.closed, { label: 'that stream closed' });
    assert.equal(one.closed.code, 3503);
    assert.equal(other.closed, null);
  });
});
