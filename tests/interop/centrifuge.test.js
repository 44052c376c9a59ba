// Interop with the official Centrifugo JavaScript SDK (npm `centrifuge` 5.x,
// over npm `ws`) against the real switchboard binary: connection tokens and
// anonymous access, server-side and client-side subscriptions, publications
// from the HTTP API and from other clients, presence, join/leave, history,
// recovery across a forced reconnect and across a restart (new epoch),
// permission errors, token refresh through getToken, and heartbeats.
//
// Expected behaviour is Centrifugo's (centrifugal/centrifugo + centrifuge Go
// library); where a code is asserted, the comment says where it comes from.
'use strict';
const test = require('node:test');
const { redisMode } = require('./lib/server');
const assert = require('node:assert/strict');
const {
  WebSocket, sleep, waitFor, nextEvent, recordEvents, cleanupStack,
  connectionToken, nowSeconds, startCentrifugo, api, apiDisconnect, newClient, connectClient,
} = require('./lib/centrifuge');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// chat: everything a chat room needs; news: subscribe only (publishing is the
// backend's job); closed: nothing allowed; rec: history with recovery on request.
const NAMESPACES = [
  {
    name: 'chat', presence: true, join_leave: true, history_size: 100, history_ttl: '300s', allow_recovery: true,
    allow_subscribe_for_client: true, allow_publish_for_subscriber: true, allow_presence_for_subscriber: true,
    allow_history_for_subscriber: true,
  },
  { name: 'news', allow_subscribe_for_client: true },
  { name: 'closed' },
  { name: 'rec', history_size: 1000, history_ttl: '300s', allow_recovery: true, allow_subscribe_for_client: true },
];

// A subscription with short resubscribe delays and its event log.
function subscription(client, channel, opts = {}) {
  const sub = client.newSubscription(channel, { minResubscribeDelay: 50, maxResubscribeDelay: 300, ...opts });
  const log = recordEvents(sub, ['subscribing', 'subscribed', 'unsubscribed', 'publication', 'join', 'leave', 'error']);
  return { sub, log };
}

async function subscribed(sub, timeout = 5000) {
  const ev = nextEvent(sub, 'subscribed', { timeout, label: `subscribed to ${sub.channel}` });
  sub.subscribe();
  return ev;
}

