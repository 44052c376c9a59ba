// Group 4: reserved opcodes (RFC 6455 §5.2): non-control 3-7, control 11-15.
'use strict';
const { scenario, T, PING } = require('../lib/dsl');

module.exports = (add) => {
  const kinds = [['non-control', [3, 4, 5, 6, 7], 1], ['control', [11, 12, 13, 14, 15], 2]];
  for (const [kind, ops, g] of kinds) {
    const base = g === 1 ? 1 : 5;
    ops.forEach((op, i) => {
      const n = i + 1;
      add(`4.${base}.${n}`, `reserved ${kind} opcode ${op}, empty -> close 1002`, scenario([{ opcode: op }], [['close', 1002]]));
      add(`4.${base + 1}.${n}`, `reserved ${kind} opcode ${op} with payload -> close 1002`, scenario([{ opcode: op, payload: Buffer.from('reserved opcode payload') }], [['close', 1002]]));
      add(`4.${base + 2}.${n}`, `text, reserved ${kind} opcode ${op}, ping -> echo, close 1002, no pong`, scenario(
        [T('before'), { opcode: op, payload: Buffer.from('x') }, PING('never')], [['text', 'before'], ['close', 1002]]));
      add(`4.${base + 3}.${n}`, `reserved ${kind} opcode ${op} inside a fragmented text message -> close 1002`, scenario(
        [T('part one', { fin: false }), { opcode: op, fin: g === 2, payload: Buffer.from('x') }], [['close', 1002]]));
    });
  }
};
