// permessage-deflate (RFC 7692): negotiation, Inflater and Deflater.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ws/PerMessageDeflate.h"

namespace sb::ws {
namespace {

// ---------------------------------------------------------------------------
// Helpers: an independent raw-deflate encoder/decoder built on plain zlib, so
// the code under test is checked against zlib rather than against itself.
// ---------------------------------------------------------------------------

// Compresses like an RFC 7692 client: sync flush, tail stripped (§7.2.1).
// `finalBlock` ends the stream with BFINAL instead (§7.2.3.4).
std::string clientCompress(z_stream& zs, std::string_view in, bool finalBlock = false) {
  std::string out(in.size() + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  size_t written = 0;
  for (;;) {
    if (written == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + written);
    zs.avail_out = static_cast<uInt>(out.size() - written);
    int rc = deflate(&zs, finalBlock ? Z_FINISH : Z_SYNC_FLUSH);
    written = out.size() - zs.avail_out;
    if (finalBlock ? rc == Z_STREAM_END : (rc == Z_OK && zs.avail_out != 0)) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ADD_FAILURE() << "deflate: " << rc;
      break;
    }
  }
  out.resize(written);
  if (!finalBlock) {
    EXPECT_GE(out.size(), 4u);
    EXPECT_EQ(out.substr(out.size() - 4), std::string("\x00\x00\xff\xff", 4));
    out.resize(out.size() - 4);
  }
  return out;
}

struct RawDeflate {
  explicit RawDeflate(int bits = 15, int level = 6) {
    EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  }
  ~RawDeflate() { deflateEnd(&zs); }
  std::string message(std::string_view in) { return clientCompress(zs, in); }
  z_stream zs{};
};

// Decodes a Deflater payload the way any RFC 7692 peer would: append the tail
// and raw-inflate with the negotiated window.
bool zlibInflate(const std::string& payload, std::string& out, int bits = 15) {
  z_stream zs{};
  if (inflateInit2(&zs, -bits) != Z_OK) return false;
  std::string in = payload + std::string("\x00\x00\xff\xff", 4);
  zs.next_in = reinterpret_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  out.clear();
  unsigned char buf[4096];
  int rc;
  do {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_SYNC_FLUSH);
    out.append(reinterpret_cast<char*>(buf), sizeof buf - zs.avail_out);
  } while (rc == Z_OK && (zs.avail_in != 0 || zs.avail_out == 0));
  inflateEnd(&zs);
  return (rc == Z_OK || rc == Z_BUF_ERROR) && zs.avail_in == 0;
}

std::string textPayload(size_t n, unsigned seed = 1) {
  // Chat-like, compressible but not trivial.
  static const char* words[] = {"{\"type\":\"msg\"", "\"room\":\"general\"", "\"text\":\"hello",
                                "world", "switchboard", "42", "\"ts\":1700000000", "}", " ", ","};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += words[rng() % 10];
  s.resize(n);
  return s;
}

std::string randomBytes(size_t n, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

InflateStatus inflateMessage(Inflater& inf, const std::string& payload, std::string& out,
                             size_t maxSize = 1 << 24) {
  out.clear();
  auto st = inf.feed(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), out, maxSize);
  if (st != InflateStatus::Ok) return st;
  return inf.finish(out, maxSize);
}

// ---------------------------------------------------------------------------
// Negotiation (RFC 7692 §5, §7.1)
// ---------------------------------------------------------------------------

TEST(DeflateNegotiation, PlainOffer) {
  auto n = negotiatePermessageDeflate("permessage-deflate");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->response, "permessage-deflate; server_no_context_takeover");
  EXPECT_TRUE(n->params.server_no_context_takeover);
  EXPECT_FALSE(n->params.client_no_context_takeover);
  EXPECT_EQ(n->params.server_max_window_bits, 15);
  EXPECT_EQ(n->params.client_max_window_bits, 15);
}

TEST(DeflateNegotiation, BrowserOffer) {
  // What Chrome and Firefox send.
  auto n = negotiatePermessageDeflate("permessage-deflate; client_max_window_bits");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->response, "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(n->params.client_max_window_bits, 15);
}