test('centrifuge SDK: connection, subscriptions, presence, history, permissions', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  t.after(() => srv.stop());

  await t.test('connects with a connection token', async (t) => {
    const defer = cleanupStack(t);
    const client = newClient(srv, { token: connectionToken('alice', { info: { name: 'Alice' } }) });
    defer(() => client.disconnect());
    const log = recordEvents(client, ['connecting', 'connected', 'disconnected', 'error']);
    const ctx = await connectClient(client);
    assert.match(ctx.client, UUID, 'client id is a UUID');
    assert.equal(ctx.transport, 'websocket');
    assert.equal(client.state, 'connected');
    assert.equal(log.of('disconnected').length, 0);
    assert.equal(log.of('error').length, 0, `no errors: ${JSON.stringify(log.of('error'))}`);
    // The server counts it.
    const info = await api(srv, 'info');
    assert.equal(info.nodes.length, 1);
    assert.ok(info.nodes[0].num_clients >= 1, `num_clients ${info.nodes[0].num_clients}`);
    // Each connection gets its own client id.
    const other = newClient(srv, { token: connectionToken('alice') });
    defer(() => other.disconnect());
    const ctx2 = await connectClient(other);
    assert.match(ctx2.client, UUID);
    assert.notEqual(ctx2.client, ctx.client);
  });

  await t.test('a token with a bad signature: disconnected 3500 "invalid token", no reconnect', async (t) => {
    // Centrifugo OnClientConnecting: ErrInvalidToken -> DisconnectInvalidToken (3500).
    const defer = cleanupStack(t);
    const client = newClient(srv, { token: connectionToken('mallory', { secret: 'not-the-server-secret' }) });
    defer(() => client.disconnect());
    const log = recordEvents(client, ['connected', 'connecting']);
    const disconnected = nextEvent(client, 'disconnected', { label: 'disconnected after a forged token' });
    client.connect();
    const ctx = await disconnected;
    assert.equal(ctx.code, 3500);
    assert.equal(ctx.reason, 'invalid token');
    await sleep(500);
    assert.equal(client.state, 'disconnected', 'terminal code: the SDK does not reconnect');
    assert.equal(log.of('connected').length, 0);
  });

  await t.test('an unsigned ("alg":"none") token is refused with 3500', async (t) => {
    const defer = cleanupStack(t);
    const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'none' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'mallory', exp: nowSeconds() + 3600 })).toString('base64url');
    const client = newClient(srv, { token: `${header}.${payload}.` });
    defer(() => client.disconnect());
    const disconnected = nextEvent(client, 'disconnected');
    client.connect();
    assert.equal((await disconnected).code, 3500);
  });

  await t.test('no token while anonymous access is off: disconnected 3501 "bad request"', async (t) => {
    // Centrifugo leaves credentials unset without a token unless
    // client.allow_anonymous_connect_without_token; centrifuge's handleConnect
    // then answers "client credentials not found" with DisconnectBadRequest (3501).
    const defer = cleanupStack(t);
    const client = newClient(srv, {});
    defer(() => client.disconnect());
    const log = recordEvents(client, ['connected']);
    const disconnected = nextEvent(client, 'disconnected', { label: 'disconnected without a token' });
    client.connect();
    const ctx = await disconnected;
    assert.equal(ctx.code, 3501);
    assert.equal(ctx.reason, 'bad request');
    await sleep(300);
    assert.equal(client.state, 'disconnected');
    assert.equal(log.of('connected').length, 0);
  });

  await t.test('an expired token: error 109, getToken gives a fresh one, connected', async (t) => {
    // Centrifugo: ErrTokenExpired -> ErrorTokenExpired (109) reply; the SDK
    // asks getToken and reconnects.
    const defer = cleanupStack(t);
    let calls = 0;
    const client = newClient(srv, {
      token: connectionToken('bob', { ttl: -10 }),
      getToken: async () => { calls++; return connectionToken('bob', { ttl: 3600 }); },
    });
    defer(() => client.disconnect());
    const log = recordEvents(client, ['error']);
    const ctx = await connectClient(client);
    assert.match(ctx.client, UUID);
    assert.equal(calls, 1, 'getToken called once');
    const errors = log.of('error');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0].type, 'connect');
    assert.equal(errors[0].error.code, 109);
    assert.equal(errors[0].error.message, 'token expired');
  });

  await t.test('server-side subscriptions from the token "channels" claim', async (t) => {
    const defer = cleanupStack(t);
    const client = newClient(srv, { token: connectionToken('carol', { channels: ['news:server-side'] }) });
    defer(() => client.disconnect());
    const log = recordEvents(client, ['subscribed', 'publication', 'unsubscribed']);
    await connectClient(client);
    await waitFor(() => log.of('subscribed').length === 1, { label: 'server-side subscribed event' });
    assert.equal(log.of('subscribed')[0].channel, 'news:server-side');
    await api(srv, 'publish', { channel: 'news:server-side', data: { hello: 'server side' } });
    await waitFor(() => log.of('publication').length === 1, { label: 'server-side publication' });
    const pub = log.of('publication')[0];
    assert.equal(pub.channel, 'news:server-side');
    assert.deepEqual(pub.data, { hello: 'server side' });
  });

  await t.test('API publications arrive intact and in order; broadcast reaches every channel', async (t) => {
    const defer = cleanupStack(t);
    const client = newClient(srv, { token: connectionToken('dave') });
    defer(() => client.disconnect());
    await connectClient(client);
    const feed = subscription(client, 'news:feed');
    const other = subscription(client, 'news:other');
    await subscribed(feed.sub);
    await subscribed(other.sub);
    const payloads = [];
    for (let i = 0; i < 50; i++) {
      payloads.push({
        n: i, text: `héllo wörld ✓ 𝄞 ${i}`, nested: { list: [i, -i || 0, i / 4, null, true, 'x'.repeat(i)], empty: {} },
        quote: '"\\\n\t</script>',
      });
    }
    payloads.push('a bare string', 12345, [1, 2, 3], { big: 'y'.repeat(20000) });
    for (const data of payloads) {
      const r = await api(srv, 'publish', { channel: 'news:feed', data });
      assert.deepEqual(r, {}, 'no history in news: the publish result is empty');
    }
    await waitFor(() => feed.log.of('publication').length >= payloads.length, {
      label: 'all API publications', describe: () => `${feed.log.of('publication').length}/${payloads.length}`,
    });
    await sleep(100);
    const got = feed.log.of('publication');
    assert.equal(got.length, payloads.length, 'each publication exactly once');
    got.forEach((p, i) => assert.deepEqual(p.data, payloads[i], `publication ${i}`));
    assert.equal(got[0].info, undefined, 'API publications carry no publisher info');
    assert.equal(other.log.of('publication').length, 0, 'nothing leaks into another channel');

    await api(srv, 'broadcast', { channels: ['news:feed', 'news:other'], data: { broadcast: true } });
    await waitFor(() => other.log.of('publication').length === 1 && feed.log.of('publication').length === payloads.length + 1,
      { label: 'broadcast in both channels' });
    assert.deepEqual(other.log.of('publication')[0].data, { broadcast: true });
    assert.deepEqual(feed.log.of('publication').at(-1).data, { broadcast: true });
  });

  await t.test('publications from another client, with publisher info; publish refused where not allowed', async (t) => {
    const defer = cleanupStack(t);
    const alice = newClient(srv, { token: connectionToken('alice', { info: { name: 'Alice' } }) });
    const bob = newClient(srv, { token: connectionToken('bob', { info: { name: 'Bob' } }) });
    defer(() => alice.disconnect());
    defer(() => bob.disconnect());
    await connectClient(alice);
    const bobCtx = await connectClient(bob);
    const a = subscription(alice, 'chat:room-pub');
    const b = subscription(bob, 'chat:room-pub');
    await subscribed(a.sub);
    await subscribed(b.sub);
    for (let i = 0; i < 20; i++) await b.sub.publish({ from: 'bob', n: i, text: `message ${i} ✓` });
    await waitFor(() => a.log.of('publication').length >= 20, { label: "bob's publications at alice" });
    await sleep(100);
    const got = a.log.of('publication');
    assert.equal(got.length, 20);
    got.forEach((p, i) => {
      assert.deepEqual(p.data, { from: 'bob', n: i, text: `message ${i} ✓` });
      assert.equal(p.info.user, 'bob');
      assert.equal(p.info.client, bobCtx.client);
      assert.deepEqual(p.info.connInfo, { name: 'Bob' });
      assert.equal(p.offset, i + 1, 'history in chat: offsets count from 1');
    });
    // The publisher receives its own publications too.
    await waitFor(() => b.log.of('publication').length === 20, { label: 'bob sees his own publications' });

    // news has no allow_publish_*: 103 permission denied (Centrifugo OnPublish).
    const news = subscription(alice, 'news:readonly');
    await subscribed(news.sub);
    await assert.rejects(news.sub.publish({ x: 1 }), (err) => err.code === 103 && err.message === 'permission denied');
    await assert.rejects(alice.publish('news:readonly', { x: 1 }), (err) => err.code === 103);
  });

  await t.test('presence, presence stats and join/leave', async (t) => {
    const defer = cleanupStack(t);
    const channel = 'chat:room-presence';
    const alice = newClient(srv, { token: connectionToken('alice', { info: { name: 'Alice' } }) });
    const bob = newClient(srv, { token: connectionToken('bob', { info: { name: 'Bob' } }) });
    defer(() => alice.disconnect());
    defer(() => bob.disconnect());
    const aliceCtx = await connectClient(alice);
    const bobCtx = await connectClient(bob);
    const a = subscription(alice, channel, { joinLeave: true });
    await subscribed(a.sub);
    const b = subscription(bob, channel, { joinLeave: true });
    await subscribed(b.sub);

    await waitFor(() => a.log.of('join').some((j) => j.info.client === bobCtx.client), { label: "bob's join at alice" });
    const join = a.log.of('join').find((j) => j.info.client === bobCtx.client);
    assert.equal(join.channel, channel);
    assert.equal(join.info.user, 'bob');
    assert.deepEqual(join.info.connInfo, { name: 'Bob' });

    const presence = await a.sub.presence();
    assert.deepEqual(Object.keys(presence.clients).sort(), [aliceCtx.client, bobCtx.client].sort());
    assert.equal(presence.clients[aliceCtx.client].user, 'alice');
    assert.equal(presence.clients[aliceCtx.client].client, aliceCtx.client);
    assert.deepEqual(presence.clients[aliceCtx.client].connInfo, { name: 'Alice' });
    assert.equal(presence.clients[bobCtx.client].user, 'bob');
    assert.deepEqual(presence.clients[bobCtx.client].connInfo, { name: 'Bob' });
    assert.deepEqual(await a.sub.presenceStats(), { numClients: 2, numUsers: 2 });

    // The same through the server API.
    const apiPresence = await api(srv, 'presence', { channel });
    assert.deepEqual(Object.keys(apiPresence.presence).sort(), [aliceCtx.client, bobCtx.client].sort());
    assert.equal(apiPresence.presence[bobCtx.client].user, 'bob');
    assert.equal(apiPresence.presence[bobCtx.client].client, bobCtx.client);
    assert.deepEqual(apiPresence.presence[bobCtx.client].conn_info, { name: 'Bob' });
    assert.deepEqual(await api(srv, 'presence_stats', { channel }), { num_clients: 2, num_users: 2 });

    // A second connection of bob: two clients, still two users.
    const bob2 = newClient(srv, { token: connectionToken('bob') });
    defer(() => bob2.disconnect());
    const bob2Ctx = await connectClient(bob2);
    const b2 = subscription(bob2, channel);
    await subscribed(b2.sub);
    await waitFor(() => a.log.of('join').some((j) => j.info.client === bob2Ctx.client), { label: "bob2's join at alice" });
    assert.deepEqual(await a.sub.presenceStats(), { numClients: 3, numUsers: 2 });

    // Leave on unsubscribe and on disconnect.
    await b.sub.unsubscribe();
    await waitFor(() => a.log.of('leave').some((l) => l.info.client === bobCtx.client), { label: "bob's leave at alice" });
    const leave = a.log.of('leave').find((l) => l.info.client === bobCtx.client);
    assert.equal(leave.channel, channel);
    assert.equal(leave.info.user, 'bob');
    bob2.disconnect();
    await waitFor(() => a.log.of('leave').some((l) => l.info.client === bob2Ctx.client), { label: "bob2's leave at alice" });
    await waitFor(async () => {
      const s = await a.sub.presenceStats();
      return s.numClients === 1 && s.numUsers === 1;
    }, { label: 'presence down to alice alone' });
    const after = await a.sub.presence();
    assert.deepEqual(Object.keys(after.clients), [aliceCtx.client]);

    // A subscriber that did not ask for join/leave gets none (no force_push_join_leave).
    const carol = newClient(srv, { token: connectionToken('carol') });
    defer(() => carol.disconnect());
    await connectClient(carol);
    const c = subscription(carol, channel);
    await subscribed(c.sub);
    const dave = newClient(srv, { token: connectionToken('dave') });
    defer(() => dave.disconnect());
    const daveCtx = await connectClient(dave);
    await subscribed(subscription(dave, channel).sub);
    await waitFor(() => a.log.of('join').some((j) => j.info.client === daveCtx.client), { label: "dave's join at alice" });
    await sleep(200);
    assert.equal(c.log.of('join').length, 0, 'no join pushes without joinLeave');
  });

  await t.test('presence and history refused to a non-subscriber (103), not available without the feature (108)', async (t) => {
    const defer = cleanupStack(t);
    const client = newClient(srv, { token: connectionToken('erin') });
    defer(() => client.disconnect());
    await connectClient(client);
    // allow_*_for_subscriber only: not subscribed -> 103 (Centrifugo hasAccessToPresence/History).
    await assert.rejects(client.presence('chat:elsewhere'), (e) => e.code === 103);
    await assert.rejects(client.presenceStats('chat:elsewhere'), (e) => e.code === 103);
    await assert.rejects(client.history('chat:elsewhere', { limit: 10 }), (e) => e.code === 103);
    // news keeps no presence/history -> 108 not available, checked before permissions.
    const s = subscription(client, 'news:nofeatures');
    await subscribed(s.sub);
    await assert.rejects(s.sub.presence(), (e) => e.code === 108);
    await assert.rejects(s.sub.history({ limit: 10 }), (e) => e.code === 108);
  });

  await t.test('history: limit, since, reverse, and the same through the API', async (t) => {
    const defer = cleanupStack(t);
    const channel = 'chat:history';
    const published = [];
    for (let i = 1; i <= 5; i++) published.push(await api(srv, 'publish', { channel, data: { i } }));
    const epoch = published[0].epoch;
    assert.equal(typeof epoch, 'string');
    assert.ok(epoch.length > 0, 'an epoch');
    published.forEach((r, i) => {
      assert.equal(r.offset, i + 1, 'offsets 1..5');
      assert.equal(r.epoch, epoch, 'one epoch');
    });

    const client = newClient(srv, { token: connectionToken('frank') });
    defer(() => client.disconnect());
    await connectClient(client);
    const { sub } = subscription(client, channel);
    const ctx = await subscribed(sub);
    assert.equal(ctx.recoverable, false, 'allow_recovery without recoverable: not recoverable');

    const pick = (h) => h.publications.map((p) => [p.offset, p.data.i]);
    let h = await sub.history({ limit: 2 });
    assert.deepEqual(pick(h), [[1, 1], [2, 2]], 'limit 2: the oldest two');
    assert.equal(h.offset, 5);
    assert.equal(h.epoch, epoch);
    h = await sub.history({ limit: 2, reverse: true });
    assert.deepEqual(pick(h), [[5, 5], [4, 4]], 'reverse: the newest first');
    h = await sub.history({ limit: 10, since: { offset: 2, epoch } });
    assert.deepEqual(pick(h), [[3, 3], [4, 4], [5, 5]], 'since offset 2: after it');
    h = await sub.history({ limit: 1, since: { offset: 2, epoch } });
    assert.deepEqual(pick(h), [[3, 3]]);
    h = await sub.history({ limit: 10, since: { offset: 4, epoch }, reverse: true });
    assert.deepEqual(pick(h), [[3, 3], [2, 2], [1, 1]], 'since offset 4, reverse: before it, newest first');
    h = await sub.history({ limit: 10, since: { offset: 5, epoch } });
    assert.deepEqual(pick(h), [], 'since the top: nothing');
    assert.equal(h.offset, 5);
    h = await sub.history({ limit: -1 });
    assert.deepEqual(pick(h), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]], 'limit -1: all');
    h = await sub.history({ limit: 0 });
    assert.deepEqual(h.publications, [], 'limit 0: only the stream position');
    assert.equal(h.offset, 5);
    assert.equal(h.epoch, epoch);
    h = await sub.history({});
    assert.deepEqual(h.publications, [], 'no limit given: only the stream position');

    const viaApi = await api(srv, 'history', { channel, limit: 3, since: { offset: 1, epoch } });
    assert.deepEqual(viaApi.publications.map((p) => [p.offset, p.data.i]), [[2, 2], [3, 3], [4, 4]]);
    assert.equal(viaApi.offset, 5);
    assert.equal(viaApi.epoch, epoch);
    const viaApiRev = await api(srv, 'history', { channel, limit: 2, reverse: true });
    assert.deepEqual(viaApiRev.publications.map((p) => p.offset), [5, 4]);
  });

  await t.test('permission denied and unknown namespace end the subscription (103, 102)', async (t) => {
    // centrifuge-js: a non-temporary subscribe error (not 109) moves the
    // subscription to unsubscribed with the error's code and message.
    const defer = cleanupStack(t);
    const client = newClient(srv, { token: connectionToken('gina') });
    defer(() => client.disconnect());
    await connectClient(client);
    for (const [channel, code, reason] of [['closed:x', 103, 'permission denied'], ['nowhere:x', 102, 'unknown channel']]) {
      const s = subscription(client, channel);
      const unsub = nextEvent(s.sub, 'unsubscribed', { label: `unsubscribed from ${channel}` });
      s.sub.subscribe();
      const ctx = await unsub;
      assert.equal(ctx.channel, channel);
      assert.equal(ctx.code, code);
      assert.equal(ctx.reason, reason);
      await sleep(300);
      assert.equal(s.sub.state, 'unsubscribed', 'it does not retry');
      assert.equal(s.log.of('subscribed').length, 0);
      assert.equal(s.log.of('subscribing').length, 1, 'one attempt');
      client.removeSubscription(s.sub);
    }
    // The connection itself is unharmed.
    assert.equal(client.state, 'connected');
    const ok = subscription(client, 'news:still-works');
    await subscribed(ok.sub);
  });
});

