#!/usr/bin/env node
// Load generator for the Socket.IO peer (bench/peers/socketio-server.js),
// the counterpart of switchboard-bench's idle, fanout and connect-rate modes
// for a server only a Socket.IO client can talk to. Clients are npm
// `socket.io-client` with transports ['websocket'] (no polling), one Manager
// per connection (forceNew), no reconnection; they run in --processes child
// processes, whose CPU use is reported so a saturated client is visible.
// Each client emits `subscribe` (with an acknowledgement) for its channel(s).
//
//   node bench/peers/socketio-load.js idle --url http://127.0.0.1:P --connections 5000 --server-pid PID
//   node bench/peers/socketio-load.js fanout --url http://127.0.0.1:P --subscribers 1000 --rate 10,100 \
//        --publish-url 'http://127.0.0.1:P/pub?channel={channel}' [--channels K] [--server-pid PID]
//   node bench/peers/socketio-load.js connect-rate --url http://127.0.0.1:P --start 500 --step 500 --max 5000
//
// MODE --help lists the options (the same names as switchboard-bench's). The
// last line is machine-readable, like switchboard-bench's:
//   RESULT idle connections= connected= failed= bytes_per_conn= ...
//   RESULT fanout ... deliveries_per_sec= p50_us= p99_us= p999_us= received= expected= client_cpu_max_pct= ...
//     (one per rate, then RESULT fanout-summary)
//   RESULT connect-rate max_rate= ... (after one RESULT connect-rate-step per step)
// Publications are {"ts":<CLOCK_MONOTONIC ns>,"seq":<n>,"pad":"x…"} of --size
// bytes, POSTed by the parent over keep-alive connections; every process
// reads the same monotonic clock (process.hrtime), so publish→deliver latency
// is comparable with switchboard-bench's. Only loopback URLs are accepted.
'use strict';

const path = require('path');
const fs = require('fs');
const http = require('http');
const { fork } = require('child_process');

const ROOTS = { paths: [path.join(__dirname, '..', '..'), __dirname] };

// ---- options -------------------------------------------------------------------

const HELP = {
  idle: `usage: socketio-load.js idle --url http://127.0.0.1:PORT --connections N [--server-pid PID]
  --hold D (10s)  --connect-rate N/s (1000)  --channel NAME (bench)  --processes P (auto)
  --per-process N (2500)  --timeout D`,
  fanout: `usage: socketio-load.js fanout --url http://127.0.0.1:PORT --publish-url URL-with-{channel} [options]
  --subscribers N (1000)  --rate R[,R2..] (100)  --duration D (10s)  --warmup D (2s)  --drain D (5s)
  --stop-unsustained (end the ladder at the first step under 95 % accepted, 99 % received or p99 over 2 s)
  --size BYTES (100)  --channel NAME (bench)  --channels K (0: each subscriber also on c<i mod K>,
  publications round-robin over c0..c<K-1> and the shared channel)  --shared-every S (0: with --channels,
  every S-th publication to the shared channel, the rest round-robin over c0..c<K-1>)  --processes P (auto)
  --per-process N (2500)  --connect-rate N/s (1000)  --api-connections N (8)  --server-pid PID  --timeout D`,
  'connect-rate': `usage: socketio-load.js connect-rate --url http://127.0.0.1:PORT [options]
  --start R (500)  --step R (500) | --factor F  --max R (10000)  --step-duration D (3s)  --hold N (5000)
  --slow D (1s)  --connect-timeout D (3s)  --channel NAME (bench)  --processes P (1)  --server-pid PID  --timeout D`,
};

function parseDuration(text, name) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw new Error(`bad duration for --${name}: ${text}`);
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'm' ? v * 60 : v; // seconds
}

function parseCount(text, name) {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text);
  if (!m) throw new Error(`bad number for --${name}: ${text}`);
  const v = Number(m[1]) * (m[2] === 'k' || m[2] === 'K' ? 1e3 : m[2] ? 1e6 : 1);
  return v;
}

function checkLoopback(u, name) {
  let url;
  try {
    url = new URL(u);
  } catch {
    throw new Error(`bad --${name}: ${u}`);
  }
  if (url.protocol !== 'http:') throw new Error(`--${name} must be http://`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) throw new Error(`--${name}: refusing non-loopback host ${host}`);
  return url;
}

