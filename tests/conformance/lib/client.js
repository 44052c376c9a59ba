// A deliberately low-level WebSocket client for conformance testing: it
// writes exactly the bytes a case asks for (bad frames included, split at any
// byte, at any pace) and reads the server's bytes frame by frame, checking the
// server side of RFC 6455 (unmasked frames, RSV bits, opcodes, close frames)
// and RFC 7692 (permessage-deflate) as it goes.
'use strict';
const net = require('node:net');
const crypto = require('node:crypto');
const zlib = require('node:zlib');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };
const OP_NAME = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const DEFAULT_WAIT = 4000;

class CaseFailure extends Error {}
function fail(msg) { throw new CaseFailure(msg); }

function acceptFor(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

// Short printable rendering of a payload for failure messages.
function show(buf, max = 40) {
  if (!buf) return '(none)';
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf);
  const head = b.subarray(0, max);
  const printable = head.every((c) => c >= 0x20 && c < 0x7f);
  const s = printable ? JSON.stringify(head.toString('latin1')) : head.toString('hex');
  return `${b.length} bytes ${s}${b.length > max ? '…' : ''}`;
}

function describeFrame(f) {
  if (f.eof) return `TCP close${f.error ? ` (${f.error})` : ''}`;
  const name = OP_NAME[f.opcode] || `opcode ${f.opcode}`;
  const flags = `${f.fin ? '' : ' fin=0'}${f.rsv1 ? ' rsv1' : ''}${f.rsv2 ? ' rsv2' : ''}${f.rsv3 ? ' rsv3' : ''}`;
  if (f.opcode === OP.CLOSE) {
    const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    return `close frame${flags} ${code === null ? `(no code, ${f.payload.length} bytes)` : `code ${code}`}`;
  }
  return `${name} frame${flags} (${show(f.payload)})`;
}

// Encodes one frame. Options: fin (default true), rsv (bits 0..7: 4=RSV1,
// 2=RSV2, 1=RSV3), opcode, payload, mask (default true), maskKey (Buffer of 4),
// len (override the declared length, e.g. to send a header only).
function frame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, maskKey, len } = {}) {
  payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const n = len === undefined ? payload.length : len;
  let hlen = 2;
  if (typeof n === 'bigint' || n > 65535) hlen += 8;
  else if (n > 125) hlen += 2;
  if (mask) hlen += 4;
  const out = Buffer.allocUnsafe(hlen + payload.length);
  out[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  let p = 2;
  if (typeof n === 'bigint' || n > 65535) {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
    p = 10;
  } else if (n > 125) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
    p = 4;
  } else {
    out[1] = n;
  }
  if (mask) {
    out[1] |= 0x80;
    const key = maskKey || crypto.randomBytes(4);
    key.copy(out, p);
    p += 4;
    maskInto(payload, key, out, p);
  } else {
    payload.copy(out, p);
  }
  return out;
}

function maskInto(src, key, dst, off) {
  const n = src.length;
  let i = 0;
  // Word-at-a-time for large payloads.
  if (n >= 16) {
    const k = key.readUInt32LE(0);
    for (; i + 4 <= n; i += 4) dst.writeUInt32LE((src.readUInt32LE(i) ^ k) >>> 0, off + i);
  }
  for (; i < n; i++) dst[off + i] = src[i] ^ key[i & 3];
}

function closePayload(code, reason = '') {
  if (code === undefined || code === null) return Buffer.alloc(0);
  const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason, 'utf8');
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

// Splits a buffer into pieces of `size` bytes (the last may be shorter).
function chunks(buf, size) {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  if (out.length === 0) out.push(buf.subarray(0, 0));
  return out;
}