test('centrifuge SDK: anonymous connections when client.allow_anonymous is on', async (t) => {
  const srv = await startCentrifugo({
    env: {
      SWITCHBOARD_CLIENT_ALLOW_ANONYMOUS: 'true',
      SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_CLIENT: 'true',
    },
    namespaces: [{ name: 'open', allow_subscribe_for_client: true, allow_subscribe_for_anonymous: true }],
  });
  t.after(() => srv.stop());
  const defer = cleanupStack(t);
  const client = newClient(srv, {});
  defer(() => client.disconnect());
  const ctx = await connectClient(client);
  assert.match(ctx.client, UUID);
  // Anonymous subscribe needs allow_subscribe_for_anonymous (Centrifugo OnSubscribe).
  const open = subscription(client, 'open:lobby');
  await subscribed(open.sub);
  await api(srv, 'publish', { channel: 'open:lobby', data: { to: 'anyone' } });
  await waitFor(() => open.log.of('publication').length === 1, { label: 'publication for the anonymous client' });
  assert.deepEqual(open.log.of('publication')[0].data, { to: 'anyone' });
  const root = subscription(client, 'lobby');
  const unsub = nextEvent(root.sub, 'unsubscribed');
  root.sub.subscribe();
  const u = await unsub;
  assert.equal(u.code, 103, 'allow_subscribe_for_client alone does not admit anonymous users');
  // A token still works and gives a user.
  const named = newClient(srv, { token: connectionToken('henry') });
  defer(() => named.disconnect());
  await connectClient(named);
  await subscribed(subscription(named, 'lobby').sub);
});