TEST(DeflateNegotiation, AllParameters) {
  auto n = negotiatePermessageDeflate(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=10; client_max_window_bits=12");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=12");
  EXPECT_TRUE(n->params.client_no_context_takeover);
  EXPECT_EQ(n->params.server_max_window_bits, 10);
  EXPECT_EQ(n->params.client_max_window_bits, 12);
}

TEST(DeflateNegotiation, ClientNoContextTakeoverEchoed) {
  auto n = negotiatePermessageDeflate("permessage-deflate; client_no_context_takeover");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->response, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_TRUE(n->params.client_no_context_takeover);
}

TEST(DeflateNegotiation, ServerMaxWindowBitsEveryValue) {
  for (int v = 9; v <= 15; ++v) {
    auto n = negotiatePermessageDeflate("permessage-deflate; server_max_window_bits=" + std::to_string(v));
    ASSERT_TRUE(n) << v;
    EXPECT_EQ(n->params.server_max_window_bits, v);
    EXPECT_EQ(n->response,
              "permessage-deflate; server_no_context_takeover; server_max_window_bits=" + std::to_string(v));
  }
}

TEST(DeflateNegotiation, ClientMaxWindowBitsEveryValue) {
  for (int v = 8; v <= 15; ++v) {
    auto n = negotiatePermessageDeflate("permessage-deflate; client_max_window_bits=" + std::to_string(v));
    ASSERT_TRUE(n) << v;
    EXPECT_EQ(n->params.client_max_window_bits, v);
    EXPECT_EQ(n->response,
              "permessage-deflate; server_no_context_takeover; client_max_window_bits=" + std::to_string(v));
  }
}

TEST(DeflateNegotiation, ServerWindow8IsDeclined) {
  // zlib cannot produce an 8-bit raw deflate stream and the response may not
  // carry a larger value than offered (§7.1.2.1).
  EXPECT_FALSE(negotiatePermessageDeflate("permessage-deflate; server_max_window_bits=8"));
  // ...but the client's fallback offer is taken.
  auto n = negotiatePermessageDeflate("permessage-deflate; server_max_window_bits=8, permessage-deflate");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->params.server_max_window_bits, 15);
  EXPECT_EQ(n->response, "permessage-deflate; server_no_context_takeover");
}

struct BadOffer {
  const char* header;
  const char* why;
};

