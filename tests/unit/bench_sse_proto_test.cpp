// switchboard-bench's EventSource client: the check of the response head,
// the Transfer-Encoding: chunked decoder, and the stamps found in the decoded
// `data:` lines. Bytes arrive however the kernel cuts them, so the decoder is
// fed whole, byte by byte, cut at every position and in random chunk sizes:
// the decoded stream, its end and its errors must not depend on the cuts.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sse_proto.h"
#include "stamp_scanner.h"
#include "url.h"

using namespace sbbench;

namespace {

constexpr const char* kOkHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

TEST(BenchSseHead, AcceptsAnEventStreamAndNotesChunking) {
  std::string buf = std::string(kOkHead) + "5\r\n: hi\n\r\n";
  auto r = parse_sse_response(buf);
  EXPECT_EQ(r.status, HttpHeadResult::kOk) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.consumed, std::string(kOkHead).size());

  r = parse_sse_response("HTTP/1.0 200 OK\r\ncontent-TYPE:TEXT/EVENT-STREAM\r\n\r\n");
  EXPECT_EQ(r.status, HttpHeadResult::kOk) << r.error;
  EXPECT_FALSE(r.chunked);
}

TEST(BenchSseHead, IncompleteUntilTheBlankLine) {
  const std::string head = kOkHead;
  for (size_t n = 0; n < head.size(); ++n) {
    auto r = parse_sse_response(std::string_view(head).substr(0, n));
    ASSERT_EQ(r.status, HttpHeadResult::kIncomplete) << n;
    ASSERT_EQ(r.consumed, 0u);
  }
  EXPECT_EQ(parse_sse_response(head).status, HttpHeadResult::kOk);
}

TEST(BenchSseHead, RefusalsNameTheProblem) {
  auto r = parse_sse_response("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(r.status, HttpHeadResult::kBadStatus);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(r.error, "HTTP 404 Not Found");

  r = parse_sse_response("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");
  EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders);
  EXPECT_EQ(r.error, "Content-Type is not text/event-stream");

  r = parse_sse_response("HTTP/1.1 200 OK\r\nX-Note: text/event-stream\r\n\r\n");
  EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders) << "the type must be in Content-Type";

  for (const char* bad : {"HTTP/1.1 2x0 OK\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1200 OK\r\n\r\n", "HTTP/1.1 20\r\n\r\n",
                          "\r\n\r\n"}) {
    r = parse_sse_response(bad);
    EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders) << bad;
    EXPECT_NE(r.error.find("malformed status"), std::string::npos) << bad << ": " << r.error;
  }
}

TEST(BenchSseHead, OversizedHeadIsRefusedHoweverItArrives) {
  std::string big = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Pad: " + std::string(20000, 'p') + "\r\n\r\n";
  EXPECT_EQ(parse_sse_response(std::string_view(big).substr(0, 16000)).status, HttpHeadResult::kIncomplete);
  auto r = parse_sse_response(std::string_view(big).substr(0, 17000));
  EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders);
  EXPECT_EQ(r.error, "response head larger than 16 KiB");
  // In one read, too: the limit does not depend on how the head arrived.
  r = parse_sse_response(big);
  EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders);
  EXPECT_EQ(r.error, "response head larger than 16 KiB");
}

TEST(BenchSseHead, HeadOfExactly16KiBIsAcceptedByteByByteAndWhole) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Pad: ";
  head += std::string(16384 - head.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(head.size(), 16384u);
  for (size_t n = 16370; n < head.size(); ++n) {
    ASSERT_EQ(parse_sse_response(std::string_view(head).substr(0, n)).status, HttpHeadResult::kIncomplete) << n;
  }
  EXPECT_EQ(parse_sse_response(head).status, HttpHeadResult::kOk);
  EXPECT_EQ(parse_sse_response(head + "data: x\n\n").status, HttpHeadResult::kOk);
}

TEST(BenchSseHead, RequestAsksForAnEventStream) {
  WsUrl url = parse_loopback_http_target("http://127.0.0.1:8080/sub/{channel}", "--url");
  EXPECT_EQ(build_sse_request(url, "/sub/c1?x=1", {"Authorization: Bearer t", "X-A: b"}),
            "GET /sub/c1?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: text/event-stream\r\n"
            "Cache-Control: no-cache\r\nAuthorization: Bearer t\r\nX-A: b\r\n\r\n");
}

