// Group 5: fragmentation (RFC 6455 §5.4).
'use strict';
const { scenario, T, B, C, PING, PONG, CLOSE, utf8Text, prng } = require('../lib/dsl');
const { fragments, OP } = require('../lib/client');

module.exports = (add) => {
  // Control frames must not be fragmented (§5.5).
  add('5.1.1', 'ping with FIN=0 followed by a continuation -> close 1002', scenario([PING('frag', { fin: false }), C('ment')], [['close', 1002]]));
  add('5.1.2', 'pong with FIN=0 followed by a continuation -> close 1002', scenario([PONG('frag', { fin: false }), C('ment')], [['close', 1002]]));
  add('5.1.3', 'close with FIN=0 -> close 1002', scenario([CLOSE(1000, 'frag', { fin: false }), C('ment')], [['close', 1002]]));
  add('5.1.4', 'ping with FIN=0 inside a fragmented text -> close 1002', scenario([T('a', { fin: false }), PING('p', { fin: false }), C('b')], [['close', 1002]]));

  // Fragmented messages, sent three ways (like Autobahn 5.3-5.5).
  const MODES = [['batch', 'in one write'], ['frames', 'frame by frame'], ['octets', 'one byte per write']];
  MODES.forEach(([mode, how], i) => {
    add(`5.2.${i + 1}`, `text in 2 fragments, ${how}`, scenario([T('fragment1', { fin: false }), C('fragment2')], [['text', 'fragment1fragment2']], { mode }));
    add(`5.2.${i + 4}`, `binary in 2 fragments, ${how}`, scenario([B([1, 2, 3], { fin: false }), C([4, 5, 6])], [['binary', Buffer.from([1, 2, 3, 4, 5, 6])]], { mode }));
    add(`5.3.${i + 1}`, `text in 2 fragments with a ping in between, ${how} -> pong then echo`, scenario(
      [T('fragment1', { fin: false }), PING('pongme!'), C('fragment2')], [['pong', 'pongme!'], ['text', 'fragment1fragment2']], { mode }));
    add(`5.3.${i + 4}`, `text in 2 fragments with an unsolicited pong in between, ${how} -> echo only`, scenario(
      [T('fragment1', { fin: false }), PONG('ignored'), C('fragment2')], [['text', 'fragment1fragment2'], ['nothing', 200]], { mode }));
    add(`5.3.${i + 7}`, `text in 5 fragments with 2 pings in between, ${how} -> 2 pongs then echo`, scenario(
      [T('f1', { fin: false }), C('f2', { fin: false }), PING('p1'), C('f3', { fin: false }), C('f4', { fin: false }), PING('p2'), C('f5')],
      [['pong', 'p1'], ['pong', 'p2'], ['text', 'f1f2f3f4f5']], { mode }));
    add(`5.4.${i + 1}`, `continuation (FIN=1) without a message in progress, ${how} -> close 1002`, scenario([C('fragment1')], [['close', 1002]], { mode }));
    add(`5.4.${i + 4}`, `continuation (FIN=0) without a message in progress, ${how} -> close 1002`, scenario([C('fragment1', { fin: false }), C('fragment2')], [['close', 1002]], { mode }));
    add(`5.5.${i + 1}`, `text FIN=0 then a new text FIN=1 (message inside a message), ${how} -> close 1002`, scenario([T('part1', { fin: false }), T('part2')], [['close', 1002]], { mode }));
  });
  add('5.3.10', 'binary in 3 fragments with ping and pong in between -> pong then echo', scenario(
    [B([1], { fin: false }), PING('a'), C([2], { fin: false }), PONG('b'), C([3])], [['pong', 'a'], ['binary', Buffer.from([1, 2, 3])]]));
  add('5.3.11', 'close 1000 in the middle of a fragmented message -> close 1000, the message is dropped', scenario(
    [T('partial', { fin: false }), CLOSE(1000), C('never')], [['close', 1000, { replied: true }]]));
  add('5.4.7', 'empty continuation without a message in progress -> close 1002', scenario([C('')], [['close', 1002]]));
  add('5.4.8', 'complete fragmented message, then a continuation FIN=0 and text -> echo, then close 1002', scenario(
    [T('frag1', { fin: false }), C('frag2'), C('frag3', { fin: false }), T('frag4')], [['text', 'frag1frag2'], ['close', 1002]]));
  add('5.4.9', 'text, then a stray continuation -> echo, then close 1002', scenario([T('whole'), C('stray')], [['text', 'whole'], ['close', 1002]]));
  add('5.5.4', 'text FIN=0 then binary FIN=1 -> close 1002', scenario([T('part1', { fin: false }), B([1, 2])], [['close', 1002]]));
  add('5.5.5', 'binary FIN=0 then text FIN=0 -> close 1002', scenario([B([1], { fin: false }), T('x', { fin: false }), C('y')], [['close', 1002]]));
  add('5.5.6', 'binary FIN=0 then binary FIN=1 -> close 1002', scenario([B([1], { fin: false }), B([2])], [['close', 1002]]));

  // Fragment size variations.
  const text = utf8Text(1000);
  const SIZES = [1, 2, 3, 4, 5, 7, 16, 64, 125, 126, 127, 500, 999, 1000];
  SIZES.forEach((size, i) => {
    add(`5.6.${i + 1}`, `1000-byte UTF-8 text in fragments of ${size} bytes (characters split across frames)`, scenario(
      [fragments(OP.TEXT, text, size)], [['text', text]]));
  });
  const bin = prng(65536, 5);
  [[1000, 0], [4096, 0], [16384, 0], [32768, 0], [65535, 0], [64, 0], [7, 1021]].forEach(([size, chunk], i) => {
    add(`5.7.${i + 1}`, `65536-byte binary in fragments of ${size} bytes${chunk ? `, written ${chunk} bytes at a time` : ''}`, scenario(
      [fragments(OP.BINARY, bin, size)], [['binary', bin]], { mode: chunk || 'batch' }));
  });
  add('5.7.8', '65536-byte text in fragments of 64 bytes', scenario([fragments(OP.TEXT, utf8Text(65536), 64)], [['text', utf8Text(65536)]]));
  add('5.7.9', '20000-byte text in fragments of 1, 2, 3, ... bytes (growing)', scenario(() => {
    const msg = utf8Text(20000);
    const out = [];
    let off = 0;
    let k = 1;
    while (off < msg.length) {
      const end = Math.min(msg.length, off + k);
      out.push({ opcode: off === 0 ? OP.TEXT : OP.CONT, fin: end === msg.length, payload: msg.subarray(off, end) });
      off = end;
      k++;
    }
    return out;
  }, [['text', utf8Text(20000)]]));

  // Empty fragments.
  add('5.8.1', 'empty text FIN=0 + empty continuation FIN=1 -> empty text', scenario([T('', { fin: false }), C('')], [['text', '']]));
  add('5.8.2', 'text "a", 3 empty continuations, "b" -> "ab"', scenario([T('a', { fin: false }), C('', { fin: false }), C('', { fin: false }), C('', { fin: false }), C('b')], [['text', 'ab']]));
  add('5.8.3', 'empty text FIN=0 then continuation "abc" -> "abc"', scenario([T('', { fin: false }), C('abc')], [['text', 'abc']]));
  add('5.8.4', 'empty binary FIN=0 + empty continuation -> empty binary', scenario([B([], { fin: false }), C('')], [['binary', Buffer.alloc(0)]]));
  add('5.8.5', 'text in 1 + 100 empty continuations + 1 -> echoed', scenario(
    [T('x', { fin: false }), ...Array.from({ length: 100 }, () => C('', { fin: false })), C('y')], [['text', 'xy']]));
  add('5.8.6', 'two fragmented messages back to back -> two echoes', scenario(
    [T('a1', { fin: false }), C('a2'), B([1], { fin: false }), C([2], { fin: false }), C([3])], [['text', 'a1a2'], ['binary', Buffer.from([1, 2, 3])]]));
};