test('centrifuge SDK: token audience', async (t) => {
  const srv = await startCentrifugo({ env: { SWITCHBOARD_CLIENT_TOKEN_AUDIENCE: 'switchboard-tests' } });
  t.after(() => srv.stop());
  const defer = cleanupStack(t);
  const good = newClient(srv, { token: connectionToken('ivan', { aud: 'switchboard-tests' }) });
  defer(() => good.disconnect());
  assert.match((await connectClient(good)).client, UUID);
  for (const extra of [{ aud: 'someone-else' }, {}]) {
    const bad = newClient(srv, { token: connectionToken('ivan', extra) });
    defer(() => bad.disconnect());
    const disconnected = nextEvent(bad, 'disconnected', { label: `disconnect for aud ${JSON.stringify(extra)}` });
    bad.connect();
    assert.equal((await disconnected).code, 3500, `aud ${JSON.stringify(extra)} is an invalid token`);
  }
});

test('centrifuge SDK: recovery after a forced reconnect, then a restart gives a new epoch', async (t) => {
  let srv = await startCentrifugo({ namespaces: NAMESPACES });
  t.after(() => srv.stop());
  const defer = cleanupStack(t);
  const channel = 'rec:stream';
  const client = newClient(srv, { token: connectionToken('rec-user') });
  defer(() => client.disconnect());
  const clientLog = recordEvents(client, ['connecting', 'connected', 'disconnected']);
  const s = subscription(client, channel, { recoverable: true });
  s.sub.subscribe();
  await connectClient(client);
  await waitFor(() => s.log.of('subscribed').length === 1, { label: 'first subscribed' });
  const first = s.log.of('subscribed')[0];
  assert.equal(first.recoverable, true);
  assert.equal(first.wasRecovering, false);
  assert.equal(first.recovered, false);
  const epoch1 = first.streamPosition.epoch;
  assert.ok(epoch1, 'an epoch in the first subscribe');
  assert.equal(first.streamPosition.offset, 0);

  // A publisher every ~20 ms; the subscriber's user is disconnected with 3011
  // in the middle of it.
  const N = 100;
  const DISCONNECT_AT = 30;
  for (let i = 0; i < N; i++) {
    const r = await api(srv, 'publish', { channel, data: { n: i } });
    assert.equal(r.offset, i + 1);
    assert.equal(r.epoch, epoch1);
    if (i === DISCONNECT_AT) await apiDisconnect(srv, 'rec-user', 3011, 'force reconnect');
    await sleep(20);
  }
  await waitFor(() => s.log.of('publication').length >= N, {
    timeout: 10000, label: 'every publication', describe: () => `${s.log.of('publication').length}/${N}`,
  });
  await sleep(200);
  const ns = s.log.of('publication').map((p) => p.data.n);
  assert.deepEqual(ns, Array.from({ length: N }, (_, i) => i), 'every number exactly once, in order');
  assert.deepEqual(s.log.of('publication').map((p) => p.offset), Array.from({ length: N }, (_, i) => i + 1));

  const connecting = clientLog.of('connecting');
  assert.ok(connecting.some((c) => c.code === 3011 && c.reason === 'force reconnect'),
    `the SDK saw the 3011 disconnect: ${JSON.stringify(connecting)}`);
  assert.equal(clientLog.of('disconnected').length, 0);
  const subs = s.log.of('subscribed');
  assert.equal(subs.length, 2, 'subscribed again once');
  assert.equal(subs[1].wasRecovering, true);
  assert.equal(subs[1].recovered, true);
  assert.equal(subs[1].hasRecoveredPublications, true, 'publications missed while away came in the subscribe reply');
  assert.equal(subs[1].streamPosition.epoch, epoch1);

  // Restart on the same port. With the memory broker the streams are gone,
  // so the position cannot be recovered (Centrifugo: recovered=false, new
  // epoch). With Redis they outlive the node: the client recovers in place.
  srv = await srv.restart();
  await waitFor(() => s.log.of('subscribed').length === 3, {
    timeout: 15000, label: 'subscribed after the restart', describe: () => JSON.stringify(clientLog.slice(-3)),
  });
  const third = s.log.of('subscribed')[2];
  assert.equal(third.wasRecovering, true);
  const r = await api(srv, 'publish', { channel, data: { n: 'after restart' } });
  if (redisMode) {
    assert.equal(third.recovered, true, 'Redis kept the stream across the node restart');
    assert.equal(third.streamPosition.epoch, epoch1, 'the same epoch');
    assert.equal(r.offset, N + 1);
  } else {
    assert.equal(third.recovered, false);
    assert.notEqual(third.streamPosition.epoch, epoch1, 'a new epoch');
    assert.equal(r.offset, 1);
  }
  assert.equal(r.epoch, third.streamPosition.epoch);
  await waitFor(() => s.log.of('publication').length === N + 1, { label: 'publication after the restart' });
  assert.deepEqual(s.log.of('publication')[N].data, { n: 'after restart' });
  assert.equal(s.log.of('publication')[N].offset, r.offset);
});