// ---- the chunked decoder ----------------------------------------------------

struct Decoded {
  std::string body;
  bool ok = true;
  bool end = false;
  std::string error;
  bool operator==(const Decoded& o) const = default;
};

std::ostream& operator<<(std::ostream& os, const Decoded& d) {
  return os << "{body " << d.body.size() << " bytes, ok " << d.ok << ", end " << d.end << ", error '" << d.error << "'}";
}

struct BodySink {
  std::string* out;
  void on_body(const uint8_t* p, size_t n) { out->append(reinterpret_cast<const char*>(p), n); }
};

// Feeds `wire` in the given pieces (the rest in one), stopping at the first error.
Decoded decode(const std::string& wire, const std::vector<size_t>& pieces) {
  ChunkedDecoder dec;
  Decoded d;
  BodySink sink{&d.body};
  const auto* p = reinterpret_cast<const uint8_t*>(wire.data());
  size_t at = 0;
  auto feed = [&](size_t n) {
    if (!d.ok) return;
    d.ok = dec.feed(p + at, n, sink);
    at += n;
  };
  for (size_t n : pieces) feed(std::min(n, wire.size() - at));
  feed(wire.size() - at);
  d.end = dec.end();
  if (!d.ok) d.error = dec.error();
  return d;
}

Decoded decode_whole(const std::string& wire) { return decode(wire, {}); }

std::vector<size_t> random_pieces(size_t total, std::mt19937& rng, size_t max_piece) {
  std::vector<size_t> pieces;
  while (total > 0) {
    size_t n = std::min<size_t>(total, 1 + rng() % max_piece);
    pieces.push_back(n);
    total -= n;
  }
  return pieces;
}

void expect_split_independent(const std::string& wire) {
  const Decoded whole = decode_whole(wire);
  for (size_t cut = 0; cut <= wire.size(); ++cut) ASSERT_EQ(decode(wire, {cut}), whole) << "cut at " << cut;
  ASSERT_EQ(decode(wire, std::vector<size_t>(wire.size(), 1)), whole) << "byte by byte";
  std::mt19937 rng(77);
  for (int round = 0; round < 300; ++round) {
    ASSERT_EQ(decode(wire, random_pieces(wire.size(), rng, round % 2 ? 5 : 64)), whole) << "round " << round;
  }
}

TEST(BenchChunkedDecoder, DecodesChunksAndSeesTheLastOne) {
  Decoded d = decode_whole("5\r\nhello\r\nA\r\n, 10 bytes\r\n1f\r\n" + std::string(31, 'z') + "\r\n0\r\n\r\n");
  EXPECT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.body, "hello, 10 bytes" + std::string(31, 'z'));
  EXPECT_TRUE(d.end);
}

TEST(BenchChunkedDecoder, SkipsExtensionsAndToleratesBareLf) {
  Decoded d = decode_whole("5;name=\"v\"\r\nhello\r\n3 ; x\r\nabc\r\n2\nde\n0\n\n");
  EXPECT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.body, "helloabcde");
  EXPECT_TRUE(d.end);
}

TEST(BenchChunkedDecoder, StreamWithoutTheLastChunkIsNotEnded) {
  Decoded d = decode_whole("3\r\nabc\r\n");
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.body, "abc");
  EXPECT_FALSE(d.end);
  EXPECT_FALSE(decode_whole("3\r\nabc\r\n0\r\n").end) << "the trailer's blank line is still due";
}

TEST(BenchChunkedDecoder, BadChunkSizesAreErrors) {
  struct Case {
    std::string wire;
    const char* error;
    std::string body_before;
  } cases[] = {
      {"\r\nabc", "chunk size line without a size", ""},
      {";ext\r\n", "chunk size line without a size", ""},
      {"-5\r\nhello\r\n", "chunk size line without a size", ""},
      {"5x\r\nhello\r\n", "bad character in a chunk size line", ""},
      {"0x5\r\nhello\r\n", "bad character in a chunk size line", ""},
      {"5\rhello", "chunk size line not ended by CRLF", ""},
      {"1000000000000000\r\n", "chunk size too large", ""},
      {"3\r\nabcd\r\n", "chunk data not followed by CRLF", "abc"},
      {"3\r\nabc\rX", "chunk data not followed by CRLF", "abc"},
      {"3\r\nabc\r\nzz\r\n", "chunk size line without a size", "abc"},
      {"3\r\nabc\r\n4z\r\n", "bad character in a chunk size line", "abc"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.wire);
    Decoded d = decode_whole(c.wire);
    EXPECT_FALSE(d.ok);
    EXPECT_EQ(d.error, c.error);
    EXPECT_EQ(d.body, c.body_before);
    expect_split_independent(c.wire);
  }
  // 15 hex digits still parse as a size line.
  Decoded d = decode_whole("fffffffffffffff\r\nabc");
  EXPECT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.body, "abc");
}

