// WebSocketProtocol: the message-level rules of RFC 6455 / RFC 7692 that the
// Autobahn|Testsuite checks (cases 1-7, 9, 12, 13), driven through feed() with
// the input cut in many ways.
#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <string>
#include <vector>

#include "ws/CloseCode.h"
#include "ws/PerMessageDeflate.h"
#include "ws/Utf8Validator.h"
#include "ws/WebSocketProtocol.h"
#include "../support/ClientFrame.h"

using namespace sb::ws;
using Proto = WebSocketProtocol;

namespace {

constexpr uint8_t kText = 1, kBinary = 2, kCont = 0, kClose = 8, kPing = 9, kPong = 10;

std::string frame(uint8_t opcode, const std::string& payload, bool fin = true, uint8_t rsv = 0, bool masked = true) {
  return sb::testsupport::clientFrame(opcode, payload, fin, masked, rsv, {{0x9a, 0x01, 0x5c, 0xe3}});
}

std::string closeBody(uint16_t code, const std::string& reason = "") {
  std::string s;
  s += char(code >> 8);
  s += char(code & 0xFF);
  return s + reason;
}

struct Written {
  Opcode op;
  std::string payload;
};

struct Rec : Proto::Handler {
  std::vector<std::pair<Opcode, std::string>> messages;
  std::vector<Written> written;
  std::vector<std::string> pings, pongs;
  std::vector<std::string> log;  // every event, in order
  int closedCalls = 0;
  uint16_t closeCode = 0;
  std::string closeReason;
  bool lastMessageZeroCopy = false;
  const uint8_t* inputBegin = nullptr;
  const uint8_t* inputEnd = nullptr;
  std::function<void(Opcode, std::string_view)> onMsg;
  std::function<void(std::string_view)> onPingHook;

  void onMessage(Opcode op, std::string_view p) override {
    EXPECT_EQ(closedCalls, 0) << "message after close";
    auto* b = reinterpret_cast<const uint8_t*>(p.data());
    lastMessageZeroCopy = !p.empty() && b >= inputBegin && b + p.size() <= inputEnd;
    messages.emplace_back(op, std::string(p));
    log.push_back(std::string("msg:") + opcodeName(op));
    if (op == Opcode::Text) {
      EXPECT_TRUE(Utf8Validator::isValid(p));
    }
    if (onMsg) onMsg(op, p);
  }
  void writeFrame(Opcode op, std::string_view p) override {
    EXPECT_EQ(closedCalls, 0) << "write after close";
    EXPECT_TRUE(op == Opcode::Close || op == Opcode::Pong);
    EXPECT_LE(p.size(), 125u);
    written.push_back({op, std::string(p)});
    log.push_back(std::string("write:") + opcodeName(op));
  }
  void onClosed(uint16_t code, std::string_view reason) override {
    ++closedCalls;
    closeCode = code;
    closeReason = reason;
    log.push_back("closed:" + std::to_string(code));
  }
  void onPing(std::string_view p) override {
    pings.emplace_back(p);
    log.push_back("ping");
    if (onPingHook) onPingHook(p);
  }
  void onPong(std::string_view p) override {
    pongs.emplace_back(p);
    log.push_back("pong");
  }
  int closeFramesWritten() const {
    int n = 0;
    for (auto& w : written) n += w.op == Opcode::Close;
    return n;
  }
  // Code in the (single) close frame we wrote; 0 if none or empty.
  uint16_t sentCloseCode() const {
    for (auto& w : written)
      if (w.op == Opcode::Close && w.payload.size() >= 2) return uint16_t((uint8_t(w.payload[0]) << 8) | uint8_t(w.payload[1]));
    return 0;
  }
};

// Feeds `wire` (copied: it is unmasked in place) in pieces of the given sizes
// (the last size repeats), returning feed()'s last result.
bool feedChunks(Proto& p, Rec& r, std::string wire, std::vector<size_t> sizes = {}) {
  size_t pos = 0, i = 0;
  bool ok = true;
  if (wire.empty()) return p.feed(reinterpret_cast<uint8_t*>(wire.data()), 0, r);
  while (pos < wire.size()) {
    size_t n = sizes.empty() ? wire.size() : sizes[std::min(i, sizes.size() - 1)];
    if (n == 0) n = 1;
    n = std::min(n, wire.size() - pos);
    uint8_t* b = reinterpret_cast<uint8_t*>(wire.data()) + pos;
    r.inputBegin = b;
    r.inputEnd = b + n;
    ok = p.feed(b, n, r);
    pos += n;
    ++i;
  }
  return ok;
}

bool feedAll(Proto& p, Rec& r, const std::string& wire) { return feedChunks(p, r, wire); }

void expectFailed(const Rec& r, uint16_t code) {
  EXPECT_EQ(r.closedCalls, 1);
  EXPECT_EQ(r.closeCode, code);
  EXPECT_EQ(r.closeFramesWritten(), 1);
  EXPECT_EQ(r.sentCloseCode(), code);
  ASSERT_FALSE(r.written.empty());
  EXPECT_EQ(r.written.back().op, Opcode::Close);
}

Proto::Options opts(size_t max = 64 * 1024) { return Proto::Options{max}; }

std::string pattern(size_t n) {
  std::string s(n, 'x');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + i % 26);
  return s;
}

