// FrameParser (client frames, every length encoding, every split position,
// masking across chunks), FrameWriter (server headers, close payloads) and the
// close code table.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ws/CloseCode.h"
#include "ws/FrameParser.h"
#include "ws/FrameWriter.h"
#include "ws/Opcode.h"
#include "ws/Utf8Validator.h"
#include "../support/ClientFrame.h"

using namespace sb::ws;

namespace {

using sb::testsupport::clientFrame;
using sb::testsupport::kMask;
using sb::testsupport::Mask;

struct Frame {
  FrameHeader h;
  std::string payload;
  int chunks = 0;
  bool ended = false;
};

struct Recorder {
  std::vector<Frame> frames;
  int stopAtHeader = -1, stopAtPayload = -1, stopAtEnd = -1;  // frame index at which to return false
  int events = 0;
  bool onFrameHeader(const FrameHeader& h) {
    ++events;
    frames.push_back(Frame{h, {}, 0, false});
    return int(frames.size()) - 1 != stopAtHeader;
  }
  bool onFramePayload(uint8_t* p, size_t n) {
    ++events;
    EXPECT_FALSE(frames.empty());
    EXPECT_GT(n, 0u);
    frames.back().payload.append(reinterpret_cast<char*>(p), n);
    frames.back().chunks++;
    return int(frames.size()) - 1 != stopAtPayload;
  }
  bool onFrameEnd() {
    ++events;
    EXPECT_FALSE(frames.back().ended);
    frames.back().ended = true;
    return int(frames.size()) - 1 != stopAtEnd;
  }
};

// Feeds `wire` cut at the given positions (sorted), all must be consumed.
void feedSplit(FrameParser& p, Recorder& r, std::string wire, const std::vector<size_t>& cuts) {
  size_t prev = 0;
  std::vector<size_t> all = cuts;
  all.push_back(wire.size());
  for (size_t c : all) {
    auto res = p.feed(reinterpret_cast<uint8_t*>(wire.data()) + prev, c - prev, r);
    ASSERT_EQ(res.status, FrameParser::Status::Ok);
    ASSERT_EQ(res.consumed, c - prev);
    prev = c;
  }
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 7 + 3) & 0xFF);
  return s;
}

}  // namespace

TEST(Opcode, Classification) {
  EXPECT_FALSE(isControl(Opcode::Continuation));
  EXPECT_FALSE(isControl(Opcode::Text));
  EXPECT_FALSE(isControl(Opcode::Binary));
  EXPECT_TRUE(isControl(Opcode::Close));
  EXPECT_TRUE(isControl(Opcode::Ping));
  EXPECT_TRUE(isControl(Opcode::Pong));
  for (int op = 0; op < 16; ++op) {
    bool known = op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 10;
    EXPECT_EQ(isKnownOpcode(uint8_t(op)), known) << op;
  }
}

TEST(CloseCode, Table) {
  for (uint32_t c = 0; c <= 0xFFFF; ++c) {
    bool expected = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    ASSERT_EQ(isValidReceivedCloseCode(uint16_t(c)), expected) << c;
  }
  EXPECT_FALSE(isValidReceivedCloseCode(close_code::NoStatus));
  EXPECT_FALSE(isValidReceivedCloseCode(close_code::Abnormal));
  EXPECT_FALSE(isValidReceivedCloseCode(close_code::TlsHandshake));
  EXPECT_FALSE(isValidReceivedCloseCode(1004));
  EXPECT_EQ(close_code::Normal, 1000);
  EXPECT_EQ(close_code::InvalidPayload, 1007);
  EXPECT_EQ(close_code::MessageTooBig, 1009);
  EXPECT_EQ(close_code::InternalError, 1011);
  EXPECT_STREQ(closeCodeName(1002), "protocol error");
  EXPECT_STREQ(closeCodeName(4001), "application code");
  EXPECT_STREQ(closeCodeName(2000), "invalid");
}

// ---- FrameWriter -----------------------------------------------------------

TEST(FrameWriter, LengthEncodings) {
  struct Case {
    uint64_t len;
    size_t hlen;
  } cases[] = {{0, 2}, {1, 2}, {125, 2}, {126, 4}, {127, 4}, {65535, 4}, {65536, 10}, {(1ull << 32) + 5, 10}};
  for (auto c : cases) {
    uint8_t h[kMaxServerHeaderSize];
    size_t n = writeFrameHeader(h, Opcode::Binary, c.len);
    ASSERT_EQ(n, c.hlen) << c.len;
    EXPECT_EQ(h[0], 0x82);
    EXPECT_EQ(h[1] & 0x80, 0) << "server frames are unmasked";
    uint64_t got;
    if (n == 2) {
      got = h[1];
    } else if (n == 4) {
      EXPECT_EQ(h[1], 126);
      got = (uint64_t(h[2]) << 8) | h[3];
    } else {
      EXPECT_EQ(h[1], 127);
      got = 0;
      for (int i = 0; i < 8; ++i) got = (got << 8) | h[2 + i];
    }
    EXPECT_EQ(got, c.len);
  }
}

