// HTTP/1.1 behaviour of the real binary: routes, limits and their statuses,
// keep-alive and pipelining, static files, start-up errors, configuration.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startServer, runBinary, request, rawExchange, freePort } = require('./lib/server');

test('HTTP/1.1 core', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());

  await t.test('GET /health is 200 with a small JSON body', async () => {
    const r = await request(`${srv.url}/health`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /application\/json/);
    const j = JSON.parse(r.body);
    assert.equal(j.status, 'ok');
    assert.equal(typeof j.version, 'string');
    assert.equal(typeof j.connections, 'number');
  });

  await t.test('unknown path is 404 with a message', async () => {
    const r = await request(`${srv.url}/no/such/thing`);
    assert.equal(r.status, 404);
    assert.match(JSON.parse(r.body).error.message, /no such path/);
  });

  await t.test('wrong method is 405 with Allow', async () => {
    const r = await request(`${srv.url}/health`, { method: 'POST', body: 'x' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET');
  });

  await t.test('HEAD /health has headers and no body', async () => {
    const r = await request(`${srv.url}/health`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.ok(Number(r.headers['content-length']) > 0);
  });

  await t.test('headers over 16 KiB are 431', async () => {
    const big = 'x'.repeat(17 * 1024);
    const { data } = await rawExchange(srv.port, `GET /health HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`);
    assert.match(data.toString(), /^HTTP\/1\.1 431 /);
  });

  await t.test('body over max_body_size is 413', async () => {
    const { data } = await rawExchange(srv.port,
      `POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`);
    assert.match(data.toString(), /^HTTP\/1\.1 413 /);
  });

  await t.test('malformed request is 400 and the connection closes', async () => {
    const { data, closed } = await rawExchange(srv.port, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(data.toString(), /^HTTP\/1\.1 400 /);
    assert.ok(closed);
  });

  await t.test('keep-alive with pipelined requests answers in order', async () => {
    const reqs = 'GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
    const { data, closed } = await rawExchange(srv.port, reqs, 3000);
    const statuses = [...data.toString().matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '404', '200']);
    assert.ok(closed, 'Connection: close honoured');
  });

  await t.test('a request split into single bytes still parses', async () => {
    const text = 'GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
    const got = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1');
      let buf = '';
      s.on('data', (d) => { buf += d; });
      s.on('close', () => resolve(buf));
      s.on('connect', async () => {
        s.setNoDelay(true);
        for (const ch of text) { s.write(ch); await new Promise((r) => setTimeout(r, 2)); }
      });
    });
    assert.match(got, /^HTTP\/1\.1 200 /);
  });

  await t.test('static files: index, content types, no traversal', async () => {
    const r = await request(`${srv.url}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/html/);
    const css = await request(`${srv.url}/style.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type'], /^text\/css/);
    for (const p of ['/../README.md', '/%2e%2e/README.md', '/..%2fREADME.md']) {
      const { data } = await rawExchange(srv.port, `GET ${p} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      assert.match(data.toString(), /^HTTP\/1\.1 (400|404) /, p);
      assert.doesNotMatch(data.toString(), /make run/, `${p} leaked a file outside web/`);
    }
  });
});

test('start-up problems are reported clearly', async (t) => {
  await t.test('a taken port is an error naming the address', async () => {
    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const r = await runBinary([], { SWITCHBOARD_SERVER_LISTEN: `127.0.0.1:${port}` });
    blocker.close();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}.*address already in use`));
  });

  await t.test('a second instance on the same port is refused (SO_REUSEPORT does not hide it)', async () => {
    const srv = await startServer();
    const r = await runBinary([], { SWITCHBOARD_SERVER_LISTEN: `127.0.0.1:${srv.port}` });
    await srv.stop();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /address already in use/);
  });

  await t.test('an open-file limit below max_connections is a warning with the real number', async () => {
    const srv = await startServer({ env: { SWITCHBOARD_SERVER_MAX_CONNECTIONS: '50000' }, wrap: 'ulimit -n 1024' });
    await srv.stop();
    assert.match(srv.stderr, /open-file limit is 1024 but server\.max_connections is 50000/);
  });

  await t.test('unknown config key names the key and exits non-zero', async () => {
    const fs = require('node:fs');
    const os = require('node:os');
    const path = require('node:path');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sbcfg-')), 'bad.toml');
    fs.writeFileSync(file, '[server]\nlisten = "127.0.0.1:0"\nlistne = 3\n');
    const r = await runBinary(['--config', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /server\.listne/);
    fs.writeFileSync(file, '[websocket]\nidle_timeout = "soon"\n');
    const r2 = await runBinary(['--config', file]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /websocket\.idle_timeout/);
  });

  await t.test('a bad environment override names the variable', async () => {
    const r = await runBinary([], { SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE: 'lots' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /max_message_size|MAX_MESSAGE_SIZE/);
  });

  await t.test('genconfig prints a config that loads back', async () => {
    const r = await runBinary(['genconfig']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\[server\]/);
    assert.match(r.stdout, /listen = "0\.0\.0\.0:8000"/);
    assert.match(r.stdout, /\[websocket\]/);
    assert.match(r.stdout, /echo_path/);
    const fs = require('node:fs');
    const os = require('node:os');
    const path = require('node:path');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sbcfg-')), 'gen.toml');
    fs.writeFileSync(file, r.stdout);
    const c = await runBinary(['checkconfig', '--config', file]);
    assert.equal(c.code, 0, c.stderr);
  });
});

test('max_connections refuses the excess with 503', async (t) => {
  const srv = await startServer({ env: { SWITCHBOARD_SERVER_MAX_CONNECTIONS: '3', SWITCHBOARD_SERVER_WORKERS: '1' } });
  t.after(() => srv.stop());
  // Hold three keep-alive connections, each proven accepted by a 200. (The
  // start-up probe connection may still be counted for a moment: retry then.)
  const held = [];
  const openServed = () => new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let buf = '';
    s.on('error', () => resolve(null));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n\r\n')) {
        s.removeAllListeners('data');
        if (/^HTTP\/1\.1 200 /.test(buf)) resolve(s); else { s.destroy(); resolve(null); }
      }
    });
    s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: a\r\n\r\n'));
  });
  for (let i = 0; i < 3; i++) {
    let s = null;
    for (let attempt = 0; attempt < 20 && !s; attempt++) {
      s = await openServed();
      if (!s) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(s, `connection ${i + 1} of 3 was served`);
    held.push(s);
  }
  const { data } = await rawExchange(srv.port, 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(data.toString(), /^HTTP\/1\.1 503 /);
  held.forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 200));
  const ok = await request(`${srv.url}/health`);
  assert.equal(ok.status, 200, 'slots are given back when connections close');
  assert.ok(JSON.parse(ok.body).refused_over_limit >= 1, 'refusals are counted');
});
