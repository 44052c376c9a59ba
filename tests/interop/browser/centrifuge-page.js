// Entry bundled by esbuild (from node_modules/centrifuge) for
// tests/interop/centrifuge-browser.test.js and injected into a page of the
// server's origin. The page uses Chromium's native WebSocket; it exposes a
// small harness on window.sbCentrifuge and logs every SDK event, in a
// JSON-safe form, for the test to read with page.evaluate.
import { Centrifuge } from 'centrifuge';

const log = [];
let client = null;
const subs = new Map();

const plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

function record(source, emitter, events) {
  for (const event of events) {
    emitter.on(event, (ctx) => log.push({ source, event, ctx: plain(ctx), at: Date.now() }));
  }
}

function nextEvent(emitter, event, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    const handler = (ctx) => {
      clearTimeout(timer);
      emitter.removeListener(event, handler);
      resolve(plain(ctx));
    };
    emitter.on(event, handler);
  });
}

function subscription(channel) {
  const sub = subs.get(channel);
  if (!sub) throw new Error(`no subscription to ${channel}`);
  return sub;
}

window.sbCentrifuge = {
  log,
  nativeWebSocket: typeof WebSocket === 'function',

  // Connects with `token` (`endpoint` may be a list of transports, with
  // `options` such as emulationEndpoint); resolves with the 'connected' context.
  async connect(endpoint, token, options = {}) {
    client = new Centrifuge(endpoint, {
      token, minReconnectDelay: 50, maxReconnectDelay: 300, timeout: 5000, ...options,
    });
    record('client', client, ['connecting', 'connected', 'disconnected', 'error']);
    const connected = nextEvent(client, 'connected', 5000);
    client.connect();
    return connected;
  },

  // Subscribes; resolves with the first 'subscribed' context.
  async subscribe(channel, options = {}) {
    const sub = client.newSubscription(channel, { minResubscribeDelay: 50, maxResubscribeDelay: 300, ...options });
    subs.set(channel, sub);
    record(channel, sub, ['subscribing', 'subscribed', 'unsubscribed', 'publication', 'join', 'leave', 'error']);
    const subscribed = nextEvent(sub, 'subscribed', 5000);
    sub.subscribe();
    return subscribed;
  },

  presence: async (channel) => plain(await subscription(channel).presence()),
  presenceStats: async (channel) => plain(await subscription(channel).presenceStats()),
  history: async (channel, opts) => plain(await subscription(channel).history(opts)),
  publish: async (channel, data) => plain(await subscription(channel).publish(data)),

  events(source, event) {
    return log.filter((e) => e.source === source && e.event === event).map((e) => e.ctx);
  },

  state: () => (client ? client.state : 'none'),

  disconnect() {
    if (client) client.disconnect();
  },
};
