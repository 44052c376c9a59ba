// The server HTTP API (/api/<method>) and the `gentoken` and `checkconfig`
// commands, against the real binary.
'use strict';
const test = require('node:test');
const net = require('node:net');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const { startServer, runBinary, request } = require('./lib/server');

const KEY = 'api-test-key';
const SECRET = 'api-test-secret';

function api(srv, method, body, headers = { 'X-API-Key': KEY }) {
  return request(`${srv.url}/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then((r) => ({ ...r, json: r.body ? JSON.parse(r.body) : undefined }));
}

function writeConfig(text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-api-'));
  const file = path.join(dir, 'switchboard.toml');
  fs.writeFileSync(file, text);
  return file;
}

const CONFIG = `
[api]
key = "${KEY}"
[client]
token_hmac_secret = "${SECRET}"
allow_anonymous = true
[channel]
allow_subscribe_for_anonymous = true
allow_subscribe_for_client = true
[[channel.namespace]]
name = "chat"
presence = true
history_size = 3
history_ttl = "60s"
allow_subscribe_for_client = true
allow_subscribe_for_anonymous = true
`;

// Connects a raw protocol client and subscribes it to `channel`.
function rawClient(srv, { token, channel }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${srv.wsUrl}/connection/websocket`);
    const messages = [];
    ws.on('error', reject);
    ws.on('open', () => {
      const connect = token ? { token } : {};
      ws.send(JSON.stringify({ id: 1, connect }) + '\n' + JSON.stringify({ id: 2, subscribe: { channel } }));
    });
    ws.on('message', (m) => {
      for (const line of m.toString().split('\n')) {
        const j = JSON.parse(line);
        messages.push(j);
        if (j.id === 2) {
          if (j.error) reject(new Error(JSON.stringify(j.error)));
          else resolve({ ws, messages });
        }
      }
    });
  });
}

async function waitFor(pred, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met in time');
}

