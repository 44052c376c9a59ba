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
const {
  sleep, waitFor, nextEvent, recordEvents, connectionToken, api, newClient, connectClient,
} = require('./lib/centrifuge');
const { redisMode, request } = require('./lib/server');

const NAMESPACES = [
  {
    name: 'chat', presence: true, join_leave: true, history_size: 100, history_ttl: '300s', allow_recovery: true,
    allow_subscribe_for_client: true, allow_publish_for_subscriber: true, allow_presence_for_subscriber: true,
    allow_history_for_subscriber: true,
  },
  // The load channels: enough history to cover any outage of these tests.
  { name: 'load', history_size: 2000, history_ttl: '300s', allow_recovery: true, force_recovery: true, allow_subscribe_for_client: true },
];

// A client connected through `endpoint` as `user`, with its event log.
async function connectUser(t, endpoint, user) {
  const client = newClient(endpoint, { token: connectionToken(user) });
  const log = recordEvents(client, ['connecting', 'connected', 'disconnected']);
  t.after(() => client.disconnect());
  await connectClient(client, 8000);
  return { client, log, user };
}

function subscription(client, channel, opts = {}) {
  const sub = client.newSubscription(channel, { minResubscribeDelay: 50, maxResubscribeDelay: 300, ...opts });
  const log = recordEvents(sub, ['subscribing', 'subscribed', 'unsubscribed', 'publication', 'join', 'leave', 'error']);
  return { sub, log };
}

async function subscribe(sub, timeout = 8000) {
  const ev = nextEvent(sub, 'subscribed', { timeout, label: `subscribed to ${sub.channel}` });
  sub.subscribe();
  return ev;
}

// num_clients of every live node, by name, each from its own /api/info (the
// first entry is the answering node, with fresh counts; the others are as of
// their last heartbeat).
async function clientsPerNode(nodes) {
  const counts = new Map();
  for (const n of nodes) {
    if (!n.alive()) continue;
    const info = await api(n.server, 'info');
    counts.set(n.name, info.nodes[0].num_clients);
  }
  return counts;
}

// Connects `count` users through the balancer until every node holds at
// least one of them (least_conn spreads them; asserted, not assumed).
async function spreadClients(t, cluster, count, prefix) {
  const users = [];
  for (let i = 0; i < count; i++) users.push(await connectUser(t, cluster.lb.endpoint, `${prefix}${i}`));
  const per = await clientsPerNode(cluster.nodes);
  const loaded = [...per.values()].filter((v) => v > 0).length;
  assert.equal(loaded, cluster.nodes.length, `clients on every node: ${JSON.stringify([...per])}`);
  return users;
}

// The chat scenario shared by nginx (a) and haproxy (d).
async function chatScenario(t, cluster, count) {
  const users = await spreadClients(t, cluster, count, `${cluster.lb.kind}-user`);
  const channel = 'chat:room';
  const subs = [];
  for (const u of users) {
    const s = subscription(u.client, channel);
    await subscribe(s.sub);
    subs.push(s);
  }

  // Presence is cluster-wide, seen from any client and from any node's API.
  for (const s of [subs[0], subs[subs.length - 1]]) {
    await waitFor(async () => (await s.sub.presenceStats()).numClients === count, { timeout: 5000, label: 'presence_stats' });
    assert.deepEqual(await s.sub.presenceStats(), { numClients: count, numUsers: count });
    const presence = await s.sub.presence();
    assert.deepEqual(Object.values(presence.clients).map((c) => c.user).sort(), users.map((u) => u.user).sort());
  }
  for (const n of cluster.nodes) {
    const p = await api(n.server, 'presence_stats', { channel });
    assert.deepEqual([p.num_clients, p.num_users], [count, count], `presence_stats on ${n.name}`);
  }

  // Every client publishes once; everyone receives every message, in order.
  for (let i = 0; i < count; i++) await subs[i].sub.publish({ text: `hello from ${i}` });
  const texts = Array.from({ length: count }, (_, i) => `hello from ${i}`);
  for (const [i, s] of subs.entries()) {
    await waitFor(() => s.log.of('publication').length >= count, {
      timeout: 5000, label: `client ${i} receives ${count} messages`, describe: () => s.log.of('publication').length,
    });
    assert.deepEqual(s.log.of('publication').map((p) => p.data.text), texts);
  }
  // History is shared: the same publications, in order, from any node.
  const hist = await subs[count - 1].sub.history({ limit: 100 });
  assert.deepEqual(hist.publications.map((p) => p.data.text), texts);

  // An API publish on one node reaches the subscribers on all of them.
  for (const n of [cluster.nodes[0], cluster.nodes[cluster.nodes.length - 1]]) {
    await api(n.server, 'publish', { channel, data: { text: `api via ${n.name}` } });
    for (const [i, s] of subs.entries()) {
      await waitFor(() => s.log.of('publication').some((p) => p.data.text === `api via ${n.name}`), {
        timeout: 5000, label: `client ${i} receives the API publish on ${n.name}`,
      });
    }
  }
}

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

