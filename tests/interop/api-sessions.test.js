// The server API methods that act on connected clients (subscribe,
// unsubscribe, refresh, disconnect with a whitelist), channels, batch, the
// legacy POST /api, and [api] listen — with the official `centrifuge` SDK (or
// a raw protocol client) as the connected client, against the real binary.
//
// Expected behaviour is Centrifugo's server API (internal/api in
// centrifugal/centrifugo, client.go in centrifugal/centrifuge).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { request, freePort } = require('./lib/server');
const {
  API_KEY, sleep, waitFor, nextEvent, recordEvents, cleanupStack, connectionToken, nowSeconds,
  startCentrifugo, apiCall, api, newClient, connectClient, rawConnect,
} = require('./lib/centrifuge');

// news (no namespace): closed to clients, so only the API can subscribe them.
// room: presence and join/leave; rec: history with forced recovery; open:
// clients may subscribe themselves.
const NAMESPACES = [
  { name: 'room', presence: true, join_leave: true },
  { name: 'rec', history_size: 100, history_ttl: '300s', force_recovery: true },
  { name: 'open', allow_subscribe_for_client: true },
];

// A connected SDK client of `user` recording its server-side events.
async function connectUser(srv, defer, user) {
  const client = newClient(srv, { token: connectionToken(user) });
  defer(() => client.disconnect());
  const log = recordEvents(client, ['subscribed', 'unsubscribed', 'publication', 'disconnected']);
  const ctx = await connectClient(client);
  return { client, log, id: ctx.client };
}