// Raw deflate with a shared context, as a client with context takeover would
// send: each message ends with Z_SYNC_FLUSH and its 00 00 FF FF tail removed
// (RFC 7692 §7.2.1).
struct ClientDeflate {
  z_stream z{};
  ClientDeflate() { deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY); }
  ~ClientDeflate() { deflateEnd(&z); }
  std::string compress(const std::string& in) {
    std::string out(in.size() + 64 + in.size() / 100, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = uInt(in.size());
    size_t have = 0;
    for (;;) {
      z.next_out = reinterpret_cast<Bytef*>(out.data() + have);
      z.avail_out = uInt(out.size() - have);
      deflate(&z, Z_SYNC_FLUSH);
      have = out.size() - z.avail_out;
      if (z.avail_out != 0) break;
      out.resize(out.size() * 2);
    }
    out.resize(have);
    EXPECT_GE(out.size(), 4u);
    EXPECT_EQ(out.substr(out.size() - 4), std::string("\x00\x00\xff\xff", 4));
    out.resize(out.size() - 4);
    return out;
  }
};

}  // namespace

// ---- size ------------------------------------------------------------------

TEST(WebSocketProtocol, SmallFootprint) {
  std::printf("sizeof(WebSocketProtocol) = %zu\n", sizeof(WebSocketProtocol));
  EXPECT_LE(sizeof(WebSocketProtocol), 128u);
}

// ---- data messages ---------------------------------------------------------

TEST(WebSocketProtocol, TextAndBinaryZeroCopy) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, frame(kText, "Hello")));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].first, Opcode::Text);
  EXPECT_EQ(r.messages[0].second, "Hello");
  EXPECT_TRUE(r.lastMessageZeroCopy);
  EXPECT_TRUE(feedAll(p, r, frame(kBinary, std::string("\x00\xff\x80", 3))));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].first, Opcode::Binary);
  EXPECT_EQ(r.messages[1].second, std::string("\x00\xff\x80", 3));
  EXPECT_TRUE(r.lastMessageZeroCopy);
  EXPECT_EQ(p.bufferedCapacity(), 0u);
  EXPECT_TRUE(r.written.empty());
  EXPECT_FALSE(p.closing());
  EXPECT_FALSE(p.closed());
}

TEST(WebSocketProtocol, EveryLengthEncoding) {
  for (size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 131072u}) {
    for (uint8_t op : {kText, kBinary}) {
      Proto p(opts(1 << 20), nullptr);
      Rec r;
      std::string payload = pattern(n);
      EXPECT_TRUE(feedAll(p, r, frame(op, payload)));
      ASSERT_EQ(r.messages.size(), 1u) << n;
      EXPECT_EQ(r.messages[0].second, payload);
      EXPECT_EQ(r.lastMessageZeroCopy, n > 0);
      // Same in 1000-byte pieces: reassembled, then the buffer is released.
      Proto q(opts(1 << 20), nullptr);
      Rec s;
      EXPECT_TRUE(feedChunks(q, s, frame(op, payload), {1000}));
      ASSERT_EQ(s.messages.size(), 1u);
      EXPECT_EQ(s.messages[0].second, payload);
      EXPECT_EQ(q.bufferedCapacity(), 0u);
    }
  }
}

TEST(WebSocketProtocol, SplitAtEveryPosition) {
  std::string wire = frame(kText, "Hello \xe2\x82\xac world, some text of moderate length!") + frame(kPing, "pp") +
                     frame(kBinary, pattern(130));
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    Proto p(opts(), nullptr);
    Rec r;
    std::string w = wire;
    r.inputBegin = reinterpret_cast<uint8_t*>(w.data());
    r.inputEnd = r.inputBegin + w.size();
    EXPECT_TRUE(p.feed(reinterpret_cast<uint8_t*>(w.data()), cut, r));
    EXPECT_TRUE(p.feed(reinterpret_cast<uint8_t*>(w.data()) + cut, w.size() - cut, r));
    ASSERT_EQ(r.messages.size(), 2u) << cut;
    EXPECT_EQ(r.messages[0].second, "Hello \xe2\x82\xac world, some text of moderate length!");
    EXPECT_EQ(r.messages[1].second, pattern(130));
    ASSERT_EQ(r.written.size(), 1u);
    EXPECT_EQ(r.written[0].op, Opcode::Pong);
    EXPECT_EQ(r.written[0].payload, "pp");
    EXPECT_EQ(p.bufferedCapacity(), 0u);
  }
  // One byte at a time.
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedChunks(p, r, wire, {1}));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].second, pattern(130));
  EXPECT_EQ(r.pings, std::vector<std::string>{"pp"});
}