// Fragments a message into frames of `size` payload bytes each.
function fragments(opcode, payload, size, { rsv = 0 } = {}) {
  const parts = chunks(payload, size);
  return Buffer.concat(parts.map((p, i) => frame({
    opcode: i === 0 ? opcode : OP.CONT, fin: i === parts.length - 1, payload: p, rsv: i === 0 ? rsv : 0,
  })));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Parses one Sec-WebSocket-Extensions value into [{name, params: {k: v|true}}].
function parseExtensions(value) {
  const out = [];
  if (!value) return out;
  for (const item of value.split(',')) {
    const parts = item.split(';').map((s) => s.trim());
    if (!parts[0]) continue;
    const ext = { name: parts[0].toLowerCase(), params: {}, dup: false };
    for (const p of parts.slice(1)) {
      if (!p) continue;
      const eq = p.indexOf('=');
      const k = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
      let v = eq < 0 ? true : p.slice(eq + 1).trim();
      if (typeof v === 'string' && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      if (k in ext.params) ext.dup = true;
      ext.params[k] = v;
    }
    out.push(ext);
  }
  return out;
}

// permessage-deflate with context takeover is modelled with a preset
// dictionary: the LZ77 window of a raw DEFLATE stream that continues across
// messages is exactly the tail of the earlier uncompressed data, so deflating
// (or inflating) each message with that tail as dictionary is equivalent to
// keeping one stream open — and it handles a peer that ends a message with a
// BFINAL block (RFC 7692 §7.2.3.3) without special cases.
const Z = zlib.constants;

class Compressor {
  constructor({ windowBits = 15, noContextTakeover = false, level = 6 } = {}) {
    this.windowBits = windowBits;
    // zlib cannot produce a raw stream with an 8-bit window; Huffman-only
    // output (no back references at all) is valid for any window size.
    this.opts = windowBits < 9
      ? { windowBits: 9, strategy: Z.Z_HUFFMAN_ONLY, level }
      : { windowBits, level };
    this.noContextTakeover = noContextTakeover;
    this.history = Buffer.alloc(0);
  }
  compress(data) {
    const o = { ...this.opts, finishFlush: Z.Z_SYNC_FLUSH };
    if (!this.noContextTakeover && this.history.length && this.windowBits >= 9) o.dictionary = this.history;
    const out = zlib.deflateRawSync(data, o);
    if (out.length < 4 || !out.subarray(out.length - 4).equals(TAIL)) fail('internal: deflate output does not end with 00 00 ff ff');
    if (!this.noContextTakeover) this.history = keepTail(this.history, data, 1 << this.windowBits);
    return out.subarray(0, out.length - 4);
  }
  close() {}
}

function keepTail(history, data, max) {
  if (data.length >= max) return Buffer.from(data.subarray(data.length - max));
  const all = Buffer.concat([history, data]);
  return all.length > max ? Buffer.from(all.subarray(all.length - max)) : all;
}

// Raw-inflate for server→client messages, honouring the negotiated server
// window (a server that uses a larger window than it promised makes inflate
// fail with "invalid distance too far back").
class Decompressor {
  constructor({ windowBits = 15, noContextTakeover = false } = {}) {
    this.windowBits = windowBits;
    this.noContextTakeover = noContextTakeover;
    this.history = Buffer.alloc(0);
  }
  decompress(data) {
    const o = { windowBits: this.windowBits, finishFlush: Z.Z_SYNC_FLUSH, maxOutputLength: 256 * 1024 * 1024 };
    if (!this.noContextTakeover && this.history.length) o.dictionary = this.history;
    let out;
    try {
      out = zlib.inflateRawSync(Buffer.concat([data, TAIL]), o);
    } catch (e) {
      fail(`server sent a compressed message that does not inflate with a ${this.windowBits}-bit window${this.noContextTakeover ? '' : ' and the previous messages as context'}: ${e.message}`);
    }
    if (!this.noContextTakeover) this.history = keepTail(this.history, out, 1 << this.windowBits);
    return out;
  }
  close() {}
}

class Conn {
  constructor(socket) {
    this.socket = socket;
    this.chunks = [];
    this.avail = 0;
    this.eof = false;
    this.error = null;
    this.waiter = null;
    this.closeReceived = null;
    this.deflate = null;          // negotiated permessage-deflate params, if any
    this.compressor = null;
    this.decompressor = null;
    this.written = 0;
    this.wait = DEFAULT_WAIT;     // default timeout of each expectation
    socket.on('data', (d) => { this.chunks.push(d); this.avail += d.length; this._wake(); });
    socket.on('end', () => { this.eof = true; this._wake(); });
    socket.on('close', () => { this.eof = true; this._wake(); });
    socket.on('error', (e) => { this.error = this.error || e.code || e.message; this.eof = true; this._wake(); });
  }

  static connect(host, port) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      s.setNoDelay(true);
      const onErr = (e) => reject(new CaseFailure(`cannot connect to ${host}:${port}: ${e.message}`));
      s.once('error', onErr);
      s.once('connect', () => { s.off('error', onErr); resolve(new Conn(s)); });
    });
  }

  _wake() { const w = this.waiter; this.waiter = null; if (w) w(); }

  // Waits until at least n bytes are buffered; false on EOF/timeout.
  async _need(n, deadline) {
    while (this.avail < n) {
      if (this.eof) return false;
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      let timer;
      await new Promise((resolve) => {
        this.waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return true;
  }

  _take(n) {
    if (n === 0) return Buffer.alloc(0);
    let out;
    if (this.chunks[0].length >= n) {
      out = this.chunks[0].subarray(0, n);
      if (this.chunks[0].length === n) this.chunks.shift();
      else this.chunks[0] = this.chunks[0].subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - got);
        c.copy(out, got, 0, k);
        got += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.avail -= n;
    return out;
  }

  // Writes bytes now. Errors (the server may already have closed) are
  // recorded, not thrown: what the server sent back decides the case.
  send(buf) {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.written += buf.length;
    this.socket.write(buf);
  }

  // Writes in pieces of `size` bytes, waiting `delay` ms between pieces (0 =
  // yield to the event loop so pieces go out as separate segments).
  async sendChunked(buf, size, delay = 0) {
    for (let i = 0; i < buf.length; i += size) {
      if (this.socket.destroyed) return;
      this.send(buf.subarray(i, i + size));
      if (delay > 0) await sleep(delay);
      else await this.drain();
    }
  }

  // Writes a large buffer in pieces, respecting back-pressure.
  async sendLarge(buf, size = 1 << 20) {
    for (let i = 0; i < buf.length; i += size) {
      if (this.socket.destroyed) return;
      this.written += Math.min(size, buf.length - i);
      const ok = this.socket.write(buf.subarray(i, i + size));
      if (!ok) await this.drain();
    }
  }

  drain() {
    if (this.socket.destroyed || !this.socket.writableNeedDrain) return new Promise((r) => setImmediate(r));
    return new Promise((resolve) => {
      const done = () => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  sendFrame(opts) { this.send(frame(opts)); }
  text(s, opts = {}) { this.sendFrame({ opcode: OP.TEXT, payload: Buffer.from(s), ...opts }); }
  binary(b, opts = {}) { this.sendFrame({ opcode: OP.BINARY, payload: b, ...opts }); }
  ping(p = Buffer.alloc(0), opts = {}) { this.sendFrame({ opcode: OP.PING, payload: p, ...opts }); }
  pong(p = Buffer.alloc(0), opts = {}) { this.sendFrame({ opcode: OP.PONG, payload: p, ...opts }); }
  close(code, reason) { this.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code, reason) }); }

  // Sends a (possibly fragmented) message compressed with the negotiated
  // client parameters. `fragmentSize` splits the compressed payload.
  async sendCompressed(opcode, data, { fragmentSize = 0, chunk = 0 } = {}) {
    if (!this.compressor) fail('internal: permessage-deflate not negotiated');
    const z = this.compressor.compress(Buffer.isBuffer(data) ? data : Buffer.from(data));
    const bytes = fragmentSize > 0 ? fragments(opcode, z, fragmentSize, { rsv: 4 }) : frame({ opcode, payload: z, rsv: 4 });
    if (chunk > 0) await this.sendChunked(bytes, chunk);
    else await this.sendLarge(bytes);
    return z.length;
  }

  // Reads the HTTP response head. Returns {status, reason, headers (lower-case
  // names, repeated headers joined with ", "), raw}.
  async readHttp(timeout = this.wait) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      this.chunks = all.length ? [all] : [];
      const end = all.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this._take(end + 4).toString('latin1');
        const lines = head.split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
        if (!m) fail(`malformed HTTP status line: ${JSON.stringify(lines[0])}`);
        const headers = {};
        for (const l of lines.slice(1)) {
          if (!l) continue;
          const c = l.indexOf(':');
          if (c <= 0) fail(`malformed HTTP header line: ${JSON.stringify(l)}`);
          const k = l.slice(0, c).trim().toLowerCase();
          const v = l.slice(c + 1).trim();
          headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
        }
        return { status: Number(m[1]), reason: m[2] || '', headers, raw: head };
      }
      const r = await this._need(all.length + 1, deadline);
      if (r !== true) fail(`no complete HTTP response (${r === 'timeout' ? 'timed out' : 'connection closed'}; got ${show(all, 80)})`);
    }
  }

  // Reads one frame. Returns {fin, rsv1, rsv2, rsv3, opcode, payload} or
  // {eof: true, error}. Fails the case on a masked server frame or a timeout.
  async readFrame(timeout = this.wait, what = 'a frame') {
    const deadline = Date.now() + timeout;
    const need = async (n) => {
      const r = await this._need(n, deadline);
      if (r === 'timeout') fail(`timed out after ${timeout} ms waiting for ${what}`);
      return r;
    };
    if (!(await need(2))) {
      if (this.avail > 0) fail(`connection closed in the middle of a frame header (${show(this._take(this.avail))})`);
      return { eof: true, error: this.error };
    }
    const peek = this.chunks[0].length >= 2 ? this.chunks[0] : Buffer.concat(this.chunks);
    const b1 = peek[1];
    let hlen = 2 + ((b1 & 0x7f) === 126 ? 2 : (b1 & 0x7f) === 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
    if (!(await need(hlen))) fail('connection closed in the middle of a frame header');
    const h = this._take(hlen);
    const f = {
      fin: !!(h[0] & 0x80), rsv1: !!(h[0] & 0x40), rsv2: !!(h[0] & 0x20), rsv3: !!(h[0] & 0x10), opcode: h[0] & 0x0f,
    };
    if (h[1] & 0x80) fail('server sent a masked frame (RFC 6455 §5.1: server frames MUST NOT be masked)');
    let len = h[1] & 0x7f;
    if (len === 126) len = h.readUInt16BE(2);
    else if (len === 127) {
      const big = h.readBigUInt64BE(2);
      if (big > 0x7fffffffn) fail(`server declared an absurd frame length ${big}`);
      len = Number(big);
    }
    if (!(await need(len))) fail(`connection closed in the middle of a ${len}-byte frame payload`);
    f.payload = this._take(len);
    return f;
  }

  // Reads the next frame and checks the server side of the protocol.
  async nextFrame(timeout, what) {
    const f = await this.readFrame(timeout, what);
    if (f.eof) return f;
    if (this.closeReceived) fail(`server sent ${describeFrame(f)} after its close frame`);
    if (f.rsv2 || f.rsv3) fail(`server sent ${describeFrame(f)} with RSV2/RSV3 set`);
    if (f.rsv1 && !(this.deflate && (f.opcode === OP.TEXT || f.opcode === OP.BINARY))) {
      fail(`server sent ${describeFrame(f)} with RSV1 set${this.deflate ? '' : ' without permessage-deflate'}`);
    }
    if (![0, 1, 2, 8, 9, 10].includes(f.opcode)) fail(`server sent reserved opcode ${f.opcode}`);
    if (f.opcode >= 8) {
      if (!f.fin) fail(`server sent a fragmented control frame (${describeFrame(f)})`);
      if (f.payload.length > 125) fail(`server sent a control frame with ${f.payload.length} bytes of payload`);
    }
    if (f.opcode === OP.CLOSE) this.closeReceived = f;
    return f;
  }

  // Reads one whole message (reassembling fragments, inflating when RSV1) or
  // a control frame. Returns {opcode, payload, compressed, frames} or
  // {eof}.
  async nextMessage(timeout = this.wait, what = 'a message') {
    const deadline = Date.now() + timeout;
    const first = await this.nextFrame(Math.max(1, deadline - Date.now()), what);
    if (first.eof || first.opcode >= 8) return first;
    if (first.opcode === OP.CONT) fail('server sent a continuation frame without a message in progress');
    const parts = [first.payload];
    let frames = 1;
    let last = first;
    const interleaved = [];
    while (!last.fin) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()), `the rest of a fragmented ${OP_NAME[first.opcode]} message`);
      if (f.eof) fail('connection closed in the middle of a fragmented message');
      if (f.opcode >= 8) { interleaved.push(f); if (f.opcode === OP.CLOSE) fail('server sent close in the middle of a fragmented message'); continue; }
      if (f.opcode !== OP.CONT) fail(`server started a new ${OP_NAME[f.opcode]} message inside a fragmented one`);
      if (f.rsv1) fail('server set RSV1 on a continuation frame (RFC 7692 §6.1)');
      parts.push(f.payload);
      frames++;
      last = f;
    }
    let payload = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (first.rsv1) payload = this.decompressor.decompress(payload);
    if (first.opcode === OP.TEXT && !isValidUtf8(payload)) fail(`server sent a text message that is not valid UTF-8 (${show(payload)})`);
    return { opcode: first.opcode, payload, compressed: first.rsv1, frames, interleaved };
  }

  // Expects the next message to be `opcode` with exactly `payload`.
  async expectMessage(opcode, payload, timeout = this.wait) {
    const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const m = await this.nextMessage(timeout, `echo of ${OP_NAME[opcode]} (${show(want)})`);
    if (m.eof) fail(`expected ${OP_NAME[opcode]} echo (${show(want)}), got ${describeFrame(m)}`);
    if (m.opcode !== opcode) fail(`expected ${OP_NAME[opcode]} echo (${show(want)}), got ${m.opcode >= 8 ? describeFrame(m) : `${OP_NAME[m.opcode]} message (${show(m.payload)})`}`);
    if (m.interleaved && m.interleaved.length) fail(`unexpected ${describeFrame(m.interleaved[0])} inside the echo`);
    if (!m.payload.equals(want)) {
      let i = 0;
      while (i < want.length && i < m.payload.length && want[i] === m.payload[i]) i++;
      fail(`echo differs: expected ${show(want)}, got ${show(m.payload)} (first difference at byte ${i})`);
    }
    return m;
  }

  async expectPong(payload, timeout = this.wait) {
    const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const f = await this.nextFrame(timeout, `pong (${show(want)})`);
    if (f.eof || f.opcode !== OP.PONG) fail(`expected pong (${show(want)}), got ${describeFrame(f)}`);
    if (!f.payload.equals(want)) fail(`pong payload differs: expected ${show(want)}, got ${show(f.payload)}`);
    return f;
  }

  // Expects a close frame whose code is one of `codes` (null = empty
  // payload), then the TCP close with no byte in between. Replies with a close
  // frame as a well-behaved client would (RFC 6455 §5.5.1) unless we already
  // sent one (`replied`).
  async expectClose(codes, { timeout = this.wait, replied = false, what } = {}) {
    codes = Array.isArray(codes) ? codes : [codes];
    const label = codes.map((c) => (c === null ? 'empty close' : `close ${c}`)).join(' or ');
    const f = await this.nextFrame(timeout, what || label);
    if (f.eof) fail(`expected ${label}, got TCP close without a close frame${f.error ? ` (${f.error})` : ''}`);
    if (f.opcode !== OP.CLOSE) fail(`expected ${label}, got ${describeFrame(f)}`);
    const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    if (f.payload.length === 1) fail('server close frame has a 1-byte payload');
    if (!codes.includes(code)) fail(`expected ${label}, got ${describeFrame(f)}${f.payload.length > 2 ? ` reason ${JSON.stringify(f.payload.subarray(2).toString())}` : ''}`);
    if (f.payload.length > 2 && !isValidUtf8(f.payload.subarray(2))) fail('server close reason is not valid UTF-8');
    if (!replied) this.send(frame({ opcode: OP.CLOSE, payload: code === null ? Buffer.alloc(0) : closePayload(code) }));
    await this.expectEof(timeout);
    return code;
  }

  // Expects the TCP connection to end with no further bytes.
  async expectEof(timeout = this.wait) {
    const r = await this._need(1, Date.now() + timeout);
    if (r === true) fail(`server sent ${show(this._take(this.avail))} after its close frame`);
    if (r === 'timeout') fail(`server did not close the TCP connection within ${timeout} ms after its close frame`);
  }

  // Expects no frame to arrive for `ms` milliseconds.
  async expectNothing(ms) {
    const r = await this._need(1, Date.now() + ms);
    if (r === true) {
      const f = await this.readFrame(1000);
      fail(`expected nothing, got ${describeFrame(f)}`);
    }
    if (r === false) fail(`expected nothing, got ${this.error ? `connection error ${this.error}` : 'TCP close'}`);
  }

  // Normal end of a case: close 1000, expect 1000 back, expect TCP close.
  async closeNormally() {
    this.close(1000);
    await this.expectClose(1000, { replied: true });
  }

  destroy() {
    this.socket.destroy();
    if (this.compressor) this.compressor.close();
    if (this.decompressor) this.decompressor.close();
  }
}