TEST(FrameWriter, FlagsAndOpcode) {
  uint8_t h[10];
  writeFrameHeader(h, Opcode::Text, 5, false, false);
  EXPECT_EQ(h[0], 0x01);
  writeFrameHeader(h, Opcode::Text, 5, true, true);
  EXPECT_EQ(h[0], 0xC1);
  writeFrameHeader(h, Opcode::Continuation, 5, true);
  EXPECT_EQ(h[0], 0x80);
  writeFrameHeader(h, Opcode::Pong, 0);
  EXPECT_EQ(h[0], 0x8A);
  EXPECT_EQ(h[1], 0);
}

TEST(FrameWriter, MakeFrame) {
  EXPECT_EQ(makeFrame(Opcode::Text, "Hello"), std::string("\x81\x05Hello"));
  EXPECT_EQ(makeFrame(Opcode::Ping, ""), std::string("\x89\x00", 2));
  std::string big(300, 'x');
  std::string f = makeFrame(Opcode::Binary, big, false, true);
  EXPECT_EQ(f.size(), 304u);
  EXPECT_EQ(uint8_t(f[0]), 0x42);
  EXPECT_EQ(uint8_t(f[1]), 126);
  EXPECT_EQ(f.substr(4), big);
}

TEST(FrameWriter, ClosePayload) {
  EXPECT_EQ(makeClosePayload(1000, ""), std::string("\x03\xe8", 2));
  EXPECT_EQ(makeClosePayload(1002, "bad"), std::string("\x03\xea" "bad", 5));
  EXPECT_EQ(makeClosePayload(4000, "x"), std::string("\x0f\xa0x", 3));
  // Codes that must never be sent produce "no status".
  EXPECT_EQ(makeClosePayload(close_code::NoStatus, "x"), "");
  EXPECT_EQ(makeClosePayload(close_code::Abnormal, "x"), "");
  EXPECT_EQ(makeClosePayload(close_code::TlsHandshake, ""), "");
  EXPECT_EQ(makeClosePayload(0, ""), "");
}

TEST(FrameWriter, ClosePayloadTruncatesOnCharacterBoundary) {
  std::string ascii(200, 'a');
  EXPECT_EQ(makeClosePayload(1000, ascii).size(), 125u);
  // 61 x "é" = 122 bytes, then a 3-byte "€" that would end at 125: dropped whole.
  std::string r;
  for (int i = 0; i < 61; ++i) r += "\xc3\xa9";
  r += "\xe2\x82\xac";
  std::string p = makeClosePayload(1000, r);
  EXPECT_EQ(p.size(), 2u + 122u);
  EXPECT_TRUE(Utf8Validator::isValid(std::string_view(p).substr(2)));
  // For every prefix padding the cut falls somewhere else inside a 4-byte char.
  for (size_t pad = 0; pad < 8; ++pad) {
    std::string s(pad, 'z');
    while (s.size() < 200) s += "\xf0\x9f\x98\x80";
    std::string q = makeClosePayload(1001, s);
    ASSERT_LE(q.size(), 125u);
    ASSERT_GE(q.size(), 122u);
    ASSERT_TRUE(Utf8Validator::isValid(std::string_view(q).substr(2))) << pad;
  }
  // Invalid UTF-8 in the reason is never sent.
  EXPECT_EQ(makeClosePayload(1000, "ok\xffno"), std::string("\x03\xe8ok", 4));
  EXPECT_EQ(makeClosePayload(1000, "ab\xe2\x82"), std::string("\x03\xe8" "ab", 4));
}

// ---- FrameParser -----------------------------------------------------------

TEST(FrameParser, SmallState) { EXPECT_LE(sizeof(FrameParser), 32u); }

TEST(FrameParser, ApplyMaskMatchesReference) {
  const uint8_t key[4] = {0x01, 0x80, 0xfe, 0x5a};
  for (size_t off = 0; off < 4; ++off)
    for (size_t len = 0; len < 45; ++len)
      for (size_t start = 0; start < 3; ++start) {  // unaligned starts
        std::vector<uint8_t> buf(64), want(64);
        for (size_t i = 0; i < 64; ++i) buf[i] = want[i] = uint8_t(i * 13);
        for (size_t i = 0; i < len; ++i) want[start + i] ^= key[(off + i) & 3];
        applyMask(buf.data() + start, len, key, off);
        ASSERT_EQ(buf, want) << off << " " << len << " " << start;
      }
}

