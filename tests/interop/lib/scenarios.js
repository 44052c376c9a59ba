// Scenarios and helpers shared by the cluster interop tests (cluster.test.js
// on one Redis, redis-cluster.test.js on a Redis Cluster): SDK clients
// through the load balancer of a lib/cluster.js cluster, the chat scenario,
// a paced API publisher and the per-client sequence report.
'use strict';
const assert = require('node:assert/strict');
const {
  sleep, waitFor, nextEvent, recordEvents, connectionToken, api, newClient, connectClient,
} = require('./centrifuge');

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

// The chat scenario: `count` users spread over the nodes through the
// balancer join `channel`; publications, presence, presence_stats and
// history are the same on every node, and an API publish on the first or the
// last node reaches every subscriber.
async function chatScenario(t, cluster, count, { channel = 'chat:room', userPrefix = `${cluster.lb.kind}-user` } = {}) {
  const users = await spreadClients(t, cluster, count, userPrefix);
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

// (b) of the cluster tests: six clients on `channel` spread over the nodes,
// 100 publications/s through the first node, kill -9 of the last node; its
// clients reconnect through the balancer and recover: every client ends with
// every accepted publication, once, in order, and says recovered:true. The
// victim is started again at the end. `diag()` adds logs to failures.
async function nodeFailureScenario(t, cluster, { channel = 'load:node-failure', diag = () => '' } = {}) {
  const clients = [];
  for (let i = 0; i < 6; i++) clients.push(await loadClient(t, cluster, `nf${i}`, channel));
  const per = await clientsPerNode(cluster.nodes);
  assert.ok([...per.values()].every((v) => v > 0), `load clients on every node: ${JSON.stringify([...per])}`);

  const victim = cluster.nodes[2];
  const pub = startPublisher(cluster.nodes[0], channel, 100);
  t.after(() => pub.stop()); // also when an assertion fails first
  await sleep(1000);
  const killedAt = Date.now();
  await victim.kill();
  // The victim's clients lose their connection and come back through the balancer.
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
}

// (c) of the cluster tests: six clients on `channel`, 100 publications/s
// through the first node, then `outage()` (kill -9 and restart of the Redis
// that holds the channel): every client recovers everything or is told
// recovered:false, and every one receives everything published once the
// publishes are accepted again. `label` names the outage in the diagnostic.
async function brokerRestartScenario(t, cluster, { channel, outage, label, diag = () => '' }) {
  const clients = [];
  for (let i = 0; i < 6; i++) clients.push(await loadClient(t, cluster, `rr${i}`, channel));
  const pub = startPublisher(cluster.nodes[0], channel, 100);
  t.after(() => pub.stop()); // also when an assertion fails first
  await sleep(1000);
  await outage();
  // Wait until publishes succeed again, then until every client has
  // received one made after that (the nodes resubscribe with backoff).
  await waitFor(() => pub.ok.size > 0 && Math.max(...pub.ok) > pub.attempted - 2 && pub.failed > 0, {
    timeout: 15000, label: `publishes accepted again after the ${label}`,
  });
  const backFrom = pub.attempted;
  await waitFor(() => clients.every((c) => c.seqs.some((s) => s > backFrom)), {
    timeout: 15000, label: `every client receives a publication made after the ${label}`,
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
      `client ${i}: everything after the ${label}, once, in order; first lost ${r.firstLost}${diag()}`);
    const all = sequenceReport(c, pub.ok);
    const notRecovered = c.log.of('subscribed').slice(1).some((s) => s.recovered === false);
    if (notRecovered) toldLost++;
    assert.ok(all.lost === 0 || notRecovered,
      `client ${i} lost ${all.lost} publications (first ${all.firstLost}) without being told recovered:false`);
  }
  t.diagnostic(`${label}: ${pub.ok.size}/${last} publications accepted, ${toldLost}/${clients.length} clients told recovered:false`);
  for (const c of clients) c.client.disconnect();
}

module.exports = {
  NAMESPACES, connectUser, subscription, subscribe, clientsPerNode, spreadClients, chatScenario,
  startPublisher, loadClient, sequenceReport, nodeFailureScenario, brokerRestartScenario,
};