function parseArgs(mode, argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      o.help = true;
      continue;
    }
    if (arg === '--quiet' || arg === '--stop-unsustained') {
      o[arg.slice(2)] = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    o[key] = value;
  }
  if (o.help) return o;
  const known = {
    idle: ['url', 'connections', 'server-pid', 'hold', 'connect-rate', 'channel', 'processes', 'per-process', 'timeout'],
    fanout: ['url', 'publish-url', 'subscribers', 'rate', 'duration', 'warmup', 'drain', 'size', 'channel', 'channels', 'shared-every',
      'processes', 'per-process', 'connect-rate', 'api-connections', 'server-pid', 'timeout'],
    'connect-rate': ['url', 'start', 'step', 'factor', 'max', 'step-duration', 'hold', 'slow', 'connect-timeout',
      'channel', 'processes', 'server-pid', 'timeout'],
  }[mode];
  for (const k of Object.keys(o)) if (!known.includes(k) && k !== 'quiet' && !(k === 'stop-unsustained' && mode === 'fanout')) throw new Error(`unknown option --${k} for ${mode}`);
  if (!o.url) throw new Error('--url is required (http://127.0.0.1:PORT of the Socket.IO server)');
  checkLoopback(o.url, 'url');
  if (o['publish-url']) checkLoopback(o['publish-url'].replace(/\{channel\}/g, 'x'), 'publish-url');
  return o;
}

// ---- shared helpers --------------------------------------------------------------

const now = () => process.hrtime.bigint(); // CLOCK_MONOTONIC ns

// Log-bucket latency histogram (1 % wide buckets), mergeable across processes.
const BUCKET_BASE = Math.log(1.01);
const NBUCKETS = 2600; // up to ~1.6e11 ns
function newHist() {
  return { counts: new Array(NBUCKETS).fill(0), n: 0, max: 0 };
}
function record(h, ns) {
  const b = ns < 1 ? 0 : Math.min(NBUCKETS - 1, Math.floor(Math.log(ns) / BUCKET_BASE));
  h.counts[b]++;
  h.n++;
  if (ns > h.max) h.max = ns;
}
function merge(into, h) {
  for (let i = 0; i < NBUCKETS; i++) into.counts[i] += h.counts[i];
  into.n += h.n;
  into.max = Math.max(into.max, h.max);
}
function quantile(h, q) {
  if (h.n === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * h.n));
  let seen = 0;
  for (let i = 0; i < NBUCKETS; i++) {
    seen += h.counts[i];
    if (seen >= rank) return Math.min(h.max, Math.exp((i + 0.5) * BUCKET_BASE));
  }
  return h.max;
}
const us = (ns) => (ns / 1000).toFixed(1);

function readRssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
function readCpuS(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return null;
  }
}
function readTcpMemPages() {
  try {
    const m = /TCP:.* mem (\d+)/.exec(fs.readFileSync('/proc/net/sockstat', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
const channelName = (j) => `c${j}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- child process: socket.io clients ---------------------------------------------

function childMain() {
  const { io } = require(require.resolve('socket.io-client', ROOTS));
  const cfg = JSON.parse(process.env.SIO_LOAD_CHILD);
  const sockets = [];     // index -> socket (idle/fanout)
  const live = [];        // index -> subscribed
  let liveCount = 0;
  let failed = 0;
  let deliveries = 0;
  let windowDeliveries = 0;
  let recvInWindow = 0;
  let win = null;         // {start, end} BigInt
  let liveAtStart = 0;
  let liveByChannel = null;
  let cpu0 = null;
  let t0 = 0n;
  let hist = newHist();
  const send = (m) => process.send && process.send(m);

  function openClient(i, onUsable, onFail) {
    const s = io(cfg.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: cfg.connectTimeoutMs || 10000,
    });
    let done = false;
    const channels = [cfg.channel];
    if (cfg.channels > 0) channels.unshift(channelName((cfg.firstIndex + i) % cfg.channels));
    s.on('connect', () => {
      let pending = channels.length;
      for (const ch of channels) {
        s.emit('subscribe', ch, (ok) => {
          if (done) return;
          if (!ok) {
            done = true;
            onFail(s, 'subscribe refused');
            return;
          }
          if (--pending === 0) {
            done = true;
            onUsable(s);
          }
        });
      }
    });
    s.on('connect_error', (e) => {
      if (!done) {
        done = true;
        onFail(s, e && e.message);
      }
    });
    s.on('disconnect', () => {
      if (!done) {
        done = true;
        onFail(s, 'disconnected before subscribing');
      }
    });
    return s;
  }

  function onMessage(body) {
    const t = now();
    deliveries++;
    const m = typeof body === 'string' ? /"ts":(\d+)/.exec(body) : null;
    if (!m) return;
    const ts = BigInt(m[1]);
    if (win && ts >= win.start && ts < win.end) {
      windowDeliveries++;
      record(hist, Number(t - ts));
    }
    if (win && t >= win.start && t < win.end) recvInWindow++;
  }

  function rampClients() {
    // Opens cfg.count clients at cfg.rate per second.
    const start = Date.now();
    let next = 0;
    const timer = setInterval(() => {
      const due = Math.min(cfg.count, Math.floor(((Date.now() - start) / 1000) * cfg.rate) + 1);
      for (; next < due; next++) {
        const i = next;
        sockets[i] = openClient(
          i,
          (s) => {
            live[i] = true;
            liveCount++;
            s.on('message', onMessage);
            s.on('disconnect', () => {
              if (live[i]) {
                live[i] = false;
                liveCount--;
              }
            });
          },
          (s, why) => {
            failed++;
            if (failed === 1) send({ type: 'error', why: String(why) });
            s.close();
          },
        );
      }
      if (next >= cfg.count) clearInterval(timer);
    }, 5);
  }

  // connect-rate: one step at a time, on the parent's order.
  const held = [];
  let crReport = null;
  let crPending = 0;
  let crEnd = 0n;
  function crStep(order) {
    crReport = { attempts: 0, usable: 0, slow: 0, failed: 0, firstError: '', hist: newHist() };
    const start = BigInt(order.start);
    crEnd = BigInt(order.end);
    const rate = order.rate;
    let opened = 0;
    const c0 = process.cpuUsage();
    const w0 = now();
    const slowNs = cfg.slowNs;
    const timer = setInterval(() => {
      const t = now();
      if (t < start) return;
      if (t >= crEnd) {
        clearInterval(timer);
        return;
      }
      const due = Math.floor((Number(t - start) / 1e9) * rate) + 1;
      for (; opened < due; opened++) {
        const began = now();
        crReport.attempts++;
        crPending++;
        openClient(
          0,
          (s) => {
            crPending--;
            const took = Number(now() - began);
            record(crReport.hist, took);
            crReport.usable++;
            if (took > slowNs) crReport.slow++;
            held.push(s);
            while (held.length > cfg.hold) held.shift().close();
          },
          (s, why) => {
            crPending--;
            crReport.failed++;
            if (!crReport.firstError) crReport.firstError = String(why);
            s.close();
          },
        );
      }
    }, 1);
    const waiter = setInterval(() => {
      if (now() < crEnd || crPending > 0) return;
      clearInterval(waiter);
      const c = process.cpuUsage(c0);
      const wall = Number(now() - w0) / 1e9;
      send({ type: 'crstep', report: crReport, asked: Math.round((Number(crEnd - start) / 1e9) * rate),
        cpuPct: (100 * (c.user + c.system)) / 1e6 / wall, held: held.length });
    }, 10);
  }

  process.on('message', (m) => {
    if (m.type === 'window') {
      win = { start: BigInt(m.start), end: BigInt(m.end) };
      windowDeliveries = 0;
      recvInWindow = 0;
      hist = newHist();
      // live subscribers (and per channel) when the window opens, CPU over the window
      const delay = Math.max(0, Number(win.start - now()) / 1e6);
      setTimeout(() => {
        liveAtStart = liveCount;
        if (cfg.channels > 0) {
          liveByChannel = new Array(cfg.channels).fill(0);
          for (let i = 0; i < cfg.count; i++) if (live[i]) liveByChannel[(cfg.firstIndex + i) % cfg.channels]++;
        }
        cpu0 = process.cpuUsage();
        t0 = now();
        setTimeout(() => {
          const c = process.cpuUsage(cpu0);
          cpu0 = { pct: (100 * (c.user + c.system)) / 1e6 / (Number(now() - t0) / 1e9) };
        }, Number(win.end - win.start) / 1e6);
      }, delay);
    } else if (m.type === 'report') {
      send({ type: 'step', windowDeliveries, recvInWindow, liveAtStart, liveByChannel, hist,
        cpuPct: cpu0 && cpu0.pct !== undefined ? cpu0.pct : 0, live: liveCount });
    } else if (m.type === 'crstep') {
      crStep(m);
    } else if (m.type === 'quit') {
      for (const s of sockets) if (s) s.close();
      for (const s of held) s.close();
      setTimeout(() => process.exit(0), 200);
    }
  });
  process.on('disconnect', () => process.exit(0)); // parent gone

  if (cfg.mode !== 'connect-rate') {
    rampClients();
    setInterval(() => send({ type: 'status', live: liveCount, failed, deliveries }), 200);
  }
}

// ---- parent --------------------------------------------------------------------

function spawnChildren(n, cfgFor) {
  const children = [];
  for (let c = 0; c < n; c++) {
    const child = fork(__filename, ['--child'], {
      env: { ...process.env, SIO_LOAD_CHILD: JSON.stringify(cfgFor(c)) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const state = { child, status: { live: 0, failed: 0, deliveries: 0 }, step: null, crstep: null, error: null, exited: false };
    child.on('message', (m) => {
      if (m.type === 'status') state.status = m;
      else if (m.type === 'step') state.step = m;
      else if (m.type === 'crstep') state.crstep = m;
      else if (m.type === 'error' && !state.error) state.error = m.why;
    });
    child.on('exit', () => {
      state.exited = true;
    });
    children.push(state);
  }
  return children;
}

function stopChildren(children) {
  for (const s of children) if (!s.exited) s.child.send({ type: 'quit' });
  return sleep(500).then(() => {
    for (const s of children) if (!s.exited) s.child.kill('SIGKILL'); // only our own children
  });
}

const sum = (children, f) => children.reduce((a, s) => a + f(s), 0);

function progress(quiet, line) {
  if (!quiet) process.stderr.write(line + '\n');
}

async function runIdle(o) {
  const total = parseCount(o.connections || '1000', 'connections');
  const perProcess = parseCount(o['per-process'] || '2500', 'per-process');
  const nproc = Number(o.processes || Math.ceil(total / perProcess));
  const rate = parseCount(o['connect-rate'] || '1000', 'connect-rate');
  const hold = parseDuration(o.hold || '10s', 'hold');
  const channel = o.channel || 'bench';
  const pid = o['server-pid'] ? Number(o['server-pid']) : null;
  const deadline = Date.now() + 1000 * (o.timeout ? parseDuration(o.timeout, 'timeout') : (total / rate) * 3 + hold + 60);
  console.log(`idle: ${total} Socket.IO clients (websocket transport) to ${o.url} on '${channel}' over ${nproc} ` +
    `process(es), ${rate}/s, hold ${hold}s`);
  const rssBefore = pid ? readRssKb(pid) : null;
  const tcpBefore = readTcpMemPages();
  let first = 0;
  const children = spawnChildren(nproc, (c) => {
    const count = Math.floor(total / nproc) + (c < total % nproc ? 1 : 0);
    const cfg = { mode: 'idle', url: o.url, channel, channels: 0, firstIndex: first, count, rate: rate / nproc };
    first += count;
    return cfg;
  });
  let last = 0;
  while (Date.now() < deadline) {
    await sleep(200);
    const liveN = sum(children, (s) => s.status.live);
    const failedN = sum(children, (s) => s.status.failed);
    if (children.some((s) => s.exited)) break;
    if (liveN + failedN >= total) break;
    if (Date.now() - last > 1000) {
      last = Date.now();
      progress(o.quiet, `[idle] subscribed ${liveN}/${total} failed ${failedN}`);
    }
  }
  const holdUntil = Math.min(deadline, Date.now() + hold * 1000);
  while (Date.now() < holdUntil) await sleep(200);
  const connected = sum(children, (s) => s.status.live);
  const failed = sum(children, (s) => s.status.failed);
  const rssAfter = pid ? readRssKb(pid) : null;
  const tcpAfter = readTcpMemPages();
  const cpuNote = children.map((s) => s.error).filter(Boolean)[0];
  await stopChildren(children);
  const perConn = rssBefore !== null && rssAfter !== null && connected > 0 ? Math.round(((rssAfter - rssBefore) * 1024) / connected) : 'na';
  const tcpPer = tcpBefore !== null && tcpAfter !== null && connected > 0 ? Math.round(((tcpAfter - tcpBefore) * 4096) / connected) : 'na';
  if (cpuNote) console.error(`first failure: ${cpuNote}`);
  console.log(`connections: ${total} requested, ${connected} subscribed when measured, ${failed} failed`);
  if (pid) console.log(`server RSS:  pid ${pid}  before ${rssBefore} KiB  after ${rssAfter} KiB  => ${perConn} bytes per connection`);
  console.log(`RESULT idle protocol=socketio connections=${total} connected=${connected} failed=${failed} processes=${nproc} ` +
    `rss_before_kb=${rssBefore ?? 'na'} rss_after_kb=${rssAfter ?? 'na'} bytes_per_conn=${perConn} ` +
    `tcp_mem_pages_before=${tcpBefore ?? 'na'} tcp_mem_pages_after=${tcpAfter ?? 'na'} tcp_bytes_per_conn=${tcpPer} subscribed=${connected}`);
  return connected === 0 ? 1 : connected < total ? 3 : 0;
}

// Posts publications at `rate`/s over keep-alive connections; counts the
// acknowledged ones stamped inside the window, per target channel.
class Publisher {
  constructor(urlTemplate, targets, size, connections, sharedEvery) {
    this.urlTemplate = urlTemplate;
    this.targets = targets;
    this.sharedEvery = sharedEvery;  // > 0: every n-th to the last target, the rest round-robin over the others
    this.size = size;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    this.seq = 0;
    this.inflight = 0;
    this.errors = 0;
    this.firstError = '';
  }
  run(rate, start, winStart, winEnd, stopAt) {
    this.okInWindow = new Array(this.targets.length).fill(0);
    this.sentInWindow = 0;
    let sent = 0;
    return new Promise((resolve) => {
      const tick = () => {
        const t = now();
        if (t >= stopAt) return resolve();
        if (t >= start) {
          const due = Math.floor((Number(t - start) / 1e9) * rate) + 1;
          for (; sent < due; sent++) this.publish(t, winStart, winEnd);
        }
        setTimeout(tick, 1);
      };
      tick();
    });
  }
  target(seq) {
    const n = this.targets.length;
    if (!this.sharedEvery || n === 1) return (seq - 1) % n;
    if (seq % this.sharedEvery === 0) return n - 1;
    return ((seq - 1) - Math.floor((seq - 1) / this.sharedEvery)) % (n - 1);
  }
  publish(t0, winStart, winEnd) {
    const seq = ++this.seq;
    const target = this.target(seq);
    const ts = now();
    const head = `{"ts":${ts},"seq":${seq},"pad":"`;
    const body = head + 'x'.repeat(Math.max(0, this.size - head.length - 2)) + '"}';
    const inWindow = ts >= winStart && ts < winEnd;
    if (inWindow) this.sentInWindow++;
    const url = this.urlTemplate.replace(/\{channel\}/g, this.targets[target]);
    this.inflight++;
    const req = http.request(url, { method: 'POST', agent: this.agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => {
        this.inflight--;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          if (inWindow) this.okInWindow[target]++;
        } else {
          this.errors++;
          if (!this.firstError) this.firstError = `HTTP ${res.statusCode}`;
        }
      });
    });
    req.on('error', (e) => {
      this.inflight--;
      this.errors++;
      if (!this.firstError) this.firstError = e.message;
    });
    req.end(body);
  }
}

async function runFanout(o) {
  const total = parseCount(o.subscribers || '1000', 'subscribers');
  const perProcess = parseCount(o['per-process'] || '2500', 'per-process');
  const nproc = Number(o.processes || Math.max(1, Math.ceil(total / perProcess)));
  const rates = (o.rate || '100').split(',').map((r) => parseCount(r, 'rate'));
  const duration = parseDuration(o.duration || '10s', 'duration');
  const warmup = parseDuration(o.warmup || '2s', 'warmup');
  const drain = parseDuration(o.drain || '5s', 'drain');
  const size = parseCount(o.size || '100', 'size');
  const channel = o.channel || 'bench';
  const K = parseCount(o.channels || '0', 'channels');
  const sharedEvery = parseCount(o['shared-every'] || '0', 'shared-every');
  if (sharedEvery && !K) throw new Error('--shared-every needs --channels K');
  const rate0 = parseCount(o['connect-rate'] || '1000', 'connect-rate');
  const pid = o['server-pid'] ? Number(o['server-pid']) : null;
  if (!o['publish-url']) throw new Error("--publish-url is required (e.g. 'http://127.0.0.1:PORT/pub?channel={channel}')");
  const targets = [];
  for (let j = 0; j < K; j++) targets.push(channelName(j));
  targets.push(channel);
  const deadline = Date.now() + 1000 * (o.timeout ? parseDuration(o.timeout, 'timeout')
    : (total / rate0) * 3 + 30 + rates.length * (warmup + duration + drain + 15));
  console.log(`fanout: ${total} Socket.IO subscribers (websocket transport) on '${channel}'` +
    (K ? ` and their own of ${K} channels c<i mod K>` : '') + ` over ${nproc} process(es), ${o.url}; ` +
    `publishing ${rates.join(',')} pub/s of ${size} B to ${o['publish-url']}` +
    (!K ? '' : sharedEvery ? `, every ${sharedEvery}th to the shared one, the rest round-robin over the K channels`
      : ', round-robin over the K channels and the shared one') +
    `; each step ${warmup}s warm-up + ${duration}s window (+ up to ${drain}s drain)`);
  let first = 0;
  const children = spawnChildren(nproc, (c) => {
    const count = Math.floor(total / nproc) + (c < total % nproc ? 1 : 0);
    const cfg = { mode: 'fanout', url: o.url, channel, channels: K, firstIndex: first, count, rate: rate0 / nproc };
    first += count;
    return cfg;
  });
  const t0 = Date.now();
  let last = 0;
  while (Date.now() < deadline) {
    await sleep(100);
    if (children.some((s) => s.exited)) break;
    const liveN = sum(children, (s) => s.status.live);
    const failedN = sum(children, (s) => s.status.failed);
    if (liveN + failedN >= total) break;
    if (Date.now() - last > 1000) {
      last = Date.now();
      progress(o.quiet, `[fanout] subscribed ${liveN}/${total} failed ${failedN}`);
    }
  }
  const subscribed = sum(children, (s) => s.status.live);
  const failedSubs = sum(children, (s) => s.status.failed);
  console.log(`subscribers: ${subscribed} of ${total} subscribed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  const err = children.map((s) => s.error).filter(Boolean)[0];
  if (err) console.error(`first failure: ${err}`);
  const serverRss = pid ? readRssKb(pid) : null;
  const pub = new Publisher(o['publish-url'], targets, size, parseCount(o['api-connections'] || '8', 'api-connections'), sharedEvery);
  let steps = 0;
  let code = subscribed === 0 ? 1 : 0;
  for (const rate of subscribed > 0 ? rates : []) {
    if (Date.now() >= deadline || children.some((s) => s.exited)) {
      code = 1;
      break;
    }
    const start = now() + 50_000_000n;
    const winStart = start + BigInt(Math.round(warmup * 1e9));
    const winEnd = winStart + BigInt(Math.round(duration * 1e9));
    for (const s of children) {
      s.step = null;
      s.child.send({ type: 'window', start: String(winStart), end: String(winEnd) });
    }
    const errors0 = pub.errors;
    const cpuS0 = pid ? readCpuS(pid) : null;
    const self0 = process.cpuUsage();
    await pub.run(rate, start, winStart, winEnd, winEnd);
    const cpuS1 = pid ? readCpuS(pid) : null;
    const selfC = process.cpuUsage(self0);
    // Drain: until the window's publications all arrived, --drain passed, or a second without progress.
    const owed = (liveAt, byChannel) => {
      let n = pub.okInWindow[K] * liveAt;
      for (let j = 0; j < K; j++) {
        const onJ = byChannel ? byChannel[j] : Math.floor(total / K) + (j < total % K ? 1 : 0);
        n += pub.okInWindow[j] * onJ;
      }
      return n;
    };
    const drainUntil = Date.now() + drain * 1000;
    let prev = -1;
    let lastProgress = Date.now();
    while (Date.now() < drainUntil) {
      for (const s of children) s.child.send({ type: 'report' });
      await sleep(100);
      if (!children.every((s) => s.step)) continue;
      const got = sum(children, (s) => s.step.windowDeliveries);
      const want = owed(sum(children, (s) => s.step.liveAtStart), null);
      if (pub.inflight === 0 && got >= want) break;
      if (got !== prev) {
        prev = got;
        lastProgress = Date.now();
      } else if (pub.inflight === 0 && Date.now() - lastProgress > 1000) break;
      for (const s of children) s.step = null;
    }
    for (const s of children) s.step = null;
    for (const s of children) s.child.send({ type: 'report' });
    const until = Date.now() + 10000;
    while (!children.every((s) => s.step || s.exited) && Date.now() < until) await sleep(20);
    if (!children.every((s) => s.step)) {
      code = 1;
      break;
    }
    const hist = newHist();
    for (const s of children) merge(hist, s.step.hist);
    const liveAt = sum(children, (s) => s.step.liveAtStart);
    let byChannel = null;
    if (K > 0) {
      byChannel = new Array(K).fill(0);
      for (const s of children) for (let j = 0; j < K; j++) byChannel[j] += s.step.liveByChannel ? s.step.liveByChannel[j] : 0;
    }
    const expected = owed(liveAt, byChannel);
    const received = sum(children, (s) => s.step.windowDeliveries);
    const recvInWindow = sum(children, (s) => s.step.recvInWindow);
    const published = pub.okInWindow.reduce((a, b) => a + b, 0);
    const cpus = children.map((s) => s.step.cpuPct);
    const clientMax = Math.max(...cpus);
    const serverCpu = cpuS0 !== null && cpuS1 !== null ? Math.round((100 * (cpuS1 - cpuS0)) / (warmup + duration)) : 'na';
    const pubCpu = Math.round((100 * (selfC.user + selfC.system)) / 1e6 / (warmup + duration));
    const saturated = clientMax >= 90 ? 1 : 0;
    const apiErrors = pub.errors - errors0;
    steps++;
    console.log(`\n== step ${steps}/${rates.length}: ${rate} pub/s to ${liveAt} subscribers, ${duration}s window`);
    console.log(`publications: ${published} acknowledged in the window, ${apiErrors} errors${pub.firstError ? ` (first: ${pub.firstError})` : ''}`);
    console.log(`deliveries:   ${received} of ${expected} expected (${expected ? ((100 * received) / expected).toFixed(3) : 0} %); ` +
      `${Math.round(recvInWindow / duration)} deliveries/s received during the window`);
    console.log(`latency:      publish -> deliver  p50 ${us(quantile(hist, 0.5))}us  p99 ${us(quantile(hist, 0.99))}us  ` +
      `p99.9 ${us(quantile(hist, 0.999))}us  max ${us(hist.max)}us`);
    console.log(`cpu:          subscriber process(es) ${cpus.map((c) => `${Math.round(c)}%`).join(' ')} of a core, ` +
      `publisher ${pubCpu}%, server ${serverCpu}%`);
    if (saturated) console.log('warning: a subscriber process used ≥ 90 % of a core: the LOAD GENERATOR IS SATURATED (try --processes)');
    console.log(`RESULT fanout protocol=socketio channels=${K} subscribers=${total} live=${liveAt} processes=${nproc} rate=${rate} ` +
      `size=${size} duration_s=${duration.toFixed(2)} published=${published} expected=${expected} received=${received} ` +
      `delivery_ratio=${expected ? (received / expected).toFixed(5) : 0} deliveries_per_sec=${Math.round(recvInWindow / duration)} ` +
      `p50_us=${us(quantile(hist, 0.5))} p90_us=${us(quantile(hist, 0.9))} p99_us=${us(quantile(hist, 0.99))} ` +
      `p999_us=${us(quantile(hist, 0.999))} max_us=${us(hist.max)} client_cpu_max_pct=${Math.round(clientMax)} ` +
      `publisher_cpu_pct=${pubCpu} server_cpu_pct=${serverCpu} client_saturated=${saturated} api_errors=${apiErrors} ` +
      `server_rss_kb=${serverRss ?? 'na'}`);
    const sustained = published >= 0.95 * rate * duration && expected > 0 && received / expected >= 0.99 &&
      quantile(hist, 0.99) <= 2e9;
    if (o['stop-unsustained'] && !sustained && rate !== rates[rates.length - 1]) {
      console.log(`stopping the ladder: ${rate} pub/s was not sustained (--stop-unsustained)`);
      break;
    }
  }
  await stopChildren(children);
  console.log(`RESULT fanout-summary protocol=socketio channels=${K} subscribers=${total} subscribed=${subscribed} ` +
    `failed=${failedSubs} steps=${steps} processes=${nproc}`);
  if (code) return code;
  return failedSubs > 0 ? 3 : 0;
}

async function runConnectRate(o) {
  const start = parseCount(o.start || '500', 'start');
  const stepAdd = parseCount(o.step || '500', 'step');
  const factor = o.factor ? Number(o.factor) : 0;
  const max = parseCount(o.max || '10000', 'max');
  const stepDuration = parseDuration(o['step-duration'] || '3s', 'step-duration');
  const hold = parseCount(o.hold || '5000', 'hold');
  const slow = parseDuration(o.slow || '1s', 'slow');
  const connectTimeout = parseDuration(o['connect-timeout'] || '3s', 'connect-timeout');
  const nproc = Number(o.processes || 1);
  const channel = o.channel || 'bench';
  const pid = o['server-pid'] ? Number(o['server-pid']) : null;
  const rates = [];
  for (let r = start; r <= max && rates.length < 1000; r = factor > 1 ? r * factor : r + stepAdd) rates.push(Math.round(r));
  const deadline = Date.now() + 1000 * (o.timeout ? parseDuration(o.timeout, 'timeout') : rates.length * (stepDuration + connectTimeout + 3) + 30);
  console.log(`connect-rate: Socket.IO clients (websocket transport, connect + subscribe to '${channel}') to ${o.url}; ` +
    `steps from ${start} to ${rates[rates.length - 1]} connections/s, ${stepDuration}s each; hold ${hold}; slow > ${slow}s; ` +
    `attempt timeout ${connectTimeout}s; ${nproc} process(es)`);
  const children = spawnChildren(nproc, (c) => ({ mode: 'connect-rate', url: o.url, channel, channels: 0, firstIndex: 0, count: 0,
    hold: Math.ceil(hold / nproc), slowNs: slow * 1e9, connectTimeoutMs: connectTimeout * 1000 }));
  let best = 0;
  let bestAchieved = 0;
  let bestP50 = 0;
  let bestP99 = 0;
  let stoppedBy = 'max';
  let steps = 0;
  for (const rate of rates) {
    const t0 = now() + 20_000_000n;
    const t1 = t0 + BigInt(Math.round(stepDuration * 1e9));
    for (const s of children) {
      s.crstep = null;
      s.child.send({ type: 'crstep', rate: rate / nproc, start: String(t0), end: String(t1) });
    }
    const cpu0 = pid ? readCpuS(pid) : null;
    const w0 = Date.now();
    while (!children.every((s) => s.crstep) && !children.some((s) => s.exited) && Date.now() < deadline) await sleep(50);
    if (!children.every((s) => s.crstep)) {
      stoppedBy = children.some((s) => s.exited) ? 'client_died' : 'deadline';
      break;
    }
    steps++;
    const cpu1 = pid ? readCpuS(pid) : null;
    const hist = newHist();
    let asked = 0, attempts = 0, usable = 0, slowN = 0, failed = 0, heldN = 0, firstError = '';
    for (const s of children) {
      const r = s.crstep.report;
      merge(hist, r.hist);
      asked += s.crstep.asked;
      attempts += r.attempts;
      usable += r.usable;
      slowN += r.slow;
      failed += r.failed;
      heldN += s.crstep.held;
      if (!firstError) firstError = r.firstError;
    }
    const clientMax = Math.max(...children.map((s) => s.crstep.cpuPct));
    const serverCpu = cpu0 !== null && cpu1 !== null ? Math.round((100 * (cpu1 - cpu0)) / ((Date.now() - w0) / 1000)) : 'na';
    const failedPct = attempts ? (100 * failed) / attempts : 0;
    const slowPct = attempts ? (100 * slowN) / attempts : 0;
    const startedPct = asked ? (100 * attempts) / asked : 0;
    let reason = '';
    if (failedPct > 1) reason = 'failures';
    else if (slowPct > 1) reason = 'slow_connects';
    else if (startedPct < 95) reason = clientMax >= 90 ? 'client_saturated' : 'too_many_in_progress';
    const achieved = usable / stepDuration;
    console.log(`\n== step ${steps}/${rates.length}: ${rate} connections/s for ${stepDuration}s`);
    console.log(`attempts:  ${attempts} started of ${asked} asked, ${usable} usable (${Math.round(achieved)}/s), ` +
      `${failed} failed (${failedPct.toFixed(2)} %), ${slowN} slower than ${slow}s (${slowPct.toFixed(2)} %)`);
    console.log(`latency:   connect -> subscribed  p50 ${us(quantile(hist, 0.5))}us  p99 ${us(quantile(hist, 0.99))}us  max ${us(hist.max)}us`);
    console.log(`cpu:       client max ${Math.round(clientMax)}% of a core, server ${serverCpu}%`);
    if (firstError) console.log(`first failure: ${firstError}`);
    console.log(`RESULT connect-rate-step protocol=socketio rate=${rate} asked=${asked} attempts=${attempts} usable=${usable} ` +
      `failed=${failed} slow=${slowN} achieved_per_sec=${Math.round(achieved)} failed_pct=${failedPct.toFixed(2)} ` +
      `slow_pct=${slowPct.toFixed(2)} p50_us=${us(quantile(hist, 0.5))} p90_us=${us(quantile(hist, 0.9))} ` +
      `p99_us=${us(quantile(hist, 0.99))} max_us=${us(hist.max)} client_cpu_max_pct=${Math.round(clientMax)} ` +
      `server_cpu_pct=${serverCpu} held=${heldN} sustained=${reason ? 0 : 1} reason=${reason || 'none'}`);
    if (reason) {
      stoppedBy = reason;
      break;
    }
    best = rate;
    bestAchieved = achieved;
    bestP50 = quantile(hist, 0.5);
    bestP99 = quantile(hist, 0.99);
  }
  await stopChildren(children);
  if (stoppedBy === 'client_saturated') console.log('note: the LOAD GENERATOR was the limit: max_rate is a lower bound for the server (try --processes)');
  console.log(`RESULT connect-rate protocol=socketio max_rate=${best} achieved_per_sec=${Math.round(bestAchieved)} ` +
    `p50_us=${us(bestP50)} p99_us=${us(bestP99)} steps=${steps} stopped_by=${stoppedBy} hold=${hold} processes=${nproc}`);
  return steps === 0 ? 1 : 0;
}

async function main() {
  if (process.argv[2] === '--child') return childMain();
  const mode = process.argv[2];
  if (!HELP[mode]) {
    console.error(`usage: node bench/peers/socketio-load.js idle|fanout|connect-rate [options] (MODE --help)`);
    process.exit(2);
  }
  let o;
  try {
    o = parseArgs(mode, process.argv.slice(3));
  } catch (e) {
    console.error(`socketio-load: ${e.message}\n${HELP[mode]}`);
    process.exit(2);
  }
  if (o.help) {
    console.log(HELP[mode]);
    process.exit(0);
  }
  const run = mode === 'idle' ? runIdle : mode === 'fanout' ? runFanout : runConnectRate;
  try {
    process.exitCode = await run(o);
  } catch (e) {
    console.error(`socketio-load: ${e.message}`);
    process.exitCode = 2;
  }
}

main();