TEST(FrameParser, EveryLengthEncoding) {
  for (size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
    std::string payload = pattern(n);
    std::string wire = clientFrame(0x2, payload);
    size_t expectHeader = 2 + (n < 126 ? 0 : n <= 0xFFFF ? 2 : 8) + 4;
    ASSERT_EQ(wire.size(), expectHeader + n);
    FrameParser p;
    Recorder r;
    feedSplit(p, r, wire, {});
    ASSERT_EQ(r.frames.size(), 1u);
    const Frame& f = r.frames[0];
    EXPECT_EQ(f.h.length, n);
    EXPECT_EQ(f.h.opcode, 2);
    EXPECT_TRUE(f.h.fin);
    EXPECT_TRUE(f.h.masked);
    EXPECT_FALSE(f.h.rsv1 || f.h.rsv2 || f.h.rsv3);
    EXPECT_EQ(0, memcmp(f.h.mask, kMask.k, 4));
    EXPECT_EQ(f.payload, payload) << n;
    EXPECT_EQ(f.chunks, n ? 1 : 0);
    EXPECT_TRUE(f.ended);
    EXPECT_TRUE(p.atFrameBoundary());
  }
}

TEST(FrameParser, NonMinimalLengthEncodingsAccepted) {
  std::string payload = "abc";
  for (int bytes : {2, 8}) {
    FrameParser p;
    Recorder r;
    feedSplit(p, r, clientFrame(1, payload, true, true, 0, kMask, bytes), {});
    ASSERT_EQ(r.frames.size(), 1u);
    EXPECT_EQ(r.frames[0].payload, payload);
  }
}

TEST(FrameParser, HeaderBitsAndUnmaskedPassThrough) {
  FrameParser p;
  Recorder r;
  feedSplit(p, r, clientFrame(0x9, "ping", false, false, 0x7), {});
  ASSERT_EQ(r.frames.size(), 1u);
  const Frame& f = r.frames[0];
  EXPECT_FALSE(f.h.fin);
  EXPECT_TRUE(f.h.rsv1 && f.h.rsv2 && f.h.rsv3);
  EXPECT_FALSE(f.h.masked);
  EXPECT_EQ(f.h.opcode, 9);
  EXPECT_EQ(f.payload, "ping");
  // Reserved opcodes are reported raw; judging them is the caller's job.
  FrameParser p2;
  Recorder r2;
  feedSplit(p2, r2, clientFrame(0xB, "", true), {});
  ASSERT_EQ(r2.frames.size(), 1u);
  EXPECT_EQ(r2.frames[0].h.opcode, 0xB);
}

TEST(FrameParser, SplitAtEveryPositionEveryEncoding) {
  // Two cut points anywhere: header splits, mask splits at every byte, payload
  // split at every key phase.
  for (size_t n : {0u, 5u, 126u, 300u}) {
    std::string payload = pattern(n);
    std::string wire = clientFrame(1, payload, true, true, 0, Mask{{0xA1, 0xB2, 0xC3, 0xD4}});
    size_t step = wire.size() > 60 ? 7 : 1;
    for (size_t i = 0; i <= wire.size(); ++i)
      for (size_t j = i; j <= wire.size(); j += (j < 20 ? 1 : step)) {
        FrameParser p;
        Recorder r;
        feedSplit(p, r, wire, {i, j});
        ASSERT_EQ(r.frames.size(), 1u) << n << " " << i << " " << j;
        ASSERT_EQ(r.frames[0].h.length, n);
        ASSERT_EQ(r.frames[0].payload, payload) << n << " " << i << " " << j;
        ASSERT_TRUE(r.frames[0].ended);
      }
  }
  // 64-bit encoding split at every header byte.
  std::string payload = pattern(65536);
  std::string wire = clientFrame(2, payload);
  for (size_t i = 0; i <= 20; ++i) {
    FrameParser p;
    Recorder r;
    feedSplit(p, r, wire, {i});
    ASSERT_EQ(r.frames.size(), 1u);
    ASSERT_EQ(r.frames[0].payload, payload) << i;
  }
}

