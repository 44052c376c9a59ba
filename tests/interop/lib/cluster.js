// A Switchboard cluster for tests: one redis-server (or a three-master Redis
// Cluster), N nodes on the Redis broker and, optionally, nginx or haproxy in
// front, all on free loopback ports, every process a child of the test
// (nothing is daemonized).
//
//   const { startCluster, missingTools } = require('./lib/cluster');
//   const skip = missingTools(['redis-server', 'nginx']);   // reason string or false
//   test('…', { skip }, async (t) => {
//     const c = await startCluster(t, { nodes: 3, lb: 'nginx', namespaces: [{ name: 'chat', presence: true }] });
//     c.lb.endpoint            // ws://127.0.0.1:<port>/connection/websocket through the load balancer
//     c.nodes[i]               // startCentrifugo() servers: url, endpoint, api(), plus kill() / start()
//     await c.nodes[0].kill(); // kill -9; c.nodes[0].start() starts it again on the same port
//     await c.redis.kill();    // kill -9; c.redis.start() restarts it (empty) on the same port
//   });
//
// With `redisCluster: true`, startCluster runs startRedisCluster() (three
// masters, slots 0-5460 / 5461-10922 / 10923-16383, no replicas) instead of
// one redis-server and starts the nodes with broker.redis_cluster = true and
// the three masters as seeds. Then `c.redis` is null and `c.redisCluster` is
// {masters: [{port, address, kill(), start()}], address, cli(), ownerOf(key),
// stop()}: a master's start() restarts it on the same port and dir, where its
// nodes-<port>.conf keeps its id and slots, so it rejoins (its data is gone).
//
// startCluster registers its teardown with `t.after` (processes are killed
// and temp dirs removed even when the test fails) and also kills every child
// when the Node process exits. The pieces (startRedis, startRedisCluster,
// startNode, startNginx, startHaproxy) can be used alone; each returns an
// object with stop(). nginx and haproxy run deploy/nginx.conf and
// deploy/haproxy.cfg with the listen port and node addresses substituted.
'use strict';
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { ROOT, freePort } = require('./server');
const { startCentrifugo } = require('./centrifuge');

// ---------------------------------------------------------------- processes

// Every live child, with the signal that ends it at once and cleanly: nginx
// must get SIGTERM (after a SIGKILL of its master the workers live on,
// holding the port); nodes and redis are killed.
const children = new Map();
function killAllChildren() {
  for (const [c, sig] of children) { try { c.kill(sig); } catch (e) { /* gone */ } }
}
function track(child, sig = 'SIGKILL') {
  children.set(child, sig);
  child.once('exit', () => children.delete(child));
}
process.on('exit', killAllChildren);
// A test runner that stops this process with a signal (timeout, Ctrl-C)
// skips 'exit' handlers: kill the children, then die of the same signal.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAllChildren(); process.kill(process.pid, sig); });
}