test('server API acting on connections', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES, env: { SWITCHBOARD_CLIENT_EXPIRED_CLOSE_DELAY: '0s' } });
  t.after(() => srv.stop());

  await t.test('subscribe gives every connection of the user a server-side subscription', async (t) => {
    const defer = cleanupStack(t);
    const a1 = await connectUser(srv, defer, 'alice');
    const a2 = await connectUser(srv, defer, 'alice');
    const bob = await connectUser(srv, defer, 'bob');
    assert.deepEqual(await api(srv, 'subscribe', { user: 'alice', channel: 'news', data: { hello: 1 } }), {});
    for (const a of [a1, a2]) {
      await waitFor(() => a.log.of('subscribed').length === 1, { label: 'subscribed event' });
      const ctx = a.log.of('subscribed')[0];
      assert.equal(ctx.channel, 'news');
      assert.deepEqual(ctx.data, { hello: 1 });
    }
    await api(srv, 'publish', { channel: 'news', data: { n: 1 } });
    for (const a of [a1, a2]) {
      await waitFor(() => a.log.of('publication').length === 1, { label: 'publication on the server-side sub' });
      assert.deepEqual(a.log.of('publication')[0], { channel: 'news', data: { n: 1 } });
    }
    await sleep(100);
    assert.equal(bob.log.of('subscribed').length, 0, 'another user is not subscribed');
    assert.equal(bob.log.of('publication').length, 0);
    // A second subscribe to the same channel changes nothing.
    await api(srv, 'subscribe', { user: 'alice', channel: 'news' });
    await sleep(100);
    assert.equal(a1.log.of('subscribed').length, 1);
    assert.equal(a1.client.state, 'connected');
  });

  await t.test('subscribe with client targets one connection; info is its channel info', async (t) => {
    const defer = cleanupStack(t);
    const c1 = await connectUser(srv, defer, 'carol');
    const c2 = await connectUser(srv, defer, 'carol');
    await api(srv, 'subscribe', { user: 'carol', client: c2.id, channel: 'room:1', info: { seat: 7 } });
    await waitFor(() => c2.log.of('subscribed').length === 1, { label: 'subscribed event on the named client' });
    const presence = await api(srv, 'presence', { channel: 'room:1' });
    assert.deepEqual(Object.keys(presence.presence), [c2.id]);
    assert.deepEqual(presence.presence[c2.id].chan_info, { seat: 7 });
    assert.equal(c1.log.of('subscribed').length, 0);
  });

  await t.test('subscribe with recover_since delivers what was missed', async (t) => {
    const defer = cleanupStack(t);
    const first = await api(srv, 'publish', { channel: 'rec:a', data: { i: 1 } });
    await api(srv, 'publish', { channel: 'rec:a', data: { i: 2 } });
    await api(srv, 'publish', { channel: 'rec:a', data: { i: 3 } });
    const d = await connectUser(srv, defer, 'dave');
    await api(srv, 'subscribe', {
      user: 'dave', channel: 'rec:a', recover_since: { offset: first.offset, epoch: first.epoch },
    });
    await waitFor(() => d.log.of('publication').length === 2, { label: 'recovered publications' });
    const sub = d.log.of('subscribed')[0];
    assert.equal(sub.recoverable, true);
    assert.deepEqual(sub.streamPosition, { offset: 3, epoch: first.epoch });
    assert.deepEqual(d.log.of('publication').map((p) => [p.data.i, p.offset]), [[2, 2], [3, 3]]);
  });

  await t.test('unsubscribe removes server-side and client-side subscriptions (2000)', async (t) => {
    const defer = cleanupStack(t);
    const e = await connectUser(srv, defer, 'erin');
    await api(srv, 'subscribe', { user: 'erin', channel: 'news' });
    await waitFor(() => e.log.of('subscribed').length === 1, { label: 'subscribed' });
    const sub = e.client.newSubscription('open:x');
    const subLog = recordEvents(sub, ['subscribed', 'unsubscribed']);
    const subscribed = nextEvent(sub, 'subscribed');
    sub.subscribe();
    await subscribed;

    assert.deepEqual(await api(srv, 'unsubscribe', { user: 'erin', channel: 'news' }), {});
    await waitFor(() => e.log.of('unsubscribed').length === 1, { label: 'server-side unsubscribed' });
    assert.deepEqual(e.log.of('unsubscribed')[0], { channel: 'news' });
    await api(srv, 'unsubscribe', { user: 'erin', channel: 'open:x' });
    await waitFor(() => subLog.of('unsubscribed').length === 1, { label: 'client-side unsubscribed' });
    assert.equal(subLog.of('unsubscribed')[0].code, 2000);
    await api(srv, 'publish', { channel: 'news', data: { after: true } });
    await sleep(150);
    assert.equal(e.log.of('publication').length, 0, 'nothing after the unsubscribe');
    assert.equal(e.client.state, 'connected');
  });

  await t.test('refresh sets the expiry (refresh push); expired closes with 3005', async (t) => {
    const defer = cleanupStack(t);
    const { client, reply } = await rawConnect(srv, { token: connectionToken('frank') });
    defer(() => client.close());
    assert.ok(reply.connect);
    const expireAt = nowSeconds() + 600;
    await api(srv, 'refresh', { user: 'frank', expire_at: expireAt, info: { level: 2 } });
    const push = await waitFor(() => client.pushes().find((m) => m.push.refresh), { label: 'refresh push' });
    assert.equal(push.push.refresh.expires, true);
    assert.ok(push.push.refresh.ttl > 590 && push.push.refresh.ttl <= 600, JSON.stringify(push));
    await api(srv, 'refresh', { user: 'frank', expired: true });
    const closed = await client.waitClose();
    assert.equal(closed.code, 3005);

    // An expiry in the past is expired too.
    const again = await rawConnect(srv, { token: connectionToken('frank') });
    defer(() => again.client.close());
    await api(srv, 'refresh', { user: 'frank', expire_at: nowSeconds() - 1 });
    assert.equal((await again.client.waitClose()).code, 3005);
  });

  await t.test('disconnect spares the whitelisted client ids', async (t) => {
    const defer = cleanupStack(t);
    const keep = await rawConnect(srv, { token: connectionToken('gina') });
    const drop = await rawConnect(srv, { token: connectionToken('gina') });
    defer(() => keep.client.close());
    defer(() => drop.client.close());
    await api(srv, 'disconnect', {
      user: 'gina', whitelist: [keep.reply.connect.client], disconnect: { code: 4000, reason: 'bye' },
    });
    const closed = await drop.client.waitClose();
    assert.deepEqual([closed.code, closed.reason], [4000, 'bye']);
    await sleep(100);
    assert.equal(keep.client.closeInfo, null, 'the whitelisted connection stays');
  });

  await t.test('bad parameters are answered as Centrifugo does', async () => {
    for (const [method, body, status, code, re] of [
      ['subscribe', { channel: 'news' }, 400, 107, /user required/],
      ['subscribe', { user: 'x' }, 400, 107, /channel required/],
      ['subscribe', { user: 5, channel: 'news' }, 400, 107, /user must be a string/],
      ['subscribe', { user: 'x', channel: 'news', client: 1 }, 400, 107, /client must be a string/],
      ['subscribe', { user: 'x', channel: 'news', expire_at: -1 }, 400, 107, /expire_at/],
      ['subscribe', { user: 'x', channel: 'news', recover_since: 3 }, 400, 107, /recover_since/],
      ['subscribe', { user: 'x', channel: 'nope:x' }, 200, 102, /unknown channel/],
      ['subscribe', { user: 'x', channel: 'n'.repeat(300) }, 200, 107, /.+/],
      ['unsubscribe', { user: 'x' }, 400, 107, /channel required/],
      ['unsubscribe', { user: 'x', channel: 'nope:x' }, 200, 102, /unknown channel/],
      ['refresh', { client: 'x' }, 400, 107, /user required/],
      ['refresh', { user: 'x', expired: 'yes' }, 400, 107, /expired must be a boolean/],
      ['disconnect', { user: 'x', whitelist: 'abc' }, 400, 107, /whitelist/],
      ['disconnect', { user: 'x', disconnect: 5 }, 400, 107, /disconnect must be/],
      ['channels', { pattern: 5 }, 400, 107, /pattern must be a string/],
    ]) {
      const r = await apiCall(srv, method, body);
      const label = `${method} ${JSON.stringify(body).slice(0, 80)}`;
      assert.equal(r.status, status, label);
      assert.equal(r.json.error.code, code, label);
      assert.match(r.json.error.message, re, label);
    }
  });
});

