// Debian Chromium's native WebSocket (driven by playwright-core) against the
// echo endpoint: text and binary round trips of every length class, with and
// without permessage-deflate, over ws:// and wss://.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, makeCertificate, ROOT } = require('./lib/server');

const CHROMIUM = '/usr/bin/chromium';
const skip = process.env.SB_SKIP_BROWSER ? 'SB_SKIP_BROWSER is set' :
  (!fs.existsSync(CHROMIUM) ? 'Debian chromium is not installed' : false);

async function launch() {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// Runs inside the page: echo every size as text and binary, report results.
async function pageEcho(page, wsUrl) {
  return page.evaluate(async (url) => {
    const sizes = [0, 125, 126, 65535, 65536, 1024 * 1024];
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('ws error')); });
    const next = () => new Promise((res) => { ws.onmessage = (ev) => res(ev.data); });
    const results = [];
    for (const size of sizes) {
      const unit = 'é✓abc';  // 8 bytes of UTF-8
      const text = unit.repeat(Math.floor(size / 8)) + 'x'.repeat(size % 8);
      let p = next();
      ws.send(text);
      const t = await p;
      results.push({ kind: 'text', size, ok: typeof t === 'string' && t === text });
      const bin = new Uint8Array(size);
      for (let i = 0; i < size; i++) bin[i] = (i * 31 + 7) & 0xff;
      p = next();
      ws.send(bin);
      const b = new Uint8Array(await p);
      let same = b.length === bin.length;
      for (let i = 0; same && i < b.length; i++) if (b[i] !== bin[i]) same = false;
      results.push({ kind: 'binary', size, ok: same });
    }
    const extensions = ws.extensions;
    const code = await new Promise((res) => { ws.onclose = (ev) => res(ev.code); ws.close(1000, 'done'); });
    return { results, extensions, code };
  }, wsUrl);
}

function checkResults(r, expectCompression) {
  for (const x of r.results) assert.ok(x.ok, `${x.kind} ${x.size} bytes did not round-trip`);
  assert.equal(r.results.length, 12);
  if (expectCompression) assert.match(r.extensions, /permessage-deflate/);
  else assert.equal(r.extensions, '');
  assert.equal(r.code, 1000);
}

test('Chromium native WebSocket', { skip }, async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const outDir = path.join(ROOT, 'tests/output');
  fs.mkdirSync(outDir, { recursive: true });
  const common = {
    SWITCHBOARD_DEBUG_ECHO_PATH: '/echo',
    SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE: String(2 * 1024 * 1024),
    SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT: String(16 * 1024 * 1024),
  };

  for (const compression of [false, true]) {
    await t.test(`ws:// ${compression ? 'with' : 'without'} permessage-deflate`, async () => {
      const srv = await startServer({ env: { ...common, SWITCHBOARD_WEBSOCKET_COMPRESSION: String(compression) } });
      try {
        const page = await browser.newPage();
        await page.goto(`${srv.url}/?echo=/echo`);
        const r = await pageEcho(page, `${srv.wsUrl}/echo`);
        checkResults(r, compression);
        await page.waitForFunction(() => document.getElementById('echo').textContent.startsWith('ok'));
        await page.screenshot({ path: path.join(outDir, `browser-echo-${compression ? 'deflate' : 'plain'}.png`) });
        await page.close();
      } finally {
        await srv.stop();
      }
    });
  }

  await t.test('wss:// with a self-signed certificate, with permessage-deflate', async () => {
    const { cert, key } = makeCertificate();
    const srv = await startServer({
      tls: true,
      env: { ...common, SWITCHBOARD_WEBSOCKET_COMPRESSION: 'true', SWITCHBOARD_SERVER_TLS_CERT: cert,
        SWITCHBOARD_SERVER_TLS_KEY: key },
    });
    try {
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await ctx.newPage();
      await page.goto(`${srv.url}/`);
      const r = await pageEcho(page, `${srv.wsUrl}/echo`);
      checkResults(r, true);
      await ctx.close();
    } finally {
      await srv.stop();
    }
  });
});