// Spawns a long-running child, remembers it for the exit hook and collects
// its output. `exited` resolves with {code, signal}.
function spawnChild(cmd, args, { stopSignal = 'SIGKILL', ...opts } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  track(child, stopSignal);
  let output = '';
  const keep = (d) => { output = (output + d).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', () => {});
  return { child, exited, get output() { return output; } };
}

// Resolves when 127.0.0.1:port accepts; rejects if `exited` settles first or
// after `timeoutMs`.
async function waitListening(port, exited, label, output, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  exited.then(() => { dead = true; });
  for (;;) {
    if (dead) throw new Error(`${label} exited before listening on ${port}: ${output()}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${label} did not listen on ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function killChild(p, signal = 'SIGKILL', timeoutMs = 5000) {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  await p.exited;
  clearTimeout(t);
}

// A reason to skip (naming what is missing and how to get it), or false when
// every listed program is on PATH (node:test treats `skip: null` as a skip).
function missingTools(tools = ['redis-server', 'nginx', 'haproxy']) {
  const dirs = (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin', '/usr/local/sbin']);
  const missing = tools.filter((t) => !dirs.some((d) => {
    try { fs.accessSync(path.join(d, t), fs.constants.X_OK); return true; } catch (e) { return false; }
  }));
  return missing.length ? `${missing.join(', ')} not installed (scripts/install-deps installs them)` : false;
}

function which(tool) {
  for (const d of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(d, tool);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch (e) { /* next */ }
  }
  return tool;
}

// ---------------------------------------------------------------- redis

// redis-server on a free (or the given) loopback port, no persistence, in its
// own temp dir. kill() is kill -9; start() starts it again on the same port
// (empty: every stream gets a new epoch).
async function startRedis({ port = 0 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-redis-'));
  const redis = { port: port || await freePort(), dir, proc: null };
  redis.address = `127.0.0.1:${redis.port}`;
  redis.start = async () => {
    const p = spawnChild(which('redis-server'), ['--bind', '127.0.0.1', '--port', String(redis.port),
      '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', '']);
    redis.proc = p;
    await waitListening(redis.port, p.exited, 'redis-server', () => p.output);
    return redis;
  };
  redis.kill = () => killChild(redis.proc, 'SIGKILL');
  redis.stop = async () => {
    await killChild(redis.proc, 'SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return redis.start();
}

// redis-cli against 127.0.0.1:port; resolves with its output (raw, as when
// not on a terminal), rejects on an error or after 5 s.
function redisCli(port, ...args) {
  return new Promise((resolve, reject) => {
    execFile(which('redis-cli'), ['-h', '127.0.0.1', '-p', String(port), ...args.map(String)], { timeout: 5000 },
      (err, stdout, stderr) => (err ? reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${err.message} ${stderr}`))
        : resolve(stdout)));
  });
}

