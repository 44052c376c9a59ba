// The demo chat that `make run` serves (web/, config/demo.toml), in Debian's
// Chromium driven by playwright-core, against the real binary started with
// config/demo.toml on a free loopback port.
// - config/demo.toml passes `switchboard checkconfig`;
// - POST /demo/token: tokens for a nickname, 400 for bad ones, absent when off;
// - two browser contexts chat in one room: messages (rendered as text, never
//   HTML), presence names, join notices, the typing indicator and its expiry;
// - every connection is closed by the server with 3011 while a publisher
//   keeps sending numbered messages through the API: both pages say they are
//   reconnecting, then show every numbered message exactly once, in order;
// - the server is killed and started again on the same port (memory broker):
//   both pages say plainly that history was lost and show what the new
//   process has.
// The scenario runs with the SDK over WebSocket (the default), over its SSE
// and HTTP-streaming emulation (?transport=sse, http_stream), and with
// ?transport=plain (web/client/switchboard-plain.js on the plain endpoints).
// Screenshots go to tests/output/chat-*.png (chat-plain-*, chat-sse-*, chat-http-stream-*).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, startServer, runBinary, request } = require('./lib/server');
const { sleep, waitFor, cleanupStack } = require('./lib/centrifuge');

const CHROMIUM = '/usr/bin/chromium';
const skip = process.env.SB_SKIP_BROWSER ? 'SB_SKIP_BROWSER is set' :
  (!fs.existsSync(CHROMIUM) ? 'Debian chromium is not installed' : false);

const DEMO_CONFIG = path.join(ROOT, 'config/demo.toml');
const OUT = path.join(ROOT, 'tests/output');
const API_KEY = 'chat-test-api-key';

// The secret config/demo.toml signs demo tokens with.
function demoSecret() {
  const m = fs.readFileSync(DEMO_CONFIG, 'utf8').match(/^token_hmac_secret\s*=\s*"([^"]+)"/m);
  assert.ok(m, 'config/demo.toml sets client.token_hmac_secret');
  return m[1];
}

function startDemo({ port = 0, env = {} } = {}) {
  return startServer({ args: ['--config', DEMO_CONFIG], port, env: { SWITCHBOARD_API_KEY: API_KEY, ...env } });
}

