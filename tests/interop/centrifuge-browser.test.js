// The official `centrifuge` SDK inside Debian's Chromium (driven by
// playwright-core), on the browser's native WebSocket, against the real
// switchboard binary. The SDK is bundled from node_modules by esbuild at test
// time (no CDN) and served to the page by a loopback HTTP server of the test.
// Scenario: connect with a token, subscribe, an API publication, presence
// (with a Node SDK peer), history, a publication from the page to the peer,
// and recovery of every publication across a forced reconnect (3011).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { bundlePage, servePage, launch, skip } = require('./lib/sdk-page');
const {
  sleep, waitFor, recordEvents, cleanupStack, connectionToken, startCentrifugo, api, apiDisconnect,
  newClient, connectClient, nextEvent,
} = require('./lib/centrifuge');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// live: recovery forced by the server (the page does not ask for it).
const NAMESPACES = [{
  name: 'live', presence: true, join_leave: true, history_size: 500, history_ttl: '300s', force_recovery: true,
  allow_subscribe_for_client: true, allow_publish_for_subscriber: true, allow_presence_for_subscriber: true,
  allow_history_for_subscriber: true,
}];

test('centrifuge SDK in Chromium', { skip }, async (t) => {
  const bundle = await bundlePage();
  assert.ok(bundle.length > 10000, 'the SDK was bundled');
  assert.doesNotMatch(bundle, /require\(["']ws["']\)/, 'no Node WebSocket in the browser bundle');

  // Cleanups run in reverse: page client, browser, switchboard, page server.
  const defer = cleanupStack(t);
  // The page and the bundle come from a tiny loopback HTTP server of the
  // test's own (Chromium's local-network-access checks block a page that was
  // not fetched from a local address from opening ws://127.0.0.1).
  const pageServer = await servePage(bundle);
  defer(() => new Promise((resolve) => { pageServer.closeAllConnections(); pageServer.close(resolve); }));
  // The page is another origin than switchboard's port: allow it by name.
  const pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
  const srv = await startCentrifugo({ namespaces: NAMESPACES, env: { SWITCHBOARD_CLIENT_ALLOWED_ORIGINS: pageOrigin } });
  defer(() => srv.stop());
  const browser = await launch();
  defer(() => browser.close());

  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${pageOrigin}/`);
  await page.waitForFunction(() => window.sbCentrifuge !== undefined, null, { timeout: 5000 });
  assert.equal(await page.evaluate(() => window.sbCentrifuge.nativeWebSocket), true);
  defer(() => page.evaluate(() => window.sbCentrifuge.disconnect()).catch(() => {}));

  const channel = 'live:room';
  const user = 'browser-user';
  const token = connectionToken(user, { info: { name: 'Chromium' } });

  // Connect and subscribe.
  const connected = await page.evaluate(([e, tk]) => window.sbCentrifuge.connect(e, tk), [srv.endpoint, token]);
  assert.match(connected.client, UUID);
  assert.equal(connected.transport, 'websocket');
  const first = await page.evaluate(([ch]) => window.sbCentrifuge.subscribe(ch, { joinLeave: true }), [channel]);
  assert.equal(first.recoverable, true, 'force_recovery makes the subscription recoverable');
  assert.equal(first.wasRecovering, false);
  const epoch = first.streamPosition.epoch;
  assert.ok(epoch);

  const pubsInPage = () => page.evaluate(([ch]) => window.sbCentrifuge.events(ch, 'publication'), [channel]);

  // A publication from the HTTP API.
  const data0 = { text: 'héllo from the API ✓ 𝄞', n: -1, nested: { ok: true, list: [1, null, 'x'] } };
  const r0 = await api(srv, 'publish', { channel, data: data0 });
  assert.equal(r0.offset, 1);
  assert.equal(r0.epoch, epoch);
  await waitFor(async () => (await pubsInPage()).length === 1, { label: 'API publication in the page' });
  const p0 = (await pubsInPage())[0];
  assert.deepEqual(p0.data, data0);
  assert.equal(p0.offset, 1);

  // A Node SDK peer in the same channel: join, presence, publications both ways.
  const peer = newClient(srv, { token: connectionToken('node-peer', { info: { name: 'Node' } }) });
  defer(() => peer.disconnect());
  const peerCtx = await connectClient(peer);
  const peerSub = peer.newSubscription(channel);
  const peerLog = recordEvents(peerSub, ['publication']);
  const peerSubscribed = nextEvent(peerSub, 'subscribed');
  peerSub.subscribe();
  await peerSubscribed;
  await waitFor(async () => (await page.evaluate(([ch]) => window.sbCentrifuge.events(ch, 'join'), [channel]))
    .some((j) => j.info.client === peerCtx.client), { label: "the peer's join in the page" });

  const presence = await page.evaluate(([ch]) => window.sbCentrifuge.presence(ch), [channel]);
  assert.deepEqual(Object.keys(presence.clients).sort(), [connected.client, peerCtx.client].sort());
  assert.equal(presence.clients[connected.client].user, user);
  assert.deepEqual(presence.clients[connected.client].connInfo, { name: 'Chromium' });
  assert.equal(presence.clients[peerCtx.client].user, 'node-peer');
  assert.deepEqual(await page.evaluate(([ch]) => window.sbCentrifuge.presenceStats(ch), [channel]),
    { numClients: 2, numUsers: 2 });

  await page.evaluate(([ch]) => window.sbCentrifuge.publish(ch, { from: 'chromium', text: 'hi node ✓' }), [channel]);
  await waitFor(() => peerLog.of('publication').length === 1, { label: "the page's publication at the peer" });
  const atPeer = peerLog.of('publication')[0];
  assert.deepEqual(atPeer.data, { from: 'chromium', text: 'hi node ✓' });
  assert.equal(atPeer.info.user, user);
  assert.equal(atPeer.info.client, connected.client);
  assert.equal(atPeer.offset, 2);

  // History as seen from the page.
  const history = await page.evaluate(([ch]) => window.sbCentrifuge.history(ch, { limit: 10 }), [channel]);
  assert.deepEqual(history.publications.map((p) => p.offset), [1, 2]);
  assert.deepEqual(history.publications[0].data, data0);
  assert.equal(history.publications[1].info.user, user);
  assert.equal(history.offset, 2);
  assert.equal(history.epoch, epoch);
  const reversed = await page.evaluate(([ch]) => window.sbCentrifuge.history(ch, { limit: 1, reverse: true }), [channel]);
  assert.deepEqual(reversed.publications.map((p) => p.offset), [2]);

  // Recovery: publications every ~20 ms, the page's user disconnected with
  // 3011 in the middle; the page must see each exactly once, in order.
  const N = 80;
  const DISCONNECT_AT = 25;
  for (let i = 0; i < N; i++) {
    await api(srv, 'publish', { channel, data: { n: i } });
    if (i === DISCONNECT_AT) await apiDisconnect(srv, user, 3011, 'force reconnect');
    await sleep(20);
  }
  await waitFor(async () => (await pubsInPage()).length >= N + 2, {
    timeout: 10000, label: 'every publication in the page', describe: () => 'see the page log',
  });
  await sleep(200);
  const all = await pubsInPage();
  // The page's own publication (offset 2) came back to it as well.
  assert.deepEqual(all.slice(0, 2).map((p) => p.offset), [1, 2]);
  const numbers = all.slice(2).map((p) => p.data.n);
  assert.deepEqual(numbers, Array.from({ length: N }, (_, i) => i), 'every number exactly once, in order');
  assert.deepEqual(all.map((p) => p.offset), Array.from({ length: N + 2 }, (_, i) => i + 1));

  const connecting = await page.evaluate(() => window.sbCentrifuge.events('client', 'connecting'));
  assert.ok(connecting.some((c) => c.code === 3011 && c.reason === 'force reconnect'),
    `the page saw 3011: ${JSON.stringify(connecting)}`);
  const subscribedEvents = await page.evaluate(([ch]) => window.sbCentrifuge.events(ch, 'subscribed'), [channel]);
  assert.equal(subscribedEvents.length, 2);
  assert.equal(subscribedEvents[1].wasRecovering, true);
  assert.equal(subscribedEvents[1].recovered, true);
  assert.equal(subscribedEvents[1].streamPosition.epoch, epoch);
  assert.equal(await page.evaluate(() => window.sbCentrifuge.state()), 'connected');
  // The peer was not disconnected and saw everything live.
  assert.equal(peerLog.of('publication').length, 1 + N);

  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  await page.close();
});
