// The plain client module web/client/switchboard-plain.js (docs/client.md):
// - its pure parts in Node: the full-jitter backoff, the position
//   bookkeeping (duplicates, resets, the `since` list), token expiry, the
//   terminal disconnect codes;
// - PlainClient in Node against the real binary over each transport (npm
//   `ws` as WebSocket, npm `eventsource`, Node's fetch): subscribed with a
//   client id, publications, publish/presence/history through the module,
//   resuming after the server API disconnects the user while a publisher
//   sends numbered publications (every one exactly once, in order), the
//   reconnecting state with its delay, the fallback to the next transport
//   when one cannot open, and a terminal disconnect code.
// The same module in Chromium: plain-client-browser.test.js.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const WebSocket = require('ws');
const { EventSource } = require('eventsource');
const {
  sleep, waitFor, cleanupStack, connectionToken, startCentrifugo, api, apiDisconnect,
} = require('./lib/centrifuge');
const { ROOT } = require('./lib/server');

const MODULE = pathToFileURL(path.join(ROOT, 'web/client/switchboard-plain.js')).href;
const load = () => import(MODULE);

// ---------------------------------------------------------------- pure parts

test('backoffDelay: full jitter between 0.5 s and a doubling ceiling, capped at 20 s', async () => {
  const { backoffDelay } = await load();
  const low = { random: () => 0 };
  const high = { random: () => 1 };
  const ceilings = [1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000];
  ceilings.forEach((ceiling, attempt) => {
    assert.equal(backoffDelay(attempt, low), 500, `attempt ${attempt} floor`);
    assert.equal(backoffDelay(attempt, high), ceiling, `attempt ${attempt} ceiling`);
  });
  assert.equal(backoffDelay(3, { random: () => 0.5 }), 500 + 0.5 * (8000 - 500));
  assert.equal(backoffDelay(1e6, high), 20000, 'huge attempts stay at the cap');
  assert.equal(backoffDelay(-3, high), 1000, 'a negative attempt counts as the first');
  assert.equal(backoffDelay(2, { minDelay: 100, maxDelay: 300, random: () => 1 }), 300);
  assert.equal(backoffDelay(0, { minDelay: 100, maxDelay: 300, random: () => 1 }), 200);
  // With the real Math.random every value stays in its window and they spread.
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(4);
    assert.ok(d >= 500 && d <= 16000, `attempt 4 gave ${d}`);
    seen.add(Math.floor(d / 1000));
  }
  assert.ok(seen.size >= 8, `the delays spread over the window (${[...seen].sort((a, b) => a - b)})`);
});

test('PositionBook: positions per channel, duplicates, resets and the since list', async () => {
  const { PositionBook } = await load();
  const book = new PositionBook(['news', 'live:x', 'chat:a']);
  assert.equal(book.known, false);
  assert.equal(book.toString(), '', 'no list before the server said where each channel starts');
  book.start([
    { channel: 'news', epoch: 'EpA', offset: 4 },
    { channel: 'live:x', offset: 0 },
    { channel: 'chat:a', epoch: 'EpC', offset: 0 },
  ]);
  assert.equal(book.known, true);
  assert.equal(book.toString(), 'EpA:4,0,EpC:0');
  assert.equal(book.accept({ channel: 'news', offset: 5 }), true);
  assert.equal(book.accept({ channel: 'news', offset: 5 }), false, 'the same offset again is a duplicate');
  assert.equal(book.accept({ channel: 'news', offset: 3 }), false, 'an older offset is a duplicate');
  assert.equal(book.accept({ channel: 'live:x', offset: 0 }), true, 'channels without history never dedupe');
  assert.equal(book.accept({ channel: 'live:x', offset: 0 }), true);
  assert.equal(book.accept({ channel: 'elsewhere', offset: 9 }), false, 'channels not subscribed are dropped');
  assert.equal(book.accept({ channel: 'chat:a', offset: 1 }), true);
  assert.equal(book.toString(), 'EpA:5,0,EpC:1');
  assert.deepEqual(book.position('news'), { epoch: 'EpA', offset: 5 });
  book.reset({ channel: 'news', epoch: 'EpB', offset: 40 });
  assert.equal(book.toString(), 'EpB:40,0,EpC:1');
  assert.equal(book.accept({ channel: 'news', offset: 40 }), false);
  assert.equal(book.accept({ channel: 'news', offset: 41 }), true);
  // /poll's "position" (and an SSE id) set every channel at once.
  assert.deepEqual(book.parse('Ep9:7,0,EpC:3'), [
    { channel: 'news', epoch: 'Ep9', offset: 7 },
    { channel: 'live:x', epoch: '', offset: 0 },
    { channel: 'chat:a', epoch: 'EpC', offset: 3 },
  ]);
  assert.equal(book.toString(), 'Ep9:7,0,EpC:3');
  assert.throws(() => book.parse('Ep9:7,0'), /2 part\(s\) for 3 channel/);
});