// Publishes {seq} to `channel` through `node`'s API at about `rate` per
// second, one at a time (so offsets follow seq), until stop() is called.
// Remembers which seqs the node accepted.
function startPublisher(node, channel, rate = 100) {
  const state = { attempted: 0, ok: new Set(), failed: 0, running: true };
  const start = Date.now();
  state.done = (async () => {
    const period = 1000 / rate;
    while (state.running) {
      const seq = ++state.attempted;
      try {
        const r = await node.api('publish', { channel, data: { seq } });
        if (r.status === 200 && r.json && !r.json.error) state.ok.add(seq);
        else state.failed++;
      } catch (e) {
        state.failed++;
      }
      const wait = start + seq * period - Date.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  state.stop = async () => { state.running = false; await state.done; state.elapsed = Date.now() - start; };
  state.rate = () => Math.round((state.attempted * 1000) / (state.elapsed || 1));
  return state;
}

// A client subscribed to the load channel with recovery, recording each seq
// received and when. `log` is the subscription's events, `clientLog` the client's.
async function loadClient(t, cluster, user, channel) {
  const u = await connectUser(t, cluster.lb.endpoint, user);
  const s = subscription(u.client, channel, { recoverable: true });
  const seqs = [];
  const times = [];
  s.sub.on('publication', (ctx) => { seqs.push(ctx.data.seq); times.push(Date.now()); });
  await subscribe(s.sub);
  return { ...u, clientLog: u.log, ...s, seqs, times };
}

// Lost / duplicated / out-of-order counts and the longest gap between two
// received publications (ms) of one client, against the expected seqs.
function sequenceReport(c, expected) {
  const got = new Set(c.seqs);
  const lost = [...expected].filter((s) => !got.has(s));
  const dups = c.seqs.length - got.size;
  let outOfOrder = 0;
  let gap = 0;
  for (let i = 1; i < c.seqs.length; i++) {
    if (c.seqs[i] <= c.seqs[i - 1]) outOfOrder++;
    gap = Math.max(gap, c.times[i] - c.times[i - 1]);
  }
  return { lost: lost.length, firstLost: lost.slice(0, 5), dups, outOfOrder, gap };
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
    const channel = 'load:node-failure';
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push(await loadClient(t, cluster, `nf${i}`, channel));
    const per = await clientsPerNode(cluster.nodes);
    assert.ok([...per.values()].every((v) => v > 0), `load clients on every node: ${JSON.stringify([...per])}`);

    const victim = cluster.nodes[2];
    const pub = startPublisher(cluster.nodes[0], channel, 100);
    await sleep(1000);
    const killedAt = Date.now();
    await victim.kill();
    // The victim's clients lose their connection and come back through nginx.
    await waitFor(() => clients.every((c) => c.client.state === 'connected' && c.sub.state === 'subscribed'), {
      timeout: 10000, label: 'every client connected and subscribed again',
      describe: () => clients.map((c) => `${c.client.state}/${c.sub.state}`).join(' '),
    });
    await sleep(1500);
    await pub.stop();
    const moved = clients.filter((c) => c.clientLog.some((e) => e.event === 'connecting' && e.at >= killedAt));
    assert.ok(moved.length > 0, 'some clients were on the killed node');

    assert.equal(pub.failed, 0, 'every publish accepted by the surviving node');
    const last = pub.attempted;
    await waitFor(() => clients.every((c) => c.seqs.includes(last)), {
      timeout: 10000, label: `every client receives seq ${last}`, describe: () => clients.map((c) => c.seqs.length).join(' '),
    });
    let lostTotal = 0;
    let longestGap = 0;
    for (const [i, c] of clients.entries()) {
      const r = sequenceReport(c, pub.ok);
      lostTotal += r.lost;
      longestGap = Math.max(longestGap, r.gap);
      assert.deepEqual({ lost: r.lost, dups: r.dups, outOfOrder: r.outOfOrder }, { lost: 0, dups: 0, outOfOrder: 0 },
        `client ${i} (${c.user}): first lost ${r.firstLost}${diag()}`);
      // Recovered subscriptions say so.
      const resubs = c.log.of('subscribed').slice(1);
      for (const s of resubs) assert.equal(s.recovered, true, `client ${i} resubscribed with recovered:true`);
    }
    t.diagnostic(`node failure: ${last} publications (${pub.rate()}/s), ${moved.length}/${clients.length} clients moved, lost ${lostTotal}, longest gap ${longestGap} ms`);
    assert.equal(lostTotal, 0);
    for (const c of clients) c.client.disconnect();
    await victim.start();
  });

  await t.test('(c) kill -9 of Redis under load: every client recovers or is told recovered:false, and keeps receiving', async (t) => {
    const channel = 'load:redis-restart';
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push(await loadClient(t, cluster, `rr${i}`, channel));
    const pub = startPublisher(cluster.nodes[0], channel, 100);
    await sleep(1000);
    await cluster.redis.kill();
    await sleep(500);
    await cluster.redis.start();
    // Wait until publishes succeed again, then until every client has
    // received one made after that (the nodes resubscribe with backoff).
    await waitFor(() => pub.ok.size > 0 && Math.max(...pub.ok) > pub.attempted - 2 && pub.failed > 0, {
      timeout: 15000, label: 'publishes accepted again after the Redis restart',
    });
    const backFrom = pub.attempted;
    await waitFor(() => clients.every((c) => c.seqs.some((s) => s > backFrom)), {
      timeout: 15000, label: 'every client receives a publication made after Redis came back',
      describe: () => clients.map((c) => `${c.client.state}/${c.sub.state}:${c.seqs[c.seqs.length - 1]}`).join(' '),
    });
    // Then everything published from now on reaches everyone.
    const tailFrom = pub.attempted + 1;
    await sleep(1000);
    await pub.stop();
    const last = pub.attempted;
    const tail = [...pub.ok].filter((s) => s >= tailFrom);
    assert.ok(tail.length > 50, `publishes after the restart: ${tail.length}`);
    await waitFor(() => clients.every((c) => c.seqs.includes(last) || !pub.ok.has(last)), {
      timeout: 10000, label: `every client receives seq ${last}`,
    });
    let toldLost = 0;
    for (const [i, c] of clients.entries()) {
      const r = sequenceReport(c, new Set(tail));
      assert.deepEqual({ lost: r.lost, dups: r.dups, outOfOrder: r.outOfOrder }, { lost: 0, dups: 0, outOfOrder: 0 },
        `client ${i}: everything after the restart, once, in order; first lost ${r.firstLost}${diag()}`);
      const all = sequenceReport(c, pub.ok);
      const notRecovered = c.log.of('subscribed').slice(1).some((s) => s.recovered === false);
      if (notRecovered) toldLost++;
      assert.ok(all.lost === 0 || notRecovered,
        `client ${i} lost ${all.lost} publications (first ${all.firstLost}) without being told recovered:false`);
    }
    t.diagnostic(`redis restart: ${pub.ok.size}/${last} publications accepted, ${toldLost}/${clients.length} clients told recovered:false`);
    for (const c of clients) c.client.disconnect();
  });
});

test('cluster: the chat and the emulation transports through haproxy', { skip }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, lb: 'haproxy', namespaces: NAMESPACES });
  await chatScenario(t, cluster, 3);
  await emulationScenario(t, cluster);
});
