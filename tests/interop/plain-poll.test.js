// The plain long-poll endpoint GET /poll against the real binary with raw
// HTTP: an immediate answer with timeout=0, missed publications after
// ?since=, a waiting poll answered by the next publication, the timeout, the
// explicit reset, and the refusals.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer, request } = require('./lib/server');
const plain = require('./lib/plain');
const { waitFor } = plain;
const writeConfig = (text) => plain.writeConfig(text, 'sb-plain-poll-');
const publish = (srv, channel, data) => plain.publish(srv, KEY, channel, data);

const KEY = 'plain-poll-key';
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
`;



async function poll(srv, query) {
  const t0 = Date.now();
  const r = await request(`${srv.url}/poll?${query}`);
  return { ...r, ms: Date.now() - t0, json: r.status === 200 ? JSON.parse(r.body) : JSON.parse(r.body) };
}

test('plain long-poll endpoint', async (t) => {
  const srv = await startServer({ args: ['--config', writeConfig(CONFIG)] });
  t.after(() => srv.stop());

  await t.test('timeout=0 answers at once with the current position', async () => {
    const p = await publish(srv, 'p1', { a: 1 });
    const r = await poll(srv, 'channel=p1&channel=live:x&timeout=0');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers.connection, 'close');
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
    assert.deepEqual(r.json, { publications: [], position: `${p.epoch}:${p.offset},0` });
  });

  await t.test('?since= answers the missed publications at once, in order', async () => {
    const first = await publish(srv, 'p2', { n: 1 });
    const second = await publish(srv, 'p2', { n: 2 });
    const third = await publish(srv, 'p2', { n: 3 });
    const r = await poll(srv, `channel=p2&since=${first.epoch}:${first.offset}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      publications: [
        { channel: 'p2', offset: second.offset, data: { n: 2 } },
        { channel: 'p2', offset: third.offset, data: { n: 3 } },
      ],
      position: `${third.epoch}:${third.offset}`,
    });
    assert.ok(r.ms < 2000, `took ${r.ms} ms`);
  });

  await t.test('a waiting poll is answered by the next publication', async () => {
    const top = await publish(srv, 'p3', { n: 0 });
    const pending = poll(srv, `channel=p3&channel=live:y&since=${top.epoch}:${top.offset},0&timeout=10`);
    await new Promise((r) => setTimeout(r, 300));
    await publish(srv, 'live:y', { tick: 1 });
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      publications: [{ channel: 'live:y', offset: 0, data: { tick: 1 } }],
      position: `${top.epoch}:${top.offset},0`,
    });
    assert.ok(r.ms >= 250 && r.ms < 5000, `took ${r.ms} ms`);
  });

  await t.test('the timeout answers an empty list', async () => {
    const top = await publish(srv, 'p4', {});
    const r = await poll(srv, `channel=p4&since=${top.epoch}:${top.offset}&timeout=1`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { publications: [], position: `${top.epoch}:${top.offset}` });
    assert.ok(r.ms >= 900 && r.ms < 4000, `took ${r.ms} ms`);
  });

  await t.test('a stale position says so and gives the current one', async () => {
    const top = await publish(srv, 'p5', {});
    const r = await poll(srv, 'channel=p5&since=old:1&timeout=0');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.publications, []);
    assert.equal(r.json.position, `${top.epoch}:${top.offset}`);
    assert.equal(r.json.resets.length, 1);
    assert.equal(r.json.resets[0].channel, 'p5');
    assert.equal(r.json.resets[0].recovered, false);
    assert.equal(r.json.resets[0].epoch, top.epoch);
    assert.match(r.json.resets[0].reason, /epoch/);
  });

  await t.test('refusals name the problem', async () => {
    for (const [query, status, message] of [
      ['channel=a&timeout=61', 400, /timeout/],
      ['channel=a&timeout=x', 400, /timeout/],
      ['timeout=0', 400, /missing channel/],
      ['channel=a&since=a:1,b:2', 400, /bad since/],
    ]) {
      const r = await poll(srv, query);
      assert.equal(r.status, status, query);
      assert.match(r.json.error.message, message, query);
    }
  });
});
