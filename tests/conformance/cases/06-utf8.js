// Group 6: UTF-8 in text messages (RFC 6455 §8.1, RFC 3629), including the
// Markus Kuhn stress cases: valid boundary characters, overlong forms,
// surrogates, code points above U+10FFFF, stray and missing continuation
// bytes; single frames, fragments, and fail-fast detection.
'use strict';
const { OP, frame, fragments, isValidUtf8, sleep } = require('../lib/client');
const { scenario, sendFrames, T, C } = require('../lib/dsl');

const h = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Valid sequences (Kuhn 1.x, 2.x, 5.3 non-characters are valid UTF-8).
const VALID = [
  ['empty', ''],
  ['ASCII', '48656c6c6f'],
  ['κόσμε (Greek)', 'cebae1bdb9cf83cebcceb5'],
  ['Hello-µ@ßöäüàá-UTF-8!!', '48656c6c6f2dc2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121'],
  ['U+0000 (first 1-byte)', '00'],
  ['U+0080 (first 2-byte)', 'c280'],
  ['U+0800 (first 3-byte)', 'e0a080'],
  ['U+10000 (first 4-byte)', 'f0908080'],
  ['U+007F (last 1-byte)', '7f'],
  ['U+07FF (last 2-byte)', 'dfbf'],
  ['U+FFFF (last 3-byte)', 'efbfbf'],
  ['U+10FFFF (last valid code point)', 'f48fbfbf'],
  ['U+D7FF (just below the surrogates)', 'ed9fbf'],
  ['U+E000 (just above the surrogates)', 'ee8080'],
  ['U+FFFD (replacement character)', 'efbfbd'],
  ['U+FFFE (non-character, valid UTF-8)', 'efbfbe'],
  ['U+FDD0 (non-character, valid UTF-8)', 'efb790'],
  ['U+1FFFF (non-character, valid UTF-8)', 'f09fbfbf'],
  ['U+1D11E musical G clef', 'f09d849e'],
  ['U+0000 inside text', '610062'],
  ['mixed 1-4 byte characters', '41c2a9e282acf09f9880'],
];

// Invalid sequences.
const INVALID = [
  // > U+10FFFF and 5/6-byte forms
  ['U+110000 (F4 90 80 80)', 'f4908080'],
  ['U+1FFFFF (F7 BF BF BF)', 'f7bfbfbf'],
  ['5-byte form U+200000', 'f888808080'],
  ['5-byte form U+3FFFFFF', 'fbbfbfbfbf'],
  ['6-byte form U+4000000', 'fc8480808080'],
  ['6-byte form U+7FFFFFFF', 'fdbfbfbfbfbf'],
  ['F5 lead byte', 'f5808080'],
  // unexpected continuation bytes
  ['lone continuation 0x80', '80'],
  ['lone continuation 0xBF', 'bf'],
  ['2 continuation bytes', '80bf'],
  ['3 continuation bytes', '80bf80'],
  ['all 64 continuation bytes', Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i)).toString('hex')],
  ['continuation after valid ASCII', '616263 80'],
  ['extra continuation after a 2-byte char', 'c2a9 80'],
  // lonely start characters
  ['2-byte lead C2 followed by space', 'c220'],
  ['3-byte lead E1 followed by space', 'e120'],
  ['4-byte lead F1 followed by space', 'f120'],
  ['all 2-byte leads each followed by space', Buffer.from(Array.from({ length: 32 }, (_, i) => [0xc0 + i, 0x20]).flat()).toString('hex')],
  ['3-byte lead with only one continuation, then ASCII', 'e180 41'],
  ['4-byte lead with two continuations, then ASCII', 'f09080 41'],
  // truncated at the end of the message
  ['truncated 2-byte at end (C2)', '6162 c2'],
  ['truncated 3-byte at end (E2 82)', '6162 e282'],
  ['truncated 3-byte at end (E2)', '6162 e2'],
  ['truncated 4-byte at end (F0 9F 98)', '6162 f09f98'],
  ['truncated 4-byte at end (F0 9F)', '6162 f09f'],
  ['truncated 4-byte at end (F4 8F BF)', 'f48fbf'],
  ['concatenation of all truncated sequences', 'c2 e282 f09f98 df efbf f48fbf'],
  // impossible bytes
  ['FE', 'fe'],
  ['FF', 'ff'],
  ['FE FE FF FF', 'fefeffff'],
  // overlong forms
  ['overlong "/" 2-byte (C0 AF)', 'c0af'],
  ['overlong "/" 3-byte (E0 80 AF)', 'e080af'],
  ['overlong "/" 4-byte (F0 80 80 AF)', 'f08080af'],
  ['overlong "/" 5-byte', 'f8808080af'],
  ['overlong "/" 6-byte', 'fc80808080af'],
  ['maximum overlong 2-byte (C1 BF)', 'c1bf'],
  ['maximum overlong 3-byte (E0 9F BF)', 'e09fbf'],
  ['maximum overlong 4-byte (F0 8F BF BF)', 'f08fbfbf'],
  ['overlong NUL 2-byte (C0 80)', 'c080'],
  ['overlong NUL 3-byte (E0 80 80)', 'e08080'],
  ['overlong NUL 4-byte (F0 80 80 80)', 'f0808080'],
  // UTF-16 surrogates
  ['U+D800 (ED A0 80)', 'eda080'],
  ['U+DB7F (ED AD BF)', 'edadbf'],
  ['U+DB80 (ED AE 80)', 'edae80'],
  ['U+DBFF (ED AF BF)', 'edafbf'],
  ['U+DC00 (ED B0 80)', 'edb080'],
  ['U+DF80 (ED BE 80)', 'edbe80'],
  ['U+DFFF (ED BF BF)', 'edbfbf'],
  ['surrogate pair U+D800 U+DC00', 'eda080edb080'],
  ['surrogate pair U+DBFF U+DFFF', 'edafbfedbfbf'],
  ['CESU-8 encoded U+1F600', 'eda0bdedb880'],
  // invalid inside otherwise valid text
  ['κόσμε with an invalid byte in the middle', 'cebae1bdb9cf83cebcceb5 f4908080 65646974656420'],
  ['valid text, then an invalid 2-byte sequence at byte 1000', `${'61'.repeat(1000)}c0af${'62'.repeat(100)}`],
];

