// Nodes that know each other over the control channel (docs/scaling.md,
// "Nodes and the control channel"): two Switchboard nodes share one
// redis-server on loopback; /api/info on either lists both, and the server
// API's actions by user, called on node B, reach the user's connection on
// node A. Skipped when redis-server is not installed.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
const { freePort, redisMode } = require('./lib/server');
const {
  waitFor, recordEvents, cleanupStack, connectionToken, startCentrifugo, api, newClient, connectClient, sleep,
} = require('./lib/centrifuge');

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(() => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeout: 5000, label: 'redis-server listening' });
  return { port, stop: () => child.kill('SIGKILL') };
}

// It starts its own redis-server; the second interop pass on the Redis broker
// (SB_TEST_REDIS, tests/run-all) would only repeat it.
const skip = (!haveRedis && 'redis-server not installed')
  || (redisMode && 'runs its own redis-server; already run in the first interop pass');
test('nodes over the control channel', { skip }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const env = {
    SWITCHBOARD_BROKER_TYPE: 'redis',
    SWITCHBOARD_BROKER_REDIS_ADDRESS: `127.0.0.1:${redis.port}`,
    SWITCHBOARD_BROKER_REDIS_PREFIX: `ctl${process.pid}`,
    SWITCHBOARD_CLIENT_EXPIRED_CLOSE_DELAY: '0s',
  };
  const namespaces = [{
    name: 'open', allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s',
    allow_history_for_subscriber: true, allow_publish_for_subscriber: true,
  }];
  const a = await startCentrifugo({ env, namespaces });
  t.after(() => a.stop());
  const b = await startCentrifugo({ env, namespaces });
  t.after(() => b.stop());

  await t.test('/api/info on each node lists both nodes', async () => {
    let uids = [];
    for (const srv of [a, b]) {
      await waitFor(async () => (await api(srv, 'info')).nodes.length === 2, { label: 'two nodes in info' });
      const { nodes } = await api(srv, 'info');
      for (const n of nodes) {
        assert.equal(typeof n.uid, 'string');
        assert.equal(typeof n.name, 'string');
        assert.equal(typeof n.num_clients, 'number');
        assert.equal(typeof n.num_subs, 'number');
        assert.equal(typeof n.uptime, 'number');
      }
      uids.push(nodes.map((n) => n.uid).sort().join());
    }
    assert.equal(uids[0], uids[1], 'both nodes list the same two uids');
  });

  await t.test('a client on node A shows in node B\'s info after a heartbeat', async (t) => {
    const defer = cleanupStack(t);
    const client = newClient(a, { token: connectionToken('carol') });
    defer(() => client.disconnect());
    await connectClient(client);
    const { nodes: own } = await api(a, 'info');
    const uidA = own[0].uid;
    await waitFor(async () => {
      const { nodes } = await api(b, 'info');
      const na = nodes.find((n) => n.uid === uidA);
      return na && na.num_clients >= 1;
    }, { timeout: 8000, label: 'node A counted with its client in node B\'s info' });
  });

  await t.test('subscribe, unsubscribe and disconnect called on node B reach a user on node A', async (t) => {
    const defer = cleanupStack(t);
    const client = newClient(a, { token: connectionToken('alice') });
    defer(() => client.disconnect());
    const log = recordEvents(client, ['subscribed', 'unsubscribed', 'disconnected']);
    await connectClient(client);
    assert.deepEqual(await api(b, 'subscribe', { user: 'alice', channel: 'open:news' }), {});
    await waitFor(() => log.of('subscribed').length === 1, { label: 'server-side subscribe from node B' });
    assert.equal(log.of('subscribed')[0].channel, 'open:news');
    assert.deepEqual(await api(b, 'unsubscribe', { user: 'alice', channel: 'open:news' }), {});
    await waitFor(() => log.of('unsubscribed').length === 1, { label: 'server-side unsubscribe from node B' });
    // Another user's action does not touch alice.
    await api(b, 'disconnect', { user: 'bob' });
    await sleep(200);
    assert.equal(log.of('disconnected').length, 0);
    assert.deepEqual(await api(b, 'disconnect', { user: 'alice', code: 3500, reason: 'bye' }), {});
    await waitFor(() => log.of('disconnected').length === 1, { label: 'disconnect from node B' });
    assert.equal(log.of('disconnected')[0].code, 3500);
  });

  await t.test('refresh called on node B with expired=true reaches a user on node A', async (t) => {
    const defer = cleanupStack(t);
    const client = newClient(a, { token: connectionToken('dave') });
    defer(() => client.disconnect());
    await connectClient(client);
    const log = recordEvents(client, ['disconnected', 'connecting']);
    assert.deepEqual(await api(b, 'refresh', { user: 'dave', expired: true }), {});
    // An expired connection is closed by the server (the SDK then reconnects
    // or stops): either way the connection on node A ended.
    await waitFor(() => log.of('disconnected').length + log.of('connecting').length >= 1,
      { label: 'node A ended dave\'s expired connection' });
  });

  await t.test('an /emulation POST that lands on node B reaches the http_stream session on node A', async (t) => {
    const defer = cleanupStack(t);
    // The stream goes to node A; every later command (subscribe, publish,
    // pongs) is POSTed to node B's /emulation, as a load balancer might.
    const client = newClient([{ transport: 'http_stream', endpoint: `${a.url}/connection/http_stream` }], {
      emulationEndpoint: `${b.url}/emulation`, token: connectionToken('erin'),
    });
    defer(() => client.disconnect());
    const ctx = await connectClient(client);
    assert.equal(ctx.transport, 'http_stream');
    const sub = client.newSubscription('open:forwarded');
    const log = recordEvents(sub, ['subscribed', 'publication']);
    sub.subscribe();
    await waitFor(() => log.of('subscribed').length === 1, { label: 'subscribed through node B' });
    await sub.publish({ via: 'b' });
    await waitFor(() => log.of('publication').length === 1, { label: 'own publication back on node A\'s stream' });
    assert.deepEqual(log.of('publication')[0].data, { via: 'b' });
    const { nodes } = await api(a, 'info');
    assert.equal(nodes[0].num_subs >= 1, true, 'the subscription lives on node A');
    // Node B does not hold sessions of node A: it forwards (204) what it
    // would refuse as an unknown session (404) if it served it itself.
    const { request } = require('./lib/server');
    const post = (body) => request(`${b.url}/emulation`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.equal((await post({ node: nodes[0].uid, session: 'not-a-session', data: '{}' })).status, 204);
    assert.equal((await post({ session: 'not-a-session', data: '{}' })).status, 404);
  });

  await t.test('a disconnect by user called on node A ends the user\'s connections on both nodes', async (t) => {
    const defer = cleanupStack(t);
    const onA = newClient(a, { token: connectionToken('frank') });
    const onB = newClient(b, { token: connectionToken('frank') });
    defer(() => onA.disconnect());
    defer(() => onB.disconnect());
    const logA = recordEvents(onA, ['disconnected']);
    const logB = recordEvents(onB, ['disconnected']);
    await connectClient(onA);
    await connectClient(onB);
    assert.deepEqual(await api(a, 'disconnect', { user: 'frank', code: 3501, reason: 'everywhere' }), {});
    await waitFor(() => logA.of('disconnected').length === 1 && logB.of('disconnected').length === 1,
      { label: 'frank disconnected on node A and node B' });
    assert.equal(logA.of('disconnected')[0].code, 3501);
    assert.equal(logB.of('disconnected')[0].code, 3501);
  });

  await t.test('/emulation naming a node that is not live is 404', async () => {
    const { request } = require('./lib/server');
    const r = await request(`${b.url}/emulation`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ node: 'no-such-node', session: 'x', data: '{}' }),
    });
    assert.equal(r.status, 404);
    assert.match(JSON.parse(r.body).error.message, /unknown node "no-such-node"/);
  });

  await t.test('a node killed with SIGKILL drops out of the others\' /api/info within the expiry', async () => {
    const c = await startCentrifugo({ env, namespaces });
    let uidC;
    try {
      uidC = (await api(c, 'info')).nodes[0].uid;
      await waitFor(async () => (await api(a, 'info')).nodes.some((n) => n.uid === uidC),
        { timeout: 8000, label: 'node C in node A\'s info' });
    } finally {
      await c.stop('SIGKILL');
    }
    // Expiry is 9.5 s after the last heartbeat (3 s apart).
    const killed = Date.now();
    await waitFor(async () => !(await api(a, 'info')).nodes.some((n) => n.uid === uidC),
      { timeout: 12000, interval: 250, label: 'node C gone from node A\'s info' });
    assert.ok(Date.now() - killed >= 4000, 'node C stays listed until its heartbeats are overdue');
    const { request } = require('./lib/server');
    const r = await request(`${a.url}/emulation`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ node: uidC, session: 'x', data: '{}' }),
    });
    assert.equal(r.status, 404, '/emulation for a session of the dead node');
  });
});