TEST(DeflateNegotiation, InvalidOffersAreDeclined) {
  const BadOffer cases[] = {
      {"permessage-deflate; server_max_window_bits", "server_max_window_bits needs a value"},
      {"permessage-deflate; server_max_window_bits=7", "below range"},
      {"permessage-deflate; server_max_window_bits=16", "above range"},
      {"permessage-deflate; server_max_window_bits=0", "zero"},
      {"permessage-deflate; server_max_window_bits=010", "leading zero"},
      {"permessage-deflate; server_max_window_bits=09", "leading zero"},
      {"permessage-deflate; server_max_window_bits=+9", "sign"},
      {"permessage-deflate; server_max_window_bits=-9", "negative"},
      {"permessage-deflate; server_max_window_bits=abc", "not a number"},
      {"permessage-deflate; server_max_window_bits=1.5", "not an integer"},
      {"permessage-deflate; server_max_window_bits=\"\"", "empty quoted value"},
      {"permessage-deflate; server_max_window_bits=\"1 0\"", "quoted value that is not a token"},
      {"permessage-deflate; client_max_window_bits=7", "below range"},
      {"permessage-deflate; client_max_window_bits=16", "above range"},
      {"permessage-deflate; client_max_window_bits=99999999999999999999", "overflow"},
      {"permessage-deflate; client_max_window_bits=\"\"", "empty quoted value"},
      {"permessage-deflate; server_no_context_takeover=1", "takes no value"},
      {"permessage-deflate; client_no_context_takeover=true", "takes no value"},
      {"permessage-deflate; client_no_context_takeover=\"\"", "takes no value"},
      {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", "duplicate"},
      {"permessage-deflate; client_no_context_takeover; client_no_context_takeover", "duplicate"},
      {"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", "duplicate"},
      {"permessage-deflate; client_max_window_bits; client_max_window_bits=10", "duplicate"},
      {"permessage-deflate; client_max_window_bits; client_max_window_bits", "duplicate"},
      {"permessage-deflate; mux", "unknown parameter"},
      {"permessage-deflate; x=1", "unknown parameter"},
      {"permessage-deflate; client_max_window", "unknown parameter (prefix)"},
  };
  for (const auto& c : cases) EXPECT_FALSE(negotiatePermessageDeflate(c.header)) << c.header << " (" << c.why << ")";
}

TEST(DeflateNegotiation, NoOffer) {
  EXPECT_FALSE(negotiatePermessageDeflate(""));
  EXPECT_FALSE(negotiatePermessageDeflate("   "));
  EXPECT_FALSE(negotiatePermessageDeflate("x-webkit-deflate-frame"));
  EXPECT_FALSE(negotiatePermessageDeflate("deflate-frame; no_context_takeover"));
  EXPECT_FALSE(negotiatePermessageDeflate("permessage-deflate-x"));
  EXPECT_FALSE(negotiatePermessageDeflate("permessage"));
}

TEST(DeflateNegotiation, MalformedHeaderDeclines) {
  const char* cases[] = {
      "permessage-deflate; server_max_window_bits=\"10",  // unterminated quote
      "permessage-deflate;",                             // missing parameter name
      "permessage-deflate; =10",
      "permessage-deflate; server_max_window_bits=",     // missing value
      "permessage-deflate server_no_context_takeover",   // missing ';'
      "; permessage-deflate",
      "permessage-deflate; client_max_window_bits=\"1\x01\"",  // CTL in quoted-string
      "per\"message-deflate",
      "permessage-deflate; a=b=c",
  };
  for (const char* h : cases) EXPECT_FALSE(negotiatePermessageDeflate(h)) << h;
}

TEST(DeflateNegotiation, QuotedValues) {
  // RFC 7692 §5 / RFC 6455 §9.1: quoted-string values are unescaped, then
  // must be tokens.
  auto n = negotiatePermessageDeflate("permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits=\"1\\1\"");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->params.server_max_window_bits, 10);
  EXPECT_EQ(n->params.client_max_window_bits, 11);
  // Our response always uses the token form.
  EXPECT_EQ(n->response,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11");
}

TEST(DeflateNegotiation, WhitespaceAndEmptyListElements) {
  auto n = negotiatePermessageDeflate(" ,\t, permessage-deflate\t;\tclient_max_window_bits = 9 ;server_no_context_takeover , ");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->params.client_max_window_bits, 9);
  EXPECT_EQ(n->response, "permessage-deflate; server_no_context_takeover; client_max_window_bits=9");
}

TEST(DeflateNegotiation, FirstAcceptableOfferWins) {
  // The first offer is invalid (unknown parameter), the second is taken and
  // the third ignored.
  auto n = negotiatePermessageDeflate(
      "permessage-deflate; foo, permessage-deflate; server_max_window_bits=12, "
      "permessage-deflate; client_no_context_takeover");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->params.server_max_window_bits, 12);
  EXPECT_FALSE(n->params.client_no_context_takeover);

  // Several bad offers before a good one, as joined from multiple header lines.
  n = negotiatePermessageDeflate(
      "permessage-deflate; server_max_window_bits=20, permessage-deflate; client_no_context_takeover=1, "
      "permessage-deflate; server_max_window_bits=8; client_max_window_bits, "
      "permessage-deflate; client_max_window_bits");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->response, "permessage-deflate; server_no_context_takeover");
}

TEST(DeflateNegotiation, OtherExtensionsIgnored) {
  auto n = negotiatePermessageDeflate(
      "x-webkit-deflate-frame; max_window_bits=\"a, b\", foo; bar=baz, "
      "permessage-deflate; client_no_context_takeover, x-other");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->params.client_no_context_takeover);
}