// Invalid prefixes decidable as soon as they arrive: the server must close
// with 1007 while the rest of the frame (or message) is still missing.
const FAIL_FAST = [
  ['F4 90 (> U+10FFFF)', 'cebae1bdb9cf83cebcceb5 f490'],
  ['C0 (never valid)', '48656c6c6f c0'],
  ['ED A0 (surrogate)', '48656c6c6f eda0'],
  ['E0 80 (overlong)', '48656c6c6f e080'],
  ['lone continuation 0x80', '48656c6c6f 80'],
  ['FF', '48656c6c6f ff'],
  ['F5', '48656c6c6f f5'],
  ['C2 followed by ASCII', '48656c6c6f c241'],
];

module.exports = (add) => {
  // 6.1: valid text in one frame.
  VALID.forEach(([name, hex], i) => {
    add(`6.1.${i + 1}`, `valid UTF-8 in one frame: ${name}`, scenario([T(h(hex))], [['text', h(hex)]]));
  });
  // 6.2: the same, one byte per fragment.
  VALID.forEach(([name, hex], i) => {
    add(`6.2.${i + 1}`, `valid UTF-8, one byte per fragment: ${name}`, scenario([fragments(OP.TEXT, h(hex), 1)], [['text', h(hex)]]));
  });
  // 6.3: a valid multi-byte text split into two fragments at every byte.
  const sample = Buffer.from('Hello-µ@ßöäüàá-€-𝄞-UTF-8!!');
  for (let cut = 1; cut < sample.length; cut++) {
    add(`6.3.${cut}`, `valid text split into 2 fragments at byte ${cut} of ${sample.length}`, scenario(
      [T(sample.subarray(0, cut), { fin: false }), C(sample.subarray(cut))], [['text', sample]]));
  }

  // 6.4: fail fast on an invalid prefix while the frame is incomplete.
  FAIL_FAST.forEach(([name, hex], i) => {
    const bad = h(hex);
    add(`6.4.${i + 1}`, `invalid ${name} at the start of a 100-byte frame: close 1007 before the rest of the frame is sent`, async (t) => {
      const c = await t.open();
      const full = Buffer.concat([bad, Buffer.alloc(100 - bad.length, 0x61)]);
      const f = frame({ opcode: OP.TEXT, payload: full });
      const headerLen = f.length - full.length;
      c.send(f.subarray(0, headerLen + bad.length));
      await c.expectClose(1007, { timeout: 2000, what: 'close 1007 while the frame is still incomplete' });
    });
  });
  add(`6.4.${FAIL_FAST.length + 1}`, 'fragment 1 valid, fragment 2 (FIN=0) contains F4 90 80 80: close 1007 before fragment 3', async (t) => {
    const c = await t.open();
    await sendFrames(c, [T('κόσμε', { fin: false }), C(h('f4908080'), { fin: false })]);
    await c.expectClose(1007, { timeout: 2000, what: 'close 1007 before the final fragment' });
  });
  add(`6.4.${FAIL_FAST.length + 2}`, 'invalid byte in the middle of a fragment, rest of the message never sent: close 1007', async (t) => {
    const c = await t.open();
    await sendFrames(c, [T('κόσμε', { fin: false }), C(Buffer.concat([h('cebae1bdb9cf83cebcceb5'), h('f4908080'), Buffer.from('edited')]), { fin: false })]);
    await c.expectClose(1007, { timeout: 2000 });
  });
  add(`6.4.${FAIL_FAST.length + 3}`, 'frame sent in 3 pieces with pauses, invalid byte in piece 2: close 1007 before piece 3', async (t) => {
    const c = await t.open();
    const payload = Buffer.concat([Buffer.from('κόσμε'), h('f4908080'), Buffer.from('edited')]);
    const f = frame({ opcode: OP.TEXT, payload });
    const hdr = f.length - payload.length;
    c.send(f.subarray(0, hdr + 5));
    await sleep(100);
    c.send(f.subarray(hdr + 5, hdr + 13));
    await c.expectClose(1007, { timeout: 2000, what: 'close 1007 before the last piece of the frame' });
  });
  add(`6.4.${FAIL_FAST.length + 4}`, 'invalid prefix of a 60000-byte frame: close 1007 long before the payload is complete', async (t) => {
    const c = await t.open();
    const f = frame({ opcode: OP.TEXT, payload: Buffer.concat([Buffer.from('ok so far '), h('eda080'), Buffer.alloc(60000 - 13, 0x61)]) });
    c.send(f.subarray(0, 8 + 13));
    await c.expectClose(1007, { timeout: 2000 });
  });

  // 6.5: invalid UTF-8 in a single frame.
  INVALID.forEach(([name, hex], i) => {
    if (isValidUtf8(h(hex))) throw new Error(`6.5.${i + 1}: test data is valid UTF-8`);
    add(`6.5.${i + 1}`, `invalid UTF-8 in one frame: ${name} -> close 1007`, scenario([T(h(hex))], [['close', 1007]]));
  });
  // 6.6: the same, one byte per fragment (invalidity spans frames).
  INVALID.forEach(([name, hex], i) => {
    add(`6.6.${i + 1}`, `invalid UTF-8, one byte per fragment: ${name} -> close 1007`, scenario([fragments(OP.TEXT, h(hex), 1)], [['close', 1007]]));
  });
  // 6.7: valid text echoed first, then the invalid message: echo arrives, then 1007.
  [0, 7, 20, 30, 41, 44].forEach((k, i) => {
    const [name, hex] = INVALID[k];
    add(`6.7.${i + 1}`, `valid text, then invalid (${name}), then ping -> echo, close 1007, no pong`, scenario(
      [T('valid'), T(h(hex)), { opcode: OP.PING, payload: Buffer.from('no') }], [['text', 'valid'], ['close', 1007]]));
  });
  // 6.8: invalid sequences split across two fragments at each position.
  const splitCases = [['F4 90 80 80', 'f4908080'], ['ED A0 80', 'eda080'], ['E0 80 AF', 'e080af'], ['F0 9F 98 (truncated at end)', 'f09f98']];
  let n = 0;
  for (const [name, hex] of splitCases) {
    const bad = Buffer.concat([Buffer.from('ab'), h(hex)]);
    for (let cut = 3; cut < bad.length; cut++) {
      n++;
      add(`6.8.${n}`, `invalid ${name} split across 2 fragments after byte ${cut} -> close 1007`, scenario(
        [T(bad.subarray(0, cut), { fin: false }), C(bad.subarray(cut))], [['close', 1007]]));
    }
  }
  // 6.9: binary messages are not UTF-8 checked.
  add('6.9.1', 'binary message with invalid UTF-8 bytes is echoed', scenario([{ opcode: OP.BINARY, payload: h('c0aff4908080eda080') }], [['binary', h('c0aff4908080eda080')]]));
  add('6.9.2', 'fragmented binary with bytes that would be invalid UTF-8 is echoed', scenario([fragments(OP.BINARY, h('edb080fffe80'), 1)], [['binary', h('edb080fffe80')]]));
  // 6.10: a 4-byte character split over 4 frames, with pings in between.
  add('6.10.1', '4-byte character split over 4 fragments with pings between -> pongs, then echo', scenario(
    [T(h('f0'), { fin: false }), { opcode: OP.PING, payload: Buffer.from('1') }, C(h('9d'), { fin: false }), C(h('84'), { fin: false }), { opcode: OP.PING, payload: Buffer.from('2') }, C(h('9e'))],
    [['pong', '1'], ['pong', '2'], ['text', h('f09d849e')]]));
};