TEST(WebSocketProtocol, ManyMessagesInOneFeed) {
  std::string wire;
  for (int i = 0; i < 100; ++i) wire += frame(i % 2 ? kBinary : kText, std::to_string(i));
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, wire));
  ASSERT_EQ(r.messages.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.messages[i].second, std::to_string(i));
}

TEST(WebSocketProtocol, EmptyMessages) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, frame(kText, "") + frame(kBinary, "") + frame(kText, "", false) + frame(kCont, "", false) +
                                frame(kCont, "")));
  ASSERT_EQ(r.messages.size(), 3u);
  for (auto& m : r.messages) EXPECT_EQ(m.second, "");
  EXPECT_EQ(r.messages[2].first, Opcode::Text);
}

// ---- fragmentation (Autobahn 5.x) ------------------------------------------

TEST(WebSocketProtocol, FragmentedMessage) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, frame(kText, "frag", false) + frame(kCont, "men", false) + frame(kCont, "ted")));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].first, Opcode::Text);
  EXPECT_EQ(r.messages[0].second, "fragmented");
  EXPECT_FALSE(r.lastMessageZeroCopy);
  EXPECT_EQ(p.bufferedCapacity(), 0u) << "buffer released after the message";
  // Binary, one fragment per feed.
  EXPECT_TRUE(feedAll(p, r, frame(kBinary, "ab", false)));
  EXPECT_TRUE(r.messages.size() == 1u);
  EXPECT_TRUE(feedAll(p, r, frame(kCont, "cd")));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].first, Opcode::Binary);
  EXPECT_EQ(r.messages[1].second, "abcd");
}

TEST(WebSocketProtocol, ControlFramesInsideFragmentedMessage) {
  std::string wire = frame(kText, "frag", false) + frame(kPing, "p1") + frame(kCont, "men", false) +
                     frame(kPong, "unsolicited") + frame(kPing, "") + frame(kCont, "ted");
  for (size_t chunk : {size_t(1), size_t(3), size_t(7), wire.size()}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_TRUE(feedChunks(p, r, wire, {chunk}));
    ASSERT_EQ(r.messages.size(), 1u) << chunk;
    EXPECT_EQ(r.messages[0].second, "fragmented");
    ASSERT_EQ(r.written.size(), 2u);
    EXPECT_EQ(r.written[0].payload, "p1");
    EXPECT_EQ(r.written[1].payload, "");
    EXPECT_EQ(r.pongs, std::vector<std::string>{"unsolicited"});
    // Pongs answer before the message completes.
    EXPECT_EQ(r.log, (std::vector<std::string>{"write:pong", "ping", "pong", "write:pong", "ping", "msg:text"}));
    EXPECT_EQ(p.bufferedCapacity(), 0u);
  }
}

TEST(WebSocketProtocol, ContinuationWithoutMessageIs1002) {
  for (bool fin : {true, false}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kCont, "x", fin)));
    expectFailed(r, close_code::ProtocolError);
  }
  // Also after a completed message.
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kText, "done") + frame(kCont, "more")));
  EXPECT_EQ(r.messages.size(), 1u);
  expectFailed(r, close_code::ProtocolError);
}

TEST(WebSocketProtocol, NewMessageInsideFragmentedIs1002) {
  for (uint8_t op : {kText, kBinary}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kText, "a", false) + frame(op, "b")));
    EXPECT_TRUE(r.messages.empty());
    expectFailed(r, close_code::ProtocolError);
  }
}

// ---- framing errors (Autobahn 1.x-4.x) -------------------------------------

TEST(WebSocketProtocol, UnmaskedFrameIs1002) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kText, "Hello", true, 0, false)));
  EXPECT_TRUE(r.messages.empty());
  expectFailed(r, close_code::ProtocolError);
  EXPECT_TRUE(p.closed());
  EXPECT_FALSE(p.closing());
  // Everything later is discarded.
  EXPECT_FALSE(feedAll(p, r, frame(kPing, "x")));
  EXPECT_EQ(r.written.size(), 1u);
  EXPECT_EQ(r.closedCalls, 1);
}