async function api(srv, method, body) {
  const r = await request(`${srv.url}/api/${method}`, {
    method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const json = JSON.parse(r.body);
  if (r.status !== 200 || json.error) throw new Error(`/api/${method} -> ${r.status} ${r.body}`);
  return json.result;
}

function postToken(srv, body) {
  return request(`${srv.url}/demo/token`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function decodeJwt(token) {
  const [h, p, s] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(p, 'base64url')), signature: s };
}

test('config/demo.toml passes checkconfig', async () => {
  const r = await runBinary(['checkconfig', '--config', DEMO_CONFIG]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /configuration OK/);
  // The token endpoint refuses to start without a secret to sign with.
  const bad = await runBinary(['checkconfig', '--config', DEMO_CONFIG], { SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET: '' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /demo\.token_endpoint is on but client\.token_hmac_secret is not set/);
  const serve = await runBinary(['--config', DEMO_CONFIG],
    { SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET: '', SWITCHBOARD_SERVER_LISTEN: '127.0.0.1:0' });
  assert.equal(serve.code, 2, 'the server does not start either');
  assert.match(serve.stderr, /demo\.token_endpoint is on but client\.token_hmac_secret is not set/);
});

test('POST /demo/token', async (t) => {
  const srv = await startDemo();
  t.after(() => srv.stop());
  assert.match(srv.stderr, /demo\.token_endpoint is on.*never for production/);

  const before = Math.floor(Date.now() / 1000);
  const r = await postToken(srv, { name: '  Zoë 𝄞  ' });
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(r.headers['cache-control'], 'no-store');
  const body = JSON.parse(r.body);
  assert.equal(body.name, 'Zoë 𝄞');
  const { header, claims, signature } = decodeJwt(body.token);
  assert.equal(header.alg, 'HS256');
  const expected = crypto.createHmac('sha256', demoSecret())
    .update(body.token.split('.').slice(0, 2).join('.')).digest('base64url');
  assert.equal(signature, expected, 'signed with the demo secret');
  assert.equal(claims.sub, body.user);
  assert.deepEqual(claims.info, { name: 'Zoë 𝄞' });
  assert.ok(claims.exp - before >= 86400 && claims.exp - before <= 86400 + 5, `exp ${claims.exp} is 24 h away`);
  const other = JSON.parse((await postToken(srv, { name: 'Zoë 𝄞' })).body);
  assert.notEqual(other.user, body.user, 'every token gets a fresh user id');

  for (const [bad, message] of [
    [{ name: '' }, /name must not be empty/],
    [{ name: 'x'.repeat(33) }, /at most 32 characters/],
    [{ name: 'a\u0007b' }, /control characters/],
    [{ nick: 'Ann' }, /name required/],
    [{ name: 7 }, /name must be a string/],
    ['{"name":', /body must be a JSON object/],
  ]) {
    const res = await postToken(srv, bad);
    assert.equal(res.status, 400, `${JSON.stringify(bad)} -> ${res.body}`);
    assert.match(JSON.parse(res.body).error.message, message);
  }
  const get = await request(`${srv.url}/demo/token`);
  assert.equal(get.status, 405);

  // Off by default: a server without [demo] token_endpoint has no such route
  // (the POST falls through to the static files, which take only GET/HEAD).
  const plain = await startServer({ env: { SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET: 'x' } });
  t.after(() => plain.stop());
  const off = await postToken(plain, { name: 'Ann' });
  assert.equal(off.status, 405);
  assert.match(JSON.parse(off.body).error.message, /static files/);
  assert.doesNotMatch(plain.stderr, /demo\.token_endpoint/);
});

async function launch() {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// ---------------------------------------------------------------- page helpers

const bannerOf = (page) => page.evaluate(() => ({
  state: document.getElementById('banner').dataset.state, text: document.getElementById('banner-text').textContent,
}));
const bannerLog = (page) => page.evaluate(() => window.sbChat.banner.map((b) => b.state));
const messagesOf = (page) => page.$$eval('#timeline li.msg', (lis) => lis.map((li) => ({
  author: li.querySelector('.author').textContent,
  text: li.querySelector('.text').textContent,
  mine: li.classList.contains('mine'),
})));
const noticesOf = (page) => page.$$eval('#timeline li.notice', (lis) => lis.map((li) => li.textContent));
const peopleOf = (page) => page.$$eval('#people .person-name', (els) => els.map((e) => e.textContent).sort());
const typingOf = (page) => page.$eval('#typing', (e) => e.textContent);

async function waitPage(page, cond, label, timeout = 10000) {
  return waitFor(cond, { timeout, interval: 50, label: `${label} (${page.sbName})` });
}

// Opens the chat in a fresh browser context and joins `room` as `name`
// (with `?transport=` when `transport` is set). Resolves with the page and
// the user id the server gave it.
async function joinChat(browser, srv, { name, room, viewport, pageErrors, transport }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.sbName = name;
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e}`));
  await page.goto(`${srv.url}/?room=${room}${transport ? `&transport=${transport}` : ''}`);
  await page.waitForFunction(() => window.sbChat !== undefined, null, { timeout: 5000 });
  assert.equal(await page.inputValue('#room'), room, 'the room comes from the URL');
  await page.fill('#nickname', name);
  const tokenResponse = page.waitForResponse((r) => r.url().endsWith('/demo/token'));
  await page.click('#join-button');
  const token = await (await tokenResponse).json();
  assert.equal(token.name, name);
  await waitPage(page, async () => (await bannerOf(page)).state === 'connected', 'connected');
  return { page, context, user: token.user };
}

// The two-person scenario with `transport` (null = the page's default, the
// SDK over WebSocket); screenshots are named `<shot>-<what>.png`.
async function chatScenario(t, { transport, shot, connectedText }) {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/bundle-web')], { stdio: 'inherit' });
  fs.mkdirSync(OUT, { recursive: true });
  const defer = cleanupStack(t);
  let srv = await startDemo();
  defer(() => srv.stop());
  const browser = await launch();
  defer(() => browser.close());
  const pageErrors = [];
  const room = 'interop-room';
  const channel = `chat:${room}`;

  // ---- two people join
  const ann = await joinChat(browser, srv, { name: 'Ann', room, viewport: { width: 1100, height: 720 }, pageErrors, transport });
  const bob = await joinChat(browser, srv, { name: 'Bob <b>', room, viewport: { width: 400, height: 760 }, pageErrors, transport });
  const pages = [ann.page, bob.page];
  for (const page of pages) assert.match((await bannerOf(page)).text, connectedText);
  for (const page of pages) {
    await waitPage(page, async () => (await peopleOf(page)).join('|') === 'Ann|Bob <b>', 'both names in presence');
  }
  await waitPage(ann.page, async () => (await noticesOf(ann.page)).includes('Bob <b> joined'), "Bob's join notice");
  assert.equal(await ann.page.textContent('#people-count'), '2');

  // ---- typing: Bob sees Ann typing, and it expires after ~3 s (timed in the page)
  await bob.page.evaluate(() => {
    window.typingLog = [];
    const el = document.getElementById('typing');
    new MutationObserver(() => window.typingLog.push({ text: el.textContent, at: performance.now() }))
      .observe(el, { childList: true, characterData: true, subtree: true });
  });
  await ann.page.type('#message', 'Hello from Ann', { delay: 20 });
  await waitPage(bob.page, async () => (await typingOf(bob.page)) === 'Ann is typing…', 'typing indicator');
  await waitPage(bob.page, async () => (await typingOf(bob.page)) === '', 'typing indicator expired', 6000);
  const typingLog = await bob.page.evaluate(() => window.typingLog);
  const shown = typingLog.find((e) => e.text === 'Ann is typing…');
  const cleared = typingLog.find((e) => e.text === '' && e.at > shown.at);
  const shownFor = cleared.at - shown.at;
  assert.ok(shownFor >= 2500 && shownFor <= 4500, `the typing indicator stayed ${Math.round(shownFor)} ms (~3 s)`);
  assert.equal(await typingOf(ann.page), '', 'nobody sees their own typing');

  // ---- messages both ways, user text as text
  await ann.page.press('#message', 'Enter');
  await bob.page.fill('#message', 'Hi Ann <img src=x onerror="window.pwned=1"> & <b>bold</b>');
  await bob.page.click('#send');
  const expected = [
    { author: 'Ann', text: 'Hello from Ann' },
    { author: 'Bob <b>', text: 'Hi Ann <img src=x onerror="window.pwned=1"> & <b>bold</b>' },
  ];
  for (const page of pages) {
    await waitPage(page, async () => (await messagesOf(page)).length === 2, 'two messages');
    const got = await messagesOf(page);
    assert.deepEqual(got.map(({ author, text }) => ({ author, text })), expected);
    assert.deepEqual(got.map((m) => m.mine), page === ann.page ? [true, false] : [false, true]);
    assert.equal(await page.$$eval('#timeline img, #timeline b, #people b', (els) => els.length), 0,
      'user text never becomes HTML');
    assert.equal(await page.evaluate(() => window.pwned), undefined);
  }
  assert.equal(await ann.page.inputValue('#message'), '', 'the composer is cleared after sending');
  await ann.page.screenshot({ path: path.join(OUT, `${shot}-desktop.png`) });
  await bob.page.screenshot({ path: path.join(OUT, `${shot}-mobile.png`) });

  // ---- the server closes every connection (3011, reconnect) while a publisher sends numbered messages
  const total = 60;
  const publisher = (async () => {
    for (let n = 1; n <= total; n++) {
      await api(srv, 'publish', { channel, data: { text: `numbered ${n}`, from: 'publisher' } });
      await sleep(40);
    }
  })();
  await sleep(400);
  for (const who of [ann, bob]) {
    await api(srv, 'disconnect', { user: who.user, disconnect: { code: 3011, reason: 'force reconnect' } });
  }
  for (const page of pages) {
    await waitPage(page, async () => (await bannerLog(page)).includes('reconnecting'), 'the reconnecting banner');
  }
  await publisher;
  const numbered = Array.from({ length: total }, (_, i) => `numbered ${i + 1}`);
  for (const page of pages) {
    await waitPage(page, async () => (await messagesOf(page)).filter((m) => m.author === 'publisher').length >= total,
      'every numbered message', 15000);
    await sleep(300);  // a duplicate would arrive about now
    const got = (await messagesOf(page)).filter((m) => m.author === 'publisher').map((m) => m.text);
    assert.deepEqual(got, numbered, 'every numbered message exactly once, in order');
    const log = await bannerLog(page);
    const recovered = log.lastIndexOf('recovered');
    assert.ok(recovered > log.lastIndexOf('reconnecting'), `recovered after reconnecting: ${log.join(' → ')}`);
    const { text } = (await page.evaluate(() => window.sbChat.banner)).filter((b) => b.state === 'recovered').pop();
    const k = Number(text.match(/recovered (\d+) missed message/)[1]);
    assert.ok(k >= 1 && k < total, `the banner counts the recovered messages: "${text}"`);
    await waitPage(page, async () => (await peopleOf(page)).join('|') === 'Ann|Bob <b>', 'presence after reconnect');
    assert.deepEqual((await messagesOf(page)).slice(0, 2).map((m) => m.text), expected.map((m) => m.text));
  }
  await ann.page.screenshot({ path: path.join(OUT, `${shot}-recovered.png`) });

  // ---- the server process dies and a new one starts on the same port: history is gone
  const port = srv.port;
  srv.child.kill('SIGKILL');
  await srv.exited;
  for (const page of pages) {
    await waitPage(page, async () => (await bannerOf(page)).state === 'reconnecting', 'reconnecting while the server is down');
    assert.match((await bannerOf(page)).text, /^Connection lost \(.+\): reconnecting( in \d+ s)?…$/);
  }
  await ann.page.screenshot({ path: path.join(OUT, `${shot}-reconnecting.png`) });
  srv = await startDemo({ port });
  for (const page of pages) {
    await waitPage(page, async () => (await bannerOf(page)).state === 'lost', 'the history-lost banner', 20000);
    assert.equal((await bannerOf(page)).text, 'History was lost: the server restarted. Showing what it has now.');
    assert.ok((await noticesOf(page)).includes('History was lost: the server restarted. Showing what it has now.'));
    await waitPage(page, async () => (await messagesOf(page)).length === 0, 'the old messages are gone');
    await waitPage(page, async () => (await peopleOf(page)).join('|') === 'Ann|Bob <b>', 'presence on the new server');
  }
  await api(srv, 'publish', { channel, data: { text: 'first on the new server', from: 'publisher' } });
  await ann.page.fill('#message', 'Ann is back');
  await ann.page.press('#message', 'Enter');
  for (const page of pages) {
    await waitPage(page, async () => (await messagesOf(page)).length === 2, 'the new server\'s messages');
    assert.deepEqual((await messagesOf(page)).map((m) => m.text), ['first on the new server', 'Ann is back']);
  }
  const history = await api(srv, 'history', { channel, limit: -1 });
  assert.equal(history.publications.length, 2, 'the pages show exactly what the new process has');
  await ann.page.screenshot({ path: path.join(OUT, `${shot}-restarted.png`) });
  await bob.page.screenshot({ path: path.join(OUT, `${shot}-restarted-mobile.png`) });

  assert.deepEqual(pageErrors, []);
}

test('demo chat in Chromium: two people, reconnects, a server restart', { skip, timeout: 120000 },
  (t) => chatScenario(t, { transport: null, shot: 'chat', connectedText: /^Connected over WebSocket$/ }));

test('demo chat in Chromium over the plain endpoints (?transport=plain)', { skip, timeout: 120000 },
  (t) => chatScenario(t, { transport: 'plain', shot: 'chat-plain', connectedText: /^Connected over plain WebSocket$/ }));

test('demo chat in Chromium over SDK SSE emulation (?transport=sse)', { skip, timeout: 120000 },
  (t) => chatScenario(t, { transport: 'sse', shot: 'chat-sse', connectedText: /^Connected over SSE$/ }));

test('demo chat in Chromium over SDK HTTP streaming (?transport=http_stream)', { skip, timeout: 120000 },
  (t) => chatScenario(t, { transport: 'http_stream', shot: 'chat-http-stream', connectedText: /^Connected over HTTP streaming$/ }));

test('demo chat transports: an unknown one is refused, SSE connects', { skip, timeout: 60000 }, async (t) => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/bundle-web')], { stdio: 'inherit' });
  const defer = cleanupStack(t);
  const srv = await startDemo();
  defer(() => srv.stop());
  const browser = await launch();
  defer(() => browser.close());

  const unknown = await browser.newPage();
  await unknown.goto(`${srv.url}/?transport=pigeon`);
  await unknown.waitForFunction(() => window.sbChat !== undefined);
  const refusal = 'Unknown transport "pigeon": use websocket, http_stream, sse or plain.';
  assert.deepEqual(await bannerOf(unknown), { state: 'error', text: refusal });
  assert.equal(await unknown.getAttribute('#transports a[href="?transport=plain"]', 'href'), '?transport=plain');
  await unknown.fill('#nickname', 'Pat');
  await unknown.click('#join-button');
  assert.equal(await unknown.textContent('#join-error'), refusal);
  assert.equal(await unknown.isVisible('#chat-view'), false, 'no chat without a transport');

  // SSE (the emulation transport with /emulation) connects.
  const sse = await browser.newPage();
  await sse.goto(`${srv.url}/?transport=sse`);
  await sse.waitForFunction(() => window.sbChat !== undefined);
  await sse.fill('#nickname', 'Sam');
  await sse.click('#join-button');
  sse.sbName = 'Sam';
  const end = await waitPage(sse, async () => {
    const b = await bannerOf(sse);
    return b.state === 'connected' || b.state === 'error' ? b : null;
  }, 'SSE connected or failed', 15000);
  assert.equal(end.text, 'Connected over SSE');
  await sse.screenshot({ path: path.join(OUT, 'chat-sse.png') });
});