// A Redis Cluster of `masters` masters (no replicas) on free loopback ports,
// each in its own temp dir with an explicit cluster bus port (port + 10000
// may be over 65535). The slots are split evenly; the first master MEETs the
// others; resolves once every master says cluster_state:ok (15 s at most).
// cluster-require-full-coverage is off, so the other masters keep serving
// while one is down.
async function startRedisCluster({ masters: count = 3 } = {}) {
  const rc = { masters: [] };
  const perMaster = Math.floor(16384 / count);
  for (let i = 0; i < count; i++) {
    const m = {
      port: await freePort(), busPort: await freePort(), proc: null,
      dir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-rcluster-')),
      slots: [i * perMaster, i === count - 1 ? 16383 : (i + 1) * perMaster - 1],
    };
    m.address = `127.0.0.1:${m.port}`;
    m.start = async () => {
      const p = spawnChild(which('redis-server'), ['--bind', '127.0.0.1', '--port', String(m.port),
        '--cluster-enabled', 'yes', '--cluster-config-file', path.join(m.dir, `nodes-${m.port}.conf`),
        '--cluster-port', String(m.busPort), '--cluster-node-timeout', '2000',
        '--cluster-require-full-coverage', 'no', '--save', '', '--appendonly', 'no', '--dir', m.dir, '--logfile', '']);
      m.proc = p;
      await waitListening(m.port, p.exited, 'redis-server (cluster)', () => p.output);
      return m;
    };
    m.kill = () => killChild(m.proc, 'SIGKILL');
    m.output = () => (m.proc ? m.proc.output : '');
    rc.masters.push(m);
  }
  rc.address = rc.masters.map((m) => m.address).join(',');
  rc.cli = (...args) => redisCli(rc.masters.find((m) => m.proc && m.proc.child.exitCode === null
    && m.proc.child.signalCode === null).port, ...args);
  // The master (from rc.masters) that owns `key`'s slot, as CLUSTER NODES
  // tells it; undefined when no master claims the slot.
  rc.ownerOf = async (key) => {
    const slot = Number((await rc.cli('CLUSTER', 'KEYSLOT', key)).trim());
    for (const line of (await rc.cli('CLUSTER', 'NODES')).split('\n')) {
      const f = line.trim().split(' ');
      if (f.length < 9 || !f[2].includes('master')) continue;
      const owns = f.slice(8).some((r) => {
        const [a, b = a] = r.split('-').map(Number);
        return slot >= a && slot <= b;
      });
      if (owns) return rc.masters.find((m) => f[1].startsWith(`${m.address}@`));
    }
    return undefined;
  };
  rc.stop = async () => {
    await Promise.all(rc.masters.map((m) => killChild(m.proc, 'SIGTERM')));
    for (const m of rc.masters) fs.rmSync(m.dir, { recursive: true, force: true });
  };
  try {
    for (const m of rc.masters) await m.start();
    for (const m of rc.masters) await redisCli(m.port, 'CLUSTER', 'ADDSLOTSRANGE', m.slots[0], m.slots[1]);
    const [first, ...others] = rc.masters;
    for (const m of others) await redisCli(first.port, 'CLUSTER', 'MEET', '127.0.0.1', m.port, m.busPort);
    const deadline = Date.now() + 15000;
    for (;;) {
      const infos = await Promise.all(rc.masters.map((m) => redisCli(m.port, 'CLUSTER', 'INFO')));
      if (infos.every((i) => i.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ok after 15 s: ${infos.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await rc.stop();
    throw e;
  }
  return rc;
}

// ---------------------------------------------------------------- nodes

// One node on the Redis broker at `redisAddress` with key prefix `prefix`
// (the same on every node of a cluster). Adds kill() (kill -9) and start()
// (start again on the same port, same settings) to the startCentrifugo()
// server; `node.server` is the current process's server object.
async function startNode({ redisAddress, prefix, namespaces = null, env = {}, port = 0, name = 'node' }) {
  const fullEnv = {
    SWITCHBOARD_BROKER_TYPE: 'redis',
    SWITCHBOARD_BROKER_REDIS_ADDRESS: redisAddress,
    SWITCHBOARD_BROKER_REDIS_PREFIX: prefix,
    ...env,
  };
  const node = { name, port, server: null };
  node.start = async () => {
    node.server = await startCentrifugo({ env: fullEnv, namespaces, port: node.port });
    track(node.server.child);
    node.port = node.server.port;
    node.url = node.server.url;
    node.endpoint = node.server.endpoint;
    return node;
  };
  node.api = (method, body, opts) => node.server.api(method, body, opts);
  node.alive = () => !!node.server && node.server.child.exitCode === null && node.server.child.signalCode === null;
  node.kill = async () => {
    if (!node.alive()) return;
    node.server.child.kill('SIGKILL');
    await node.server.exited;
  };
  node.stop = async () => { if (node.server) await node.server.stop().catch(() => {}); };
  Object.defineProperty(node, 'stderr', { get: () => (node.server ? node.server.stderr : '') });
  return node.start();
}

// ---------------------------------------------------------------- load balancers

// deploy/nginx.conf with `listen 8000` → 127.0.0.1:<port> and each
// upstream's `server 127.0.0.1:800N` lines → the given backends.
function nginxConfig(port, backends) {
  let conf = fs.readFileSync(path.join(ROOT, 'deploy/nginx.conf'), 'utf8');
  conf = conf.replace(/^(\s*)listen\s+8000\s*;/m, `$1listen 127.0.0.1:${port};`);
  conf = conf.replace(/^(\s*)worker_processes\s+\S+;/m, '$1worker_processes 1;');
  conf = conf.replace(/((?:^\s*server\s+127\.0\.0\.1:800\d[^\n]*\n)+)/gm, (block) => {
    const indent = block.match(/^\s*/)[0];
    const opts = block.split('\n')[0].replace(/^\s*server\s+\S+/, '');
    return backends.map((b) => `${indent}server ${b}${opts}\n`).join('');
  });
  // As root, workers would switch to `nobody`; keep them as the test's user.
  if (process.getuid && process.getuid() === 0) conf = `user root;\n${conf}`;
  return conf;
}

// deploy/haproxy.cfg with `bind :8000` → 127.0.0.1:<port> and each backend's
// server lines → the given backends.
function haproxyConfig(port, backends) {
  let conf = fs.readFileSync(path.join(ROOT, 'deploy/haproxy.cfg'), 'utf8');
  conf = conf.replace(/^(\s*)bind\s+:8000\b/m, `$1bind 127.0.0.1:${port}`);
  conf = conf.replace(/((?:^\s*server\s+\S+\s+127\.0\.0\.1:800\d[^\n]*\n)+)/gm, (block) => {
    const indent = block.match(/^\s*/)[0];
    return backends.map((b, i) => `${indent}server node${i + 1} ${b}\n`).join('');
  });
  return conf;
}

// Starts nginx ('nginx') or haproxy ('haproxy') on a free port in front of
// `backends` ("127.0.0.1:port" strings). Returns {kind, port, url,
// endpoint, dir, output(), stop()}.
async function startBalancer(kind, backends, { port = 0 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sb-${kind}-`));
  const lbPort = port || await freePort();
  let p;
  if (kind === 'nginx') {
    const file = path.join(dir, 'nginx.conf');
    fs.writeFileSync(file, nginxConfig(lbPort, backends));
    p = spawnChild(which('nginx'), ['-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'],
      { stopSignal: 'SIGTERM' });
  } else if (kind === 'haproxy') {
    const file = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(file, haproxyConfig(lbPort, backends));
    p = spawnChild(which('haproxy'), ['-f', file, '-db'], { stopSignal: 'SIGTERM' });
  } else {
    throw new Error(`unknown load balancer ${kind}`);
  }
  const output = () => {
    let log = '';
    try { log = fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch (e) { /* none */ }
    return (p.output + log).slice(-4000);
  };
  await waitListening(lbPort, p.exited, kind, output);
  return {
    kind, port: lbPort, dir, proc: p, output,
    url: `http://127.0.0.1:${lbPort}`,
    wsUrl: `ws://127.0.0.1:${lbPort}`,
    endpoint: `ws://127.0.0.1:${lbPort}/connection/websocket`,
    async stop() {
      await killChild(p, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const startNginx = (backends, opts) => startBalancer('nginx', backends, opts);
const startHaproxy = (backends, opts) => startBalancer('haproxy', backends, opts);

// ---------------------------------------------------------------- cluster

// Redis (or, with `redisCluster`, a three-master Redis Cluster) + `nodes`
// nodes (+ `lb`: 'nginx', 'haproxy' or null). `namespaces` and `env` go to
// every node. Teardown runs in t.after. Returns {redis, redisCluster, nodes,
// lb, prefix, stop()}; `stop()` may be called early, it is idempotent.
async function startCluster(t, { nodes = 3, lb = 'nginx', namespaces = null, env = {}, redisCluster = false } = {}) {
  const cluster = {
    redis: null, redisCluster: null, nodes: [], lb: null, prefix: `sbcluster${process.pid}-${Date.now().toString(36)}`,
  };
  let stopped = false;
  cluster.stop = async () => {
    if (stopped) return;
    stopped = true;
    if (cluster.lb) await cluster.lb.stop().catch(() => {});
    await Promise.all(cluster.nodes.map((n) => n.stop().catch(() => {})));
    if (cluster.redis) await cluster.redis.stop().catch(() => {});
    if (cluster.redisCluster) await cluster.redisCluster.stop().catch(() => {});
  };
  if (t) t.after(() => cluster.stop());
  try {
    let redisAddress;
    let nodeEnv = env;
    if (redisCluster) {
      cluster.redisCluster = await startRedisCluster({ masters: 3 });
      redisAddress = cluster.redisCluster.address;
      nodeEnv = { SWITCHBOARD_BROKER_REDIS_CLUSTER: 'true', ...env };
    } else {
      cluster.redis = await startRedis();
      redisAddress = cluster.redis.address;
    }
    for (let i = 0; i < nodes; i++) {
      cluster.nodes.push(await startNode({
        redisAddress, prefix: cluster.prefix, namespaces, env: nodeEnv, name: `node${i + 1}`,
      }));
    }
    if (lb) cluster.lb = await startBalancer(lb, cluster.nodes.map((n) => `127.0.0.1:${n.port}`));
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

module.exports = {
  missingTools, startCluster, startRedis, startRedisCluster, startNode, startNginx, startHaproxy,
  nginxConfig, haproxyConfig,
};