TEST(WebSocketProtocol, ReservedBits) {
  for (uint8_t rsv : {1, 2, 3, 4, 5, 6, 7}) {  // rsv bit 1 = RSV3, 2 = RSV2, 4 = RSV1
    for (uint8_t op : {kText, kBinary, kPing, kClose}) {
      Proto p(opts(), nullptr);
      Rec r;
      EXPECT_FALSE(feedAll(p, r, frame(kText, "ok") + frame(op, "", true, rsv) + frame(kText, "never")));
      ASSERT_EQ(r.messages.size(), 1u);
      expectFailed(r, close_code::ProtocolError);
    }
  }
}

TEST(WebSocketProtocol, ReservedOpcodes) {
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(op, "abc") + frame(kPing, "x")));
    expectFailed(r, close_code::ProtocolError);
    EXPECT_TRUE(r.pings.empty());
  }
  // Reserved opcode inside a fragmented message too.
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kText, "a", false) + frame(11, "") + frame(kCont, "b")));
  expectFailed(r, close_code::ProtocolError);
}

TEST(WebSocketProtocol, ControlFrameRules) {
  for (uint8_t op : {kPing, kPong, kClose}) {
    {  // > 125 bytes
      Proto p(opts(), nullptr);
      Rec r;
      EXPECT_FALSE(feedAll(p, r, frame(op, std::string(126, 'x'))));
      expectFailed(r, close_code::ProtocolError);
      EXPECT_TRUE(r.pings.empty() && r.pongs.empty());
    }
    {  // fragmented
      Proto p(opts(), nullptr);
      Rec r;
      EXPECT_FALSE(feedAll(p, r, frame(op, "x", false)));
      expectFailed(r, close_code::ProtocolError);
    }
  }
  // 125 is fine.
  Proto p(opts(), nullptr);
  Rec r;
  std::string body(125, 'z');
  EXPECT_TRUE(feedAll(p, r, frame(kPing, body)));
  ASSERT_EQ(r.written.size(), 1u);
  EXPECT_EQ(r.written[0].op, Opcode::Pong);
  EXPECT_EQ(r.written[0].payload, body);
}

TEST(WebSocketProtocol, ControlFrameTooLongDetectedAtHeader) {
  // Only the header of an oversized ping arrives: the failure is immediate.
  Proto p(opts(), nullptr);
  Rec r;
  std::string w = frame(kPing, std::string(200, 'x')).substr(0, 8);
  EXPECT_FALSE(feedAll(p, r, w));
  expectFailed(r, close_code::ProtocolError);
}

TEST(WebSocketProtocol, Invalid64BitLength) {
  Proto p(opts(), nullptr);
  Rec r;
  std::string w("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01" "abcd", 14);
  EXPECT_FALSE(feedAll(p, r, w));
  // The header is invalid before the size limit applies.
  expectFailed(r, close_code::ProtocolError);
}

// ---- ping / pong (Autobahn 2.x) --------------------------------------------

TEST(WebSocketProtocol, PingGetsPongWithSamePayload) {
  for (std::string body : {std::string(), std::string("hello"), std::string("\x00\xff\xfe\x80", 4), pattern(125)}) {
    for (size_t chunk : {size_t(1), size_t(2), size_t(1000)}) {
      Proto p(opts(), nullptr);
      Rec r;
      EXPECT_TRUE(feedChunks(p, r, frame(kPing, body), {chunk}));
      ASSERT_EQ(r.written.size(), 1u);
      EXPECT_EQ(r.written[0].op, Opcode::Pong);
      EXPECT_EQ(r.written[0].payload, body);
      EXPECT_EQ(r.pings, std::vector<std::string>{body});
      EXPECT_EQ(r.log.front(), "write:pong") << "onPing fires after the pong was queued";
      EXPECT_EQ(p.bufferedCapacity(), 0u);
    }
  }
}

TEST(WebSocketProtocol, UnsolicitedPongIgnored) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, frame(kPong, "") + frame(kPong, "abc") + frame(kText, "still fine")));
  EXPECT_TRUE(r.written.empty());
  EXPECT_EQ(r.pongs, (std::vector<std::string>{"", "abc"}));
  EXPECT_EQ(r.messages.size(), 1u);
}

TEST(WebSocketProtocol, TenPingsInOneFeed) {
  std::string w;
  for (int i = 0; i < 10; ++i) w += frame(kPing, "payload" + std::to_string(i));
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, w));
  ASSERT_EQ(r.written.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.written[i].payload, "payload" + std::to_string(i));
}

// ---- UTF-8 (Autobahn 6.x) ---------------------------------------------------

TEST(WebSocketProtocol, InvalidUtf8SingleFrameIs1007) {
  for (std::string bad : {std::string("\xff"), std::string("abc\xed\xa0\x80"), std::string("\xc0\xaf"),
                          std::string("\xf4\x90\x80\x80"), std::string("ends in middle \xe2\x82")}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kText, bad)));
    EXPECT_TRUE(r.messages.empty());
    expectFailed(r, close_code::InvalidPayload);
  }
  // Binary messages are not validated.
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, frame(kBinary, "\xff\xfe")));
  EXPECT_EQ(r.messages.size(), 1u);
}