test('channels lists active channels with their subscriber counts', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  const defer = cleanupStack(t);
  defer(() => srv.stop());
  const users = [];
  for (let i = 0; i < 3; i++) users.push(await connectUser(srv, defer, `u${i}`));
  await api(srv, 'subscribe', { user: 'u0', channel: 'room:a' });
  await api(srv, 'subscribe', { user: 'u1', channel: 'room:a' });
  await api(srv, 'subscribe', { user: 'u2', channel: 'room:b' });
  await api(srv, 'subscribe', { user: 'u2', channel: 'news' });
  await waitFor(() => users[2].log.of('subscribed').length === 2 && users[1].log.of('subscribed').length === 1,
    { label: 'subscriptions made' });
  assert.deepEqual(await api(srv, 'channels', {}), {
    channels: { news: { num_clients: 1 }, 'room:a': { num_clients: 2 }, 'room:b': { num_clients: 1 } },
  });
  assert.deepEqual(await api(srv, 'channels', { pattern: 'room:*' }),
    { channels: { 'room:a': { num_clients: 2 }, 'room:b': { num_clients: 1 } } });
  assert.deepEqual(await api(srv, 'channels', { pattern: '?oom:b' }), { channels: { 'room:b': { num_clients: 1 } } });
  assert.deepEqual(await api(srv, 'channels', { pattern: 'none*' }), { channels: {} });
  // Leaving a channel takes it off the list.
  await api(srv, 'unsubscribe', { user: 'u2', channel: 'room:b' });
  await waitFor(() => users[2].log.of('unsubscribed').length === 1, { label: 'unsubscribed' });
  assert.deepEqual(Object.keys((await api(srv, 'channels', {})).channels).sort(), ['news', 'room:a']);
});

