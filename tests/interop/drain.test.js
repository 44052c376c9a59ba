// Graceful drain on SIGTERM: the listeners close first, /health says
// "draining" with 503, and every client gets disconnect 3001 — not all at
// once but spread over the drain window, so they do not reconnect in one
// burst. Timing is compared as spread, with generous absolute bounds only.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startCentrifugo, rawConnect, connectionToken, waitFor, withTimeout, cleanupStack } = require('./lib/centrifuge');

const CLIENTS = 30;
const DRAIN_MS = 2000;

// A keep-alive HTTP connection that sends GET /health on demand and reports
// the status codes it gets back.
function healthProbe(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const probe = { statuses: [], bodies: [], closed: false, buf: '', sent: 0 };
    s.setEncoding('latin1');
    s.on('data', (d) => {
      probe.buf += d;
      for (;;) {
        const head = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(probe.buf);
        if (!head) break;
        const len = Number((/content-length: *(\d+)/i.exec(head[2]) || [0, 0])[1]);
        if (probe.buf.length < head[0].length + len) break;
        probe.statuses.push(Number(head[1]));
        probe.bodies.push(probe.buf.slice(head[0].length, head[0].length + len));
        probe.buf = probe.buf.slice(head[0].length + len);
      }
    });
    s.on('close', () => { probe.closed = true; });
    s.on('error', () => {});
    s.on('connect', () => resolve(probe));
    s.once('error', reject);
    // One request at a time: the next goes once the previous is answered.
    probe.send = () => {
      if (probe.closed || probe.sent > probe.statuses.length) return;
      probe.sent++;
      s.write('GET /health HTTP/1.1\r\nHost: probe\r\n\r\n');
    };
    probe.destroy = () => s.destroy();
  });
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

test('SIGTERM spreads disconnect 3001 over the drain window after closing the listeners', async (t) => {
  const cleanup = cleanupStack(t);
  const srv = await startCentrifugo({ env: { SWITCHBOARD_SERVER_DRAIN_TIMEOUT: `${DRAIN_MS / 1000}s` } });
  cleanup(() => srv.stop('SIGKILL'));

  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const { client, reply } = await rawConnect(srv, { token: connectionToken(`user-${i}`) });
    assert.ok(reply.connect, JSON.stringify(reply));
    cleanup(() => client.close());
    clients.push(client);
  }
  const probe = await healthProbe(srv.port);
  cleanup(() => probe.destroy());
  probe.send();
  await waitFor(() => probe.statuses.length === 1, { label: '/health before the drain' });
  assert.equal(probe.statuses[0], 200);

  const killedAt = Date.now();
  srv.child.kill('SIGTERM');

  // /health turns 503 "draining" on a connection opened before (the probe
  // may itself be asked to close during the window; it is one of 31).
  await waitFor(() => {
    if (probe.statuses.length && probe.statuses[probe.statuses.length - 1] === 503) return true;
    probe.send();
    return false;
  }, { interval: 5, timeout: 1500, label: '/health 503', describe: () => JSON.stringify(probe.statuses) });
  assert.match(probe.bodies[probe.bodies.length - 1], /"status":"draining"/);

  // The listeners are closed while most clients are still connected.
  await waitFor(async () => !(await tryConnect(srv.port)), { interval: 10, timeout: 1000, label: 'listener closed' });
  const openWhenRefused = clients.filter((c) => !c.closeInfo).length;
  assert.ok(openWhenRefused >= CLIENTS / 2,
    `new connections should be refused before most clients are told to leave (${openWhenRefused} open)`);

  const closes = await withTimeout(Promise.all(clients.map((c) => c.closed)), DRAIN_MS + 4000, 'every client closed');
  const exit = await withTimeout(srv.exited, 5000, 'server exit');
  assert.equal(exit.code, 0, srv.stderr.slice(-2000));

  for (const c of closes) {
    assert.equal(c.code, 3001, JSON.stringify(c));
    assert.equal(c.reason, 'shutdown');
  }
  const times = closes.map((c) => c.at - killedAt).sort((a, b) => a - b);
  const spread = times[times.length - 1] - times[0];
  t.diagnostic(`close times, ms after SIGTERM: ${times.join(' ')}`);
  // Uniform over ~80 % of 2 s: the range is well over half a second, and no
  // 50 ms slice holds half of the clients.
  assert.ok(spread >= 600, `close times should be spread, got ${spread} ms: ${times.join(',')}`);
  let densest = 0;
  for (let i = 0; i < times.length; i++) {
    let j = i;
    while (j < times.length && times[j] - times[i] <= 50) j++;
    densest = Math.max(densest, j - i);
  }
  assert.ok(densest <= CLIENTS / 2, `${densest} clients closed within 50 ms: ${times.join(',')}`);
  // Everyone was asked within the drain timeout (generous bound).
  assert.ok(times[times.length - 1] < DRAIN_MS + 1500, `last close at ${times[times.length - 1]} ms`);
});

test('drain_timeout 0s disconnects every client at once', async (t) => {
  const cleanup = cleanupStack(t);
  const srv = await startCentrifugo({ env: { SWITCHBOARD_SERVER_DRAIN_TIMEOUT: '0s' } });
  cleanup(() => srv.stop('SIGKILL'));
  const clients = [];
  for (let i = 0; i < 5; i++) {
    const { client } = await rawConnect(srv, { token: connectionToken(`user-${i}`) });
    cleanup(() => client.close());
    clients.push(client);
  }
  srv.child.kill('SIGTERM');
  const exit = await withTimeout(srv.exited, 5000, 'server exit');
  assert.equal(exit.code, 0);
  // With no time to spread over, the server still tries 3001 first; a client
  // whose close handshake was cut sees 1006 instead.
  const closes = await withTimeout(Promise.all(clients.map((c) => c.closed)), 3000, 'every client closed');
  for (const c of closes) assert.ok([3001, 1006].includes(c.code), JSON.stringify(c));
});