TEST(WebSocketProtocol, Utf8SplitAcrossFragmentsAtEveryByte) {
  std::string text = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  for (size_t i = 0; i <= text.size(); ++i)
    for (size_t j = i; j <= text.size(); ++j) {
      Proto p(opts(), nullptr);
      Rec r;
      std::string w = frame(kText, text.substr(0, i), false) + frame(kCont, text.substr(i, j - i), false) +
                      frame(kCont, text.substr(j));
      EXPECT_TRUE(feedChunks(p, r, w, {5}));
      ASSERT_EQ(r.messages.size(), 1u) << i << " " << j;
      EXPECT_EQ(r.messages[0].second, text);
      EXPECT_EQ(r.closedCalls, 0);
    }
}

TEST(WebSocketProtocol, InvalidUtf8SplitAcrossFragmentsAtEveryByte) {
  std::string text = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
  for (size_t i = 0; i <= text.size(); ++i) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kText, text.substr(0, i), false) + frame(kCont, text.substr(i))));
    EXPECT_TRUE(r.messages.empty());
    expectFailed(r, close_code::InvalidPayload);
  }
}

TEST(WebSocketProtocol, FailFastMidFrame) {
  // Autobahn 6.4.x: the bad byte fails the connection even though the rest of
  // the frame (and message) has not arrived. Check every position of the bad
  // byte with byte-at-a-time feeding: the close happens exactly at that byte.
  std::string good = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
  std::string text = good + "\xf4\x90\x80\x80" + "\x65\x64\x69\x74\x65\x64";
  size_t badAt = good.size() + 1;  // F4 is a fine lead; 90 is where it becomes impossible
  for (bool fragmented : {false, true}) {
    std::string w = fragmented ? frame(kText, text.substr(0, 5), false) + frame(kCont, text.substr(5))
                               : frame(kText, text);
    // Payload offset of every text byte in the wire.
    std::vector<size_t> wirePos;
    if (fragmented) {
      for (size_t i = 0; i < 5; ++i) wirePos.push_back(6 + i);
      for (size_t i = 5; i < text.size(); ++i) wirePos.push_back(6 + 5 + 6 + (i - 5));
    } else {
      for (size_t i = 0; i < text.size(); ++i) wirePos.push_back(6 + i);
    }
    Proto p(opts(), nullptr);
    Rec r;
    std::string buf = w;
    size_t closedAt = SIZE_MAX;
    for (size_t k = 0; k < buf.size(); ++k) {
      if (!p.feed(reinterpret_cast<uint8_t*>(buf.data()) + k, 1, r)) {
        closedAt = k;
        break;
      }
    }
    EXPECT_EQ(closedAt, wirePos[badAt]) << fragmented;
    expectFailed(r, close_code::InvalidPayload);
  }
  // Same with a large first chunk whose tail has not arrived.
  Proto p(opts(), nullptr);
  Rec r;
  std::string w = frame(kText, std::string(1000, 'a') + "\xc0" + std::string(1000, 'b'));
  EXPECT_FALSE(feedAll(p, r, w.substr(0, 8 + 1001)));
  expectFailed(r, close_code::InvalidPayload);
}

TEST(WebSocketProtocol, IncompleteSequenceAtMessageEndIs1007) {
  Proto p(opts(), nullptr);
  Rec r;
  // Valid so far at each frame boundary, but the message ends mid-sequence.
  EXPECT_FALSE(feedAll(p, r, frame(kText, "ab\xe2", false) + frame(kCont, "\x82")));
  expectFailed(r, close_code::InvalidPayload);
  // While still fragmented, an open sequence at a frame end is fine.
  Proto q(opts(), nullptr);
  Rec s;
  EXPECT_TRUE(feedAll(q, s, frame(kText, "ab\xe2", false) + frame(kCont, "\x82", false)));
  EXPECT_TRUE(feedAll(q, s, frame(kCont, "\xac")));
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.messages[0].second, "ab\xe2\x82\xac");
}

// ---- size limit (1009) -------------------------------------------------------

TEST(WebSocketProtocol, MessageTooBigAtHeader) {
  Proto p(opts(100), nullptr);
  Rec r;
  // Only the header (2 bytes + mask) arrives: declared 101 > 100 fails right away.
  std::string w = frame(kBinary, pattern(101));
  EXPECT_FALSE(feedAll(p, r, w.substr(0, 6)));
  EXPECT_TRUE(r.messages.empty());
  expectFailed(r, close_code::MessageTooBig);
  // Exactly at the limit is fine.
  Proto q(opts(100), nullptr);
  Rec s;
  EXPECT_TRUE(feedAll(q, s, frame(kText, pattern(100))));
  EXPECT_EQ(s.messages.size(), 1u);
  // 64-bit declared length.
  Proto big(opts(100), nullptr);
  Rec t;
  EXPECT_FALSE(feedAll(big, t, frame(kBinary, pattern(70000)).substr(0, 14)));
  expectFailed(t, close_code::MessageTooBig);
}

