#!/usr/bin/env node
// Switchboard's own WebSocket conformance suite (RFC 6455 + RFC 7692), modelled
// on the case groups of the Autobahn|Testsuite, on raw TCP sockets.
//
//   node tests/conformance/run.js [--binary PATH] [--url ws://h:p[/path]]
//        [--large-url ws://h:p[/path]] [--filter PREFIX[,PREFIX…]] [--verbose]
//        [--concurrency N] [--timeout MS]
//
// Without --url it starts the server itself twice on a free loopback port:
// once with the default 64 KiB message limit (everything but group 9) and once
// with a 16 MiB limit (group 9 and the 16 MiB limit cases). Prints one line per
// failed case and ends with "N passed, N failed"; exits non-zero on failure.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { openWs, Conn, httpExchange, CaseFailure } = require('./lib/client');

const ROOT = path.resolve(__dirname, '../..');
const LARGE_LIMIT = 16 * 1024 * 1024;

function usage(msg) {
  if (msg) process.stderr.write(`run.js: ${msg}\n`);
  process.stderr.write('usage: node tests/conformance/run.js [--binary PATH] [--url ws://host:port[/path]] [--large-url URL] [--filter PREFIX[,PREFIX...]] [--verbose] [--concurrency N] [--timeout MS] [--list]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { binary: path.join(ROOT, 'build/switchboard'), url: null, largeUrl: null, filter: [], verbose: false, concurrency: 16, timeout: 5000, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--binary': o.binary = path.resolve(val()); break;
      case '--url': o.url = val(); break;
      case '--large-url': o.largeUrl = val(); break;
      case '--filter': o.filter.push(...val().split(',').filter(Boolean)); break;
      case '--verbose': case '-v': o.verbose = true; break;
      case '--concurrency': o.concurrency = Math.max(1, Number(val()) || 1); break;
      case '--timeout': o.timeout = Math.max(100, Number(val()) || 5000); break;
      case '--list': o.list = true; break;
      case '--help': case '-h': usage();
      // falls through
      default: usage(`unknown option ${a}`);
    }
  }
  return o;
}

function parseUrl(u) {
  const m = /^ws:\/\/([^/:]+|\[[^\]]+\]):(\d+)(\/.*)?$/.exec(u);
  if (!m) usage(`bad URL ${u} (expected ws://host:port[/path])`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), path: m[3] || '/echo' };
}

// ---------------------------------------------------------------- cases

function loadCases() {
  const cases = [];
  const seen = new Set();
  const add = (id, desc, run, opts = {}) => {
    if (seen.has(id)) throw new Error(`duplicate case id ${id}`);
    seen.add(id);
    cases.push({ id, desc, run, server: opts.server || 'default', timeout: opts.timeout, seq: cases.length });
  };
  const dir = path.join(__dirname, 'cases');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  for (const f of files) require(path.join(dir, f))(add, { LARGE_LIMIT });
  return cases;
}

// ---------------------------------------------------------------- server

const children = new Set();
process.on('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { process.stderr.write(`run.js: ${sig}, stopping\n`); process.exit(130); });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

class ServerProcess {
  constructor(binary, name, extraEnv) {
    this.binary = binary;
    this.name = name;
    this.extraEnv = extraEnv;
    this.child = null;
    this.stderr = '';
    this.stopping = false;
    this.deaths = 0;
  }

  async start() {
    if (!fs.existsSync(this.binary)) throw new Error(`server binary ${this.binary} does not exist (build it, or pass --binary / --url)`);
    const port = await freePort();
    this.port = port;
    this.stderr = '';
    this.stopping = false;
    this.exitInfo = null;
    const env = {
      ...process.env,
      SWITCHBOARD_SERVER_LISTEN: `127.0.0.1:${port}`,
      SWITCHBOARD_DEBUG_ECHO_PATH: '/echo',
      SWITCHBOARD_WEBSOCKET_COMPRESSION: 'true',
      SWITCHBOARD_SERVER_WORKERS: '1',
      ...this.extraEnv,
    };
    const child = spawn(this.binary, [], { env, stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
    this.child = child;
    children.add(child);
    child.stderr.on('data', (d) => {
      this.stderr += d;
      if (this.stderr.length > 200000) this.stderr = this.stderr.slice(-100000);
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      this.exitInfo = { code, signal };
      if (!this.stopping) {
        this.deaths++;
        process.stdout.write(`!! ${this.name} server died unexpectedly (${signal || `exit ${code}`}); its stderr:\n${indent(this.stderr.slice(-8000))}\n`);
      }
    });
    child.on('error', (e) => { this.exitInfo = { code: -1, signal: null, error: e.message }; });
    const deadline = Date.now() + 10000;
    for (;;) {
      if (this.exitInfo) throw new Error(`${this.name} server exited during start-up (${this.exitInfo.error || this.exitInfo.signal || `exit ${this.exitInfo.code}`}):\n${indent(this.stderr.slice(-8000))}`);
      if (await canConnect(port)) break;
      if (Date.now() > deadline) { await this.stop(); throw new Error(`${this.name} server did not accept TCP on 127.0.0.1:${port} within 10 s; stderr:\n${indent(this.stderr.slice(-8000))}`); }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { host: '127.0.0.1', port, path: '/echo' };
  }

  get alive() { return this.child && !this.exitInfo; }

  async stop() {
    const child = this.child;
    if (!child || this.exitInfo) return;
    this.stopping = true;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}

function indent(s) { return s.split('\n').map((l) => `   | ${l}`).join('\n'); }

// ---------------------------------------------------------------- running

async function runCase(c, target, opts) {
  const conns = [];
  // Large-message cases share the event loop with cases that build and
  // compare 16 MiB buffers synchronously: give their waits more room.
  const wait = c.server === 'large' ? 15000 : undefined;
  const t = {
    target,
    async open(o) { const w = await openWs(target, { wait, ...o }); conns.push(w); return w; },
    async connect() { const w = await Conn.connect(target.host, target.port); w.wait = wait; conns.push(w); return w; },
    async http(raw) { const r = await httpExchange(target, raw); conns.push(r.conn); return r; },
  };
  const limit = c.timeout || opts.timeout;
  let timer;
  const started = Date.now();
  try {
    await Promise.race([
      c.run(t),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new CaseFailure(`case timed out after ${limit} ms`)), limit); }),
    ]);
    return { ok: true, ms: Date.now() - started };
  } catch (e) {
    const msg = e instanceof CaseFailure ? e.message : `error: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`;
    return { ok: false, msg, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
    for (const w of conns) w.destroy();
  }
}

async function runBatch(cases, target, opts, server, results) {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      if (server && !server.alive) {
        // Restart after a crash so one bad case does not fail all later ones.
        try { Object.assign(target, await server.start()); } catch (e) { /* reported below */ }
      }
      const before = server ? server.deaths : 0;
      const r = await runCase(c, target, opts);
      if (server && server.deaths > before && !r.ok) r.msg += ' [the server crashed during this case]';
      results.set(c.id, r);
      report(c, r, opts);
    }
  };
  // Large-message cases hold tens of MiB each: fewer at a time.
  const width = cases[0] && cases[0].server === 'large' ? Math.min(opts.concurrency, 3) : opts.concurrency;
  await Promise.all(Array.from({ length: Math.min(width, cases.length) }, worker));
}

