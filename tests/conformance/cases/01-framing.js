// Group 1: framing — text and binary messages of every length-encoding
// boundary, written whole and in pieces; masking.
'use strict';
const { OP, frame } = require('../lib/client');
const { scenario, sendFrames, T, B, PING, utf8Text, prng } = require('../lib/dsl');

module.exports = (add) => {
  const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

  LENGTHS.forEach((n, i) => {
    add(`1.1.${i + 1}`, `text message of ${n} bytes`, scenario([T(utf8Text(n))], [['text', utf8Text(n)]]));
  });
  add('1.1.8', 'text message of 65536 bytes written in chunks of 997 bytes', scenario([T(utf8Text(65536))], [['text', utf8Text(65536)]], { mode: 997 }));

  LENGTHS.forEach((n, i) => {
    add(`1.2.${i + 1}`, `binary message of ${n} bytes`, scenario([B(prng(n, n))], [['binary', prng(n, n)]]));
  });
  add('1.2.8', 'binary message of 65536 bytes written in chunks of 997 bytes', scenario([B(prng(65536))], [['binary', prng(65536)]], { mode: 997 }));

  // The same messages written in pieces of different sizes: the server must
  // reassemble frame headers and payloads split anywhere.
  const CHUNKED = [[2, 1], [125, 1], [126, 1], [127, 1], [300, 1], [1000, 3], [1000, 7], [4000, 64], [65535, 1021], [65536, 4096], [65536, 65535], [20000, 131]];
  CHUNKED.forEach(([n, size], i) => {
    add(`1.3.${i + 1}`, `text message of ${n} bytes written ${size} byte(s) at a time`, scenario([T(utf8Text(n))], [['text', utf8Text(n)]], { mode: size }));
  });
  CHUNKED.forEach(([n, size], i) => {
    add(`1.4.${i + 1}`, `binary message of ${n} bytes written ${size} byte(s) at a time`, scenario([B(prng(n, i))], [['binary', prng(n, i)]], { mode: size }));
  });

  // Masking (§5.3): any key is fine, including all-zero; an unmasked client
  // frame must fail the connection (§5.1).
  add('1.5.1', 'text with an all-zero masking key', scenario([T('zero mask', { maskKey: Buffer.alloc(4) })], [['text', 'zero mask']]));
  add('1.5.2', 'binary with masking key ff ff ff ff', scenario([B(prng(300), { maskKey: Buffer.from([255, 255, 255, 255]) })], [['binary', prng(300)]]));
  add('1.5.3', 'each frame with a different masking key', scenario(
    Array.from({ length: 8 }, (_, i) => T(`msg ${i}`, { maskKey: prng(4, i) })),
    Array.from({ length: 8 }, (_, i) => ['text', `msg ${i}`]),
  ));
  add('1.5.4', 'unmasked text frame -> close 1002', scenario([T('unmasked', { mask: false })], [['close', 1002]]));
  add('1.5.5', 'unmasked binary frame -> close 1002', scenario([B([1, 2, 3], { mask: false })], [['close', 1002]]));
  add('1.5.6', 'unmasked empty ping -> close 1002', scenario([PING('', { mask: false })], [['close', 1002]]));
  add('1.5.7', 'valid text then an unmasked text -> echo, then close 1002', scenario([T('first'), T('second', { mask: false })], [['text', 'first'], ['close', 1002]]));

  // Several messages in one write, and many in a row.
  add('1.6.1', '10 text messages in a single write are echoed in order', scenario(
    Array.from({ length: 10 }, (_, i) => T(`message number ${i}`)),
    Array.from({ length: 10 }, (_, i) => ['text', `message number ${i}`]),
  ));
  add('1.6.2', 'alternating text and binary messages of growing size in one write', scenario(
    Array.from({ length: 12 }, (_, i) => (i % 2 ? B(prng(i * 37, i)) : T(utf8Text(i * 41)))),
    Array.from({ length: 12 }, (_, i) => (i % 2 ? ['binary', prng(i * 37, i)] : ['text', utf8Text(i * 41)])),
  ));
  add('1.6.3', '1000 small messages sent back to back are all echoed in order', async (t) => {
    const c = await t.open();
    const frames = [];
    for (let i = 0; i < 1000; i++) frames.push(frame({ opcode: i % 3 ? OP.TEXT : OP.BINARY, payload: Buffer.from(`#${i}`) }));
    await sendFrames(c, frames, 4096);
    for (let i = 0; i < 1000; i++) await c.expectMessage(i % 3 ? OP.TEXT : OP.BINARY, `#${i}`);
    await c.closeNormally();
  });
  add('1.6.4', '1 MiB of 16-byte messages written as one stream', async (t) => {
    const c = await t.open();
    const n = Math.floor(1024 * 1024 / 22);
    const payloads = Array.from({ length: 50 }, (_, i) => prng(16, i));
    const frames = [];
    for (let i = 0; i < n; i++) frames.push(frame({ opcode: OP.BINARY, payload: payloads[i % 50] }));
    await c.sendLarge(Buffer.concat(frames), 65536);
    for (let i = 0; i < n; i++) await c.expectMessage(OP.BINARY, payloads[i % 50]);
    await c.closeNormally();
  }, { timeout: 15000 });
  add('1.6.5', 'a 16-bit length used for a 10-byte payload (non-minimal encoding) is either echoed or rejected with 1002', async (t) => {
    // RFC 6455 §5.2 says the minimal number of bytes MUST be used; a receiver
    // may tolerate or reject it. Either way it must not hang or misparse.
    const c = await t.open();
    const payload = Buffer.from('0123456789');
    const mask = prng(4, 9);
    const hdr = Buffer.from([0x81, 0x80 | 126, 0, 10, ...mask]);
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
    c.send(Buffer.concat([hdr, body]));
    const m = await c.nextMessage();
    if (m.opcode === OP.CLOSE) {
      const code = m.payload.length >= 2 ? m.payload.readUInt16BE(0) : null;
      if (code !== 1002) require('../lib/client').fail(`expected echo or close 1002, got close ${code}`);
      return;
    }
    if (m.eof || m.opcode !== OP.TEXT || !m.payload.equals(payload)) require('../lib/client').fail(`expected echo or close 1002, got ${require('../lib/client').describeFrame(m)}`);
    await c.closeNormally();
  });
};