TEST(WebSocketProtocol, MessageTooBigAcrossFragments) {
  Proto p(opts(100), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, frame(kText, pattern(60), false)));
  EXPECT_TRUE(feedAll(p, r, frame(kCont, pattern(40), false)));  // 100: ok
  EXPECT_TRUE(feedAll(p, r, frame(kPing, pattern(50))));           // control frames don't count
  std::string last = frame(kCont, "x");
  EXPECT_FALSE(feedAll(p, r, last.substr(0, 6)));  // header announcing the 101st byte
  expectFailed(r, close_code::MessageTooBig);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(p.bufferedCapacity(), 0u);
}

// ---- close handshake (Autobahn 7.x) ------------------------------------------

TEST(WebSocketProtocol, EmptyCloseEchoedEmpty) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kClose, "")));
  ASSERT_EQ(r.written.size(), 1u);
  EXPECT_EQ(r.written[0].op, Opcode::Close);
  EXPECT_EQ(r.written[0].payload, "");
  EXPECT_EQ(r.closedCalls, 1);
  EXPECT_EQ(r.closeCode, close_code::NoStatus);
  EXPECT_TRUE(p.closed());
}

TEST(WebSocketProtocol, CloseEchoesCodeWithoutReason) {
  for (size_t chunk : {size_t(1), size_t(3), size_t(1000)}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedChunks(p, r, frame(kClose, closeBody(1000, "bye \xe2\x82\xac")), {chunk}));
    ASSERT_EQ(r.written.size(), 1u);
    EXPECT_EQ(r.written[0].payload, closeBody(1000));
    EXPECT_EQ(r.closeCode, 1000);
    EXPECT_EQ(r.closeReason, "bye \xe2\x82\xac");
    EXPECT_EQ(r.closedCalls, 1);
    EXPECT_EQ(p.bufferedCapacity(), 0u);
  }
  // Maximal reason (123 bytes).
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kClose, closeBody(1001, pattern(123)))));
  EXPECT_EQ(r.written[0].payload, closeBody(1001));
  EXPECT_EQ(r.closeReason, pattern(123));
}

TEST(WebSocketProtocol, ValidCloseCodesEchoed) {
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kClose, closeBody(code))));
    ASSERT_EQ(r.written.size(), 1u);
    EXPECT_EQ(r.sentCloseCode(), code);
    EXPECT_EQ(r.closeCode, code);
  }
}

TEST(WebSocketProtocol, InvalidCloseCodesAre1002) {
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kClose, closeBody(code))));
    expectFailed(r, close_code::ProtocolError);
  }
}

TEST(WebSocketProtocol, OneByteCloseIs1002) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kClose, "\x03")));
  expectFailed(r, close_code::ProtocolError);
}

TEST(WebSocketProtocol, InvalidUtf8CloseReasonIs1007) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kClose, closeBody(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))));
  expectFailed(r, close_code::InvalidPayload);
  Proto q(opts(), nullptr);
  Rec s;
  EXPECT_FALSE(feedChunks(q, s, frame(kClose, closeBody(1000, "ok\xe2\x82")), {1}));
  expectFailed(s, close_code::InvalidPayload);
}

TEST(WebSocketProtocol, InputAfterCloseDiscarded) {
  Proto p(opts(), nullptr);
  Rec r;
  // Autobahn 7.1.x: close, then more frames in the same read.
  EXPECT_FALSE(feedAll(p, r, frame(kText, "before") + frame(kClose, closeBody(1000)) + frame(kText, "after") +
                                 frame(kPing, "x")));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.written.size(), 1u);
  EXPECT_FALSE(feedAll(p, r, frame(kPing, "y")));
  EXPECT_EQ(r.written.size(), 1u);
  EXPECT_EQ(r.closedCalls, 1);
}

TEST(WebSocketProtocol, CloseInsideFragmentedMessage) {
  // Autobahn 7.1.5-ish: a close frame between fragments ends things cleanly.
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kText, "frag", false) + frame(kClose, closeBody(1000)) + frame(kCont, "x")));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.closeCode, 1000);
  EXPECT_EQ(r.written.size(), 1u);
  EXPECT_EQ(p.bufferedCapacity(), 0u);
}

// ---- server-initiated close ---------------------------------------------------

