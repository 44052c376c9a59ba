// Group 3: reserved bits (RFC 6455 §5.2). With no extension negotiated, any
// of RSV1/RSV2/RSV3 set must fail the connection with 1002 — and what was
// echoed before the bad frame must still arrive first.
'use strict';
const { scenario, T, B, C, PING, PONG, CLOSE } = require('../lib/dsl');

module.exports = (add) => {
  const name = (r) => ['RSV1', 'RSV2', 'RSV3'].filter((_, i) => r & (4 >> i)).join('+');
  for (let r = 1; r <= 7; r++) {
    add(`3.1.${r}`, `text frame with ${name(r)} -> close 1002`, scenario([T('Hello, world!', { rsv: r })], [['close', 1002]]));
    add(`3.2.${r}`, `text, text with ${name(r)}, ping -> echo of the first, close 1002, no pong`, scenario(
      [T('valid first'), T('bad', { rsv: r }), PING('never answered')], [['text', 'valid first'], ['close', 1002]]));
    add(`3.3.${r}`, `same as 3.2.${r} but frame by frame`, scenario(
      [T('valid first'), T('bad', { rsv: r }), PING('never answered')], [['text', 'valid first'], ['close', 1002]], { mode: 'frames' }));
    add(`3.4.${r}`, `same as 3.2.${r} but one byte per write`, scenario(
      [T('valid first'), T('bad', { rsv: r }), PING('never answered')], [['text', 'valid first'], ['close', 1002]], { mode: 'octets' }));
    add(`3.5.${r}`, `binary frame with ${name(r)} -> close 1002`, scenario([B([0, 1, 2, 0xff], { rsv: r })], [['close', 1002]]));
    add(`3.6.${r}`, `ping with ${name(r)} -> close 1002, no pong`, scenario([PING('ping', { rsv: r })], [['close', 1002]]));
    add(`3.7.${r}`, `pong with ${name(r)} -> close 1002`, scenario([PONG('pong', { rsv: r })], [['close', 1002]]));
    add(`3.8.${r}`, `close 1000 with ${name(r)} -> close 1002`, scenario([CLOSE(1000, '', { rsv: r })], [['close', 1002]]));
    add(`3.9.${r}`, `continuation frame with ${name(r)} inside a fragmented text -> close 1002`, scenario(
      [T('frag-1 ', { fin: false }), C('frag-2', { rsv: r })], [['close', 1002]]));
  }
};
