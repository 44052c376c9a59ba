// Groups 12 and 13: permessage-deflate (RFC 7692).
// 12: compressed messages of many sizes and shapes with the default offer.
// 13: negotiation of every parameter, then traffic under it; and errors.
// The server may answer compressed or not; a compressed answer is inflated
// with the negotiated server window and context (see lib/client.js).
'use strict';
const zlib = require('node:zlib');
const { OP, frame, fragments, fail, TAIL } = require('../lib/client');
const { sendFrames, wordsText, utf8Text, prng, C, PING } = require('../lib/dsl');

const DEFAULT_OFFER = 'permessage-deflate; client_max_window_bits';
const LIMIT = 65536;

function payloadOf(kind, n, seed) {
  switch (kind) {
    case 'words': return wordsText(n, seed);            // compressible text
    case 'utf8': return utf8Text(n);                     // very repetitive text
    case 'random': return prng(n, seed);                 // incompressible binary
    case 'mixed': {                                       // compressible binary
      const b = Buffer.from(wordsText(n, seed));
      for (let i = 0; i < b.length; i += 97) b[i] = i & 0xff;
      return b;
    }
    default: throw new Error(kind);
  }
}
const opOf = (kind) => (kind === 'words' || kind === 'utf8' ? OP.TEXT : OP.BINARY);

async function openDeflate(t, offer = DEFAULT_OFFER, { require: must = true } = {}) {
  const c = await t.open({ extensions: offer });
  if (must && !c.deflate) fail(`permessage-deflate not accepted for offer ${JSON.stringify(offer)} (response: ${JSON.stringify(c.response.headers['sec-websocket-extensions'] || null)})`);
  return c;
}

// Sends `count` compressed messages and expects each echo.
async function roundTrips(c, kind, size, { count = 5, fragmentSize = 0, chunk = 0 } = {}) {
  for (let i = 0; i < count; i++) {
    const p = payloadOf(kind, size, size + i);
    await c.sendCompressed(opOf(kind), p, { fragmentSize, chunk });
    await c.expectMessage(opOf(kind), p);
  }
}

// Mixed traffic used after each negotiation: several sizes, text and binary,
// compressed and uncompressed, with context carried across messages.
async function traffic(c) {
  for (const n of [0, 16, 300, 4096, 20000, LIMIT]) {
    await roundTrips(c, 'words', n, { count: 2 });
    await roundTrips(c, 'mixed', n, { count: 1 });
  }
  await roundTrips(c, 'random', 5000, { count: 1 });
  // An uncompressed message in between compressed ones.
  c.text('plain, not compressed');
  await c.expectMessage(OP.TEXT, 'plain, not compressed');
  await roundTrips(c, 'words', 3000, { count: 2, fragmentSize: 100 });
  await c.closeNormally();
}