test('batch and the legacy POST /api', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  t.after(() => srv.stop());

  await t.test('batch answers every command in order; a bad one fails alone', async () => {
    const r = await apiCall(srv, 'batch', {
      commands: [
        { publish: { channel: 'rec:batch', data: { i: 1 } } },
        { publish: { channel: 'nope:x', data: 1 } },
        { nope: {} },
        5,
        { publish: { channel: 'rec:batch' } },
        { history: { channel: 'rec:batch', limit: -1 } },
      ],
      parallel: true,
    });
    assert.equal(r.status, 200);
    const replies = r.json.replies;
    assert.equal(replies.length, 6);
    assert.equal(replies[0].publish.offset, 1);
    assert.equal(replies[1].error.code, 102);
    assert.equal(replies[2].error.code, 104);
    assert.equal(replies[3].error.code, 107);
    assert.match(replies[4].error.message, /data required/);
    assert.deepEqual(replies[5].history.publications.map((p) => p.data), [{ i: 1 }]);
    for (const [body, re] of [[{}, /commands required/], [{ commands: {} }, /commands required/],
      [{ commands: [], parallel: 1 }, /parallel must be a boolean/]]) {
      const bad = await apiCall(srv, 'batch', body);
      assert.equal(bad.status, 400);
      assert.match(bad.json.error.message, re);
    }
    assert.deepEqual((await apiCall(srv, 'batch', { commands: [] })).json, { replies: [] });
  });

  const legacy = (body, headers = { 'X-API-Key': API_KEY }) =>
    request(`${srv.url}/api`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });

  await t.test('legacy commands by name or number, one reply line each', async () => {
    const r = await legacy([
      JSON.stringify({ id: 1, method: 'publish', params: { channel: 'rec:legacy', data: { x: 1 } } }),
      JSON.stringify({ method: 'INFO', params: {} }),
      JSON.stringify({ id: 3, method: 9 }),
      JSON.stringify({ id: 4, method: 'nope', params: {} }),
      JSON.stringify({ id: 5, method: 'publish', params: { channel: 'rec:legacy' } }),
    ].join('\n'));
    assert.equal(r.status, 200);
    const lines = r.body.split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 5);
    assert.deepEqual(lines[0], { id: 1, result: { offset: 1, epoch: lines[0].result.epoch } });
    assert.equal(lines[1].result.nodes.length, 1);
    assert.equal(lines[2].id, 3);
    assert.equal(lines[2].result.nodes.length, 1);
    assert.equal(lines[3].error.code, 104);
    assert.equal(lines[4].error.code, 107);
  });

  await t.test('legacy: malformed JSON is 400 naming the command; no key is 401', async () => {
    const bad = await legacy('{"method":"info"}\n{"method":');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).error.message, /command 2/);
    assert.equal((await legacy('')).status, 400);
    assert.equal((await legacy('{"method":"info"}', {})).status, 401);
  });
});

test('[api] listen moves the API to its own listener', async (t) => {
  const apiPort = await freePort();
  const srv = await startCentrifugo({ env: { SWITCHBOARD_API_LISTEN: `127.0.0.1:${apiPort}` } });
  t.after(() => srv.stop());
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const post = (base, path, body, key = API_KEY) => request(`${base}${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': key }, body: JSON.stringify(body),
  });

  const info = await post(apiUrl, '/api/info', {});
  assert.equal(info.status, 200);
  assert.equal(JSON.parse(info.body).result.nodes.length, 1);
  assert.equal((await post(apiUrl, '/api/info', {}, 'wrong')).status, 401, 'the key is still required');
  assert.equal((await post(apiUrl, '/api/nope', {})).status, 404);
  assert.equal((await request(`${apiUrl}/health`)).status, 404, '/health stays on the main listener');

  for (const path of ['/api/info', '/api/publish', '/api']) {
    const main = await post(srv.url, path, {});
    assert.equal(main.status, 404, path);
    assert.match(JSON.parse(main.body).error.message, /api\.listen/, path);
  }
  assert.equal((await request(`${srv.url}/health`)).status, 200);

  // Publications made there reach clients of the main listener.
  const defer = cleanupStack(t);
  const c = await connectUser(srv, defer, 'zoe');
  const pub = await post(apiUrl, '/api/subscribe', { user: 'zoe', channel: 'news' });
  assert.equal(pub.status, 200);
  await waitFor(() => c.log.of('subscribed').length === 1, { label: 'subscribed through the API listener' });
  assert.equal((await post(apiUrl, '/api/publish', { channel: 'news', data: { via: 'api listener' } })).status, 200);
  await waitFor(() => c.log.of('publication').length === 1, { label: 'publication through the API listener' });
});
