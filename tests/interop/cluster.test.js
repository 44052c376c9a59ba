// Three nodes sharing one Redis behind the real load balancers of deploy/
// (nginx, haproxy), with the official centrifuge SDK over WebSocket:
//   (a) a chat room spread over the nodes: publications, presence,
//       presence_stats and history are cluster-wide; an API publish on one
//       node reaches subscribers on every node;
//   (b) kill -9 of a node under 100 publications/s: its clients reconnect
//       through nginx to the other nodes and recover; every client ends with
//       every publication, in order, without duplicates;
//   (c) kill -9 of Redis under the same load, restarted empty on the same
//       port (new epoch): every client recovers everything or is told
//       recovered:false, and all of them receive what is published after;
//   (d) the chat (and the emulation transports) through haproxy.
// (a2) checks the emulation transports (http_stream, sse + POST /emulation)
// through nginx's sticky routing, (a3) that a /poll cursor from one node
// works on the others.
// Skipped (with the reason) when redis-server, nginx or haproxy is missing.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { EventSource } = require('eventsource');
const { startCluster, missingTools } = require('./lib/cluster');
const { sleep, waitFor, connectionToken, api, newClient, connectClient } = require('./lib/centrifuge');
const {
  NAMESPACES, subscription, subscribe, chatScenario, nodeFailureScenario, brokerRestartScenario,
} = require('./lib/scenarios');
const { redisMode, request } = require('./lib/server');

// The emulation transports (http_stream, sse + POST /emulation) through the
// balancer: connect, subscribe, publish, presence.
async function emulationScenario(t, cluster) {
  // Sticky routing sends the stream and its POSTs to one node; a POST that
  // lands on another node is forwarded to it through the control channel.
  const channel = 'chat:emulation';
  const subs = [];
  for (const [transport, path] of [['http_stream', '/connection/http_stream'], ['sse', '/connection/sse']]) {
    for (let i = 0; i < 2; i++) {
      const client = newClient([{ transport, endpoint: `${cluster.lb.url}${path}` }], {
        token: connectionToken(`${transport}${i}`), emulationEndpoint: `${cluster.lb.url}/emulation`, eventsource: EventSource,
      });
      t.after(() => client.disconnect());
      await connectClient(client, 8000);
      const s = subscription(client, channel);
      await subscribe(s.sub);
      subs.push(s);
    }
  }
  for (const [i, s] of subs.entries()) await s.sub.publish({ text: `emulated ${i}` });
  const texts = subs.map((_, i) => `emulated ${i}`);
  for (const [i, s] of subs.entries()) {
    await waitFor(() => s.log.of('publication').length >= texts.length, { timeout: 5000, label: `emulation client ${i} receives all` });
    assert.deepEqual(s.log.of('publication').map((p) => p.data.text), texts);
  }
  assert.deepEqual(await subs[0].sub.presenceStats(), { numClients: subs.length, numUsers: subs.length });
}

// The cluster starts its own Redis: the suite's second pass on the Redis
// broker (SB_TEST_REDIS, tests/run-all) would only repeat it.
const skip = missingTools(['redis-server', 'nginx', 'haproxy'])
  || (redisMode && 'runs its own redis-server; already run in the first interop pass');

test('cluster: 3 nodes + Redis behind nginx', { skip }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, lb: 'nginx', namespaces: NAMESPACES });
  const diag = () => `\nnginx: ${cluster.lb.output()}\n${cluster.nodes.map((n) => `${n.name}: ${n.stderr.slice(-1500)}`).join('\n')}`;

  await t.test('(a) chat through nginx: publications, presence and history are cluster-wide', async (t) => {
    await chatScenario(t, cluster, 6);
  });

  await t.test('(a2) emulation transports through nginx: the stream and its POST /emulation requests work together', async (t) => {
    await emulationScenario(t, cluster);
  });

  await t.test('(a3) a /poll cursor from one node works on any other (no stickiness needed)', async () => {
    const channel = 'chat:poll';
    const headers = { Authorization: `Bearer ${connectionToken('poller')}` };
    const poll = async (base, query) => {
      const r = await request(`${base}/poll?channel=${encodeURIComponent(channel)}&timeout=0${query}`, { headers });
      assert.equal(r.status, 200, r.body);
      return JSON.parse(r.body);
    };
    const [n1, n2, n3] = cluster.nodes;
    await api(n2.server, 'publish', { channel, data: { n: 0 } });
    const start = await poll(n1.url, '');
    for (let n = 1; n <= 3; n++) await api(n2.server, 'publish', { channel, data: { n } });
    for (const base of [n3.url, cluster.lb.url]) {
      const r = await poll(base, `&since=${encodeURIComponent(start.position)}`);
      assert.deepEqual(r.publications.map((p) => p.data.n), [1, 2, 3], `poll on ${base}`);
      assert.equal(r.resets, undefined);
    }
  });

  await t.test('(b) kill -9 of a node under load: its clients reconnect elsewhere and recover everything', async (t) => {
    await nodeFailureScenario(t, cluster, { channel: 'load:node-failure', diag });
  });

  await t.test('(c) kill -9 of Redis under load: every client recovers or is told recovered:false, and keeps receiving', async (t) => {
    await brokerRestartScenario(t, cluster, {
      channel: 'load:redis-restart',
      label: 'redis restart',
      diag,
      outage: async () => {
        await cluster.redis.kill();
        await sleep(500);
        await cluster.redis.start();
      },
    });
  });
});

test('cluster: the chat and the emulation transports through haproxy', { skip }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, lb: 'haproxy', namespaces: NAMESPACES });
  await chatScenario(t, cluster, 3);
  await emulationScenario(t, cluster);
});
