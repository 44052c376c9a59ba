// client.allowed_origins against the real binary: which pages' WebSocket
// upgrades to /connection/websocket are accepted (101) or refused (403 with a
// body naming the origin and the key).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');

// Opens /connection/websocket with this Origin (undefined = none); resolves
// {status, body}: 101 for an accepted upgrade.
function upgrade(srv, origin) {
  return new Promise((resolve, reject) => {
    const opts = origin === undefined ? {} : { origin };
    const ws = new WebSocket(`${srv.wsUrl}/connection/websocket`, opts);
    ws.on('open', () => { ws.terminate(); resolve({ status: 101, body: '' }); });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.on('error', (e) => { if (!e.message.includes('Unexpected server response')) reject(e); });
  });
}

test('an empty allowed_origins admits the same origin and clients without Origin only', async (t) => {
  const srv = await startServer({ env: { SWITCHBOARD_CLIENT_ALLOW_ANONYMOUS: 'true' } });
  t.after(() => srv.stop());
  assert.equal((await upgrade(srv)).status, 101, 'no Origin: not a browser');
  assert.equal((await upgrade(srv, `http://127.0.0.1:${srv.port}`)).status, 101, 'same origin');
  const other = `http://127.0.0.1:${srv.port + 1}`;
  const refused = await upgrade(srv, other);
  assert.equal(refused.status, 403);
  const error = JSON.parse(refused.body).error;
  assert.match(error.message, new RegExp(`origin "${other}" is not allowed`));
  assert.match(error.message, /client\.allowed_origins/);
});

test('a list admits its origins and subdomain wildcards, and refuses the rest', async (t) => {
  const srv = await startServer({
    env: { SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: 'https://app.example.com, https://*.example.org' },
  });
  t.after(() => srv.stop());
  assert.equal((await upgrade(srv, 'https://app.example.com')).status, 101);
  assert.equal((await upgrade(srv, 'HTTPS://APP.EXAMPLE.COM')).status, 101, 'case-insensitive');
  assert.equal((await upgrade(srv, 'https://chat.example.org')).status, 101, 'wildcard subdomain');
  assert.equal((await upgrade(srv)).status, 101, 'no Origin');
  for (const origin of ['https://example.org', 'https://evil.example', 'http://app.example.com',
    `http://127.0.0.1:${srv.port}`]) {
    const r = await upgrade(srv, origin);
    assert.equal(r.status, 403, origin);
    assert.match(JSON.parse(r.body).error.message, /matches no entry of client\.allowed_origins/, origin);
  }
});

test('"*" admits every origin; a bad entry stops the start naming it', async (t) => {
  const srv = await startServer({ env: { SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: '*' } });
  t.after(() => srv.stop());
  assert.equal((await upgrade(srv, 'https://anything.example')).status, 101);
  const { runBinary } = require('./lib/server');
  const bad = await runBinary(['checkconfig'], { SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: 'https://ok.example,example.com' });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /client\.allowed_origins: element 1: expected .*got "example\.com"/);
});

test('the plain endpoints check the origin too: /sse, /poll and /ws refuse a foreign page with 403', async (t) => {
  const srv = await startServer({
    env: {
      SWITCHBOARD_CLIENT_ALLOW_ANONYMOUS: 'true',
      SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_CLIENT: 'true',
      SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_ANONYMOUS: 'true',
      SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: 'https://app.example.com',
    },
  });
  t.after(() => srv.stop());
  const get = (path, origin) => new Promise((resolve, reject) => {
    const req = require('http').get(`${srv.url}${path}`, { headers: origin ? { Origin: origin } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      // A stream that was admitted never ends: the status is enough.
      if (res.statusCode === 200) { resolve({ status: 200, body: '' }); req.destroy(); }
    });
    req.on('error', reject);
  });
  for (const path of ['/sse?channel=news', '/poll?channel=news&timeout=0']) {
    const refused = await get(path, 'https://evil.example');
    assert.equal(refused.status, 403, path);
    assert.match(JSON.parse(refused.body).error.message, /client\.allowed_origins/, path);
    assert.equal((await get(path, 'https://app.example.com')).status, 200, `${path} from an allowed page`);
    assert.equal((await get(path)).status, 200, `${path} without Origin`);
  }
  const ws = await new Promise((resolve) => {
    const sock = new WebSocket(`${srv.wsUrl}/ws?channel=news`, { origin: 'https://evil.example' });
    sock.on('open', () => { sock.terminate(); resolve(101); });
    sock.on('unexpected-response', (req, res) => resolve(res.statusCode));
    sock.on('error', () => {});
  });
  assert.equal(ws, 403, '/ws from a foreign page');
});
