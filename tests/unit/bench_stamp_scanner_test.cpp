// StampScanner: the publication stamps {"ts":T,"seq":S,...} switchboard-bench
// finds in raw, Centrifugo-wrapped and SSE-wrapped deliveries without parsing
// JSON. A read boundary may fall anywhere, so every payload is also fed split
// at every position, byte by byte and in random chunks: the stamps must not
// change.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "stamp_scanner.h"

using namespace sbbench;

namespace {

struct Stamp {
  uint64_t ts;
  uint64_t seq;
  bool has_seq;
  bool operator==(const Stamp& o) const { return std::tie(ts, seq, has_seq) == std::tie(o.ts, o.seq, o.has_seq); }
};

std::ostream& operator<<(std::ostream& os, const Stamp& s) {
  return os << "{ts " << s.ts << ", seq " << s.seq << (s.has_seq ? "" : " (none)") << "}";
}

// Feeds `bytes` in pieces of the given sizes (the rest in one piece); with
// `message` the end is a WebSocket message end.
std::vector<Stamp> scan(const std::string& bytes, const std::vector<size_t>& pieces, bool message) {
  StampScanner s;
  std::vector<Stamp> out;
  // Without a sequence number `seq` means nothing: compare it as 0.
  auto emit = [&](uint64_t ts, uint64_t seq, bool has_seq) { out.push_back({ts, has_seq ? seq : 0, has_seq}); };
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t at = 0;
  for (size_t n : pieces) {
    n = std::min(n, bytes.size() - at);
    s.feed(p + at, n, emit);
    at += n;
  }
  s.feed(p + at, bytes.size() - at, emit);
  if (message) s.end_message(emit);
  return out;
}

std::vector<Stamp> scan_whole(const std::string& bytes, bool message = true) { return scan(bytes, {}, message); }

// Every way of cutting `bytes` we try must give the same stamps as one feed.
void expect_split_independent(const std::string& bytes, bool message) {
  const std::vector<Stamp> whole = scan_whole(bytes, message);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    ASSERT_EQ(scan(bytes, {cut}, message), whole) << "cut at " << cut << " of " << bytes;
  }
  ASSERT_EQ(scan(bytes, std::vector<size_t>(bytes.size(), 1), message), whole) << "byte by byte: " << bytes;
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> pieces;
    for (size_t left = bytes.size(); left > 0;) {
      size_t n = std::min<size_t>(left, 1 + rng() % 9);
      pieces.push_back(n);
      left -= n;
    }
    ASSERT_EQ(scan(bytes, pieces, message), whole) << "random round " << round << ": " << bytes;
  }
}

std::string publication(uint64_t ts, uint64_t seq) {
  return "{\"ts\":" + std::to_string(ts) + ",\"seq\":" + std::to_string(seq) + ",\"pad\":\"xxxxxxxx\"}";
}

TEST(BenchStampScanner, RawPublication) {
  EXPECT_EQ(scan_whole(publication(1700000000123456789ull, 42)),
            (std::vector<Stamp>{{1700000000123456789ull, 42, true}}));
  expect_split_independent(publication(98765, 3), true);
}

TEST(BenchStampScanner, CentrifugoPushesInOneMessage) {
  std::string msg = "{\"push\":{\"channel\":\"bench\",\"pub\":{\"data\":" + publication(111, 1) +
                    ",\"offset\":7}}}\n{}\n{\"push\":{\"channel\":\"c3\",\"pub\":{\"data\":" + publication(222, 2) +
                    ",\"offset\":8}}}";
  EXPECT_EQ(scan_whole(msg), (std::vector<Stamp>{{111, 1, true}, {222, 2, true}}));
  expect_split_independent(msg, true);
}

TEST(BenchStampScanner, SseEventsInAStream) {
  std::string stream = "id: 1\nevent: message\ndata: " + publication(1000, 10) + "\n\n: keep-alive\n\nid: 2\ndata: " +
                       publication(2000, 11) + "\n\ndata: {\"push\":{\"pub\":{\"data\":" + publication(3000, 12) +
                       "}}}\n\n";
  EXPECT_EQ(scan_whole(stream, false), (std::vector<Stamp>{{1000, 10, true}, {2000, 11, true}, {3000, 12, true}}));
  expect_split_independent(stream, false);
}

