// Small vocabulary shared by the case files: how to send a list of frames
// (all at once, frame by frame, or octet by octet, like Autobahn's "chop"
// variants) and how to state what must come back.
'use strict';
const crypto = require('node:crypto');
const { OP, frame, fail, sleep, closePayload } = require('./client');

// Writes frames: 'batch' = one write, 'frames' = one write per frame with a
// short pause, 'octets' = one byte per write.
async function sendFrames(c, frames, mode = 'batch') {
  const bufs = frames.map((f) => (Buffer.isBuffer(f) ? f : frame(f)));
  if (mode === 'batch') c.send(Buffer.concat(bufs));
  else if (mode === 'frames') {
    for (const b of bufs) { c.send(b); await sleep(15); }
  } else if (mode === 'octets') {
    await c.sendChunked(Buffer.concat(bufs), 1);
  } else if (typeof mode === 'number') {
    await c.sendChunked(Buffer.concat(bufs), mode);
  } else throw new Error(`bad send mode ${mode}`);
}

// Checks a sequence of expectations:
//   ['text', payload] ['binary', payload] ['pong', payload]
//   ['close', code | [codes] | null, {replied}]   (close frame, then TCP close)
//   ['nothing', ms]
async function expectSeq(c, seq, opts = {}) {
  for (const [kind, arg, more] of seq) {
    if (kind === 'text') await c.expectMessage(OP.TEXT, arg);
    else if (kind === 'binary') await c.expectMessage(OP.BINARY, arg);
    else if (kind === 'pong') await c.expectPong(arg);
    else if (kind === 'close') await c.expectClose(arg, { ...opts, ...(more || {}) });
    else if (kind === 'nothing') await c.expectNothing(arg);
    else throw new Error(`bad expectation ${kind}`);
  }
}

// A case that sends frames and checks the response; ends with a normal close
// unless the expectations end with a close.
function scenario(frames, expect, { mode = 'batch', open = {}, closeAfter = true } = {}) {
  return async (t) => {
    const c = await t.open(open);
    await sendFrames(c, typeof frames === 'function' ? frames() : frames, mode);
    await expectSeq(c, expect);
    const last = expect[expect.length - 1];
    if (closeAfter && (!last || last[0] !== 'close')) await c.closeNormally();
  };
}

const T = (payload, o = {}) => ({ opcode: OP.TEXT, payload: Buffer.from(payload), ...o });
const B = (payload, o = {}) => ({ opcode: OP.BINARY, payload: Buffer.from(payload), ...o });
const C = (payload, o = {}) => ({ opcode: OP.CONT, payload: Buffer.from(payload), ...o });
const PING = (payload = '', o = {}) => ({ opcode: OP.PING, payload: Buffer.from(payload), ...o });
const PONG = (payload = '', o = {}) => ({ opcode: OP.PONG, payload: Buffer.from(payload), ...o });
const CLOSE = (code, reason = '', o = {}) => ({ opcode: OP.CLOSE, payload: closePayload(code, reason), ...o });

// Deterministic pseudo-random bytes (so failures are reproducible).
function prng(n, seed = 1) {
  const out = Buffer.allocUnsafe(n);
  let h = crypto.createHash('sha256').update(String(seed)).digest();
  let i = 0;
  while (i < n) {
    const k = Math.min(32, n - i);
    h.copy(out, i, 0, k);
    i += k;
    if (i < n) h = crypto.createHash('sha256').update(h).digest();
  }
  return out;
}

// Fast deterministic filler for big buffers: repeats a random block.
function bigBinary(n, seed = 7) {
  const block = prng(65521, seed);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += block.length) block.copy(out, i, 0, Math.min(block.length, n - i));
  return out;
}

// Valid UTF-8 text of exactly n bytes mixing 1-, 2-, 3- and 4-byte characters.
function utf8Text(n) {
  const unit = Buffer.from('Hello-µ@ßöäüàá-UTF-8!! κόσμε €𝄞 ');
  const out = Buffer.allocUnsafe(n);
  let i = 0;
  while (i + unit.length <= n) { unit.copy(out, i); i += unit.length; }
  out.fill(0x2a, i); // pad with ASCII '*'
  return out;
}

// Text that compresses well (words from a small vocabulary).
function wordsText(n, seed = 3) {
  const words = ['switchboard', 'message', 'channel', 'deflate', 'frame', 'über', 'naïve', 'κόσμε', 'data', 'echo', 'socket', '✓'];
  const r = prng(Math.ceil(n / 3) + 16, seed);
  const parts = [];
  let len = 0;
  let j = 0;
  while (len < n) {
    const w = `${words[r[j++ % r.length] % words.length]} `;
    parts.push(w);
    len += Buffer.byteLength(w);
  }
  const b = Buffer.from(parts.join(''));
  // Cut back to n bytes on a character boundary, pad with ASCII.
  let cut = n;
  while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--;
  const out = Buffer.alloc(n, 0x20);
  b.copy(out, 0, 0, cut);
  return out;
}

module.exports = { sendFrames, expectSeq, scenario, T, B, C, PING, PONG, CLOSE, prng, bigBinary, utf8Text, wordsText, fail };
