// web/client/switchboard-plain.js in Debian's Chromium (playwright-core),
// loaded as the server serves it (/client/switchboard-plain.js, no build
// step), against the real binary:
// - it connects over the browser's WebSocket;
// - with the WebSocket endpoint answering 404 it falls back to the native
//   EventSource, and with WebSocket failing and EventSource missing, to
//   long-polling;
// - on each transport, while a publisher sends numbered publications, the
//   server API disconnects the user three times: the client reports
//   reconnecting with its delay, resumes, and the page gets every
//   publication exactly once, in order.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { sleep, waitFor, cleanupStack, connectionToken, startCentrifugo, api, apiDisconnect } = require('./lib/centrifuge');

const CHROMIUM = '/usr/bin/chromium';
const skip = process.env.SB_SKIP_BROWSER ? 'SB_SKIP_BROWSER is set' :
  (!fs.existsSync(CHROMIUM) ? 'Debian chromium is not installed' : false);

const NAMESPACES = [
  { name: 'chat', presence: true, history_size: 300, history_ttl: '300s', allow_subscribe_for_client: true,
    allow_publish_for_client: true, allow_presence_for_subscriber: true },
];

async function launch() {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// Opens a page on the server's origin and starts a PlainClient in it with
// `options` (JSON) and the page-side tweaks `stub` names. The page records
// what the client reports in window.log.
async function startInPage(browser, srv, options, stub = {}) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  await page.goto(`${srv.url}/health`);
  await page.evaluate(async ({ options, stub }) => {
    if (stub.failingWebSocket) {
      // A WebSocket that never opens (as behind a proxy that blocks it).
      window.WebSocket = class BlockedWebSocket {
        constructor() { setTimeout(() => { if (this.onerror) this.onerror({}); if (this.onclose) this.onclose({ code: 1006, reason: '' }); }, 10); }
        close() {}
      };
    }
    if (stub.noEventSource) window.EventSource = undefined;
    const { PlainClient } = await import('/client/switchboard-plain.js');
    const log = { states: [], subscribed: [], pubs: [], resets: [], errors: [] };
    const client = new PlainClient({ ...options });
    client.on('state', (s) => log.states.push(s));
    client.on('subscribed', (s) => log.subscribed.push(s));
    client.on('publication', (p) => log.pubs.push(p));
    client.on('reset', (r) => log.resets.push(r));
    client.on('error', (e) => log.errors.push(e));
    window.log = log;
    window.client = client;
    client.connect();
  }, { options, stub });
  return page;
}

const logOf = (page) => page.evaluate(() => window.log);
const stateOf = (page) => page.evaluate(() => ({ state: window.client.state, transport: window.client.transport }));

async function waitConnected(page, label) {
  return waitFor(async () => (await stateOf(page)).state === 'connected',
    { timeout: 10000, label: `${label}: connected`, describe: () => 'see window.log' });
}

test('plain client module in Chromium', { skip, timeout: 120000 }, async (t) => {
  const defer = cleanupStack(t);
  const srv = await startCentrifugo({ namespaces: NAMESPACES });
  defer(() => srv.stop());
  const browser = await launch();
  defer(() => browser.close());

  await t.test('served as a JavaScript module', async () => {
    const r = await fetch(`${srv.url}/client/switchboard-plain.js`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/javascript/);
    assert.match(await r.text(), /export class PlainClient/);
  });

  const cases = [
    { name: 'websocket', options: {}, stub: {}, expect: 'websocket', failed: [] },
    { name: 'WebSocket endpoint answers 404 -> SSE', options: { endpoints: { websocket: '/no-such-ws' } }, stub: {},
      expect: 'sse', failed: ['websocket'] },
    { name: 'WebSocket blocked, no EventSource -> poll', options: { pollTimeout: 2 }, stub: { failingWebSocket: true, noEventSource: true },
      expect: 'poll', failed: ['websocket', 'sse'] },
  ];
  for (const c of cases) {
    await t.test(`${c.name}: connects, then resumes after API disconnects with every publication once`, async () => {
      const user = `browser-${c.expect}`;
      const channel = `chat:browser-${c.expect}`;
      const page = await startInPage(browser, srv, {
        url: srv.url, channels: [channel], token: connectionToken(user),
        minReconnectDelay: 200, maxReconnectDelay: 1000, ...c.options,
      }, c.stub);
      defer(() => page.close());
      await waitConnected(page, c.name);
      let log = await logOf(page);
      assert.equal((await stateOf(page)).transport, c.expect);
      assert.deepEqual(log.states.map((s) => s.state === 'connecting' ? s.transport : s.state),
        [...c.failed, c.expect, 'connected']);
      assert.deepEqual(log.errors.map((e) => e.transport), c.failed);
      assert.equal(log.subscribed.length, 1);
      assert.equal(log.subscribed[0].resumed, false);

      const total = 60;
      const publisher = (async () => {
        for (let n = 1; n <= total; n++) {
          await api(srv, 'publish', { channel, data: { n } });
          await sleep(25);
        }
      })();
      // Each disconnect waits for the previous reconnect, so all three hit a stream.
      for (let i = 1; i <= 3; i++) {
        await sleep(300);
        await apiDisconnect(srv, user);
        if (c.expect !== 'poll') {
          await waitFor(async () => (await logOf(page)).states.filter((s) => s.state === 'connected').length === i + 1,
            { timeout: 5000, label: `reconnect ${i}` });
        }
      }
      await publisher;
      await waitFor(async () => (await logOf(page)).pubs.length >= total,
        { timeout: 15000, label: `${c.name}: ${total} publications` });
      await sleep(300);  // a duplicate would arrive about now
      log = await logOf(page);
      assert.deepEqual(log.pubs.map((p) => p.data.n), Array.from({ length: total }, (_, i) => i + 1),
        'every publication exactly once, in order');
      assert.deepEqual(log.resets, []);
      if (c.expect !== 'poll') {
        // Streams are closed by the server (3011) and come back through the backoff.
        const reconnecting = log.states.filter((s) => s.state === 'reconnecting');
        assert.ok(reconnecting.length >= 3, JSON.stringify(log.states));
        for (const r of reconnecting) {
          assert.ok(Number.isInteger(r.delay) && r.delay >= 200 && r.delay <= 1000, `delay ${r.delay}`);
          assert.equal(r.reason, 'force reconnect');
        }
        const resumed = log.subscribed.filter((s) => s.resumed);
        assert.ok(resumed.length >= 3);
        assert.ok(resumed.every((s) => s.channels[0].recovered === true));
        // The best transport that worked is where every round starts.
        const tried = log.states.filter((s) => s.state === 'connecting').slice(c.failed.length + 1).map((s) => s.transport);
        assert.ok(tried.every((x) => x === c.expect), `reconnects stay on ${c.expect}: ${tried}`);
      }
      assert.equal((await stateOf(page)).state, 'connected');
      await page.evaluate(() => window.client.close());
      assert.equal((await stateOf(page)).state, 'disconnected');
      assert.deepEqual(page.errors, []);
    });
  }
});