test('tokenExpiry and isTerminalCode', async () => {
  const { tokenExpiry, isTerminalCode } = await load();
  const exp = Math.floor(Date.now() / 1000) + 60;
  assert.equal(tokenExpiry(connectionToken('u', { ttl: 60 })), exp);
  assert.equal(tokenExpiry(connectionToken('u', { ttl: null })), 0, 'no exp claim');
  assert.equal(tokenExpiry('not a token'), 0);
  assert.equal(tokenExpiry(''), 0);
  for (const code of [3500, 3503, 3999, 4500, 4999]) assert.equal(isTerminalCode(code), true, String(code));
  for (const code of [1000, 1006, 3001, 3011, 3499, 4000, 4499, 5000]) assert.equal(isTerminalCode(code), false, String(code));
});

test('PlainClient refuses bad options', async () => {
  const { PlainClient } = await load();
  assert.throws(() => new PlainClient({ url: 'http://x' }), /channels must list at least one channel/);
  assert.throws(() => new PlainClient({ url: 'http://x', channels: ['a'], transports: ['carrier-pigeon'] }), /unknown transport "carrier-pigeon"/);
  assert.throws(() => new PlainClient({ url: 'http://x', channels: ['a'], transports: [] }), /at least one/);
});

// ---------------------------------------------------------------- against the server

const NAMESPACES = [
  { name: 'chat', presence: true, join_leave: true, history_size: 200, history_ttl: '300s', allow_subscribe_for_client: true,
    allow_publish_for_client: true, allow_presence_for_subscriber: true, allow_history_for_subscriber: true },
  { name: 'live', allow_subscribe_for_client: true, allow_publish_for_client: true },
];

// A PlainClient in Node that records what it reports.
async function nodeClient(srv, opts) {
  const { PlainClient } = await load();
  const client = new PlainClient({
    url: srv.url, WebSocket, EventSource, fetch, minReconnectDelay: 100, maxReconnectDelay: 400, ...opts,
  });
  const log = { states: [], subscribed: [], pubs: [], resets: [], errors: [], joins: [], leaves: [] };
  client.on('state', (s) => log.states.push(s));
  client.on('subscribed', (s) => log.subscribed.push(s));
  client.on('publication', (p) => log.pubs.push(p));
  client.on('reset', (r) => log.resets.push(r));
  client.on('error', (e) => log.errors.push(e));
  client.on('join', (e) => log.joins.push(e));
  client.on('leave', (e) => log.leaves.push(e));
  client.log = log;
  return client;
}

const connected = (client, label) => waitFor(() => client.state === 'connected',
  { timeout: 8000, label: `${label}: connected`, describe: () => JSON.stringify(client.log.states.slice(-4)) });