test('centrifuge SDK: an expiring token is refreshed through getToken', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES, env: { SWITCHBOARD_CLIENT_EXPIRED_CLOSE_DELAY: '2s' } });
  t.after(() => srv.stop());
  const defer = cleanupStack(t);
  const calls = [];
  const client = newClient(srv, {
    getToken: async () => { calls.push(Date.now()); return connectionToken('refresher', { ttl: 3 }); },
  });
  defer(() => client.disconnect());
  const log = recordEvents(client, ['connecting', 'connected', 'disconnected', 'error']);
  const s = subscription(client, 'news:refresh');
  s.sub.subscribe();
  const started = Date.now();
  await connectClient(client);
  await waitFor(() => s.log.of('subscribed').length === 1, { label: 'subscribed' });
  assert.equal(calls.length, 1, 'getToken for the first connect');
  // Past two token lifetimes plus the close delay: without refreshes the
  // server would have closed with 3005.
  await sleep(7500 - (Date.now() - started));
  assert.ok(calls.length >= 3, `getToken called ${calls.length} times (refreshes)`);
  assert.equal(client.state, 'connected');
  assert.equal(log.of('connected').length, 1, 'never reconnected');
  assert.equal(log.of('disconnected').length, 0);
  assert.deepEqual(log.of('connecting').map((c) => c.code), [0], 'only the initial connecting');
  assert.deepEqual(log.of('error'), []);
  await api(srv, 'publish', { channel: 'news:refresh', data: { still: 'here' } });
  await waitFor(() => s.log.of('publication').length === 1, { label: 'publication after the original expiry' });
  assert.deepEqual(s.log.of('publication')[0].data, { still: 'here' });
});

