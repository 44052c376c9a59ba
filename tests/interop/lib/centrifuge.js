// Helpers for the Centrifugo-protocol interop tests: HS256 tokens signed with
// node:crypto, a TOML writer for channel namespaces, the server HTTP API,
// the official `centrifuge` SDK wired to npm `ws`, a raw protocol client, and
// waiting utilities that always time out instead of hanging.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { startServer, request } = require('./server');

const SECRET = 'interop-hmac-secret-4f1c2a9b7d3e';
const API_KEY = 'interop-api-key-8e2d';
const WS_PATH = '/connection/websocket';

// ---------------------------------------------------------------- waiting

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Rejects with `label` when `promise` has not settled within `ms`.
function withTimeout(promise, ms, label = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Polls `cond` (sync or async) until it returns a truthy value, which is
// returned; throws naming `label` after `timeout` ms. `describe()` adds the
// current state to the failure message.
async function waitFor(cond, { timeout = 5000, interval = 20, label = 'condition', describe } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) {
      const extra = describe ? `; state: ${describe()}` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${label}${extra}`);
    }
    await sleep(interval);
  }
}

// The next `event` of an EventEmitter-like object (on/off or
// addListener/removeListener) whose payload passes `filter`.
function nextEvent(emitter, event, { timeout = 5000, filter = () => true, label } = {}) {
  return withTimeout(new Promise((resolve) => {
    const handler = (...args) => {
      if (!filter(...args)) return;
      emitter.removeListener(event, handler);
      resolve(args[0]);
    };
    emitter.on(event, handler);
  }), timeout, label || `event '${event}'`);
}

// Records every listed event of an emitter as {event, ctx, at}, for checks
// made after the fact (nothing is asserted inside SDK handlers: an exception
// there makes the SDK disconnect).
function recordEvents(emitter, events) {
  const log = [];
  for (const event of events) emitter.on(event, (ctx) => log.push({ event, ctx, at: Date.now() }));
  log.of = (event) => log.filter((e) => e.event === event).map((e) => e.ctx);
  return log;
}

// Runs registered cleanups in reverse order in one after-hook, so clients are
// closed before the server they use is stopped.
function cleanupStack(t) {
  const fns = [];
  t.after(async () => {
    while (fns.length) {
      const fn = fns.pop();
      try { await fn(); } catch (e) { /* keep cleaning */ }
    }
  });
  return (fn) => { fns.push(fn); };
}

// ---------------------------------------------------------------- tokens

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

// A JWT over `claims` signed with HMAC (HS256 by default).
function signToken(claims, { secret = SECRET, alg = 'HS256' } = {}) {
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  if (!hash) throw new Error(`unsupported alg ${alg}`);
  const signingInput = `${b64url({ typ: 'JWT', alg })}.${b64url(claims)}`;
  const sig = crypto.createHmac(hash, secret).update(signingInput).digest('base64url');
  return `${signingInput}.${sig}`;
}

// Connection token for `user`: `ttl` seconds (null = no exp); `extra` claims
// (info, channels, aud, iss, ...) are merged in.
function connectionToken(user, { ttl = 3600, secret, alg, ...extra } = {}) {
  const claims = { sub: user, ...extra };
  if (ttl !== null) claims.exp = nowSeconds() + ttl;
  return signToken(claims, { secret, alg });
}

// Subscription token for `user` in `channel`.
function subscriptionToken(user, channel, { ttl = 3600, secret, alg, ...extra } = {}) {
  const claims = { sub: user, channel, ...extra };
  if (ttl !== null) claims.exp = nowSeconds() + ttl;
  return signToken(claims, { secret, alg });
}

// ---------------------------------------------------------------- config

function tomlValue(v) {
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);  // JSON string escapes are valid TOML basic strings
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  throw new Error(`cannot write ${typeof v} to TOML`);
}

// Writes a TOML file with one [[channel.namespace]] table per entry of
// `namespaces` ({name, ...options}), e.g. {name: 'chat', presence: true,
// history_ttl: '60s'}. Returns its path.
function writeConfig(namespaces = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-centrifuge-'));
  const lines = ['# written by tests/interop/lib/centrifuge.js', ''];
  for (const ns of namespaces) {
    lines.push('[[channel.namespace]]');
    for (const [k, v] of Object.entries(ns)) lines.push(`${k} = ${tomlValue(v)}`);
    lines.push('');
  }
  const file = path.join(dir, 'switchboard.toml');
  fs.writeFileSync(file, lines.join('\n'));
  return file;
}

// ---------------------------------------------------------------- server

// Starts the binary with the test secret and API key, `env` overrides and,
// when `namespaces` is given, a config file declaring them. The returned
// server also has `endpoint` (the WebSocket URL), `api(method, body)` and
// `restart()` (stop, then start again on the same port: memory broker → new
// epochs).
async function startCentrifugo({ env = {}, namespaces = null, port = 0 } = {}) {
  const configFile = namespaces ? writeConfig(namespaces) : null;
  const fullEnv = {
    SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET: SECRET,
    SWITCHBOARD_API_KEY: API_KEY,
    ...env,
  };
  const args = configFile ? ['--config', configFile] : [];
  const srv = await startServer({ env: fullEnv, args, port });
  srv.endpoint = `${srv.wsUrl}${WS_PATH}`;
  srv.configFile = configFile;
  srv.api = (method, body, opts) => apiCall(srv, method, body, opts);
  // stop() also removes the config file; restart() keeps it for the next run.
  const removeConfig = () => { if (configFile) fs.rmSync(path.dirname(configFile), { recursive: true, force: true }); };
  const withCleanup = (s) => {
    const stopServer = s.stop.bind(s);
    s.stop = async (...a) => { try { return await stopServer(...a); } finally { removeConfig(); } };
    s.restart = async () => {
      await stopServer();
      const next = await startServer({ env: fullEnv, args, port: s.port });
      return withCleanup(Object.assign(next, {
        endpoint: s.endpoint, configFile, api: (m, b, o) => apiCall(next, m, b, o),
      }));
    };
    return s;
  };
  return withCleanup(srv);
}

// POST /api/<method> with a JSON body. Returns {status, body (text), json
// (parsed or null)}. `key: null` sends no key.
async function apiCall(srv, method, body = {}, { key = API_KEY } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (key !== null) headers['X-API-Key'] = key;
  const res = await withTimeout(request(`${srv.url}/api/${method}`, {
    method: 'POST', headers, body: JSON.stringify(body),
  }), 5000, `POST /api/${method}`);
  let json = null;
  try { json = JSON.parse(res.body); } catch (e) { /* not JSON */ }
  return { status: res.status, body: res.body, json };
}

// Like apiCall, but requires HTTP 200 and no "error" member; returns `result`.
async function api(srv, method, body = {}) {
  const r = await apiCall(srv, method, body);
  if (r.status !== 200 || !r.json || r.json.error) {
    throw new Error(`/api/${method} ${JSON.stringify(body).slice(0, 200)} -> ${r.status} ${r.body.slice(0, 300)}`);
  }
  return r.json.result || {};
}

// Disconnects every connection of `user` with `code` (3011 "force reconnect"
// by default: the SDK reconnects). The code is sent both the way Centrifugo's
// API takes it ({"disconnect":{"code","reason"}}) and flat ({"code","reason"}).
function apiDisconnect(srv, user, code = 3011, reason = 'force reconnect') {
  return api(srv, 'disconnect', { user, code, reason, disconnect: { code, reason } });
}

// ---------------------------------------------------------------- SDK

// The official SDK with npm `ws` and short reconnect delays.
function newClient(srv, opts = {}) {
  const { Centrifuge } = require('centrifuge');
  return new Centrifuge(srv.endpoint || srv, {
    websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 300, timeout: 5000, ...opts,
  });
}

// Connects and resolves with the 'connected' context.
async function connectClient(client, timeout = 5000) {
  const connected = nextEvent(client, 'connected', { timeout, label: 'SDK connected' });
  client.connect();
  return connected;
}

// ---------------------------------------------------------------- raw protocol

// A bare Centrifugo-protocol (JSON) client over npm `ws`: send commands, read
// replies by id, pushes, the server's pings, and the close code/reason.
class RawClient {
  static open(url, { answerPings = true, timeout = 5000 } = {}) {
    return withTimeout(new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('open', () => resolve(new RawClient(ws, answerPings)));
      ws.once('error', reject);
    }), timeout, `raw websocket open ${url}`);
  }

  constructor(ws, answerPings) {
    this.ws = ws;
    this.answerPings = answerPings;
    this.frames = [];     // every text message as received
    this.messages = [];   // every JSON object, in order (a frame may hold several)
    this.pings = 0;
    this.parseErrors = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const text = data.toString('utf8');
      this.frames.push(text);
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        let msg;
        try { msg = JSON.parse(line); } catch (e) { this.parseErrors.push(line); continue; }
        this.messages.push(msg);
        if (Object.keys(msg).length === 0) {
          this.pings++;
          if (this.answerPings && ws.readyState === WebSocket.OPEN) ws.send('{}');
        }
      }
    });
  }

  // Sends one command object, several (joined by '\n' into one frame), or a raw string.
  send(cmd) {
    const text = typeof cmd === 'string' ? cmd : (Array.isArray(cmd) ? cmd.map((c) => JSON.stringify(c)).join('\n') : JSON.stringify(cmd));
    this.ws.send(text);
  }

  replies() { return this.messages.filter((m) => m.id !== undefined); }
  pushes() { return this.messages.filter((m) => m.push !== undefined); }

  // The reply with this id.
  reply(id, timeout = 3000) {
    return waitFor(() => this.messages.find((m) => m.id === id), {
      timeout, label: `reply id ${id}`, describe: () => JSON.stringify(this.messages).slice(0, 500) + (this.closeInfo ? ` closed ${JSON.stringify(this.closeInfo)}` : ''),
    });
  }

  // Sends a command and resolves with its reply.
  async call(cmd, timeout = 3000) {
    this.send(cmd);
    return this.reply(cmd.id, timeout);
  }

  // Resolves with {code, reason}, or rejects after `timeout`.
  waitClose(timeout = 3000) { return withTimeout(this.closed, timeout, 'server closing the connection'); }

  close() { try { this.ws.terminate(); } catch (e) { /* already gone */ } }
}

// Opens a raw connection and sends connect with `token` (omit for none).
async function rawConnect(srv, { token, answerPings = true, id = 1, data } = {}) {
  const c = await RawClient.open(srv.endpoint, { answerPings });
  const connect = {};
  if (token) connect.token = token;
  if (data !== undefined) connect.data = data;
  const reply = await c.call({ id, connect });
  return { client: c, reply };
}

module.exports = {
  SECRET, API_KEY, WS_PATH, WebSocket,
  sleep, withTimeout, waitFor, nextEvent, recordEvents, cleanupStack,
  signToken, connectionToken, subscriptionToken, nowSeconds,
  writeConfig, startCentrifugo, apiCall, api, apiDisconnect,
  newClient, connectClient, RawClient, rawConnect,
};