test('PlainClient against the server, on each transport', { timeout: 120000 }, async (t) => {
  const defer = cleanupStack(t);
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  defer(() => srv.stop());

  for (const transport of ['websocket', 'sse', 'poll']) {
    await t.test(`${transport}: connects, receives, publishes, reads presence and history`, async () => {
      const user = `u-${transport}`;
      const channel = `chat:basic-${transport}`;
      const client = await nodeClient(srv, {
        channels: [channel, 'live:ticker'], token: connectionToken(user, { info: { name: 'Ann' } }), transports: [transport],
        joinLeave: true,
      });
      defer(() => client.close());
      client.connect();
      await connected(client, transport);
      assert.deepEqual(client.log.states.map((s) => s.state), ['connecting', 'connected']);
      assert.equal(client.log.states[1].transport, transport);
      assert.equal(client.transport, transport);
      const sub = client.log.subscribed[0];
      assert.equal(sub.resumed, false);
      assert.deepEqual(sub.channels.map((c) => c.channel), [channel, 'live:ticker']);
      if (transport === 'poll') assert.equal(client.clientId, null, 'a poll has no client id');
      else assert.match(client.clientId, /^[0-9a-f-]{36}$/);

      const first = await client.publish(channel, { text: 'hello' });
      assert.equal(first.offset, 1);
      await api(srv, 'publish', { channel: 'live:ticker', data: { price: 1 } });
      await waitFor(() => client.log.pubs.length >= 2, { label: `${transport}: two publications` });
      const mine = client.log.pubs.find((p) => p.channel === channel);
      assert.deepEqual(mine.data, { text: 'hello' });
      assert.equal(mine.offset, 1);
      assert.equal(mine.info.user, user);
      assert.deepEqual(mine.info.conn_info, { name: 'Ann' });
      assert.deepEqual(client.log.pubs.find((p) => p.channel === 'live:ticker').data, { price: 1 });

      if (transport === 'poll') {
        // Subscriber-only presence and history need a stream in presence.
        await assert.rejects(client.presence(channel), (e) => e.status === 403 && /not allowed to read the presence/.test(e.message));
        await assert.rejects(client.history(channel), (e) => e.status === 403);
      } else {
        const presence = await client.presence(channel);
        assert.deepEqual(Object.keys(presence), [client.clientId]);
        assert.equal(presence[client.clientId].user, user);
        const history = await client.history(channel, { limit: 10 });
        assert.deepEqual(history.publications.map((p) => p.data), [{ text: 'hello' }]);
        assert.equal(history.offset, 1);
        await waitFor(() => client.log.joins.some((j) => j.info.client === client.clientId), { label: 'its own join' });
      }
      await assert.rejects(client.publish('nope:x', 1), (e) => e.status === 400 && /unknown channel namespace in 'nope:x'/.test(e.message));
      client.close();
      assert.equal(client.state, 'disconnected');
      assert.equal(client.log.states.at(-1).reason, 'closed by the client');
      if (transport !== 'poll') {
        const id = client.clientId;
        await waitFor(async () => !Object.keys((await api(srv, 'presence', { channel })).presence || {}).length,
          { label: `${transport}: presence gone after close (${id})` });
      }
    });
  }

  for (const transport of ['websocket', 'sse', 'poll']) {
    await t.test(`${transport}: resumes after the server drops it, every publication once and in order`, async () => {
      const user = `resume-${transport}`;
      const channel = `chat:resume-${transport}`;
      const client = await nodeClient(srv, { channels: [channel], token: connectionToken(user), transports: [transport], pollTimeout: 1 });
      defer(() => client.close());
      client.connect();
      await connected(client, transport);
      const total = 80;
      const publisher = (async () => {
        for (let n = 1; n <= total; n++) {
          await api(srv, 'publish', { channel, data: { n } });
          await sleep(15);
        }
      })();
      // Streams are disconnected by the API (3011: reconnect); a poller is
      // between requests most of the time, so the gaps between polls are the test.
      // Each disconnect waits for the previous reconnect, so all three hit a stream.
      for (let i = 1; i <= 3; i++) {
        await sleep(250);
        if (transport === 'poll') continue;
        await apiDisconnect(srv, user);
        await waitFor(() => client.log.states.filter((s) => s.state === 'connected').length === i + 1, { label: `reconnect ${i}` });
      }
      await publisher;
      await waitFor(() => client.log.pubs.length >= total,
        { timeout: 10000, label: `${transport}: ${total} publications`, describe: () => client.log.pubs.length });
      await sleep(300);
      assert.deepEqual(client.log.pubs.map((p) => p.data.n), Array.from({ length: total }, (_, i) => i + 1));
      assert.deepEqual(client.log.resets, []);
      if (transport !== 'poll') {
        const reconnecting = client.log.states.filter((s) => s.state === 'reconnecting');
        assert.ok(reconnecting.length >= 3, `three reconnects: ${JSON.stringify(client.log.states)}`);
        for (const r of reconnecting) {
          assert.ok(r.delay >= 100 && r.delay <= 400, `delay ${r.delay} in the configured window`);
          assert.equal(r.reason, 'force reconnect');
        }
        const resumed = client.log.subscribed.filter((s) => s.resumed);
        assert.ok(resumed.length >= 3);
        for (const s of resumed) assert.equal(s.channels[0].recovered, true);
        const missed = resumed.reduce((n, s) => n + s.channels[0].missed, 0);
        assert.ok(missed >= 1, `some publications came back through the catch-up (${missed})`);
      }
      client.close();
    });
  }

  await t.test('a transport that cannot open is skipped, and the one that worked is kept', async () => {
    const channel = 'chat:fallback';
    const client = await nodeClient(srv, {
      channels: [channel], token: connectionToken('fb'), endpoints: { websocket: '/no-such-ws' },
    });
    defer(() => client.close());
    client.connect();
    await connected(client, 'fallback to sse');
    assert.equal(client.transport, 'sse');
    assert.deepEqual(client.log.states.map((s) => [s.state, s.transport]),
      [['connecting', 'websocket'], ['connecting', 'sse'], ['connected', 'sse']]);
    assert.equal(client.log.errors[0].transport, 'websocket');
    // Dropped: the next round starts at SSE, the best that worked; WebSocket is not tried again.
    await apiDisconnect(srv, 'fb');
    await waitFor(() => client.log.states.filter((s) => s.state === 'connected').length === 2, { label: 'reconnected' });
    assert.deepEqual(client.log.states.slice(3).map((s) => [s.state, s.transport || null]),
      [['reconnecting', null], ['connecting', 'sse'], ['connected', 'sse']]);
    client.close();

    const noEs = await nodeClient(srv, {
      channels: [channel], token: connectionToken('fb2'), endpoints: { websocket: '/no-such-ws' }, EventSource: undefined,
    });
    defer(() => noEs.close());
    noEs.connect();
    await connected(noEs, 'fallback to poll');
    assert.equal(noEs.transport, 'poll');
    assert.deepEqual(noEs.log.errors.map((e) => e.transport), ['websocket', 'sse']);
    assert.match(noEs.log.errors[1].message, /EventSource is not available/);
    await api(srv, 'publish', { channel, data: { via: 'poll' } });
    await waitFor(() => noEs.log.pubs.length === 1, { label: 'a publication over poll' });
    noEs.close();
  });

  await t.test('nothing opens: backoff rounds through every transport', async () => {
    const client = await nodeClient(srv, {
      channels: ['chat:none'], token: connectionToken('none'),
      endpoints: { websocket: '/x-ws', sse: '/x-sse', poll: '/x-poll' },
    });
    defer(() => client.close());
    client.connect();
    await waitFor(() => client.log.states.filter((s) => s.state === 'reconnecting').length >= 2, { label: 'two rounds' });
    client.close();
    const seq = client.log.states.map((s) => s.transport || s.state);
    assert.deepEqual(seq.slice(0, 8), ['websocket', 'sse', 'poll', 'reconnecting', 'websocket', 'sse', 'poll', 'reconnecting']);
  });

  await t.test('a terminal disconnect code stops the client; a refused poll is final', async () => {
    const client = await nodeClient(srv, { channels: ['chat:term'], token: connectionToken('term'), transports: ['websocket'] });
    defer(() => client.close());
    client.connect();
    await connected(client, 'terminal');
    await apiDisconnect(srv, 'term', 3503, 'go away');
    await waitFor(() => client.state === 'disconnected', { label: 'disconnected' });
    assert.deepEqual(client.log.states.at(-1), { state: 'disconnected', reason: 'go away', code: 3503 });
    await sleep(500);
    assert.equal(client.log.states.filter((s) => s.state === 'connecting').length, 1, 'no reconnect');

    const refused = await nodeClient(srv, { channels: ['$private'], token: connectionToken('p'), transports: ['poll'] });
    refused.connect();
    await waitFor(() => refused.state === 'disconnected', { label: 'refused poll' });
    assert.match(refused.log.states.at(-1).reason, /private/);
  });

  await t.test('an expired token is renewed through getToken', async () => {
    let renewals = 0;
    const client = await nodeClient(srv, {
      channels: ['chat:renew'], token: connectionToken('renew', { ttl: -10 }), transports: ['poll'],
      getToken: async () => { renewals += 1; return connectionToken('renew'); },
    });
    defer(() => client.close());
    client.connect();
    await connected(client, 'renewed');
    assert.equal(renewals, 1, 'the expired token was never sent');
    const none = await nodeClient(srv, { channels: ['chat:renew'], token: connectionToken('renew', { ttl: -10 }), transports: ['poll'] });
    none.connect();
    await waitFor(() => none.state === 'disconnected', { label: 'expired without getToken' });
    assert.equal(none.log.states.at(-1).reason, 'token expired');
    client.close();
  });
});