TEST(WebSocketProtocol, ServerInitiatedClose) {
  Proto p(opts(), nullptr);
  Rec r;
  p.close(close_code::GoingAway, "shutting down", r);
  EXPECT_TRUE(p.closing());
  EXPECT_FALSE(p.closed());
  ASSERT_EQ(r.written.size(), 1u);
  EXPECT_EQ(r.written[0].payload, closeBody(1001, "shutting down"));
  EXPECT_EQ(r.closedCalls, 0);
  p.close(close_code::Normal, "again", r);  // no second close frame
  EXPECT_EQ(r.written.size(), 1u);
  // Data and pings still in flight are ignored: no message, no pong.
  EXPECT_TRUE(feedAll(p, r, frame(kText, "late") + frame(kPing, "p") + frame(kBinary, "a", false) + frame(kCont, "b")));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.written.size(), 1u);
  // The peer's close completes the handshake without another close frame.
  EXPECT_FALSE(feedAll(p, r, frame(kClose, closeBody(1001))));
  EXPECT_EQ(r.written.size(), 1u);
  EXPECT_EQ(r.closedCalls, 1);
  EXPECT_EQ(r.closeCode, 1001);
  EXPECT_TRUE(p.closed());
  EXPECT_FALSE(p.closing());
}

TEST(WebSocketProtocol, ServerCloseDuringFragmentedMessage) {
  Proto p(opts(), nullptr);
  Rec r;
  EXPECT_TRUE(feedAll(p, r, frame(kText, pattern(50), false)));
  p.close(close_code::Normal, "", r);
  EXPECT_TRUE(feedAll(p, r, frame(kCont, "rest")));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(p.bufferedCapacity(), 0u);
  EXPECT_FALSE(feedAll(p, r, frame(kClose, "")));
  EXPECT_EQ(r.closeCode, close_code::NoStatus);
  EXPECT_EQ(r.closeFramesWritten(), 1);
}

TEST(WebSocketProtocol, ProtocolErrorWhileClosingSendsNoSecondClose) {
  Proto p(opts(), nullptr);
  Rec r;
  p.close(close_code::Normal, "bye", r);
  EXPECT_FALSE(feedAll(p, r, frame(kText, "x", true, 0, false)));  // unmasked
  EXPECT_EQ(r.closeFramesWritten(), 1);
  EXPECT_EQ(r.closedCalls, 1);
  EXPECT_EQ(r.closeCode, close_code::ProtocolError);
}

TEST(WebSocketProtocol, CloseFromInsideOnMessage) {
  Proto p(opts(), nullptr);
  Rec r;
  r.onMsg = [&](Opcode, std::string_view) { p.close(close_code::PolicyViolation, "no thanks", r); };
  EXPECT_TRUE(feedAll(p, r, frame(kText, "one") + frame(kText, "two") + frame(kPing, "x")));
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.written.size(), 1u);
  EXPECT_EQ(r.sentCloseCode(), close_code::PolicyViolation);
  EXPECT_TRUE(p.closing());
  // Buffered (fragmented) delivery path, too.
  Proto q(opts(), nullptr);
  Rec s;
  s.onMsg = [&](Opcode, std::string_view m) {
    EXPECT_EQ(m, "onetwo");
    q.close(close_code::Normal, "", s);
  };
  EXPECT_TRUE(feedChunks(q, s, frame(kText, "one", false) + frame(kCont, "two") + frame(kText, "three"), {3}));
  EXPECT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(q.bufferedCapacity(), 0u);
}

TEST(WebSocketProtocol, CloseFromInsideOnPingWithSplitPayload) {
  Proto p(opts(), nullptr);
  Rec r;
  r.onPingHook = [&](std::string_view body) {
    EXPECT_EQ(body, "ping-body");
    p.close(close_code::Normal, "", r);
  };
  EXPECT_TRUE(feedChunks(p, r, frame(kText, "ab", false) + frame(kPing, "ping-body") + frame(kCont, "cd"), {2}));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.written.size(), 2u);  // pong, then close
  EXPECT_EQ(p.bufferedCapacity(), 0u);
}

// ---- permessage-deflate (Autobahn 12.x / 13.x) --------------------------------

TEST(WebSocketProtocol, CompressedMessages) {
  Inflater inf(DeflateParams{});
  Proto p(opts(), &inf);
  Rec r;
  ClientDeflate c;
  std::string m1 = "Hello, compressed world! Hello, compressed world!";
  std::string m2 = pattern(5000);
  std::string m3 = "\xe2\x82\xac uses the previous context \xe2\x82\xac";
  EXPECT_TRUE(feedAll(p, r, frame(kText, c.compress(m1), true, 4)));
  EXPECT_TRUE(feedChunks(p, r, frame(kBinary, c.compress(m2), true, 4), {7}));
  // Fragmented: compressed bytes split over frames, RSV1 on the first only.
  std::string z = c.compress(m3);
  EXPECT_TRUE(feedAll(p, r, frame(kText, z.substr(0, 5), false, 4) + frame(kPing, "mid") +
                                frame(kCont, z.substr(5, 3), false) + frame(kCont, z.substr(8))));
  // Uncompressed messages are still allowed when deflate was negotiated.
  EXPECT_TRUE(feedAll(p, r, frame(kText, "plain")));
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].second, m1);
  EXPECT_EQ(r.messages[1].second, m2);
  EXPECT_EQ(r.messages[1].first, Opcode::Binary);
  EXPECT_EQ(r.messages[2].second, m3);
  EXPECT_EQ(r.messages[3].second, "plain");
  EXPECT_EQ(r.closedCalls, 0);
  EXPECT_EQ(p.bufferedCapacity(), 0u);
}