TEST(FrameParser, OneByteAtATime) {
  std::string wire = clientFrame(1, "Hello, world", false) + clientFrame(0x9, "") + clientFrame(0, pattern(200)) +
                     clientFrame(0xA, "pong!");
  std::vector<size_t> cuts;
  for (size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  FrameParser p;
  Recorder r;
  feedSplit(p, r, wire, cuts);
  ASSERT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(r.frames[0].payload, "Hello, world");
  EXPECT_EQ(r.frames[0].chunks, 12);
  EXPECT_FALSE(r.frames[0].h.fin);
  EXPECT_EQ(r.frames[1].h.opcode, 9);
  EXPECT_EQ(r.frames[1].payload, "");
  EXPECT_TRUE(r.frames[1].ended);
  EXPECT_EQ(r.frames[2].payload, pattern(200));
  EXPECT_EQ(r.frames[3].payload, "pong!");
  for (auto& f : r.frames) EXPECT_TRUE(f.ended);
}

TEST(FrameParser, ManyFramesInOneBuffer) {
  std::string wire;
  for (int i = 0; i < 50; ++i) wire += clientFrame(1, std::string(size_t(i), char('a' + i % 26)));
  FrameParser p;
  Recorder r;
  feedSplit(p, r, wire, {});
  ASSERT_EQ(r.frames.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(r.frames[i].payload, std::string(size_t(i), char('a' + i % 26)));
}

TEST(FrameParser, ZeroLengthFramesGetHeaderAndEndOnly) {
  std::string wire = clientFrame(1, "") + clientFrame(8, "");
  FrameParser p;
  Recorder r;
  feedSplit(p, r, wire, {});
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.events, 4);
}

TEST(FrameParser, Rejects64BitLengthWithHighBit) {
  const std::string bad("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00" "abcd", 14);
  std::string wire = bad;
  FrameParser p;
  Recorder r;
  auto res = p.feed(reinterpret_cast<uint8_t*>(wire.data()), wire.size(), r);
  EXPECT_EQ(res.status, FrameParser::Status::Error);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_TRUE(p.failed());
  // Split so the bad header is assembled from pieces.
  FrameParser p2;
  Recorder r2;
  wire = bad;
  auto a = p2.feed(reinterpret_cast<uint8_t*>(wire.data()), 3, r2);
  EXPECT_EQ(a.status, FrameParser::Status::Ok);
  auto b = p2.feed(reinterpret_cast<uint8_t*>(wire.data()) + 3, wire.size() - 3, r2);
  EXPECT_EQ(b.status, FrameParser::Status::Error);
  // Largest legal 63-bit length is accepted (header only).
  std::string ok("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff" "abcd", 14);
  FrameParser p3;
  Recorder r3;
  auto c = p3.feed(reinterpret_cast<uint8_t*>(ok.data()), ok.size(), r3);
  EXPECT_EQ(c.status, FrameParser::Status::Ok);
  ASSERT_EQ(r3.frames.size(), 1u);
  EXPECT_EQ(r3.frames[0].h.length, 0x7fffffffffffffffull);
}

TEST(FrameParser, HandlerCanStopAndResume) {
  const std::string original = clientFrame(1, "first") + clientFrame(2, "second") + clientFrame(1, "");
  for (int which = 0; which < 3; ++which) {
    std::string wire = original;  // unmasked in place: fresh copy per run
    FrameParser p;
    Recorder r;
    if (which == 0) r.stopAtHeader = 1;
    if (which == 1) r.stopAtPayload = 1;
    if (which == 2) r.stopAtEnd = 1;
    auto res = p.feed(reinterpret_cast<uint8_t*>(wire.data()), wire.size(), r);
    ASSERT_EQ(res.status, FrameParser::Status::Stopped);
    size_t f0 = 2 + 4 + 5, hdr1 = 6;
    size_t expect = which == 0 ? f0 + hdr1 : f0 + hdr1 + 6;
    EXPECT_EQ(res.consumed, expect) << which;
    // Resume from where it stopped: everything is still delivered once.
    r.stopAtHeader = r.stopAtPayload = r.stopAtEnd = -1;
    auto res2 = p.feed(reinterpret_cast<uint8_t*>(wire.data()) + res.consumed, wire.size() - res.consumed, r);
    EXPECT_EQ(res2.status, FrameParser::Status::Ok);
    ASSERT_EQ(r.frames.size(), 3u);
    EXPECT_EQ(r.frames[1].payload, "second");
    EXPECT_TRUE(r.frames[1].ended);
    EXPECT_TRUE(r.frames[2].ended);
  }
}

TEST(FrameParser, StopOnZeroLengthEnd) {
  std::string wire = clientFrame(1, "") + clientFrame(1, "x");
  FrameParser p;
  Recorder r;
  r.stopAtEnd = 0;
  auto res = p.feed(reinterpret_cast<uint8_t*>(wire.data()), wire.size(), r);
  EXPECT_EQ(res.status, FrameParser::Status::Stopped);
  EXPECT_EQ(res.consumed, 6u);
  EXPECT_TRUE(p.atFrameBoundary());
}

TEST(FrameParser, PayloadRemainingAndReset) {
  std::string wire = clientFrame(2, pattern(100));
  FrameParser p;
  Recorder r;
  p.feed(reinterpret_cast<uint8_t*>(wire.data()), 6 + 30, r);
  EXPECT_EQ(p.payloadRemaining(), 70u);
  EXPECT_FALSE(p.atFrameBoundary());
  p.reset();
  EXPECT_TRUE(p.atFrameBoundary());
  EXPECT_EQ(p.payloadRemaining(), 0u);
}
