// Group 0: the opening handshake (RFC 6455 §4.1, §4.2).
'use strict';
const crypto = require('node:crypto');
const { OP, fail, upgradeRequest, acceptFor, hasToken, frame } = require('../lib/client');

module.exports = (add) => {
  const key = () => crypto.randomBytes(16).toString('base64');

  // Sends a request built with upgradeRequest(opts) and checks the status.
  const expectStatus = (statuses, reqOpts, check) => async (t) => {
    const raw = upgradeRequest({ path: t.target.path, host: `${t.target.host}:${t.target.port}`, key: key(), ...reqOpts });
    const res = await t.http(raw);
    statuses = Array.isArray(statuses) ? statuses : [statuses];
    if (!statuses.includes(res.status)) fail(`expected HTTP ${statuses.join(' or ')}, got ${res.status} ${res.reason}`);
    if (res.status !== 101 && res.headers['sec-websocket-accept']) fail('error response carries Sec-WebSocket-Accept');
    if (check) await check(res);
  };

  const echoWorks = async (c) => {
    c.text('hello');
    await c.expectMessage(OP.TEXT, 'hello');
    await c.closeNormally();
  };

  add('0.1.1', 'valid handshake: 101, Upgrade/Connection tokens, correct Sec-WebSocket-Accept, echo works', async (t) => {
    const c = await t.open();
    await echoWorks(c);
  });
  add('0.1.2', 'Sec-WebSocket-Accept for the RFC 6455 §1.3 sample key', async (t) => {
    const c = await t.open({ key: 'dGhlIHNhbXBsZSBub25jZQ==' });
    if (c.response.headers['sec-websocket-accept'] !== 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=') fail(`got ${c.response.headers['sec-websocket-accept']}`);
    await echoWorks(c);
  });
  add('0.1.3', 'Connection: keep-alive, Upgrade is accepted', async (t) => {
    await echoWorks(await t.open({ headers: { Connection: 'keep-alive, Upgrade' } }));
  });
  add('0.1.4', 'Upgrade: WebSocket (mixed case) is accepted', async (t) => {
    await echoWorks(await t.open({ headers: { Upgrade: 'WebSocket' } }));
  });
  add('0.1.5', 'Upgrade: WEBSOCKET and Connection: UPGRADE (upper case) are accepted', async (t) => {
    await echoWorks(await t.open({ headers: { Upgrade: 'WEBSOCKET', Connection: 'UPGRADE' } }));
  });
  add('0.1.6', 'header names in lower case are accepted', async (t) => {
    const k = key();
    const raw = `GET ${t.target.path} HTTP/1.1\r\nhost: ${t.target.host}\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: ${k}\r\nsec-websocket-version: 13\r\n\r\n`;
    const res = await t.http(raw);
    if (res.status !== 101) fail(`expected 101, got ${res.status}`);
    if (res.headers['sec-websocket-accept'] !== acceptFor(k)) fail('wrong Sec-WebSocket-Accept');
  });
  add('0.1.7', 'handshake request sent one byte per write', async (t) => {
    await echoWorks(await t.open({ chunk: 1 }));
  });
  add('0.1.8', 'frames pipelined in the same write as the handshake request are echoed after the 101', async (t) => {
    const pipelined = Buffer.concat([frame({ opcode: OP.TEXT, payload: Buffer.from('early') }), frame({ opcode: OP.BINARY, payload: Buffer.from([1, 2, 3]) })]);
    const c = await t.open({ pipelined });
    await c.expectMessage(OP.TEXT, 'early');
    await c.expectMessage(OP.BINARY, Buffer.from([1, 2, 3]));
    await c.closeNormally();
  });
  add('0.1.9', 'extra whitespace around header values is accepted', async (t) => {
    await echoWorks(await t.open({ headers: { Upgrade: '  websocket  ', Connection: ' Upgrade ' } }));
  });
  add('0.1.10', 'unknown extension offered: no Sec-WebSocket-Extensions in the response', async (t) => {
    const c = await t.open({ extensions: 'x-unknown-ext; foo=1' });
    if (c.response.headers['sec-websocket-extensions']) fail(`got Sec-WebSocket-Extensions: ${c.response.headers['sec-websocket-extensions']}`);
    await echoWorks(c);
  });
  add('0.1.11', 'subprotocol offered to the echo endpoint: response names none or one that was offered', async (t) => {
    const c = await t.open({ headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' } });
    const p = c.response.headers['sec-websocket-protocol'];
    if (p !== undefined && !['chat', 'superchat'].includes(p)) fail(`server selected ${JSON.stringify(p)}`);
    await echoWorks(c);
  });
  add('0.1.12', 'Origin header from a browser is accepted by the echo endpoint', async (t) => {
    await echoWorks(await t.open({ headers: { Origin: 'http://example.com' } }));
  });

  // Bad keys.
  add('0.2.1', 'missing Sec-WebSocket-Key -> 400', expectStatus(400, { key: null }));
  add('0.2.2', 'empty Sec-WebSocket-Key -> 400', expectStatus(400, { headers: { 'Sec-WebSocket-Key': '' } }));
  add('0.2.3', 'Sec-WebSocket-Key not base64 -> 400', expectStatus(400, { key: 'this is not base64!!!!!!' }));
  add('0.2.4', 'Sec-WebSocket-Key decodes to 15 bytes -> 400', expectStatus(400, { key: crypto.randomBytes(15).toString('base64') }));
  add('0.2.5', 'Sec-WebSocket-Key decodes to 17 bytes -> 400', expectStatus(400, { key: crypto.randomBytes(17).toString('base64') }));
  add('0.2.6', 'Sec-WebSocket-Key of 32 bytes -> 400', expectStatus(400, { key: crypto.randomBytes(32).toString('base64') }));
  add('0.2.7', 'Sec-WebSocket-Key given twice -> 400', expectStatus(400, { key: null, headers: { 'Sec-WebSocket-Key': [key(), key()] } }));

  // Versions.
  const v426 = (res) => {
    if (!hasToken(res.headers['sec-websocket-version'], '13')) fail(`426 without Sec-WebSocket-Version: 13 (got ${JSON.stringify(res.headers['sec-websocket-version'])})`);
  };
  add('0.3.1', 'Sec-WebSocket-Version: 8 -> 426 with Sec-WebSocket-Version: 13', expectStatus(426, { version: '8' }, v426));
  add('0.3.2', 'Sec-WebSocket-Version: 14 -> 426 with Sec-WebSocket-Version: 13', expectStatus(426, { version: '14' }, v426));
  add('0.3.3', 'Sec-WebSocket-Version: 0 -> 426', expectStatus(426, { version: '0' }, v426));
  add('0.3.4', 'missing Sec-WebSocket-Version -> 426 or 400', expectStatus([426, 400], { version: null }));

  // Methods and other malformed upgrades.
  add('0.4.1', 'POST with upgrade headers -> 405 (or 400)', expectStatus([405, 400], { method: 'POST', headers: { 'Content-Length': '0' } }));
  add('0.4.2', 'PUT with upgrade headers -> 405 (or 400)', expectStatus([405, 400], { method: 'PUT', headers: { 'Content-Length': '0' } }));
  add('0.4.3', 'missing Upgrade header -> 426 or 400', expectStatus([426, 400], { headers: { Upgrade: null } }));
  add('0.4.4', 'Upgrade: h2c instead of websocket -> 426 or 400', expectStatus([426, 400], { headers: { Upgrade: 'h2c' } }));
  add('0.4.5', 'missing Connection header -> 400 (or 426)', expectStatus([400, 426], { headers: { Connection: null } }));
  add('0.4.6', 'Connection: keep-alive without Upgrade token -> 400 (or 426)', expectStatus([400, 426], { headers: { Connection: 'keep-alive' } }));
  add('0.4.7', 'HTTP/1.0 upgrade request -> 4xx', async (t) => {
    const raw = upgradeRequest({ path: t.target.path, host: t.target.host, key: key(), httpVersion: '1.0' });
    const res = await t.http(raw);
    if (res.status < 400 || res.status > 499) fail(`expected 4xx, got ${res.status}`);
  });
  add('0.4.8', 'missing Host header -> 400', expectStatus(400, { headers: { Host: null } }));
  add('0.4.9', 'unknown path -> 404', expectStatus(404, { path: '/no-such-endpoint-here' }));
  add('0.4.10', 'Sec-WebSocket-Key with surrounding whitespace: accept computed from the trimmed key', async (t) => {
    const k = key();
    const raw = `GET ${t.target.path} HTTP/1.1\r\nHost: ${t.target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key:   ${k}  \r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const res = await t.http(raw);
    if (res.status !== 101) fail(`expected 101, got ${res.status}`);
    if (res.headers['sec-websocket-accept'] !== acceptFor(k)) fail(`Sec-WebSocket-Accept ${res.headers['sec-websocket-accept']}, expected ${acceptFor(k)}`);
  });
};