TEST(WebSocketProtocol, CompressedEmptyMessage) {
  Inflater inf(DeflateParams{});
  Proto p(opts(), &inf);
  Rec r;
  ClientDeflate c;
  EXPECT_TRUE(feedAll(p, r, frame(kText, c.compress(""), true, 4)));
  // A zero-length compressed payload is also an empty message.
  EXPECT_TRUE(feedAll(p, r, frame(kBinary, "", true, 4)));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].second, "");
  EXPECT_EQ(r.messages[1].second, "");
}

TEST(WebSocketProtocol, Rsv1Rules) {
  ClientDeflate c;
  std::string z = c.compress("abc");
  {  // RSV1 without negotiation
    Proto p(opts(), nullptr);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kText, z, true, 4)));
    expectFailed(r, close_code::ProtocolError);
  }
  {  // RSV1 on a continuation frame
    Inflater inf(DeflateParams{});
    Proto p(opts(), &inf);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(kText, z.substr(0, 2), false, 4) + frame(kCont, z.substr(2), true, 4)));
    expectFailed(r, close_code::ProtocolError);
  }
  for (uint8_t op : {kPing, kPong, kClose}) {  // RSV1 on a control frame
    Inflater inf(DeflateParams{});
    Proto p(opts(), &inf);
    Rec r;
    EXPECT_FALSE(feedAll(p, r, frame(op, "", true, 4)));
    expectFailed(r, close_code::ProtocolError);
  }
}

TEST(WebSocketProtocol, CompressedInvalidUtf8FailsFast) {
  Inflater inf(DeflateParams{});
  Proto p(opts(1 << 20), &inf);
  Rec r;
  ClientDeflate c;
  std::string text = "valid start " + std::string("\xed\xa0\x80") + pattern(20000);
  std::string z = c.compress(text);
  std::string w = frame(kText, z, true, 4);
  // Feed in small pieces: the failure comes before the whole frame is in.
  size_t fed = 0;
  std::string buf = w;
  while (fed < buf.size()) {
    size_t n = std::min<size_t>(16, buf.size() - fed);
    if (!p.feed(reinterpret_cast<uint8_t*>(buf.data()) + fed, n, r)) break;
    fed += n;
  }
  EXPECT_LT(fed, buf.size() / 2);
  expectFailed(r, close_code::InvalidPayload);
  // Incomplete sequence at the end of an inflated message.
  Inflater inf2(DeflateParams{});
  Proto q(opts(), &inf2);
  Rec s;
  ClientDeflate c2;
  EXPECT_FALSE(feedAll(q, s, frame(kText, c2.compress("abc\xe2\x82"), true, 4)));
  expectFailed(s, close_code::InvalidPayload);
}

TEST(WebSocketProtocol, CompressedTooBig) {
  // 200 KB of zeros deflates to a few hundred bytes: the inflated size is
  // what the limit applies to.
  Inflater inf(DeflateParams{});
  Proto p(opts(64 * 1024), &inf);
  Rec r;
  ClientDeflate c;
  std::string z = c.compress(std::string(200000, '\0'));
  ASSERT_LT(z.size(), 1024u);
  EXPECT_FALSE(feedAll(p, r, frame(kBinary, z, true, 4)));
  expectFailed(r, close_code::MessageTooBig);
  EXPECT_TRUE(r.messages.empty());
  // Just under the limit passes.
  Inflater inf2(DeflateParams{});
  Proto q(opts(64 * 1024), &inf2);
  Rec s;
  ClientDeflate c2;
  EXPECT_TRUE(feedAll(q, s, frame(kBinary, c2.compress(std::string(64 * 1024, 'q')), true, 4)));
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.messages[0].second.size(), 64u * 1024u);
}

TEST(WebSocketProtocol, CompressedGarbageFails) {
  Inflater inf(DeflateParams{});
  Proto p(opts(), &inf);
  Rec r;
  EXPECT_FALSE(feedAll(p, r, frame(kBinary, std::string("\xff\xff\xff\xff\xff\xff", 6), true, 4)));
  expectFailed(r, close_code::InvalidPayload);
}