function report(c, r, opts) {
  if (!r.ok) process.stdout.write(`FAIL ${c.id} ${c.desc}: ${r.msg}\n`);
  else if (opts.verbose) process.stdout.write(`ok ${c.id} ${c.desc} (${r.ms} ms)\n`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let cases = loadCases();
  if (opts.filter.length) cases = cases.filter((c) => opts.filter.some((p) => c.id === p || c.id.startsWith(p.endsWith('.') ? p : `${p}.`)));
  if (opts.list) {
    for (const c of cases) process.stdout.write(`${c.id} [${c.server}] ${c.desc}\n`);
    process.stdout.write(`${cases.length} cases\n`);
    return 0;
  }
  const started = Date.now();
  const results = new Map();
  const groups = { default: cases.filter((c) => c.server === 'default'), large: cases.filter((c) => c.server === 'large') };
  let skipped = 0;
  for (const kind of ['default', 'large']) {
    const list = groups[kind];
    if (!list.length) continue;
    const phaseStart = Date.now();
    let server = null;
    let target;
    if (opts.url) {
      const u = kind === 'large' ? opts.largeUrl : opts.url;
      if (!u) {
        process.stdout.write(`-- skipping ${list.length} cases that need a server with a ${LARGE_LIMIT}-byte limit (pass --large-url)\n`);
        skipped += list.length;
        continue;
      }
      target = parseUrl(u);
    } else {
      const env = kind === 'large'
        ? { SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE: String(LARGE_LIMIT), SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: String(64 * 1024 * 1024) }
        : {};
      server = new ServerProcess(opts.binary, kind, env);
      try {
        target = await server.start();
      } catch (e) {
        process.stdout.write(`!! cannot start the ${kind} server: ${e.message}\n`);
        for (const c of list) { const r = { ok: false, msg: 'server did not start' }; results.set(c.id, r); report(c, r, opts); }
        continue;
      }
    }
    if (opts.verbose) process.stdout.write(`-- ${list.length} cases against the ${kind} server ws://${target.host}:${target.port}${target.path}\n`);
    try {
      await runBatch(list, target, opts, server, results);
    } finally {
      if (server) {
        const crashed = server.deaths > 0;
        await server.stop();
        if (crashed) process.stdout.write(`!! the ${kind} server crashed ${server.deaths} time(s) during the run\n`);
        // Under `make test-asan`: a sanitizer report is a failure even if every case passed.
        const report = server.stderr.match(/(ERROR: (Address|Leak)Sanitizer|runtime error:)[^\n]*/);
        if (report) {
          process.stdout.write(`!! sanitizer report from the ${kind} server:\n${indent(server.stderr.slice(-8000))}\n`);
          results.set(`sanitizer-${kind}`, { ok: false, msg: report[0] });
        }
      }
    }
    if (opts.verbose) process.stdout.write(`-- ${kind} phase took ${((Date.now() - phaseStart) / 1000).toFixed(1)} s\n`);
  }
  let passed = 0;
  let failed = 0;
  for (const r of results.values()) (r.ok ? passed++ : failed++);
  const byGroup = new Map();
  for (const c of cases) {
    const r = results.get(c.id);
    if (!r) continue;
    const g = c.id.split('.')[0];
    const e = byGroup.get(g) || { p: 0, f: 0 };
    r.ok ? e.p++ : e.f++;
    byGroup.set(g, e);
  }
  process.stdout.write(`-- by group: ${[...byGroup].map(([g, e]) => `${g}: ${e.p}/${e.p + e.f}`).join(', ')}${skipped ? `; ${skipped} skipped` : ''}; ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stdout.write(`run.js: ${e.stack || e}\n0 passed, 1 failed\n`);
  process.exitCode = 1;
}).finally(() => {
  // Connections left half-open by a failing case must not keep us alive.
  setTimeout(() => process.exit(process.exitCode), 200).unref();
});
