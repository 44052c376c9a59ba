// The Centrifugo client protocol v2 (JSON) on the wire, with a bare npm `ws`
// client: malformed input, commands out of order, heartbeats, timeouts,
// token expiry, every reply error a client can provoke, several commands in
// one frame, and unknown fields. Expected codes are Centrifugo's
// (centrifugal/centrifuge client.go, centrifugo internal/client/handler.go).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  sleep, waitFor, cleanupStack, connectionToken, subscriptionToken, nowSeconds,
  startCentrifugo, api, RawClient, rawConnect,
} = require('./lib/centrifuge');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function assertClosed(info, code, reason) {
  assert.ok(info, 'closed');
  assert.equal(info.code, code, `close code (reason "${info.reason}")`);
  assert.equal(info.reason, reason);
}

function assertError(reply, code, message) {
  assert.ok(reply.error, `an error reply: ${JSON.stringify(reply)}`);
  assert.equal(reply.error.code, code, JSON.stringify(reply));
  assert.equal(reply.error.message, message);
}

test('raw protocol: replies, errors and bad input', async (t) => {
  const srv = await startCentrifugo({
    env: {
      SWITCHBOARD_CLIENT_CHANNEL_LIMIT: '3',
      SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_CLIENT: 'true',
    },
    namespaces: [
      { name: 'chat', allow_subscribe_for_client: true },
      { name: 'closed' },
    ],
  });
  t.after(() => srv.stop());

  // A connected raw client, closed after the subtest.
  async function connected(tt, user = 'raw-user', tokenOptions = {}) {
    const defer = cleanupStack(tt);
    const { client, reply } = await rawConnect(srv, { token: connectionToken(user, tokenOptions) });
    defer(() => client.close());
    assert.equal(reply.error, undefined, JSON.stringify(reply));
    return { client, reply };
  }

  await t.test('connect reply: client id, ping interval, pong expected', async (tt) => {
    const { reply } = await connected(tt, 'raw-user', { ttl: null });
    assert.equal(reply.id, 1);
    assert.match(reply.connect.client, UUID);
    assert.equal(reply.connect.ping, 25, 'default ping interval, in seconds');
    assert.equal(reply.connect.pong, true);
    assert.equal(reply.connect.expires, undefined, 'no expiry: field omitted');
  });

  await t.test('malformed JSON closes with 3501 "bad request"', async (tt) => {
    const { client } = await connected(tt);
    client.send('{"id":2,"subscribe":{"channel":');
    assertClosed(await client.waitClose(), 3501, 'bad request');
  });

  await t.test('a frame that is not JSON at all, before connect, closes with 3501', async (tt) => {
    const defer = cleanupStack(tt);
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    client.send('hello there');
    assertClosed(await client.waitClose(), 3501, 'bad request');
  });

  await t.test('subscribe before connect closes with 3501', async (tt) => {
    const defer = cleanupStack(tt);
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    client.send({ id: 1, subscribe: { channel: 'chat:x' } });
    assertClosed(await client.waitClose(), 3501, 'bad request');
    assert.deepEqual(client.replies(), [], 'no reply before the close');
  });

  await t.test('an empty command (pong) before connect closes with 3501', async (tt) => {
    const defer = cleanupStack(tt);
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    client.send('{}');
    assertClosed(await client.waitClose(), 3501, 'bad request');
  });

  await t.test('an unsolicited pong (no ping outstanding) closes with 3501', async (tt) => {
    // centrifuge dispatchCommand: lastPing <= 0 -> "unnecessary pong" -> DisconnectBadRequest.
    const { client } = await connected(tt);
    client.send('{}');
    assertClosed(await client.waitClose(), 3501, 'bad request');
  });

  await t.test('a command without id closes with 3501', async (tt) => {
    const { client } = await connected(tt);
    client.send({ subscribe: { channel: 'chat:no-id' } });
    assertClosed(await client.waitClose(), 3501, 'bad request');
  });

  await t.test('a second connect on the same connection closes with 3501', async (tt) => {
    // Not in the SDKs' repertoire; Centrifugo: "client already authenticated" -> bad request.
    const { client } = await connected(tt);
    client.send({ id: 2, connect: { token: connectionToken('raw-user') } });
    await waitFor(() => client.closeInfo || client.messages.some((m) => m.id === 2), { label: 'close or reply' });
    await sleep(100);
    assert.ok(client.closeInfo, `closed, not answered: got ${JSON.stringify(client.messages.slice(1))}`);
    assertClosed(client.closeInfo, 3501, 'bad request');
  });

  await t.test('subscribe reply and publication push shapes', async (tt) => {
    const { client } = await connected(tt);
    const reply = await client.call({ id: 2, subscribe: { channel: 'chat:shape' } });
    assert.deepEqual(reply, { id: 2, subscribe: {} }, 'no history, no recovery: an empty result');
    await api(srv, 'publish', { channel: 'chat:shape', data: { text: 'héllo ✓', n: [1, 2.5, null] } });
    const push = await waitFor(() => client.pushes()[0], { label: 'publication push' });
    assert.deepEqual(push, { push: { channel: 'chat:shape', pub: { data: { text: 'héllo ✓', n: [1, 2.5, null] } } } });
    const unsub = await client.call({ id: 3, unsubscribe: { channel: 'chat:shape' } });
    assert.deepEqual(unsub, { id: 3, unsubscribe: {} });
    await api(srv, 'publish', { channel: 'chat:shape', data: { after: 'unsubscribe' } });
    await sleep(200);
    assert.equal(client.pushes().length, 1, 'no publication after unsubscribe');
  });

  await t.test('already subscribed: error 105, the connection stays', async (tt) => {
    const { client } = await connected(tt);
    const ok = await client.call({ id: 2, subscribe: { channel: 'chat:twice' } });
    assert.equal(ok.error, undefined);
    assertError(await client.call({ id: 3, subscribe: { channel: 'chat:twice' } }), 105, 'already subscribed');
    const still = await client.call({ id: 4, subscribe: { channel: 'chat:other' } });
    assert.equal(still.error, undefined, 'the connection still works');
    assert.equal(client.closeInfo, null);
  });

  await t.test('over client.channel_limit: error 106', async (tt) => {
    const { client } = await connected(tt);
    for (let i = 0; i < 3; i++) {
      const r = await client.call({ id: 2 + i, subscribe: { channel: `chat:limit-${i}` } });
      assert.equal(r.error, undefined, `subscription ${i} within the limit`);
    }
    assertError(await client.call({ id: 5, subscribe: { channel: 'chat:limit-3' } }), 106, 'limit exceeded');
    // Freeing one makes room again.
    await client.call({ id: 6, unsubscribe: { channel: 'chat:limit-0' } });
    const again = await client.call({ id: 7, subscribe: { channel: 'chat:limit-3' } });
    assert.equal(again.error, undefined);
  });

  await t.test('unknown namespace: error 102', async (tt) => {
    const { client } = await connected(tt);
    assertError(await client.call({ id: 2, subscribe: { channel: 'nowhere:x' } }), 102, 'unknown channel');
    assert.equal(client.closeInfo, null);
  });

  await t.test('namespace that allows nothing: error 103', async (tt) => {
    const { client } = await connected(tt);
    assertError(await client.call({ id: 2, subscribe: { channel: 'closed:x' } }), 103, 'permission denied');
    assertError(await client.call({ id: 3, publish: { channel: 'closed:x', data: { a: 1 } } }), 103, 'permission denied');
  });

  await t.test('presence and history where the namespace keeps none: error 108', async (tt) => {
    const { client } = await connected(tt);
    await client.call({ id: 2, subscribe: { channel: 'chat:features' } });
    assertError(await client.call({ id: 3, presence: { channel: 'chat:features' } }), 108, 'not available');
    assertError(await client.call({ id: 4, presence_stats: { channel: 'chat:features' } }), 108, 'not available');
    assertError(await client.call({ id: 5, history: { channel: 'chat:features', limit: 10 } }), 108, 'not available');
  });

  await t.test('rpc without a handler: error 104', async (tt) => {
    // Centrifugo OnRPC without an rpc proxy for the method: ErrorMethodNotFound.
    const { client } = await connected(tt);
    assertError(await client.call({ id: 2, rpc: { method: 'getCurrentYear', data: {} } }), 104, 'method not found');
    assert.equal(client.closeInfo, null);
  });

  await t.test('private channel: 103 without a token, subscribed with one', async (tt) => {
    const { client } = await connected(tt, 'priv-user');
    assertError(await client.call({ id: 2, subscribe: { channel: '$secret' } }), 103, 'permission denied');
    const token = subscriptionToken('priv-user', '$secret');
    const ok = await client.call({ id: 3, subscribe: { channel: '$secret', token } });
    // The token's exp makes the subscription expire (Centrifugo: expires + ttl in the result).
    assert.equal(ok.error, undefined, JSON.stringify(ok));
    assert.equal(ok.subscribe.expires, true);
    assert.ok(ok.subscribe.ttl >= 3598 && ok.subscribe.ttl <= 3600, `ttl ${ok.subscribe.ttl}`);
    const forever = subscriptionToken('priv-user', '$forever', { ttl: null });
    assert.deepEqual(await client.call({ id: 5, subscribe: { channel: '$forever', token: forever } }),
      { id: 5, subscribe: {} }, 'no exp: no expiry fields');
    // An expired subscription token: 109 (Centrifugo OnSubscribe: ErrTokenExpired).
    const expired = subscriptionToken('priv-user', '$other', { ttl: -10 });
    assertError(await client.call({ id: 4, subscribe: { channel: '$other', token: expired } }), 109, 'token expired');
  });

  await t.test("a subscription token for another channel closes with 3500", async (tt) => {
    // Centrifugo OnSubscribe: token channel mismatch -> DisconnectInvalidToken.
    const { client } = await connected(tt, 'priv-user');
    const token = subscriptionToken('priv-user', '$elsewhere');
    client.send({ id: 2, subscribe: { channel: '$secret', token } });
    assertClosed(await client.waitClose(), 3500, 'invalid token');
  });

  await t.test("a subscription token for another user closes with 3500", async (tt) => {
    const { client } = await connected(tt, 'priv-user');
    const token = subscriptionToken('someone-else', '$secret');
    client.send({ id: 2, subscribe: { channel: '$secret', token } });
    assertClosed(await client.waitClose(), 3500, 'invalid token');
  });

  await t.test('several commands in one frame, separated by newlines, all get replies', async (tt) => {
    const defer = cleanupStack(tt);
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    client.send([
      { id: 1, connect: { token: connectionToken('batch-user') } },
      { id: 2, subscribe: { channel: 'chat:batch-a' } },
      { id: 3, subscribe: { channel: 'chat:batch-b' } },
      { id: 4, subscribe: { channel: 'nowhere:batch' } },
      { id: 5, unsubscribe: { channel: 'chat:batch-a' } },
    ]);
    await waitFor(() => client.replies().length === 5, { label: 'five replies', describe: () => JSON.stringify(client.messages) });
    const replies = client.replies();
    assert.deepEqual(replies.map((r) => r.id), [1, 2, 3, 4, 5], 'replies in command order');
    assert.match(replies[0].connect.client, UUID);
    assert.deepEqual(replies[1], { id: 2, subscribe: {} });
    assert.deepEqual(replies[2], { id: 3, subscribe: {} });
    assertError(replies[3], 102, 'unknown channel');
    assert.deepEqual(replies[4], { id: 5, unsubscribe: {} });
    // A trailing newline and empty lines are harmless.
    client.send(`${JSON.stringify({ id: 6, subscribe: { channel: 'chat:batch-c' } })}\n\n${JSON.stringify({ id: 7, unsubscribe: { channel: 'chat:batch-c' } })}\n`);
    assert.deepEqual(await client.reply(6), { id: 6, subscribe: {} });
    assert.deepEqual(await client.reply(7), { id: 7, unsubscribe: {} });
    // Only chat:batch-b is left.
    await api(srv, 'broadcast', { channels: ['chat:batch-a', 'chat:batch-b', 'chat:batch-c'], data: { b: 1 } });
    await waitFor(() => client.pushes().length >= 1, { label: 'broadcast push' });
    await sleep(200);
    assert.deepEqual(client.pushes().map((p) => p.push.channel), ['chat:batch-b']);
  });

  await t.test('unknown fields are ignored', async (tt) => {
    const defer = cleanupStack(tt);
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    const connect = await client.call({
      id: 1,
      connect: { token: connectionToken('future-user'), name: 'raw', version: '0.0.1', zz_future: { nested: [1, 'x', null, { a: true }] } },
      zz_top_level: 'ignored',
    });
    assert.equal(connect.error, undefined, JSON.stringify(connect));
    assert.match(connect.connect.client, UUID);
    // "flag" (channel compaction) and "tf" are sent by centrifuge-js 5.x.
    const sub = await client.call({ id: 2, subscribe: { channel: 'chat:unknown-fields', flag: 1, zz_future: [1, 2] } });
    assert.deepEqual(sub, { id: 2, subscribe: {} });
    assert.equal(client.closeInfo, null);
  });

  await t.test('connect with a forged token closes with 3500 "invalid token"', async (tt) => {
    const defer = cleanupStack(tt);
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    client.send({ id: 1, connect: { token: connectionToken('raw-user', { secret: 'wrong' }) } });
    assertClosed(await client.waitClose(), 3500, 'invalid token');
  });

  await t.test('connect with an expired token: error 109; the connection is then unusable (3501)', async (tt) => {
    // centrifuge handleCommandDispatchError: an error reply to connect marks
    // the client unusable; its next command closes with DisconnectBadRequest.
    const defer = cleanupStack(tt);
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    assertError(await client.call({ id: 1, connect: { token: connectionToken('raw-user', { ttl: -5 }) } }), 109, 'token expired');
    client.send({ id: 2, connect: { token: connectionToken('raw-user') } });
    await waitFor(() => client.closeInfo || client.messages.some((m) => m.id === 2), { label: 'close or reply' });
    await sleep(100);
    assert.ok(client.closeInfo, `closed, not answered: got ${JSON.stringify(client.messages.slice(1))}`);
    assertClosed(client.closeInfo, 3501, 'bad request');
  });

  await t.test('a command flood: error 111, then close 3013', async (tt) => {
    const defer = cleanupStack(tt);
    const { client } = await rawConnect(srv, { token: connectionToken('flooder') });
    defer(() => client.close());
    let id = 2;
    const frame = () => Array.from({ length: 250 }, () => ({ id: id++, rpc: { method: 'flood' } }));
    const deadline = Date.now() + 8000;
    while (!client.closeInfo && Date.now() < deadline) {
      if (client.ws.readyState === 1) client.send(frame());
      await sleep(20);
    }
    const limited = client.replies().find((r) => r.error && r.error.code === 111);
    assert.ok(limited, 'some command refused with 111');
    assert.equal(limited.error.message, 'too many requests');
    assert.equal(limited.error.temporary, true);
    assertClosed(client.closeInfo, 3013, 'too many requests');
  });
});