module.exports = (add) => {
  // ------------------------------------------------------------ group 12
  const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536];
  const KINDS = [['words', 'compressible text'], ['random', 'random binary'], ['utf8', 'repetitive UTF-8 text'], ['mixed', 'compressible binary']];
  KINDS.forEach(([kind, name], g) => {
    SIZES.forEach((n, i) => {
      add(`12.${g + 1}.${i + 1}`, `5 compressed ${name} messages of ${n} bytes (context takeover)`, async (t) => {
        const c = await openDeflate(t);
        await roundTrips(c, kind, n, { count: 5 });
        await c.closeNormally();
      }, { timeout: 10000 });
    });
  });
  const FRAGS = [1, 16, 64, 256, 1024, 4096];
  FRAGS.forEach((size, i) => {
    add(`12.5.${i + 1}`, `compressed 16 KiB text, compressed payload in fragments of ${size} bytes`, async (t) => {
      const c = await openDeflate(t);
      await roundTrips(c, 'words', 16384, { count: 3, fragmentSize: size });
      await c.closeNormally();
    });
    add(`12.5.${i + 7}`, `compressed 16 KiB incompressible binary in fragments of ${size * 4} bytes`, async (t) => {
      const c = await openDeflate(t);
      await roundTrips(c, 'random', 16384, { count: 2, fragmentSize: size * 4 });
      await c.closeNormally();
    }, { timeout: 10000 });
  });
  add('12.6.1', 'compressed and uncompressed messages alternating (context takeover across the compressed ones)', async (t) => {
    const c = await openDeflate(t);
    for (let i = 0; i < 6; i++) {
      const p = wordsText(2000, i);
      if (i % 2) await c.sendCompressed(OP.TEXT, p);
      else c.sendFrame({ opcode: OP.TEXT, payload: p });
      await c.expectMessage(OP.TEXT, p);
    }
    await c.closeNormally();
  });
  add('12.6.2', 'compressed message written one byte per write', async (t) => {
    const c = await openDeflate(t);
    await roundTrips(c, 'words', 2000, { count: 2, chunk: 1 });
    await c.closeNormally();
  });
  add('12.6.3', 'compressed fragmented text with pings between fragments -> pongs then echo', async (t) => {
    const c = await openDeflate(t);
    const p = wordsText(5000, 1);
    const z = c.compressor.compress(p);
    const third = Math.ceil(z.length / 3);
    await sendFrames(c, [
      { opcode: OP.TEXT, rsv: 4, fin: false, payload: z.subarray(0, third) }, PING('a'),
      C(z.subarray(third, 2 * third), { fin: false }), PING('b'), C(z.subarray(2 * third)),
    ]);
    await c.expectPong('a');
    await c.expectPong('b');
    await c.expectMessage(OP.TEXT, p);
    await c.closeNormally();
  });
  add('12.7.1', 'empty compressed text (payload 0x00, RFC 7692 §7.2.3.6) -> empty text', async (t) => {
    const c = await openDeflate(t);
    c.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: Buffer.from([0x00]) });
    await c.expectMessage(OP.TEXT, '');
    await c.closeNormally();
  });
  add('12.7.2', 'compressed text with an empty payload (just the stripped tail) -> empty text', async (t) => {
    const c = await openDeflate(t);
    c.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: Buffer.alloc(0) });
    await c.expectMessage(OP.TEXT, '');
    await c.closeNormally();
  });
  add('12.7.3', 'empty compressed binary, then a non-empty one -> both echoed', async (t) => {
    const c = await openDeflate(t);
    await c.sendCompressed(OP.BINARY, Buffer.alloc(0));
    await c.expectMessage(OP.BINARY, Buffer.alloc(0));
    await c.sendCompressed(OP.BINARY, Buffer.from('after empty'));
    await c.expectMessage(OP.BINARY, 'after empty');
    await c.closeNormally();
  });
  add('12.7.4', 'compressed message ending with a BFINAL block (§7.2.3.3), twice -> both echoed', async (t) => {
    const c = await openDeflate(t, 'permessage-deflate; client_no_context_takeover');
    for (const s of ['first final block message', 'second final block message']) {
      c.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: zlib.deflateRawSync(Buffer.from(s)) });
      await c.expectMessage(OP.TEXT, s);
    }
    await c.closeNormally();
  });
  add('12.7.5', 'compressed message made of two sync-flushed pieces (an inner 00 00 ff ff) -> echoed', async (t) => {
    const c = await openDeflate(t, 'permessage-deflate; client_no_context_takeover');
    const d = zlib.createDeflateRaw();
    const parts = [];
    d.on('data', (x) => parts.push(x));
    await new Promise((r) => { d.write('first half, '); d.flush(zlib.constants.Z_SYNC_FLUSH, r); });
    await new Promise((r) => { d.write('second half'); d.flush(zlib.constants.Z_SYNC_FLUSH, r); });
    await new Promise((r) => setImmediate(r));
    d.close();
    const z = Buffer.concat(parts);
    if (!z.subarray(z.length - 4).equals(TAIL)) fail('internal: no sync flush tail');
    c.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: z.subarray(0, z.length - 4) });
    await c.expectMessage(OP.TEXT, 'first half, second half');
    await c.closeNormally();
  });
  add('12.7.6', `compressed text inflating to exactly ${LIMIT} bytes (the limit) is echoed`, async (t) => {
    const c = await openDeflate(t);
    const p = utf8Text(LIMIT);
    await c.sendCompressed(OP.TEXT, p);
    await c.expectMessage(OP.TEXT, p);
    await c.closeNormally();
  });

  // ------------------------------------------------------------ group 13
  const OFFERS = [
    ['permessage-deflate', null],
    ['permessage-deflate; client_max_window_bits', null],
    ['permessage-deflate; server_no_context_takeover', (d) => d.serverNoContextTakeover || 'server_no_context_takeover missing'],
    ['permessage-deflate; client_no_context_takeover', null],
    ['permessage-deflate; server_no_context_takeover; client_no_context_takeover', (d) => d.serverNoContextTakeover || 'server_no_context_takeover missing'],
  ];
  OFFERS.forEach(([offer, check], i) => {
    add(`13.1.${i + 1}`, `offer "${offer}": valid response, then mixed compressed traffic`, async (t) => {
      const c = await openDeflate(t, offer);
      if (check) { const r = check(c.deflate); if (r !== true) fail(r); }
      await traffic(c);
    }, { timeout: 10000 });
  });
  for (let w = 9; w <= 15; w++) {
    add(`13.2.${w - 8}`, `offer server_max_window_bits=${w}: accepted with a value <= ${w}, server messages inflate with that window`, async (t) => {
      const c = await openDeflate(t, `permessage-deflate; server_max_window_bits=${w}`);
      if (c.deflate.serverWindow > w) fail(`server window ${c.deflate.serverWindow} > ${w}`);
      await traffic(c);
    }, { timeout: 10000 });
  }
  add('13.2.8', 'offer server_max_window_bits=8: declined, or accepted with server_max_window_bits=8', async (t) => {
    const c = await openDeflate(t, 'permessage-deflate; server_max_window_bits=8', { require: false });
    if (c.deflate && c.deflate.serverWindow !== 8) fail(`accepted with server window ${c.deflate.serverWindow}`);
    if (c.deflate) await traffic(c);
    else { c.text('no compression'); await c.expectMessage(OP.TEXT, 'no compression'); await c.closeNormally(); }
  }, { timeout: 10000 });
  for (let w = 8; w <= 15; w++) {
    add(`13.3.${w - 7}`, `offer client_max_window_bits=${w}: we compress with a ${w}-bit window${w === 8 ? ' (Huffman only)' : ''}, server inflates`, async (t) => {
      const c = await openDeflate(t, `permessage-deflate; client_max_window_bits=${w}`);
      if (c.deflate.clientWindow > w) fail(`client window ${c.deflate.clientWindow} > ${w}`);
      await traffic(c);
    }, { timeout: 10000 });
  }
  const COMBOS = [
    'permessage-deflate; server_max_window_bits=10; client_max_window_bits=10; server_no_context_takeover; client_no_context_takeover',
    'permessage-deflate; server_max_window_bits=9; client_no_context_takeover',
    'permessage-deflate; client_max_window_bits=9; server_no_context_takeover',
    'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
    'permessage-deflate; client_max_window_bits; server_max_window_bits=12',
    'permessage-deflate;client_max_window_bits=11;server_no_context_takeover',
  ];
  COMBOS.forEach((offer, i) => {
    add(`13.4.${i + 1}`, `offer "${offer}"`, async (t) => {
      const c = await openDeflate(t, offer);
      await traffic(c);
    }, { timeout: 10000 });
  });

  // Offers the server must decline (RFC 7692 §5: unknown parameter, invalid
  // value, duplicate parameter): the handshake succeeds without the extension.
  const DECLINE = [
    ['unknown parameter', 'permessage-deflate; foo=1'],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    ['client_max_window_bits=7', 'permessage-deflate; client_max_window_bits=7'],
    ['client_max_window_bits=16', 'permessage-deflate; client_max_window_bits=16'],
    ['duplicate server_no_context_takeover', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'],
    ['server_no_context_takeover with a value', 'permessage-deflate; server_no_context_takeover=1'],
    ['server_max_window_bits with a leading zero', 'permessage-deflate; server_max_window_bits=09'],
    ['client_max_window_bits=abc', 'permessage-deflate; client_max_window_bits=abc'],
    ['duplicate server_max_window_bits', 'permessage-deflate; server_max_window_bits=10; server_max_window_bits=11'],
  ];
  DECLINE.forEach(([name, offer], i) => {
    add(`13.5.${i + 1}`, `offer with ${name} is declined; plain messages still work`, async (t) => {
      const c = await t.open({ extensions: offer });
      if (c.deflate) fail(`server accepted ${JSON.stringify(offer)} with ${JSON.stringify(c.response.headers['sec-websocket-extensions'])}`);
      c.text('uncompressed');
      await c.expectMessage(OP.TEXT, 'uncompressed');
      await c.closeNormally();
    });
  });
  const FALLBACK = [
    ['bad offer first, plain offer second', 'permessage-deflate; foo=1, permessage-deflate'],
    ['invalid window first, valid window second', 'permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=10'],
    ['unknown extension first', 'x-webkit-deflate-frame, permessage-deflate; client_max_window_bits'],
    ['offers split over two Sec-WebSocket-Extensions headers', ['x-unknown', 'permessage-deflate; client_no_context_takeover']],
  ];
  FALLBACK.forEach(([name, offer], i) => {
    add(`13.5.${DECLINE.length + i + 1}`, `${name}: an acceptable offer is accepted`, async (t) => {
      const ext = Array.isArray(offer) ? undefined : offer;
      const c = await t.open(Array.isArray(offer) ? { extensions: offer.join(', '), headers: { 'Sec-WebSocket-Extensions': offer } } : { extensions: ext });
      if (!c.deflate) fail(`no permessage-deflate in the response to ${JSON.stringify(offer)}`);
      await traffic(c);
    }, { timeout: 10000 });
  });
  add(`13.5.${DECLINE.length + FALLBACK.length + 1}`, 'quoted parameter value server_max_window_bits="10": accepted with <= 10, or declined', async (t) => {
    const c = await t.open({ extensions: 'permessage-deflate; server_max_window_bits="10"' });
    if (c.deflate) {
      if (c.deflate.serverWindow > 10) fail(`server window ${c.deflate.serverWindow} > 10`);
      await traffic(c);
    } else { c.text('x'); await c.expectMessage(OP.TEXT, 'x'); await c.closeNormally(); }
  }, { timeout: 10000 });

  // Errors under permessage-deflate.
  const err = (id, desc, fn, opts) => add(id, desc, async (t) => { const c = await openDeflate(t); await fn(c); }, opts);
  err('13.6.1', 'RSV1 on a continuation frame -> close 1002', async (c) => {
    const z = c.compressor.compress(Buffer.from('Hello, compressed world! '.repeat(4)));
    const half = z.length >> 1;
    await sendFrames(c, [{ opcode: OP.TEXT, rsv: 4, fin: false, payload: z.subarray(0, half) }, { opcode: OP.CONT, rsv: 4, payload: z.subarray(half) }]);
    await c.expectClose(1002);
  });
  err('13.6.2', 'RSV1 on an uncompressed-message continuation -> close 1002', async (c) => {
    await sendFrames(c, [{ opcode: OP.TEXT, fin: false, payload: Buffer.from('plain ') }, { opcode: OP.CONT, rsv: 4, payload: Buffer.from([0x00]) }]);
    await c.expectClose(1002);
  });
  err('13.6.3', 'RSV1 on a ping -> close 1002', async (c) => {
    c.sendFrame({ opcode: OP.PING, rsv: 4, payload: Buffer.from('ping') });
    await c.expectClose(1002);
  });
  err('13.6.4', 'RSV1 on a close frame -> close 1002', async (c) => {
    c.sendFrame({ opcode: OP.CLOSE, rsv: 4, payload: Buffer.from([3, 232]) });
    await c.expectClose(1002);
  });
  err('13.6.5', 'RSV2 on a text frame with deflate negotiated -> close 1002', async (c) => {
    c.sendFrame({ opcode: OP.TEXT, rsv: 2, payload: Buffer.from('x') });
    await c.expectClose(1002);
  });
  err('13.6.6', 'RSV1 frame whose payload is not valid DEFLATE data -> close 1002 or 1007 (RFC 7692 §8: fail the connection)', async (c) => {
    c.sendFrame({ opcode: OP.BINARY, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) });
    await c.expectClose([1002, 1007]);
  });
  const bomb = zlib.deflateRawSync(Buffer.alloc(10 * 1024 * 1024), { level: 9 });
  err('13.6.7', `zip bomb: ${bomb.length} compressed bytes inflating to 10 MiB -> close 1009`, async (c) => {
    c.sendFrame({ opcode: OP.BINARY, rsv: 4, payload: bomb });
    await c.expectClose(1009);
  });
  err('13.6.8', 'zip bomb in 1000-byte fragments -> close 1009', async (c) => {
    c.send(fragments(OP.BINARY, bomb, 1000, { rsv: 4 }));
    await c.expectClose(1009);
  });
  err('13.6.9', 'zip bomb, only the first half of the frame sent -> close 1009 before the rest arrives', async (c) => {
    const f = frame({ opcode: OP.TEXT, rsv: 4, payload: bomb });
    c.send(f.subarray(0, f.length >> 1));
    await c.expectClose(1009, { timeout: 2000, what: 'close 1009 while the compressed frame is incomplete' });
  });
  err('13.6.10', `compressed text inflating to ${LIMIT + 1} bytes -> close 1009`, async (c) => {
    await c.sendCompressed(OP.TEXT, utf8Text(LIMIT + 1));
    await c.expectClose(1009);
  });
  err('13.6.11', 'compressed text that inflates to invalid UTF-8 -> close 1007', async (c) => {
    await c.sendCompressed(OP.TEXT, Buffer.concat([Buffer.from('valid start '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(' end')]));
    await c.expectClose(1007);
  });
  err('13.6.12', 'compressed fragmented text, invalid UTF-8 in the last part -> close 1007', async (c) => {
    await c.sendCompressed(OP.TEXT, Buffer.concat([Buffer.from(wordsText(3000)), Buffer.from([0xf4, 0x90, 0x80, 0x80])]), { fragmentSize: 50 });
    await c.expectClose(1007);
  });
  err('13.6.13', 'compressed text truncated inside a UTF-8 character at the end -> close 1007', async (c) => {
    await c.sendCompressed(OP.TEXT, Buffer.concat([Buffer.from('abc'), Buffer.from([0xe2, 0x82])]));
    await c.expectClose(1007);
  });
  err('13.6.14', 'valid compressed echo, then a zip bomb -> echo, then close 1009', async (c) => {
    await c.sendCompressed(OP.TEXT, 'before the bomb');
    await c.expectMessage(OP.TEXT, 'before the bomb');
    c.sendFrame({ opcode: OP.BINARY, rsv: 4, payload: bomb });
    await c.expectClose(1009);
  });
  add('13.6.15', 'RSV1 on a text frame when permessage-deflate was not negotiated -> close 1002', async (t) => {
    const c = await t.open();
    c.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: zlib.deflateRawSync(Buffer.from('compressed'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4) });
    await c.expectClose(1002);
  });
};