TEST(BenchStampScanner, StampWithoutSequenceNumber) {
  EXPECT_EQ(scan_whole("{\"ts\":5}"), (std::vector<Stamp>{{5, 0, false}}));
  EXPECT_EQ(scan_whole("{\"ts\":5,\"other\":1}"), (std::vector<Stamp>{{5, 0, false}}));
  EXPECT_EQ(scan_whole("{\"ts\":5,\"seq\":}"), (std::vector<Stamp>{{5, 0, false}}));
  EXPECT_EQ(scan_whole("{\"ts\":5,\"seq\":\"7\"}"), (std::vector<Stamp>{{5, 0, false}}));
  expect_split_independent("{\"ts\":5,\"se\"ts\":6,\"seq\":7}", true);
}

TEST(BenchStampScanner, NumberRunningToTheMessageEnd) {
  // A WebSocket message end completes the number; an event stream waits for more.
  EXPECT_EQ(scan_whole("\"ts\":77", true), (std::vector<Stamp>{{77, 0, false}}));
  EXPECT_EQ(scan_whole("\"ts\":77,\"seq\":8", true), (std::vector<Stamp>{{77, 8, true}}));
  EXPECT_EQ(scan_whole("\"ts\":77,\"se", true), (std::vector<Stamp>{{77, 0, false}}));
  EXPECT_TRUE(scan_whole("\"ts\":77", false).empty());
  // The scanner starts afresh after a message end: no stamp spans two messages.
  StampScanner s;
  std::vector<Stamp> out;
  auto emit = [&](uint64_t ts, uint64_t seq, bool has_seq) { out.push_back({ts, seq, has_seq}); };
  s.feed(reinterpret_cast<const uint8_t*>("\"ts\""), 4, emit);
  s.end_message(emit);
  s.feed(reinterpret_cast<const uint8_t*>(":9,"), 3, emit);
  s.end_message(emit);
  EXPECT_TRUE(out.empty());
}

TEST(BenchStampScanner, MalformedStampsAreRefused) {
  // Not a number right after `"ts":`, a number too long for 64 bits, or a
  // key that only ends in `ts":`.
  for (const char* bad : {"{\"ts\":\"123\",\"seq\":1}", "{\"ts\":-5,\"seq\":1}", "{\"ts\": 5,\"seq\":1}",
                          "{\"ts\" :5,\"seq\":1}", "{\"TS\":5,\"seq\":1}", "{ts:5,\"seq\":1}", "{\"ts\":,\"seq\":1}",
                          "{\"ts\":12345678901234567890,\"seq\":1}", "{\"xts\":5}"}) {
    EXPECT_TRUE(scan_whole(bad).empty()) << bad << " gave " << scan_whole(bad).front();
    expect_split_independent(bad, true);
  }
  // 19 digits still fit; a 20-digit sequence number is not one.
  EXPECT_EQ(scan_whole("{\"ts\":9999999999999999999,\"seq\":1}"),
            (std::vector<Stamp>{{9999999999999999999ull, 1, true}}));
  EXPECT_EQ(scan_whole("{\"ts\":3,\"seq\":12345678901234567890}"), (std::vector<Stamp>{{3, 0, false}}));
}

TEST(BenchStampScanner, KeyOverlapsAreFound) {
  // A quote that ends a failed match may start the real key.
  EXPECT_EQ(scan_whole("\"\"ts\":4,\"seq\":1"), (std::vector<Stamp>{{4, 1, true}}));
  EXPECT_EQ(scan_whole("\"ts\"ts\":4,\"seq\":1"), (std::vector<Stamp>{{4, 1, true}}));
  EXPECT_EQ(scan_whole("{\"ts\":1,\"ts\":2,\"seq\":3}"), (std::vector<Stamp>{{1, 0, false}, {2, 3, true}}));
  for (const char* s : {"\"\"ts\":4,\"seq\":1", "\"ts\"ts\":4,\"seq\":1", "\"t\"ts\":4,,\"seq\":1\"ts\":5"}) {
    expect_split_independent(s, true);
    expect_split_independent(s, false);
  }
}

TEST(BenchStampScanner, ManyPublicationsInOneStream) {
  std::string stream;
  std::vector<Stamp> want;
  std::mt19937_64 rng(7);
  for (uint64_t seq = 1; seq <= 60; ++seq) {
    uint64_t ts = rng() >> 1;
    stream += "data: " + publication(ts, seq) + "\n\n";
    want.push_back({ts, seq, true});
  }
  EXPECT_EQ(scan_whole(stream, false), want);
  expect_split_independent(stream, false);
}

}  // namespace