test('raw protocol: connect timeout, heartbeats, token expiry', async (t) => {
  const srv = await startCentrifugo({
    env: {
      SWITCHBOARD_CLIENT_CONNECT_TIMEOUT: '1s',
      SWITCHBOARD_CLIENT_PING_INTERVAL: '1s',
      SWITCHBOARD_CLIENT_PONG_TIMEOUT: '500ms',
      SWITCHBOARD_CLIENT_EXPIRED_CLOSE_DELAY: '1s',
      SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_CLIENT: 'true',
    },
  });
  t.after(() => srv.stop());

  await t.test('no connect within connect_timeout: 3502 "stale"', async (tt) => {
    const defer = cleanupStack(tt);
    const opened = Date.now();
    const client = await RawClient.open(srv.endpoint);
    defer(() => client.close());
    const info = await client.waitClose(5000);
    assertClosed(info, 3502, 'stale');
    const after = info.at - opened;
    assert.ok(after >= 900 && after < 3500, `closed ${after} ms after opening (timeout 1 s)`);
  });

  await t.test('a client answering pings stays; the connect reply announces ping 1 s', async (tt) => {
    const defer = cleanupStack(tt);
    const { client, reply } = await rawConnect(srv, { token: connectionToken('pinger') });
    defer(() => client.close());
    assert.equal(reply.connect.ping, 1);
    assert.equal(reply.connect.pong, true);
    await client.call({ id: 2, subscribe: { channel: 'hb' } });
    await sleep(4000);
    assert.equal(client.closeInfo, null, `still open: ${JSON.stringify(client.closeInfo)}`);
    assert.ok(client.pings >= 3, `${client.pings} pings in 4 s`);
    await api(srv, 'publish', { channel: 'hb', data: { alive: true } });
    const push = await waitFor(() => client.pushes()[0], { label: 'publication after idling' });
    assert.deepEqual(push.push.pub.data, { alive: true });
  });

  await t.test('a client that does not answer pings: 3012 "no pong"', async (tt) => {
    const defer = cleanupStack(tt);
    const { client } = await rawConnect(srv, { token: connectionToken('deaf'), answerPings: false });
    defer(() => client.close());
    const connectedAt = Date.now();
    const info = await client.waitClose(5000);
    assertClosed(info, 3012, 'no pong');
    assert.ok(client.pings >= 1, 'it was pinged first');
    const after = info.at - connectedAt;
    assert.ok(after >= 1200 && after < 4000, `closed ${after} ms after connect (ping 1 s + pong timeout 0.5 s)`);
  });

  await t.test('an expired connection without refresh: 3005 after expired_close_delay', async (tt) => {
    const defer = cleanupStack(tt);
    const exp = nowSeconds() + 2;
    const { client, reply } = await rawConnect(srv, { token: connectionToken('expiring', { ttl: null, exp }) });
    defer(() => client.close());
    assert.equal(reply.connect.expires, true);
    assert.ok(reply.connect.ttl >= 1 && reply.connect.ttl <= 2, `ttl ${reply.connect.ttl}`);
    const info = await client.waitClose(8000);
    assertClosed(info, 3005, 'connection expired');
    assert.ok(info.at >= exp * 1000, `closed ${exp * 1000 - info.at} ms before the token expired`);
    assert.ok(info.at <= (exp + 1) * 1000 + 2500, `closed ${info.at - (exp + 1) * 1000} ms after expiry + delay`);
  });

  await t.test('a refresh command with a new token keeps the connection', async (tt) => {
    const defer = cleanupStack(tt);
    const exp = nowSeconds() + 2;
    const { client, reply } = await rawConnect(srv, { token: connectionToken('refreshing', { ttl: null, exp }) });
    defer(() => client.close());
    const clientId = reply.connect.client;
    await sleep(800);
    const r = await client.call({ id: 2, refresh: { token: connectionToken('refreshing', { ttl: 30 }) } });
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.refresh.client, clientId);
    assert.equal(r.refresh.expires, true);
    assert.ok(r.refresh.ttl >= 28 && r.refresh.ttl <= 30, `ttl ${r.refresh.ttl}`);
    // Past the first expiry plus the delay, with margin.
    await sleep(Math.max(0, (exp + 1) * 1000 + 1500 - Date.now()));
    assert.equal(client.closeInfo, null, `still open: ${JSON.stringify(client.closeInfo)}`);
    // A token for someone else is refused: Centrifugo OnRefresh -> DisconnectInvalidToken.
    client.send({ id: 3, refresh: { token: connectionToken('someone-else', { ttl: 30 }) } });
    assertClosed(await client.waitClose(), 3500, 'invalid token');
  });
});
