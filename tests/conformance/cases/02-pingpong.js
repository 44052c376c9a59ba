// Group 2: ping and pong (RFC 6455 §5.5.2, §5.5.3).
'use strict';
const { OP, frame } = require('../lib/client');
const { scenario, sendFrames, T, PING, PONG, prng } = require('../lib/dsl');

module.exports = (add) => {
  const ascii = (n) => Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789'.repeat(4).slice(0, n));
  const LENGTHS = [0, 1, 2, 3, 4, 5, 8, 16, 31, 32, 63, 64, 100, 124, 125];
  LENGTHS.forEach((n, i) => {
    add(`2.1.${i + 1}`, `ping with ${n} bytes of text payload -> pong with the same payload`, scenario([PING(ascii(n))], [['pong', ascii(n)]]));
  });

  const all = Buffer.from(Array.from({ length: 125 }, (_, i) => (i * 2 + 0x80) & 0xff));
  add('2.2.1', 'ping with a binary payload (bytes 0x00..0xff, not UTF-8) -> same pong', scenario([PING(Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc0, 0xed, 0xa0, 0x80]))], [['pong', Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc0, 0xed, 0xa0, 0x80])]]));
  add('2.2.2', 'ping with 125 bytes of high-bit binary payload -> same pong', scenario([PING(all)], [['pong', all]]));
  add('2.2.3', 'ping with 125 random bytes -> same pong', scenario([PING(prng(125, 22))], [['pong', prng(125, 22)]]));

  add('2.3.1', 'ping with 126 bytes of payload -> close 1002', scenario([PING(ascii(126))], [['close', 1002]]));
  add('2.3.2', 'ping declaring 65535 bytes (16-bit length) -> close 1002', scenario([PING(Buffer.alloc(65535, 0x61))], [['close', 1002]]));
  add('2.3.3', 'ping with only its header declaring 126 bytes -> close 1002 without waiting for the payload', async (t) => {
    const c = await t.open();
    c.send(frame({ opcode: OP.PING, len: 126 }));
    await c.expectClose(1002, { what: 'close 1002 while the ping payload is still missing' });
  });
  add('2.3.4', 'pong with 126 bytes of payload -> close 1002', scenario([PONG(Buffer.alloc(126, 0x62))], [['close', 1002]]));

  add('2.4.1', 'ping with 125 bytes sent one byte per write -> pong', scenario([PING(ascii(125))], [['pong', ascii(125)]], { mode: 'octets' }));
  add('2.4.2', 'ping with 125 bytes sent in 7-byte writes -> pong', scenario([PING(all)], [['pong', all]], { mode: 7 }));

  // Unsolicited pongs are ignored (§5.5.3).
  add('2.5.1', 'unsolicited empty pong is ignored (a following ping gets exactly one pong)', scenario([PONG(''), PING('after')], [['pong', 'after'], ['nothing', 300]]));
  add('2.5.2', 'unsolicited pong with payload is ignored', scenario([PONG('unsolicited'), PING('after')], [['pong', 'after'], ['nothing', 300]]));
  add('2.5.3', 'unsolicited pong with 125 bytes, then text -> only the echo', scenario([PONG(all), T('text after pong')], [['text', 'text after pong'], ['nothing', 300]]));
  add('2.5.4', '10 unsolicited pongs then a ping -> one pong', scenario([...Array.from({ length: 10 }, (_, i) => PONG(`p${i}`)), PING('x')], [['pong', 'x'], ['nothing', 300]]));

  // Several pings in a row: every one is answered, in order (a server may
  // skip pongs for older pings only if it has not answered yet, §5.5.3; we
  // send them far enough apart or expect all like Autobahn 2.10/2.11).
  add('2.6.1', '10 pings in one write -> 10 pongs in order', scenario(
    Array.from({ length: 10 }, (_, i) => PING(`payload-${i}`)),
    Array.from({ length: 10 }, (_, i) => ['pong', `payload-${i}`]),
  ));
  add('2.6.2', '10 pings sent one byte per write -> 10 pongs in order', scenario(
    Array.from({ length: 10 }, (_, i) => PING(`payload-${i}`)),
    Array.from({ length: 10 }, (_, i) => ['pong', `payload-${i}`]),
    { mode: 'octets' },
  ));
  add('2.6.3', '10 pings sent frame by frame -> 10 pongs in order', scenario(
    Array.from({ length: 10 }, (_, i) => PING(`payload-${i}`)),
    Array.from({ length: 10 }, (_, i) => ['pong', `payload-${i}`]),
    { mode: 'frames' },
  ));
  add('2.6.4', '100 empty pings, one per round trip -> 100 pongs', async (t) => {
    const c = await t.open();
    for (let i = 0; i < 100; i++) {
      c.ping(Buffer.from(String(i)));
      await c.expectPong(String(i));
    }
    await c.closeNormally();
  });

  add('2.7.1', 'text, ping, text -> echo, pong, echo in that order', scenario([T('one'), PING('p'), T('two')], [['text', 'one'], ['pong', 'p'], ['text', 'two']]));
  add('2.7.2', 'ping, then close 1000 -> pong, then close 1000', scenario([PING('before close'), { opcode: OP.CLOSE, payload: Buffer.from([3, 232]) }], [['pong', 'before close'], ['close', 1000, { replied: true }]]));
  add('2.7.3', 'ping with a payload of frame-like bytes -> same pong', async (t) => {
    const c = await t.open();
    const p = frame({ opcode: OP.TEXT, payload: Buffer.from('inner'), mask: false });
    await sendFrames(c, [PING(p)]);
    await c.expectPong(p);
    c.text('outer');
    await c.expectMessage(OP.TEXT, 'outer');
    await c.closeNormally();
  });
};