TEST(DeflateNegotiation, QuotedCommaDoesNotSplitOffers) {
  // The comma inside the quoted value belongs to foo's parameter; the
  // following "permessage-deflate; bogus" must not be treated as a new offer
  // by a naive comma split.
  EXPECT_FALSE(negotiatePermessageDeflate("foo; p=\", permessage-deflate\""));
}

TEST(DeflateNegotiation, CaseInsensitiveTokens) {
  auto n = negotiatePermessageDeflate("PerMessage-Deflate; Client_No_Context_Takeover; SERVER_MAX_WINDOW_BITS=11");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->params.client_no_context_takeover);
  EXPECT_EQ(n->params.server_max_window_bits, 11);
  // Responses use the registered lower-case spelling.
  EXPECT_EQ(n->response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11");
  // Case variants are still the same parameter for the duplicate rule.
  EXPECT_FALSE(negotiatePermessageDeflate("permessage-deflate; client_no_context_takeover; CLIENT_NO_CONTEXT_TAKEOVER"));
}

// ---------------------------------------------------------------------------
// Deflater
// ---------------------------------------------------------------------------

TEST(Deflater, RoundTripEveryWindowSize) {
  Deflater d;
  const std::string inputs[] = {"Hello", textPayload(100), textPayload(5000), textPayload(300000), randomBytes(70000)};
  for (int bits = 9; bits <= 15; ++bits) {
    for (const auto& in : inputs) {
      std::string payload;
      ASSERT_TRUE(d.compress(in, payload, bits)) << bits;
      std::string plain;
      // A peer limited to `bits` must be able to decode it (§7.1.2.1).
      ASSERT_TRUE(zlibInflate(payload, plain, bits)) << bits << " size " << in.size();
      EXPECT_EQ(plain, in) << bits;

      DeflateParams p;
      p.client_max_window_bits = bits;  // our Inflater configured as a client would be
      Inflater inf(p);
      std::string out;
      ASSERT_EQ(inflateMessage(inf, payload, out), InflateStatus::Ok);
      EXPECT_EQ(out, in);
    }
  }
}

TEST(Deflater, CompressesAndIsIndependentPerMessage) {
  // server_no_context_takeover: each payload decodes on its own, with a fresh
  // inflater, whatever was compressed before.
  Deflater d;
  const std::string msg = textPayload(2000, 3);
  std::string first, second;
  ASSERT_TRUE(d.compress(msg, first));
  ASSERT_TRUE(d.compress(textPayload(2000, 4), second));
  ASSERT_TRUE(d.compress(msg, second));
  EXPECT_EQ(first, second);  // deterministic: no history carried over
  EXPECT_LT(first.size(), msg.size() / 2);
  std::string plain;
  ASSERT_TRUE(zlibInflate(second, plain));
  EXPECT_EQ(plain, msg);
}

TEST(Deflater, EmptyMessage) {
  // RFC 7692 §7.2.3.6: an empty message compresses to the single byte 0x00.
  Deflater d;
  std::string out = "garbage";
  ASSERT_TRUE(d.compress("", out));
  EXPECT_EQ(out, std::string(1, '\0'));
  std::string plain = "x";
  ASSERT_TRUE(zlibInflate(out, plain));
  EXPECT_EQ(plain, "");
  Inflater inf(DeflateParams{});
  ASSERT_EQ(inflateMessage(inf, out, plain), InflateStatus::Ok);
  EXPECT_EQ(plain, "");
}

TEST(Deflater, RejectsUnsupportedWindowBits) {
  Deflater d;
  std::string out;
  EXPECT_FALSE(d.compress("abc", out, 8));
  EXPECT_FALSE(d.compress("abc", out, 16));
  EXPECT_FALSE(d.compress("abc", out, 0));
  EXPECT_FALSE(d.compress("abc", out, -15));
  EXPECT_TRUE(d.compress("abc", out, 9));
}

