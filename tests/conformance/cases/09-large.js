// Group 9: large messages, against a server whose message limit is 16 MiB.
// Data is built lazily inside each case (16 MiB buffers are not kept around).
'use strict';
const { OP, frame, fragments } = require('../lib/client');
const { utf8Text, bigBinary } = require('../lib/dsl');

const KiB = 1024;
const MiB = 1024 * 1024;
const fmt = (n) => (n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`);

module.exports = (add) => {
  const big = (op, n) => (op === OP.TEXT ? utf8Text(n) : bigBinary(n, n));
  const opts = (n) => ({ server: 'large', timeout: Math.max(8000, 20000 * (n / (16 * MiB))) + 5000 });

  // Sends `bytes` (already framed), expects one echo of `payload`.
  const echo = async (t, op, payload, bytes, chunk) => {
    const c = await t.open();
    if (chunk) await c.sendChunked(bytes, chunk);
    else await c.sendLarge(bytes);
    await c.expectMessage(op, payload, 25000);
    await c.closeNormally();
  };

  const SINGLE = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB];
  for (const [g, op, name] of [[1, OP.TEXT, 'text'], [2, OP.BINARY, 'binary']]) {
    SINGLE.forEach((n, i) => {
      add(`9.${g}.${i + 1}`, `${name} message of ${fmt(n)} in one frame`, async (t) => {
        const p = big(op, n);
        await echo(t, op, p, frame({ opcode: op, payload: p }));
      }, opts(n));
    });
  }

  const FRAG = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
  for (const [g, op, name] of [[3, OP.TEXT, 'text'], [4, OP.BINARY, 'binary']]) {
    FRAG.forEach((size, i) => {
      add(`9.${g}.${i + 1}`, `4 MiB ${name} message in fragments of ${size >= KiB ? fmt(size) : `${size} bytes`}`, async (t) => {
        const p = big(op, 4 * MiB);
        await echo(t, op, p, fragments(op, p, size));
      }, opts(4 * MiB));
    });
  }

  const CHUNK = [64, 128, 256, 512, 1024, 2048, 4096];
  for (const [g, op, name] of [[5, OP.TEXT, 'text'], [6, OP.BINARY, 'binary']]) {
    CHUNK.forEach((size, i) => {
      add(`9.${g}.${i + 1}`, `1 MiB ${name} message in one frame, written ${size} bytes at a time`, async (t) => {
        const p = big(op, MiB);
        await echo(t, op, p, frame({ opcode: op, payload: p }), size);
      }, { server: 'large', timeout: 20000 });
    });
  }

  const RTT = [0, 16, 64, 256, 1024, 4096];
  for (const [g, op, name] of [[7, OP.TEXT, 'text'], [8, OP.BINARY, 'binary']]) {
    RTT.forEach((n, i) => {
      add(`9.${g}.${i + 1}`, `1000 ${name} messages of ${n} bytes, one round trip each`, async (t) => {
        const c = await t.open();
        const p = big(op, n);
        const f = frame({ opcode: op, payload: p });
        for (let k = 0; k < 1000; k++) {
          c.send(f);
          await c.expectMessage(op, p);
        }
        await c.closeNormally();
      }, { server: 'large', timeout: 20000 });
    });
  }

  add('9.9.1', '16 MiB text in fragments of 64 KiB', async (t) => {
    const p = big(OP.TEXT, 16 * MiB);
    await echo(t, OP.TEXT, p, fragments(OP.TEXT, p, 64 * KiB));
  }, opts(16 * MiB));
  add('9.9.2', '16 MiB binary in fragments of 4 KiB', async (t) => {
    const p = big(OP.BINARY, 16 * MiB);
    await echo(t, OP.BINARY, p, fragments(OP.BINARY, p, 4 * KiB));
  }, opts(16 * MiB));
  add('9.9.3', '16 MiB binary in fragments of 64 bytes (262144 frames)', async (t) => {
    const p = big(OP.BINARY, 16 * MiB);
    await echo(t, OP.BINARY, p, fragments(OP.BINARY, p, 64));
  }, { server: 'large', timeout: 40000 });
  add('9.9.4', '16 MiB text in fragments of 1 MiB with a ping between every fragment -> 16 pongs, then the echo', async (t) => {
    const c = await t.open();
    const p = big(OP.TEXT, 16 * MiB);
    const parts = [];
    for (let i = 0; i < 16; i++) {
      parts.push(frame({ opcode: i ? OP.CONT : OP.TEXT, fin: i === 15, payload: p.subarray(i * MiB, (i + 1) * MiB) }));
      parts.push(frame({ opcode: OP.PING, payload: Buffer.from(`p${i}`) }));
    }
    await c.sendLarge(Buffer.concat(parts));
    // Pongs may come before or after the echo depending on when the server
    // gets to them, but each pong in order and exactly one echo.
    let pongs = 0;
    let echoed = false;
    while (pongs < 16 || !echoed) {
      const m = await c.nextMessage(25000, 'pongs and the echo');
      if (m.opcode === OP.PONG) {
        if (m.payload.toString() !== `p${pongs}`) require('../lib/client').fail(`pong ${pongs} has payload ${m.payload}`);
        pongs++;
      } else if (m.opcode === OP.TEXT && !echoed) {
        if (!m.payload.equals(p)) require('../lib/client').fail('16 MiB echo differs');
        echoed = true;
      } else require('../lib/client').fail(`unexpected ${require('../lib/client').describeFrame(m)}`);
    }
    await c.closeNormally();
  }, opts(16 * MiB));
};