test('server API', async (t) => {
  const srv = await startServer({ args: ['--config', writeConfig(CONFIG)] });
  t.after(() => srv.stop());

  await t.test('a missing key is 401 and says so', async () => {
    const r = await api(srv, 'publish', { channel: 'a', data: {} }, {});
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /X-API-Key/);
  });

  await t.test('a wrong key is 401', async () => {
    const r = await api(srv, 'publish', { channel: 'a', data: {} }, { 'X-API-Key': 'nope' });
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /wrong API key/);
  });

  await t.test('Authorization: apikey works too', async () => {
    const r = await api(srv, 'info', {}, { Authorization: `apikey ${KEY}` });
    assert.equal(r.status, 200);
    assert.equal(r.json.result.nodes.length, 1);
  });

  await t.test('malformed bodies are 400 with error 107 and a reason', async () => {
    for (const [body, re] of [
      ['not json', /malformed JSON/],
      ['[1,2]', /JSON object/],
      ['{"data":{}}', /channel required/],
      ['{"channel":5,"data":{}}', /channel must be a string/],
      ['{"channel":"a"}', /data required/],
      ['{"channel":"a","data":{"x":}}', /malformed JSON/],
    ]) {
      const r = await api(srv, 'publish', body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error.code, 107);
      assert.match(r.json.error.message, re, body);
    }
  });

  await t.test('unknown method is 404 (104), GET is 405', async () => {
    const r = await api(srv, 'nope', {});
    assert.equal(r.status, 404);
    const g = await request(`${srv.url}/api/publish`);
    assert.equal(g.status, 405);
  });

  await t.test('publish reaches a subscriber; data with newlines is compacted', async () => {
    const c = await rawClient(srv, { channel: 'news' });
    const r = await api(srv, 'publish', '{"channel":"news",\n "data": {\n "text": "hello" }\n}');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { result: {} });  // no history: no position
    await waitFor(() => c.messages.some((m) => m.push));
    const push = c.messages.find((m) => m.push).push;
    assert.deepEqual(push, { channel: 'news', pub: { data: { text: 'hello' } } });
    c.ws.close();
  });

  // curl sends "Expect: 100-continue" with bodies over 1 KiB and waits a
  // second for the interim answer before it sends the body anyway.
  await t.test('Expect: 100-continue is answered before the body is sent', { timeout: 10000 }, async () => {
    const body = JSON.stringify({ channel: 'news', data: { text: 'x'.repeat(2000) } });
    const s = net.connect(srv.port, '127.0.0.1');
    let buf = '';
    const seen = (re) => new Promise((resolve, reject) => {
      const check = () => { if (re.test(buf)) { s.off('data', check); resolve(); } };
      s.on('data', (d) => { buf += d; check(); });
      s.on('error', reject);
      check();
    });
    await new Promise((resolve) => s.on('connect', resolve));
    s.write(`POST /api/publish HTTP/1.1\r\nHost: a\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
    await seen(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    assert.doesNotMatch(buf, /HTTP\/1\.1 [2-5]\d\d /, 'no final answer before the body');
    s.write(body);
    await seen(/HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{"result":\{\}\}/);
    // An expectation other than 100-continue is refused at once.
    s.write('POST /api/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: something-else\r\n\r\n');
    await seen(/HTTP\/1\.1 417 Expectation Failed\r\n[\s\S]*something-else/);
    s.destroy();
  });

  await t.test('unknown namespace is error 102', async () => {
    const r = await api(srv, 'publish', { channel: 'nons:x', data: 1 });
    assert.equal(r.status, 200);
    assert.equal(r.json.error.code, 102);
  });

  await t.test('history keeps the last history_size publications with offsets', async () => {
    let epoch;
    for (let i = 1; i <= 5; i++) {
      const r = await api(srv, 'publish', { channel: 'chat:h', data: { i } });
      assert.equal(r.json.result.offset, i);
      epoch = epoch || r.json.result.epoch;
      assert.equal(r.json.result.epoch, epoch);
    }
    const all = await api(srv, 'history', { channel: 'chat:h', limit: -1 });
    assert.deepEqual(all.json.result.publications.map((p) => p.data.i), [3, 4, 5]);
    assert.equal(all.json.result.offset, 5);
    const pos = await api(srv, 'history', { channel: 'chat:h' });
    assert.deepEqual(pos.json.result.publications, []);  // limit 0: the position only
    assert.equal(pos.json.result.epoch, epoch);
    const since = await api(srv, 'history', { channel: 'chat:h', limit: 10, since: { offset: 3, epoch } });
    assert.deepEqual(since.json.result.publications.map((p) => p.offset), [4, 5]);
    const rev = await api(srv, 'history', { channel: 'chat:h', limit: 2, reverse: true });
    assert.deepEqual(rev.json.result.publications.map((p) => p.offset), [5, 4]);
    const old = await api(srv, 'history', { channel: 'chat:h', limit: 10, since: { offset: 0, epoch } });
    assert.equal(old.json.error.code, 112);
    const other = await api(srv, 'history', { channel: 'chat:h', limit: 10, since: { offset: 4, epoch: 'other' } });
    assert.equal(other.json.error.code, 112);
    const none = await api(srv, 'history', { channel: 'news', limit: 10 });
    assert.equal(none.json.error.code, 108);
    const removed = await api(srv, 'history_remove', { channel: 'chat:h' });
    assert.deepEqual(removed.json, { result: {} });
    const after = await api(srv, 'history', { channel: 'chat:h', limit: -1 });
    assert.deepEqual(after.json.result.publications, []);
    assert.equal(after.json.result.offset, 5);  // the position survives
  });

  await t.test('broadcast answers per channel', async () => {
    const r = await api(srv, 'broadcast', { channels: ['chat:b1', 'nons:x', 'chat:b2'], data: { x: 1 } });
    assert.equal(r.status, 200);
    const rs = r.json.result.responses;
    assert.equal(rs.length, 3);
    assert.equal(rs[0].result.offset, 1);
    assert.equal(rs[1].error.code, 102);
    assert.equal(rs[2].result.offset, 1);
    const bad = await api(srv, 'broadcast', { channels: [], data: 1 });
    assert.equal(bad.status, 400);
  });

  await t.test('presence and presence_stats list connected subscribers', async () => {
    const token = gentokenLocal('ann', { name: 'Ann' });
    const a = await rawClient(srv, { token, channel: 'chat:room' });
    const b = await rawClient(srv, { channel: 'chat:room' });
    const p = await api(srv, 'presence', { channel: 'chat:room' });
    const infos = Object.values(p.json.result.presence);
    assert.equal(infos.length, 2);
    const ann = infos.find((i) => i.user === 'ann');
    assert.deepEqual(ann.conn_info, { name: 'Ann' });
    const s = await api(srv, 'presence_stats', { channel: 'chat:room' });
    assert.deepEqual(s.json.result, { num_clients: 2, num_users: 2 });
    const off = await api(srv, 'presence', { channel: 'news' });
    assert.equal(off.json.error.code, 108);
    a.ws.close();
    b.ws.close();
    await waitFor(() => true, 10);
  });

  await t.test('disconnect by user closes that user\'s connections with the code', async () => {
    const token = gentokenLocal('bob');
    const c = await rawClient(srv, { token, channel: 'news' });
    const other = await rawClient(srv, { channel: 'news' });
    const closed = new Promise((resolve) => c.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    const r = await api(srv, 'disconnect', { user: 'bob', disconnect: { code: 3011, reason: 'go away' } });
    assert.deepEqual(r.json, { result: {} });
    const { code, reason } = await closed;
    assert.equal(code, 3011);
    assert.equal(reason, 'go away');
    assert.equal(other.ws.readyState, WebSocket.OPEN);
    other.ws.close();
    const bad = await api(srv, 'disconnect', { user: 'bob', code: 1000 });
    assert.equal(bad.status, 400);
  });

  await t.test('info counts clients, subscriptions and fan-out', async () => {
    const c = await rawClient(srv, { channel: 'news' });
    await api(srv, 'publish', { channel: 'news', data: { n: 1 } });
    await waitFor(() => c.messages.some((m) => m.push));
    const r = await api(srv, 'info', {});
    const node = r.json.result.nodes[0];
    assert.ok(node.num_clients >= 1);
    assert.ok(node.num_subs >= 1);
    assert.equal(node.version, '0.1.0');
    // Each publication is framed once per worker that has subscribers.
    assert.ok(node.frames_encoded <= node.publications * 2);
    assert.ok(node.deliveries >= 1);
    c.ws.close();
  });
});

test('API without a key refuses everything with 401', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const r = await api(srv, 'info', {}, { 'X-API-Key': 'anything' });
  assert.equal(r.status, 401);
  assert.match(r.json.error.message, /api\.key/);
});

// An HS256 token made here, independently of the server's own code.
function gentokenLocal(sub, info) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { sub, exp: Math.floor(Date.now() / 1000) + 600 };
  if (info) claims.info = info;
  const head = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64(claims);
  return head + '.' + crypto.createHmac('sha256', SECRET).update(head).digest('base64url');
}

test('gentoken', async (t) => {
  await t.test('prints a token the server accepts, with user, ttl and info', async () => {
    const env = { SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET: SECRET };
    const r = await runBinary(['gentoken', '--user', 'carol', '--ttl', '120', '--info', '{"role":"admin"}'], env);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const [, payload, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    assert.equal(claims.sub, 'carol');
    assert.deepEqual(claims.info, { role: 'admin' });
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(claims.exp - (now + 120)) <= 2);
    const head = token.slice(0, token.lastIndexOf('.'));
    assert.equal(sig, crypto.createHmac('sha256', SECRET).update(head).digest('base64url'));

    const srv = await startServer({ args: ['--config', writeConfig(CONFIG)] });
    t.after(() => srv.stop());
    const c = await rawClient(srv, { token, channel: 'news' });
    const connect = c.messages.find((m) => m.id === 1).connect;
    assert.equal(connect.expires, true);
    assert.ok(connect.ttl > 100 && connect.ttl <= 120);
    c.ws.close();
  });

  await t.test('without a secret it fails and names the key', async () => {
    const r = await runBinary(['gentoken', '--user', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /client\.token_hmac_secret/);
  });

  await t.test('bad --info is refused', async () => {
    const r = await runBinary(['gentoken', '--user', 'x', '--info', '{nope'], {
      SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET: SECRET,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /info/);
  });
});

test('checkconfig tries token keys and channel patterns', async () => {
  const file = writeConfig('[client]\ntoken_rsa_public_key = "-----BEGIN PUBLIC KEY-----\\nnot a key\\n-----END PUBLIC KEY-----"\n');
  const r = await runBinary(['checkconfig', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /client\.token_rsa_public_key/);
});