TEST(Deflater, OutputReplacedNotAppended) {
  Deflater d;
  std::string out(1000, 'z');
  ASSERT_TRUE(d.compress("Hello", out));
  // RFC 7692 §7.2.3.1 shows f2 48 cd c9 c9 07 00 for "Hello" with fixed
  // Huffman; zlib may choose a stored or fixed block, so just decode it.
  std::string plain;
  ASSERT_TRUE(zlibInflate(out, plain));
  EXPECT_EQ(plain, "Hello");
}

// ---------------------------------------------------------------------------
// Inflater
// ---------------------------------------------------------------------------

TEST(Inflater, Rfc7692Examples) {
  DeflateParams p;
  Inflater inf(p);
  std::string out;
  // §7.2.3.1: "Hello" in one compressed block.
  const std::string hello("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
  ASSERT_EQ(inflateMessage(inf, hello, out), InflateStatus::Ok);
  EXPECT_EQ(out, "Hello");
  // §7.2.3.2: the second "Hello" refers back into the first message.
  ASSERT_EQ(inflateMessage(inf, std::string("\xf2\x00\x11\x00\x00", 5), out), InflateStatus::Ok);
  EXPECT_EQ(out, "Hello");
  // §7.2.3.3: a stored (uncompressed) block.
  Inflater inf2(p);
  ASSERT_EQ(inflateMessage(inf2, std::string("\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 11), out), InflateStatus::Ok);
  EXPECT_EQ(out, "Hello");
  // §7.2.3.4: BFINAL set; the appended tail is ignored.
  Inflater inf3(p);
  ASSERT_EQ(inflateMessage(inf3, std::string("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8), out), InflateStatus::Ok);
  EXPECT_EQ(out, "Hello");
}

TEST(Inflater, LazyAllocation) {
  Inflater inf(DeflateParams{});
  EXPECT_FALSE(inf.allocated());
}

TEST(Inflater, SplitAtEveryPoint) {
  const std::string msg = "Hello, Switchboard! Hello, Switchboard! permessage-deflate split test.";
  RawDeflate enc;
  const std::string payload = enc.message(msg);
  for (size_t a = 0; a <= payload.size(); ++a) {
    for (size_t b = a; b <= payload.size(); ++b) {
      DeflateParams p;
      p.client_no_context_takeover = true;
      Inflater inf(p);
      std::string out;
      const auto* d = reinterpret_cast<const uint8_t*>(payload.data());
      ASSERT_EQ(inf.feed(d, a, out, 1 << 20), InflateStatus::Ok);
      ASSERT_EQ(inf.feed(d + a, b - a, out, 1 << 20), InflateStatus::Ok);
      ASSERT_EQ(inf.feed(d + b, payload.size() - b, out, 1 << 20), InflateStatus::Ok);
      ASSERT_EQ(inf.finish(out, 1 << 20), InflateStatus::Ok);
      ASSERT_EQ(out, msg) << a << "/" << b;
    }
  }
}

TEST(Inflater, ByteAtATimeLargeMessage) {
  const std::string msg = textPayload(100000, 9);
  RawDeflate enc;
  const std::string payload = enc.message(msg);
  Inflater inf(DeflateParams{});
  std::string out;
  for (char c : payload) {
    const auto b = static_cast<uint8_t>(c);
    ASSERT_EQ(inf.feed(&b, 1, out, msg.size()), InflateStatus::Ok);
  }
  ASSERT_EQ(inf.finish(out, msg.size()), InflateStatus::Ok);  // exactly at the limit is fine
  EXPECT_EQ(out, msg);
}

TEST(Inflater, ContextTakeoverKeepsWindowAcrossMessages) {
  RawDeflate enc;  // the client keeps context: messages refer to earlier ones
  const std::string m1 = textPayload(3000, 11);
  const std::string p1 = enc.message(m1);
  const std::string p2 = enc.message(m1);  // mostly a back-reference into message 1
  EXPECT_LT(p2.size(), p1.size() / 4);

  Inflater inf(DeflateParams{});  // client_no_context_takeover = false
  std::string out;
  ASSERT_EQ(inflateMessage(inf, p1, out), InflateStatus::Ok);
  EXPECT_EQ(out, m1);
  EXPECT_TRUE(inf.allocated());  // window must survive between messages
  ASSERT_EQ(inflateMessage(inf, p2, out), InflateStatus::Ok);
  EXPECT_EQ(out, m1);
  for (int i = 0; i < 5; ++i) {
    const std::string m = textPayload(500 + i * 300, 20 + i);
    ASSERT_EQ(inflateMessage(inf, enc.message(m), out), InflateStatus::Ok);
    EXPECT_EQ(out, m);
  }
}

TEST(Inflater, NoContextTakeoverReleasesAfterEachMessage) {
  const std::string m1 = textPayload(3000, 11);
  DeflateParams p;
  p.client_no_context_takeover = true;
  Inflater inf(p);
  std::string out;
  for (int i = 0; i < 3; ++i) {
    RawDeflate enc;  // a client honouring client_no_context_takeover
    ASSERT_EQ(inflateMessage(inf, enc.message(m1), out), InflateStatus::Ok);
    EXPECT_EQ(out, m1);
    EXPECT_FALSE(inf.allocated());  // idle connection holds no zlib memory
  }
  // A client that breaks its promise and refers to the previous message is
  // caught: the fresh inflater has no history (distance too far back).
  RawDeflate cheat;
  ASSERT_EQ(inflateMessage(inf, cheat.message(m1), out), InflateStatus::Ok);
  EXPECT_EQ(inflateMessage(inf, cheat.message(m1), out), InflateStatus::Error);
  EXPECT_FALSE(inf.allocated());
}

TEST(Inflater, BfinalThenNextMessageWithContextTakeover) {
  // A sender that ends a message with BFINAL (§7.2.3.4) starts a fresh stream
  // for the next message.
  Inflater inf(DeflateParams{});
  std::string out;
  for (int i = 0; i < 3; ++i) {
    RawDeflate enc;
    const std::string m = textPayload(1000, 30 + i);
    ASSERT_EQ(inflateMessage(inf, clientCompress(enc.zs, m, /*finalBlock=*/true), out), InflateStatus::Ok);
    EXPECT_EQ(out, m);
  }
}

TEST(Inflater, WindowSmallerThanClientUses) {
  // client_max_window_bits=8 from a zlib client really means 9 bits (zlib up
  // to 1.2.8 silently raised raw 8 to 9; newer zlib refuses 8): accepted.
  RawDeflate enc(9, 9);
  const std::string m = textPayload(5000, 5);
  DeflateParams p;
  p.client_max_window_bits = 8;
  Inflater inf(p);
  std::string out;
  ASSERT_EQ(inflateMessage(inf, enc.message(m), out), InflateStatus::Ok);
  EXPECT_EQ(out, m);
  // A client that promised 9 bits and uses 15 is a protocol violation.
  RawDeflate big(15);
  DeflateParams p9;
  p9.client_max_window_bits = 9;
  Inflater inf9(p9);
  std::string rep = textPayload(1000, 6);
  std::string m2 = rep + randomBytes(20000) + rep;  // back-reference ~20 KB away
  EXPECT_EQ(inflateMessage(inf9, big.message(m2), out), InflateStatus::Error);
}

TEST(Inflater, ZipBombStopsAtLimit) {
  const std::string zeros(10 * 1024 * 1024, '\0');
  RawDeflate enc(15, 9);
  const std::string bomb = enc.message(zeros);
  ASSERT_LT(bomb.size(), 20000u);  // ~10 KB of input for 10 MB of output

  constexpr size_t kLimit = 1 << 20;
  Inflater inf(DeflateParams{});
  std::string out;
  EXPECT_EQ(inf.feed(reinterpret_cast<const uint8_t*>(bomb.data()), bomb.size(), out, kLimit), InflateStatus::TooBig);
  EXPECT_LE(out.size(), kLimit);
  EXPECT_LE(out.capacity(), kLimit);  // the buffer never grew past the limit
  EXPECT_FALSE(inf.allocated());      // state dropped: the connection gets failed

  // Fed in small chunks, and with a limit that is not a multiple of anything.
  Inflater inf2(DeflateParams{});
  std::string out2;
  constexpr size_t kOdd = 123457;
  InflateStatus st = InflateStatus::Ok;
  for (size_t i = 0; i < bomb.size() && st == InflateStatus::Ok; i += 100)
    st = inf2.feed(reinterpret_cast<const uint8_t*>(bomb.data()) + i, std::min<size_t>(100, bomb.size() - i), out2, kOdd);
  EXPECT_EQ(st, InflateStatus::TooBig);
  EXPECT_LE(out2.size(), kOdd);
  EXPECT_LE(out2.capacity(), kOdd);
}

TEST(Inflater, LimitIsOnTotalSizeAndExact) {
  const std::string m = textPayload(50000, 8);
  RawDeflate enc;
  const std::string payload = enc.message(m);
  {
    Inflater inf(DeflateParams{});
    std::string out;
    EXPECT_EQ(inflateMessage(inf, payload, out, m.size()), InflateStatus::Ok);
    EXPECT_EQ(out, m);
  }
  {
    Inflater inf(DeflateParams{});
    std::string out;
    EXPECT_EQ(inflateMessage(inf, payload, out, m.size() - 1), InflateStatus::TooBig);
    EXPECT_LE(out.size(), m.size() - 1);
  }
  {
    // Output already present counts against the limit.
    Inflater inf(DeflateParams{});
    std::string out(10, 'x');
    EXPECT_EQ(inf.feed(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), out, m.size()),
              InflateStatus::TooBig);
  }
}

TEST(Inflater, CorruptInput) {
  std::string out;
  {
    // BTYPE 11 is reserved (RFC 1951 §3.2.3).
    Inflater inf(DeflateParams{});
    const uint8_t bad[] = {0x07, 0x00};
    EXPECT_EQ(inf.feed(bad, sizeof bad, out, 1 << 20), InflateStatus::Error);
    EXPECT_FALSE(inf.allocated());
  }
  {
    // Stored block whose NLEN is not the complement of LEN.
    Inflater inf(DeflateParams{});
    const uint8_t bad[] = {0x00, 0x05, 0x00, 0x00, 0x00, 'H', 'e', 'l', 'l', 'o'};
    EXPECT_EQ(inflateMessage(inf, std::string(reinterpret_cast<const char*>(bad), sizeof bad), out),
              InflateStatus::Error);
  }
  {
    // Back-reference before the start of the stream.
    Inflater inf(DeflateParams{});
    EXPECT_EQ(inflateMessage(inf, std::string("\xf2\x00\x11\x00\x00", 5), out), InflateStatus::Error);
  }
  {
    // Random garbage of many seeds: never Ok with wrong output is fine, but
    // must never crash or exceed the limit.
    for (unsigned seed = 0; seed < 200; ++seed) {
      Inflater inf(DeflateParams{});
      std::string g = randomBytes(300, seed);
      out.clear();
      InflateStatus st = inflateMessage(inf, g, out, 4096);
      EXPECT_LE(out.size(), 4096u);
      if (st != InflateStatus::Ok) {
        EXPECT_FALSE(inf.allocated());
      }
    }
  }
}

TEST(Inflater, TruncatedMessageIsNotAnErrorUntilDataIsBad) {
  // A message cut mid-block simply produces less output: the sender owns its
  // framing. This documents that finish() succeeds on a truncated stream.
  RawDeflate enc;
  const std::string m = textPayload(2000, 2);
  std::string payload = enc.message(m);
  payload.resize(payload.size() / 2);
  Inflater inf(DeflateParams{});
  std::string out;
  InflateStatus st = inflateMessage(inf, payload, out);
  EXPECT_NE(st, InflateStatus::TooBig);
  EXPECT_LE(out.size(), m.size());
}

}  // namespace
}  // namespace sb::ws
