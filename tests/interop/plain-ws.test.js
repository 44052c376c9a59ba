// The plain WebSocket endpoint GET /ws against the real binary with the npm
// `ws` client: the subscribed message, one JSON message per publication on
// several channels, resume with ?since= (missed publications once, in order,
// then live), the explicit reset, and refusals before the upgrade.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');
const plain = require('./lib/plain');
const { waitFor } = plain;
const writeConfig = (text) => plain.writeConfig(text, 'sb-plain-ws-');
const publish = (srv, channel, data) => plain.publish(srv, KEY, channel, data);

const KEY = 'plain-ws-key';
const CONFIG = `
[api]
key = "${KEY}"
[client]
allow_anonymous = true
[channel]
allow_subscribe_for_anonymous = true
allow_subscribe_for_client = true
history_size = 100
history_ttl = "300s"
[[channel.namespace]]
name = "live"
allow_subscribe_for_anonymous = true
allow_subscribe_for_client = true
[[channel.namespace]]
name = "members"
allow_subscribe_for_client = true
`;




// Opens /ws and collects its messages; resolves once open.
function plainWs(srv, query) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${srv.wsUrl}/ws?${query}`);
    const c = { ws, messages: [], binary: 0 };
    ws.on('message', (m, isBinary) => {
      if (isBinary) c.binary += 1;
      else c.messages.push(JSON.parse(m.toString()));
    });
    ws.on('open', () => resolve(c));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.on('error', reject);
  });
}

test('plain WebSocket endpoint', async (t) => {
  const srv = await startServer({ args: ['--config', writeConfig(CONFIG)] });
  t.after(() => srv.stop());

  await t.test('subscribed first, then one JSON text message per publication', async () => {
    const c = await plainWs(srv, 'channel=news&channel=live:ticker');
    try {
      await waitFor(() => c.messages.length >= 1, 'subscribed');
      const hello = c.messages[0];
      assert.equal(hello.type, 'subscribed');
      assert.equal(hello.channels[0].channel, 'news');
      assert.equal(hello.channels[0].offset, 0);
      assert.deepEqual(hello.channels[1], { channel: 'live:ticker', offset: 0 });
      const p = await publish(srv, 'news', { text: 'hi' });
      await publish(srv, 'live:ticker', { price: 3 });
      await waitFor(() => c.messages.length >= 3, 'two publications');
      assert.deepEqual(c.messages.slice(1), [
        { channel: 'news', offset: p.offset, data: { text: 'hi' } },
        { channel: 'live:ticker', offset: 0, data: { price: 3 } },
      ]);
      assert.equal(p.epoch, hello.channels[0].epoch);
      assert.equal(c.binary, 0);
      // Client messages are ignored, the stream goes on.
      c.ws.send('{"anything":1}');
      await publish(srv, 'news', { text: 'still' });
      await waitFor(() => c.messages.length >= 4, 'a third publication');
    } finally {
      c.ws.close();
    }
  });

  await t.test('?since= resumes: missed publications once and in order, then live', async () => {
    const first = await publish(srv, 'resume', { n: 1 });
    for (let n = 2; n <= 5; n++) await publish(srv, 'resume', { n });
    const c = await plainWs(srv, `channel=resume&channel=live:z&since=${first.epoch}:${first.offset},0`);
    try {
      await publish(srv, 'resume', { n: 6 });
      await waitFor(() => c.messages.length >= 6, 'subscribed + 5 publications');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.messages[0].type, 'subscribed');
      assert.equal(c.messages[0].channels[0].offset, first.offset);  // where it resumes from
      assert.deepEqual(c.messages.slice(1).map((m) => m.data.n), [2, 3, 4, 5, 6]);
    } finally {
      c.ws.close();
    }
  });

  await t.test('an unrecoverable position is an explicit reset message, then live', async () => {
    const p = await publish(srv, 'stale', {});
    const c = await plainWs(srv, 'channel=stale&since=gone:1');
    try {
      await waitFor(() => c.messages.length >= 2, 'subscribed + reset');
      assert.deepEqual(c.messages[1], {
        type: 'reset', channel: 'stale', recovered: false, epoch: p.epoch, offset: p.offset,
        reason: c.messages[1].reason,
      });
      assert.match(c.messages[1].reason, /epoch/);
      const live = await publish(srv, 'stale', { live: true });
      await waitFor(() => c.messages.length >= 3, 'a live publication');
      assert.deepEqual(c.messages[2], { channel: 'stale', offset: live.offset, data: { live: true } });
    } finally {
      c.ws.close();
    }
  });

  await t.test('refusals are HTTP answers before the upgrade', async () => {
    for (const [query, status] of [['', 400], ['channel=members:x', 403], ['channel=a&since=bad', 400],
      ['channel=a&token=x.y.z', 401]]) {
      const e = await plainWs(srv, query).then(() => null, (err) => err);
      assert.ok(e, `${query} was accepted`);
      assert.equal(e.status, status, query);
      assert.equal(JSON.parse(e.body).error.code, status);
    }
  });
});