// Builds an HTTP upgrade request. `headers` adds or replaces headers (by
// case-insensitive name; value null removes the header).
function upgradeRequest({ method = 'GET', path = '/echo', host = '127.0.0.1', key, version = '13', extensions, headers = {}, httpVersion = '1.1' } = {}) {
  const list = [
    ['Host', host], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', version],
  ];
  if (extensions) list.push(['Sec-WebSocket-Extensions', extensions]);
  for (const [k, v] of Object.entries(headers)) {
    const i = list.findIndex(([n]) => n.toLowerCase() === k.toLowerCase());
    if (i >= 0) list.splice(i, 1);
    if (v !== null && v !== undefined) {
      for (const one of Array.isArray(v) ? v : [v]) list.push([k, one]);
    }
  }
  return `${method} ${path} HTTP/${httpVersion}\r\n${list.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

function hasToken(value, token) {
  return (value || '').split(',').some((t) => t.trim().toLowerCase() === token);
}

const WINDOW_RE = /^(?:[89]|1[0-5])$/;

// Checks a permessage-deflate response against one offer (RFC 7692 §5, §7.1).
// Returns an error string or null.
function checkDeflateResponse(offer, resp) {
  const o = offer.params;
  const r = resp.params;
  for (const k of Object.keys(r)) {
    if (!['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'].includes(k)) return `unknown parameter ${k}`;
  }
  if (resp.dup) return 'duplicate parameter';
  for (const k of ['server_no_context_takeover', 'client_no_context_takeover']) {
    if (k in r && r[k] !== true) return `${k} must not have a value`;
  }
  if (o.server_no_context_takeover && !r.server_no_context_takeover) return 'offer had server_no_context_takeover but the response lacks it (§7.1.1.1)';
  if ('server_max_window_bits' in r) {
    if (!WINDOW_RE.test(String(r.server_max_window_bits))) return `invalid server_max_window_bits=${r.server_max_window_bits}`;
    if (typeof o.server_max_window_bits === 'string' && Number(r.server_max_window_bits) > Number(o.server_max_window_bits)) return `server_max_window_bits=${r.server_max_window_bits} is larger than the offered ${o.server_max_window_bits}`;
  } else if (typeof o.server_max_window_bits === 'string') {
    return `offer had server_max_window_bits=${o.server_max_window_bits} but the response lacks it (§7.1.2.1)`;
  }
  if ('client_max_window_bits' in r) {
    if (!('client_max_window_bits' in o)) return 'response has client_max_window_bits that was not offered (§7.1.2.2)';
    if (!WINDOW_RE.test(String(r.client_max_window_bits))) return `invalid client_max_window_bits=${r.client_max_window_bits}`;
    if (typeof o.client_max_window_bits === 'string' && Number(r.client_max_window_bits) > Number(o.client_max_window_bits)) return `client_max_window_bits=${r.client_max_window_bits} is larger than the offered ${o.client_max_window_bits}`;
  }
  return null;
}

// Connects and completes the opening handshake. Options: path, extensions
// (offer string), headers, key, pipelined (bytes sent in the same write as the
// request), chunk (send the request in pieces of this many bytes).
async function openWs(target, opts = {}) {
  const c = await Conn.connect(target.host, target.port);
  if (opts.wait) c.wait = opts.wait;
  const key = opts.key || crypto.randomBytes(16).toString('base64');
  const req = Buffer.from(upgradeRequest({ path: target.path, host: `${target.host}:${target.port}`, key, ...opts }), 'latin1');
  const bytes = opts.pipelined ? Buffer.concat([req, opts.pipelined]) : req;
  if (opts.chunk) await c.sendChunked(bytes, opts.chunk);
  else c.send(bytes);
  const res = await c.readHttp();
  c.response = res;
  if (res.status !== 101) fail(`handshake: expected 101, got ${res.status} ${res.reason}`);
  if (!hasToken(res.headers.upgrade, 'websocket')) fail(`handshake: Upgrade header is ${JSON.stringify(res.headers.upgrade)}`);
  if (!hasToken(res.headers.connection, 'upgrade')) fail(`handshake: Connection header is ${JSON.stringify(res.headers.connection)}`);
  if (res.headers['sec-websocket-accept'] !== acceptFor(key)) fail(`handshake: Sec-WebSocket-Accept is ${JSON.stringify(res.headers['sec-websocket-accept'])}, expected ${acceptFor(key)}`);
  const exts = parseExtensions(res.headers['sec-websocket-extensions']);
  const offers = parseExtensions(opts.extensions).filter((e) => e.name === 'permessage-deflate');
  for (const e of exts) {
    if (e.name !== 'permessage-deflate') fail(`handshake: server accepted extension ${e.name} that was not offered`);
  }
  if (exts.length > 1) fail('handshake: server accepted permessage-deflate more than once');
  if (exts.length === 1) {
    if (!offers.length) fail('handshake: server accepted permessage-deflate that was not offered');
    const r = exts[0];
    const errors = offers.map((o) => checkDeflateResponse(o, r));
    const ok = errors.findIndex((e) => e === null);
    if (ok < 0) fail(`handshake: bad permessage-deflate response ${JSON.stringify(res.headers['sec-websocket-extensions'])}: ${errors[0]}`);
    const offer = offers[ok].params;
    const p = r.params;
    let clientWindow = 15;
    if (typeof offer.client_max_window_bits === 'string') clientWindow = Number(offer.client_max_window_bits);
    if (typeof p.client_max_window_bits === 'string') clientWindow = Math.min(clientWindow, Number(p.client_max_window_bits));
    c.deflate = {
      serverNoContextTakeover: !!p.server_no_context_takeover,
      clientNoContextTakeover: !!p.client_no_context_takeover || !!offer.client_no_context_takeover,
      serverWindow: p.server_max_window_bits ? Number(p.server_max_window_bits) : 15,
      clientWindow,
      response: exts[0],
      offer: offers[ok],
    };
    c.compressor = new Compressor({ windowBits: clientWindow, noContextTakeover: c.deflate.clientNoContextTakeover });
    c.decompressor = new Decompressor({ windowBits: c.deflate.serverWindow, noContextTakeover: c.deflate.serverNoContextTakeover });
  }
  return c;
}

// Sends a raw HTTP request and returns the parsed response head.
async function httpExchange(target, raw) {
  const c = await Conn.connect(target.host, target.port);
  c.send(Buffer.from(raw, 'latin1'));
  try {
    const res = await c.readHttp();
    res.conn = c;
    return res;
  } catch (e) {
    c.destroy();
    throw e;
  }
}

// Independent UTF-8 validator (RFC 3629: no overlongs, no surrogates, max
// U+10FFFF). Used to check what the server sends and to build test data.
function isValidUtf8(b) {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    let need, min;
    if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; }
    else return false;
    if (i + need >= n) return false;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

module.exports = {
  OP, OP_NAME, TAIL, GUID, CaseFailure, fail, acceptFor, show, describeFrame, frame, closePayload, chunks, fragments,
  sleep, parseExtensions, Compressor, Decompressor, Conn, isValidUtf8, DEFAULT_WAIT, upgradeRequest, openWs,
  httpExchange, hasToken,
};
