// [log] format = "json": every line the real binary writes to stderr is one
// JSON object with time, level and msg, and client sessions are logged at
// debug with their fields.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startCentrifugo, rawConnect, connectionToken, apiDisconnect, withTimeout, cleanupStack } = require('./lib/centrifuge');

test('json logs: one object per line, session events with client, user, transport and code', async (t) => {
  const cleanup = cleanupStack(t);
  const srv = await startCentrifugo({ env: { SWITCHBOARD_LOG_FORMAT: 'json', SWITCHBOARD_LOG_LEVEL: 'debug' } });
  cleanup(() => srv.stop('SIGKILL'));

  const { client, reply } = await rawConnect(srv, { token: connectionToken('bob "the" builder') });
  cleanup(() => client.close());
  assert.ok(reply.connect, JSON.stringify(reply));
  await apiDisconnect(srv, 'bob "the" builder', 3011, 'force reconnect');
  assert.equal((await client.waitClose()).code, 3011);
  const exit = await withTimeout(srv.stop('SIGTERM'), 8000, 'server exit');
  assert.equal(exit.code, 0);

  const lines = srv.stderr.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 4, srv.stderr);
  const records = lines.map((line) => {
    let r;
    assert.doesNotThrow(() => { r = JSON.parse(line); }, `not one JSON object: ${line}`);
    assert.equal(typeof r, 'object');
    assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
    assert.ok(['trace', 'debug', 'info', 'warning', 'error', 'critical'].includes(r.level), line);
    assert.equal(typeof r.msg, 'string', line);
    return r;
  });
  const connected = records.find((r) => r.msg === 'client connected');
  assert.ok(connected, srv.stderr);
  assert.equal(connected.level, 'debug');
  assert.equal(connected.user, 'bob "the" builder');
  assert.equal(connected.transport, 'websocket');
  assert.equal(connected.client, reply.connect.client);
  const disconnected = records.find((r) => r.msg === 'disconnecting client');
  assert.ok(disconnected, srv.stderr);
  assert.equal(disconnected.code, 3011);  // a number, not a string
  assert.equal(disconnected.reason, 'force reconnect');
  assert.equal(disconnected.client, reply.connect.client);
  assert.ok(records.some((r) => r.level === 'info' && /listening on/.test(r.msg)));
});
