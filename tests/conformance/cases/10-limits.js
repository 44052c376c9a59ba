// Group 10: message size limits -> close 1009 (RFC 6455 §7.4.1).
// 10.1 against the default server (max_message_size 65536), 10.2 against the
// large server (16 MiB). A declared frame length over the limit must be
// rejected as soon as the header arrives, without waiting for the payload.
'use strict';
const { OP, frame, fragments } = require('../lib/client');
const { scenario, T, B, C, PING, utf8Text, prng, bigBinary } = require('../lib/dsl');

const LIMIT = 65536;
const BIG = 16 * 1024 * 1024;

module.exports = (add) => {
  const headerOnly = (opcode, len, fin = true) => async (t) => {
    const c = await t.open();
    c.send(frame({ opcode, fin, len }));
    await c.expectClose(1009, { timeout: 2000, what: 'close 1009 right after the frame header' });
  };

  add('10.1.1', `text of exactly ${LIMIT} bytes (the limit) is echoed`, scenario([T(utf8Text(LIMIT))], [['text', utf8Text(LIMIT)]]));
  add('10.1.2', `binary of exactly ${LIMIT} bytes in 1000-byte fragments is echoed`, scenario([fragments(OP.BINARY, prng(LIMIT), 1000)], [['binary', prng(LIMIT)]]));
  add('10.1.3', `text of ${LIMIT + 1} bytes in one frame -> close 1009`, scenario([T(utf8Text(LIMIT + 1))], [['close', 1009]]));
  add('10.1.4', `binary of ${LIMIT + 1} bytes in one frame -> close 1009`, scenario([B(prng(LIMIT + 1))], [['close', 1009]]));
  add('10.1.5', `binary fragments ${LIMIT} + 1 bytes -> close 1009`, scenario([B(prng(LIMIT), { fin: false }), C([1])], [['close', 1009]]));
  add('10.1.6', 'text in 100 fragments of 656 bytes (65600 total) -> close 1009', scenario([fragments(OP.TEXT, utf8Text(65600), 656)], [['close', 1009]]));
  add('10.1.7', `frame header alone declaring ${LIMIT + 1} bytes -> close 1009 immediately`, headerOnly(OP.BINARY, LIMIT + 1));
  add('10.1.8', 'text frame header alone declaring 2^32 bytes -> close 1009 immediately', headerOnly(OP.TEXT, 2n ** 32n));
  add('10.1.9', 'frame header alone declaring 2^63-1 bytes -> close 1009 immediately', headerOnly(OP.BINARY, 2n ** 63n - 1n));
  add('10.1.10', 'frame header declaring a length with the most significant bit set -> close 1002 or 1009', async (t) => {
    const c = await t.open();
    c.send(frame({ opcode: OP.BINARY, len: 2n ** 63n + 5n }));
    await c.expectClose([1002, 1009], { timeout: 2000 });
  });
  add('10.1.11', `first fragment of 40000 bytes, then a continuation header alone declaring 40000 -> close 1009 before its payload`, async (t) => {
    const c = await t.open();
    c.send(frame({ opcode: OP.BINARY, fin: false, payload: prng(40000) }));
    c.send(frame({ opcode: OP.CONT, len: 40000 }));
    await c.expectClose(1009, { timeout: 2000, what: 'close 1009 right after the continuation header' });
  });
  add('10.1.12', 'frame header alone declaring 65537 with FIN=0 -> close 1009 immediately', headerOnly(OP.TEXT, LIMIT + 1, false));
  add('10.1.13', `5 binary messages of ${LIMIT} bytes each are all echoed (the limit is per message)`, scenario(
    Array.from({ length: 5 }, (_, i) => B(prng(LIMIT, i))), Array.from({ length: 5 }, (_, i) => ['binary', prng(LIMIT, i)])));
  add('10.1.14', 'pings during a message just under the limit do not count towards it', scenario(
    [B(prng(LIMIT - 10), { fin: false }), PING('x'.repeat(125)), PING('y'.repeat(125)), C(prng(10, 2))],
    [['pong', 'x'.repeat(125)], ['pong', 'y'.repeat(125)], ['binary', Buffer.concat([prng(LIMIT - 10), prng(10, 2)])]]));
  add('10.1.15', 'echo of a valid message, then an oversized one -> echo, then close 1009', scenario(
    [T('small'), B(prng(LIMIT + 100))], [['text', 'small'], ['close', 1009]]));
  add('10.1.16', `text of ${LIMIT + 1} bytes in 64-byte fragments -> close 1009`, scenario([fragments(OP.TEXT, utf8Text(LIMIT + 1), 64)], [['close', 1009]]));

  const L = { server: 'large', timeout: 30000 };
  add('10.2.1', `frame header alone declaring ${BIG + 1} bytes -> close 1009 immediately`, headerOnly(OP.BINARY, BIG + 1), L);
  add('10.2.2', 'frame header alone declaring 2^40 bytes -> close 1009 immediately', headerOnly(OP.TEXT, 2n ** 40n), L);
  add('10.2.3', `binary of ${BIG + 1} bytes in one frame -> close 1009`, async (t) => {
    const c = await t.open();
    const f = frame({ opcode: OP.BINARY, payload: bigBinary(BIG + 1) });
    c.sendLarge(f); // the server may close before we finish writing
    await c.expectClose(1009, { timeout: 20000 });
  }, L);
  add('10.2.4', `16 fragments of 1 MiB then 1 more byte (${BIG + 1}) -> close 1009`, async (t) => {
    const c = await t.open();
    const p = bigBinary(BIG);
    const frags = fixLastFin(fragments(OP.BINARY, p, 1024 * 1024));
    await c.sendLarge(Buffer.concat([frags, frame({ opcode: OP.CONT, payload: Buffer.from([7]) })]));
    await c.expectClose(1009, { timeout: 20000 });
  }, L);
  add('10.2.5', `text of exactly ${BIG} bytes in 1 MiB fragments is echoed`, async (t) => {
    const c = await t.open();
    const p = utf8Text(BIG);
    await c.sendLarge(fragments(OP.TEXT, p, 1024 * 1024));
    await c.expectMessage(OP.TEXT, p, 25000);
    await c.closeNormally();
  }, L);
  add('10.2.6', `text fragments of 8 MiB + 8 MiB + 1 byte -> close 1009`, async (t) => {
    const c = await t.open();
    const p = utf8Text(8 * 1024 * 1024);
    await c.sendLarge(Buffer.concat([
      frame({ opcode: OP.TEXT, fin: false, payload: p }), frame({ opcode: OP.CONT, fin: false, payload: p }), frame({ opcode: OP.CONT, payload: Buffer.from('!') }),
    ]));
    await c.expectClose(1009, { timeout: 20000 });
  }, L);
};

// fragments() marks the last fragment FIN=1; clear it so more can follow.
function fixLastFin(buf) {
  // Walk the frames to find the last header.
  let off = 0;
  let last = 0;
  while (off < buf.length) {
    last = off;
    const b1 = buf[off + 1] & 0x7f;
    let len = b1;
    let hl = 2;
    if (b1 === 126) { len = buf.readUInt16BE(off + 2); hl = 4; }
    else if (b1 === 127) { len = Number(buf.readBigUInt64BE(off + 2)); hl = 10; }
    if (buf[off + 1] & 0x80) hl += 4;
    off += hl + len;
  }
  buf[last] &= 0x7f;
  return buf;
}
