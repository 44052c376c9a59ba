// Group 7: the closing handshake (RFC 6455 §5.5.1, §7).
'use strict';
const { OP, frame, closePayload, fail, sleep } = require('../lib/client');
const { scenario, sendFrames, T, B, C, PING, CLOSE, utf8Text } = require('../lib/dsl');

module.exports = (add) => {
  // We send close first: the server answers with a close and then closes TCP;
  // nothing may follow its close frame.
  const after = (code) => ['close', code, { replied: true }];

  add('7.1.1', 'text echo, then close 1000 -> close 1000, TCP closed', scenario([T('Hello World!'), CLOSE(1000)], [['text', 'Hello World!'], after(1000)]));
  add('7.1.2', 'close 1000 twice -> one close back, the second is ignored', scenario([CLOSE(1000), CLOSE(1000)], [after(1000)]));
  add('7.1.3', 'close 1000, then ping -> close back, no pong', scenario([CLOSE(1000), PING('too late')], [after(1000)]));
  add('7.1.4', 'close 1000, then text -> close back, no echo', scenario([CLOSE(1000), T('too late')], [after(1000)]));
  add('7.1.5', 'text FIN=0, close 1000, continuation -> close back, no echo', scenario([T('fragment1', { fin: false }), CLOSE(1000), C('fragment2')], [after(1000)]));
  add('7.1.6', '256 KiB of text messages, then close 1000 -> all echoes, then close 1000', async (t) => {
    const c = await t.open();
    const msgs = Array.from({ length: 64 }, (_, i) => utf8Text(4096 - i));
    await sendFrames(c, [...msgs.map((m) => T(m)), PING('last'), CLOSE(1000)]);
    for (const m of msgs) await c.expectMessage(OP.TEXT, m);
    await c.expectPong('last');
    await c.expectClose(1000, { replied: true });
  });
  add('7.1.7', 'close 1000 followed by garbage bytes -> close 1000, garbage ignored', scenario([CLOSE(1000), Buffer.from('not a frame at all \xff\xff\xff')], [after(1000)]));
  add('7.1.8', 'close 1000 sent one byte per write -> close 1000', scenario([CLOSE(1000, 'bye')], [after(1000)], { mode: 'octets' }));
  add('7.1.9', 'close, then the client half-closes TCP -> server closes too', async (t) => {
    const c = await t.open();
    c.close(1000);
    c.socket.end();
    await c.expectClose(1000, { replied: true });
  });

  // Payload shapes.
  add('7.3.1', 'close with empty payload -> empty close back', scenario([CLOSE()], [after(null)]));
  add('7.3.2', 'close with a 1-byte payload -> close 1002', scenario([{ opcode: OP.CLOSE, payload: Buffer.from([0x03]) }], [['close', 1002]]));
  add('7.3.3', 'close 1000 without reason -> close 1000', scenario([CLOSE(1000)], [after(1000)]));
  add('7.3.4', 'close 1000 with a short reason -> close 1000', scenario([CLOSE(1000, 'Hello World!')], [after(1000)]));
  add('7.3.5', 'close 1000 with a 123-byte reason (125-byte payload) -> close 1000', scenario([CLOSE(1000, '*'.repeat(123))], [after(1000)]));
  add('7.3.6', 'close 1000 with a 124-byte reason (126-byte payload) -> close 1002', scenario([CLOSE(1000, '*'.repeat(124))], [['close', 1002]]));
  add('7.3.7', 'close 1000 with a multi-byte UTF-8 reason -> close 1000', scenario([CLOSE(1000, 'κόσμε 𝄞 €')], [after(1000)]));
  add('7.3.8', 'close 1000 with a reason that is a single U+0000 -> close 1000', scenario([CLOSE(1000, '\u0000')], [after(1000)]));

  // Close reasons must be UTF-8 (§5.5.1, §8.1).
  const badReasons = [['F4 90 80 80', [0xf4, 0x90, 0x80, 0x80]], ['ED A0 80 (surrogate)', [0xed, 0xa0, 0x80]], ['C0 AF (overlong)', [0xc0, 0xaf]],
    ['truncated E2 82', [0x61, 0xe2, 0x82]], ['FF', [0xff]]];
  badReasons.forEach(([name, bytes], i) => {
    add(`7.5.${i + 1}`, `close 1000 with an invalid UTF-8 reason (${name}) -> close 1007`, scenario([CLOSE(1000, Buffer.from(bytes))], [['close', 1007]]));
  });

  // Valid codes are echoed (§7.4.1, §7.4.2).
  const VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
  VALID.forEach((code, i) => {
    add(`7.7.${i + 1}`, `close with valid code ${code} -> close ${code} echoed`, scenario([CLOSE(code, 'reason')], [after(code)]));
  });

  // Codes that must never be sent (§7.4.1, §7.4.2) -> 1002.
  const INVALID = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  INVALID.forEach((code, i) => {
    add(`7.9.${i + 1}`, `close with invalid code ${code} -> close 1002`, scenario([CLOSE(code)], [['close', 1002]]));
  });

  // What the server does after its own close.
  add('7.13.1', 'after a protocol error close the server sends nothing and closes TCP, even if we keep sending', async (t) => {
    const c = await t.open();
    await sendFrames(c, [{ opcode: 3 }]);
    const f = await c.nextFrame(4000, 'close 1002');
    if (f.eof || f.opcode !== OP.CLOSE) fail(`expected close 1002, got ${require('../lib/client').describeFrame(f)}`);
    // Keep talking without answering the close: pings and texts must not be answered.
    for (let i = 0; i < 5; i++) { c.send(frame({ opcode: OP.PING, payload: Buffer.from(`p${i}`) })); c.send(frame({ opcode: OP.TEXT, payload: Buffer.from(`t${i}`) })); }
    await c.expectEof(4000);
  });
  add('7.13.2', 'the server closes TCP after its close even if the client never answers', async (t) => {
    const c = await t.open();
    c.send(frame({ opcode: OP.CLOSE, payload: closePayload(1000) }));
    const f = await c.nextFrame(4000, 'close 1000');
    if (f.eof || f.opcode !== OP.CLOSE) fail(`expected close 1000, got ${require('../lib/client').describeFrame(f)}`);
    await c.expectEof(4000);
  });
  add('7.13.3', 'binary echo, then empty close -> echo, empty close', scenario([B([1, 2, 3]), CLOSE()], [['binary', Buffer.from([1, 2, 3])], after(null)]));
  add('7.13.4', 'close 1000 after a delay on an idle connection -> close 1000', async (t) => {
    const c = await t.open();
    await sleep(300);
    c.close(1000, 'later');
    await c.expectClose(1000, { replied: true });
  });
};