// An event stream of `events` stamped publications, as the server would
// write it, and that stream cut into chunks of random sizes with random
// extensions and both cases of hex digits.
struct SseFixture {
  std::string stream;
  std::string wire;
};

SseFixture make_stream(int events, uint32_t seed) {
  std::mt19937 rng(seed);
  SseFixture f;
  for (int k = 1; k <= events; ++k) {
    f.stream += "id: " + std::to_string(k) + "\ndata: {\"ts\":" + std::to_string(1'000'000 + k * 1013) +
                ",\"seq\":" + std::to_string(k) + ",\"pad\":\"" + std::string(rng() % 40, 'x') + "\"}\n\n";
    if (k % 7 == 0) f.stream += ": ping\n\n";
  }
  for (size_t at = 0; at < f.stream.size();) {
    size_t n = std::min<size_t>(f.stream.size() - at, 1 + rng() % 90);
    char size[32];
    std::snprintf(size, sizeof size, rng() % 2 ? "%zx" : "%zX", n);
    f.wire += size;
    if (rng() % 4 == 0) f.wire += ";ext=1";
    f.wire += "\r\n" + f.stream.substr(at, n) + "\r\n";
    at += n;
  }
  f.wire += "0\r\n\r\n";
  return f;
}

TEST(BenchChunkedDecoder, RandomlyChunkedStreamDecodesTheSameHoweverItIsCut) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SseFixture f = make_stream(25, seed);
    Decoded whole = decode_whole(f.wire);
    ASSERT_TRUE(whole.ok) << whole.error;
    EXPECT_TRUE(whole.end);
    EXPECT_EQ(whole.body, f.stream);
    expect_split_independent(f.wire);
  }
}

// Stamps found by the scanner in the decoded bytes, with the wire fed in `pieces`.
struct StampSink {
  StampScanner* scanner;
  std::vector<std::pair<uint64_t, uint64_t>>* out;
  void on_body(const uint8_t* p, size_t n) {
    scanner->feed(p, n, [this](uint64_t ts, uint64_t seq, bool has_seq) { out->push_back({ts, has_seq ? seq : 0}); });
  }
};

std::vector<std::pair<uint64_t, uint64_t>> stamps_through_decoder(const std::string& wire,
                                                                 const std::vector<size_t>& pieces) {
  ChunkedDecoder dec;
  StampScanner scanner;
  std::vector<std::pair<uint64_t, uint64_t>> out;
  StampSink sink{&scanner, &out};
  const auto* p = reinterpret_cast<const uint8_t*>(wire.data());
  size_t at = 0;
  for (size_t n : pieces) {
    EXPECT_TRUE(dec.feed(p + at, n, sink)) << dec.error();
    at += n;
  }
  EXPECT_EQ(at, wire.size());
  EXPECT_TRUE(dec.end());
  return out;
}

TEST(BenchChunkedDecoder, DataLineStampsSurviveAnyChunkingAndAnyReadCuts) {
  // A chunk-size line can neither split nor fake a stamp: the stamps after
  // de-chunking are exactly those of the event stream, for any read cuts.
  SseFixture f = make_stream(40, 9);
  std::vector<std::pair<uint64_t, uint64_t>> want;
  for (uint64_t k = 1; k <= 40; ++k) want.push_back({1'000'000 + k * 1013, k});
  EXPECT_EQ(stamps_through_decoder(f.wire, {f.wire.size()}), want);
  EXPECT_EQ(stamps_through_decoder(f.wire, std::vector<size_t>(f.wire.size(), 1)), want);
  std::mt19937 rng(4);
  for (int round = 0; round < 100; ++round) {
    ASSERT_EQ(stamps_through_decoder(f.wire, random_pieces(f.wire.size(), rng, 1 + round * 3)), want) << round;
  }
}

}  // namespace
