// A subscriber is never left silently behind its stream (src/core/Hub.cpp):
// when a quiet channel's stream expires and restarts in a new epoch, offsets
// begin again at 1, below the subscriber's position. The hub must not drop
// those publications as duplicates: it disconnects the client with 3010
// "insufficient state", the official SDK (npm `centrifuge`) reconnects and
// resubscribes with recover, is told recovered=false with the new epoch, and
// receives what follows.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  sleep, waitFor, recordEvents, cleanupStack, connectionToken, startCentrifugo, api, newClient, connectClient,
} = require('./lib/centrifuge');

// History kept 1 s, and the stream's meta too: a channel quiet for longer
// starts a new epoch at its next publication.
const NAMESPACES = [
  { name: 'short', history_size: 100, history_ttl: '1s', allow_recovery: true, allow_subscribe_for_client: true },
];

test('hub: a stream restarted in a new epoch disconnects its positioned subscribers with 3010', async (t) => {
  const srv = await startCentrifugo({ namespaces: NAMESPACES, env: { SWITCHBOARD_BROKER_HISTORY_META_TTL: '1s' } });
  t.after(() => srv.stop());
  const defer = cleanupStack(t);
  const channel = 'short:quiet';
  const client = newClient(srv, { token: connectionToken('quiet-user') });
  defer(() => client.disconnect());
  const clientLog = recordEvents(client, ['connecting', 'connected', 'disconnected']);
  const sub = client.newSubscription(channel, { recoverable: true, minResubscribeDelay: 50, maxResubscribeDelay: 300 });
  const log = recordEvents(sub, ['subscribed', 'publication', 'unsubscribed', 'error']);
  sub.subscribe();
  await connectClient(client);
  await waitFor(() => log.of('subscribed').length === 1, { label: 'subscribed' });
  const epoch1 = log.of('subscribed')[0].streamPosition.epoch;

  for (let i = 1; i <= 3; i++) {
    const r = await api(srv, 'publish', { channel, data: { n: i } });
    assert.equal(r.offset, i);
  }
  await waitFor(() => log.of('publication').length === 3, { label: 'three publications' });

  // Quiet for longer than the stream's meta TTL: the next publication opens a
  // new epoch at offset 1, below the subscriber's position 3.
  await sleep(2500);
  const restarted = await api(srv, 'publish', { channel, data: { n: 'new epoch' } });
  assert.equal(restarted.offset, 1);
  assert.notEqual(restarted.epoch, epoch1, 'the stream restarted in a new epoch');

  await waitFor(() => log.of('subscribed').length === 2, {
    timeout: 10000, label: 'subscribed again after the position was lost',
    describe: () => JSON.stringify(clientLog.slice(-3)),
  });
  assert.ok(clientLog.of('connecting').some((c) => c.code === 3010 && c.reason === 'insufficient state'),
    `the SDK saw 3010 insufficient state: ${JSON.stringify(clientLog.of('connecting'))}`);
  const again = log.of('subscribed')[1];
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, false, 'the old epoch cannot be recovered');
  assert.equal(again.streamPosition.epoch, restarted.epoch);

  const next = await api(srv, 'publish', { channel, data: { n: 'after' } });
  await waitFor(() => log.of('publication').some((p) => p.data.n === 'after'), { label: 'the next publication' });
  const last = log.of('publication').at(-1);
  assert.equal(last.offset, next.offset);
  assert.equal(clientLog.of('disconnected').length, 0, 'never left disconnected');
});

// The plain SSE endpoint: the stream ends with a 3010 disconnect event, so
// the browser's EventSource comes back with its Last-Event-ID and is told
// the position cannot be resumed.
test('hub: a stream restarted in a new epoch ends a plain SSE stream with 3010', async (t) => {
  const http = require('node:http');
  const { startServer } = require('./lib/server');
  const plain = require('./lib/plain');
  const KEY = 'hub-position-key';
  const config = plain.writeConfig(`
[api]
key = "${KEY}"
[client]
allow_anonymous = true
[broker]
history_meta_ttl = "1s"
[channel]
allow_subscribe_for_anonymous = true
allow_subscribe_for_client = true
history_size = 100
history_ttl = "1s"
`, 'sb-hub-position-');
  const srv = await startServer({ args: ['--config', config] });
  t.after(() => srv.stop());
  let text = '';
  let ended = false;
  const req = http.get(`${srv.url}/sse?channel=quiet`, (res) => {
    assert.equal(res.statusCode, 200);
    res.setEncoding('utf8');
    res.on('data', (d) => { text += d; });
    res.on('end', () => { ended = true; });
  });
  t.after(() => req.destroy());
  await waitFor(() => text.length > 0, { label: 'the stream opened' });
  for (let i = 1; i <= 3; i++) await plain.publish(srv, KEY, 'quiet', { n: i });
  await waitFor(() => (text.match(/"n":3/) || []).length === 1, { label: 'three publications' });
  await sleep(2500);  // the stream's meta expires
  const restarted = await plain.publish(srv, KEY, 'quiet', { n: 'new epoch' });
  assert.equal(restarted.offset, 1);
  await waitFor(() => ended, { timeout: 5000, label: 'the stream ended', describe: () => text.slice(-300) });
  assert.match(text, /event: disconnect\ndata: \{"code":3010,"reason":"insufficient state"\}/);
  assert.doesNotMatch(text, /new epoch/, 'nothing of the new epoch was sent as if it followed offset 3');
});
