// Starts the real switchboard binary on a free loopback port for a test and
// stops it afterwards. Every setting goes through SWITCHBOARD_* environment
// overrides, exactly as an operator would use them.
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');
const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');

const ROOT = path.resolve(__dirname, '../../..');
const BIN = process.env.SB_SERVER_BIN || path.join(ROOT, 'build/switchboard');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForPort(port, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`server did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

// SB_TEST_REDIS=host:port runs every server of the suite on the Redis broker
// (tests/run-all does this for a second interop pass). Each server gets its
// own key prefix, so tests never see each other's streams; a server restarted
// in place on the same port keeps its prefix, as a real node keeps its Redis.
const REDIS = process.env.SB_TEST_REDIS || '';
const redisMode = REDIS !== '';
const prefixByPort = new Map();
function redisEnv(port, env) {
  if (!redisMode || env.SWITCHBOARD_BROKER_TYPE) return {};
  if (!prefixByPort.has(port)) prefixByPort.set(port, `sbtest${process.pid}-${port}-${Date.now().toString(36)}`);
  return {
    SWITCHBOARD_BROKER_TYPE: 'redis',
    SWITCHBOARD_BROKER_REDIS_ADDRESS: REDIS,
    SWITCHBOARD_BROKER_REDIS_PREFIX: prefixByPort.get(port),
  };
}

// Starts a server. `env` holds SWITCHBOARD_* overrides; `args` extra argv;
// `port` reuses a given port (e.g. to restart a stopped server in place).
async function startServer({ env = {}, args = [], tls = false, wrap = null, port: fixedPort = 0 } = {}) {
  const port = fixedPort || await freePort();
  const fullEnv = {
    ...process.env,
    SWITCHBOARD_SERVER_LISTEN: `127.0.0.1:${port}`,
    SWITCHBOARD_SERVER_WORKERS: '2',
    SWITCHBOARD_SERVER_WEB_ROOT: path.join(ROOT, 'web'),
    SWITCHBOARD_LOG_LEVEL: 'info',
    ...redisEnv(port, env),
    ...env,
  };
  const cmd = wrap ? 'bash' : BIN;
  const argv = wrap ? ['-c', `${wrap}; exec "$0" "$@"`, BIN, ...args] : args;
  const child = spawn(cmd, argv, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(({ code }) => { throw new Error(`server exited early (${code}): ${stderr}`); }),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const scheme = tls ? 'https' : 'http';
  const wsScheme = tls ? 'wss' : 'ws';
  return {
    port,
    child,
    exited,
    url: `${scheme}://127.0.0.1:${port}`,
    wsUrl: `${wsScheme}://127.0.0.1:${port}`,
    get stderr() { return stderr; },
    get stdout() { return stdout; },
    async stop(signal = 'SIGTERM', timeoutMs = 10000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(t);
      // Under `make test-asan` a sanitizer report in the server's stderr fails
      // the test that started it, even when the behaviour looked right.
      const report = stderr.match(/(ERROR: (Address|Leak)Sanitizer|runtime error:)[^\n]*/);
      if (report) throw new Error(`sanitizer report from the server: ${report[0]}\n${stderr.slice(-4000)}`);
      return r;
    },
  };
}

// Runs the binary to completion (genconfig, config errors, ...).
function runBinary(args, env = {}, wrap = null) {
  return new Promise((resolve) => {
    const cmd = wrap ? 'bash' : BIN;
    const argv = wrap ? ['-c', `${wrap}; exec "$0" "$@"`, BIN, ...args] : args;
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout: out, stderr: err }); });
  });
}

// Plain HTTP request with node:http (keep-alive off).
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Sends raw bytes on a fresh TCP connection and collects everything until the
// server closes or `ms` passes.
function rawExchange(port, bytes, ms = 2000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks = [];
    let done = false;
    const finish = (closed) => { if (!done) { done = true; s.destroy(); resolve({ data: Buffer.concat(chunks), closed }); } };
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', () => s.write(bytes));
    setTimeout(() => finish(false), ms);
  });
}

// A self-signed certificate for 127.0.0.1/localhost made with openssl.
function makeCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const { execFileSync } = require('node:child_process');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
  { stdio: 'ignore' });
  return { dir, cert, key };
}

module.exports = { ROOT, BIN, redisMode, freePort, startServer, runBinary, request, rawExchange, makeCertificate };