test('centrifuge SDK: an idle client stays connected across short ping intervals', async (t) => {
  const srv = await startCentrifugo({
    namespaces: NAMESPACES,
    env: { SWITCHBOARD_CLIENT_PING_INTERVAL: '1s', SWITCHBOARD_CLIENT_PONG_TIMEOUT: '500ms' },
  });
  t.after(() => srv.stop());
  const defer = cleanupStack(t);
  let pings = 0;
  // npm ws, counting the server's "{}" pings on the way to the SDK.
  class CountingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      this.on('message', (data) => { if (data.toString() === '{}') pings++; });
    }
  }
  const client = newClient(srv, { token: connectionToken('idle'), websocket: CountingWebSocket });
  defer(() => client.disconnect());
  const log = recordEvents(client, ['connecting', 'connected', 'disconnected']);
  await connectClient(client);
  const s = subscription(client, 'news:idle');
  await subscribed(s.sub);
  await sleep(4000);
  assert.ok(pings >= 3, `${pings} pings in 4 s at a 1 s interval`);
  assert.equal(client.state, 'connected');
  assert.equal(log.of('connected').length, 1, 'never reconnected');
  assert.equal(log.of('disconnected').length, 0);
  await api(srv, 'publish', { channel: 'news:idle', data: { after: 'idle' } });
  await waitFor(() => s.log.of('publication').length === 1, { label: 'publication after idling' });
  assert.deepEqual(s.log.of('publication')[0].data, { after: 'idle' });
});

