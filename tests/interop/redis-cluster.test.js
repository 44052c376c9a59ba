// Three nodes on a three-master Redis Cluster (sharded pub/sub, docs/scaling.md
// "Redis Cluster") behind nginx, with the official centrifuge SDK:
//   (a) the chat on three channels, one on each master: publications,
//       presence, presence_stats and history are cluster-wide; an API
//       publish on one node reaches subscribers on every node;
//   (b) kill -9 of a node under 100 publications/s: its clients reconnect
//       through nginx and recover; nothing lost, no duplicates, in order;
//   (c) kill -9 of the master owning the load channel's slot under the same
//       load, restarted on the same port (it rejoins with its slots, empty):
//       every client recovers everything or is told recovered:false, and all
//       of them receive what is published once the master is back.
//       A second channel on that master makes the broker resubscribe
//       several channels of different slots at once.
// Skipped (with the reason) when redis-server, redis-cli or nginx is missing.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startCluster, missingTools } = require('./lib/cluster');
const { sleep } = require('./lib/centrifuge');
const {
  NAMESPACES, connectUser, subscription, subscribe, chatScenario, nodeFailureScenario, brokerRestartScenario,
} = require('./lib/scenarios');
const { redisMode } = require('./lib/server');

// The pub/sub topic of a channel, whose slot is the channel's (docs/scaling.md, "Keys").
const topic = (cluster, channel) => `${cluster.prefix}:{${channel}}:events`;

// The test starts its own Redis Cluster: the suite's second pass on the Redis
// broker (SB_TEST_REDIS, tests/run-all) would only repeat it.
const skip = missingTools(['redis-server', 'redis-cli', 'nginx'])
  || (redisMode && 'runs its own Redis Cluster; already run in the first interop pass');

test('redis cluster: 3 nodes + a 3-master Redis Cluster behind nginx', { skip }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, lb: 'nginx', namespaces: NAMESPACES, redisCluster: true });
  const rc = cluster.redisCluster;
  const diag = () => `\nredis: ${rc.masters.map((m) => `${m.port}: ${m.output().slice(-1000)}`).join('\n')}`
    + `\nnginx: ${cluster.lb.output()}\n${cluster.nodes.map((n) => `${n.name}: ${n.stderr.slice(-1500)}`).join('\n')}`;

  await t.test('(a) chat on a channel of each master: publications, presence and history are cluster-wide', async (t) => {
    // The first chat:room-N names whose slots fall on each of the masters.
    const byMaster = new Map();
    for (let n = 0; byMaster.size < rc.masters.length && n < 100; n++) {
      const channel = `chat:room-${n}`;
      const owner = await rc.ownerOf(topic(cluster, channel));
      assert.ok(owner, `a master owns ${channel}`);
      if (!byMaster.has(owner.port)) byMaster.set(owner.port, channel);
    }
    assert.equal(byMaster.size, 3, 'a chat channel on every master');
    for (const [port, channel] of byMaster) {
      t.diagnostic(`${channel} on the master at ${port}`);
      await chatScenario(t, cluster, 3, { channel, userPrefix: `${channel.replace(/\W/g, '')}-user` });
    }
  });

  await t.test('(b) kill -9 of a node under load: its clients reconnect elsewhere and recover everything', async (t) => {
    await nodeFailureScenario(t, cluster, { channel: 'load:node-failure', diag });
  });

  // A second channel on the master makes it resubscribe channels of several
  // slots at once (one SSUBSCRIBE each: Redis refuses a multi-slot one).
  const nameC = '(c) kill -9 of the master owning the load channel: every client recovers or is told recovered:false, and keeps receiving';
  await t.test(nameC, async (t) => {
    const channel = 'load:master-restart';
    const master = await rc.ownerOf(topic(cluster, channel));
    assert.ok(master, `a master owns ${channel}`);
    t.diagnostic(`${channel} on the master at ${master.port}`);
    // A second channel in use on that master (a master rarely holds one).
    let other;
    for (let n = 0; !other && n < 100; n++) {
      if ((await rc.ownerOf(topic(cluster, `chat:side-${n}`))) === master) other = `chat:side-${n}`;
    }
    const side = await connectUser(t, cluster.lb.endpoint, 'side-user');
    await subscribe(subscription(side.client, other).sub);
    // On failure: who is shard-subscribed to the channel's topic, and the logs.
    const subscribers = async () => (await rc.cli('-p', master.port, 'PUBSUB', 'SHARDNUMSUB', topic(cluster, channel)))
      .trim().split('\n').pop();
    try {
      await brokerRestartScenario(t, cluster, {
        channel,
        label: `restart of the master at ${master.port}`,
        diag,
        outage: async () => {
          await master.kill();
          await sleep(500);
          await master.start();
        },
      });
    } catch (e) {
      e.message += `\nshard subscribers of the topic: ${await subscribers().catch((x) => x.message)}${diag()}`;
      throw e;
    }
  });
});
