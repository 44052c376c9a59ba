// The plain endpoints' subscribers on a real hub and memory broker. SSE
// (transport::PlainSseStream): the event format, the `id:` position list
// across channels, resume (missed publications once and in order, then live
// ones), the explicit reset, heartbeats, and the fan-out claim: one `data:`
// encoding per publication per worker shared by every subscriber, `id:`
// lines cut from the worker's arena, nothing allocated per delivery.
// Long-poll (transport::PlainPoll): when it answers and what. The request
// checks shared by all of them, and the /ws frame.
#include <gtest/gtest.h>

#include "../support/NodeTestHelpers.h"
#include "auth/TokenVerifier.h"
#include "broker/MemoryBroker.h"
#include "core/Node.h"
#include "net/EventLoop.h"
#include "transport/PlainEvent.h"
#include "transport/PlainPoll.h"
#include "transport/PlainRequest.h"
#include "transport/PlainSse.h"
#include "../support/AllocationCounter.h"

namespace sb::transport {
namespace {

using testsupport::runPosted;

using protocol::StreamPosition;

// Collects what a stream writes. `retain` keeps references as a write queue
// does until its flush (so arena blocks cannot be rewound meanwhile).
struct CaptureSink final : StreamSink {
  void write(const net::SharedBuffer::Ref& buf, size_t offset, size_t len) override {
    if (keepText) text.append(buf->view().substr(offset, len));
    if (retain) held.push_back(buf);
    lastBuffer = buf.get();
    ++writes;
  }
  void writeCopy(std::string_view bytes) override {
    if (keepText) text.append(bytes);
    ++writes;
  }
  bool open() const override { return !ended; }
  void end() override { ended = true; }

  bool keepText = true;
  bool retain = false;
  bool ended = false;
  size_t writes = 0;
  const net::SharedBuffer* lastBuffer = nullptr;
  std::string text;
  std::vector<net::SharedBuffer::Ref> held;
};

config::Config testConfig() {
  config::Config cfg;
  cfg.client.allow_anonymous = true;
  cfg.client.token_hmac_secret = "secret";
  cfg.client.recovery_max_publications = 5;
  auto& root = cfg.channel.options;
  root.allow_subscribe_for_client = true;
  root.allow_subscribe_for_anonymous = true;
  root.history_size = 100;
  root.history_ttl = std::chrono::minutes(5);
  config::NamespaceConfig live;  // no history
  live.name = "live";
  live.options.allow_subscribe_for_client = true;
  live.options.allow_subscribe_for_anonymous = true;
  cfg.channel.namespaces.push_back(live);
  config::NamespaceConfig users;  // clients with a token only
  users.name = "users";
  users.options.allow_subscribe_for_client = true;
  cfg.channel.namespaces.push_back(users);
  return cfg;
}

class PlainSseTest : public ::testing::Test {
 protected:
  PlainSseTest() : node(testConfig(), std::make_unique<broker::MemoryBroker>(), 1) {
    node.hub().attachLoop(0, &loop);
  }

  StreamPosition publish(std::string_view channel, std::string data) {
    return testsupport::publishNow(node, channel, std::move(data));
  }

  // A subscriber opened on `sink` (as the route does after the head).
  std::unique_ptr<PlainSseStream> open(std::vector<std::string> channels, CaptureSink& sink,
                                       std::optional<std::vector<StreamPosition>> since = std::nullopt) {
    PlainRequest req;
    req.channels = std::move(channels);
    req.since = std::move(since);
    auto s = std::make_unique<PlainSseStream>(node, 0, PlainOptions{}, 0);
    EXPECT_FALSE(s->prepare(req).has_value());
    s->onStreamOpen(sink);
    return s;
  }

  // The offsets of the unnamed (publication) events in `text`, in order.
  static std::vector<uint64_t> offsetsIn(const std::string& text) {
    std::vector<uint64_t> out;
    size_t at = 0;
    while ((at = text.find("data: {\"channel\":", at)) != std::string::npos) {
      size_t block = text.rfind("\n\n", at);
      std::string_view head(text.data() + (block == std::string::npos ? 0 : block), at - (block == std::string::npos ? 0 : block));
      size_t off = text.find("\"offset\":", at);
      if (head.find("event:") == std::string_view::npos) out.push_back(std::stoull(text.substr(off + 9)));
      at = off;
    }
    return out;
  }

  net::EventLoop loop;
  core::Node node;
};

TEST_F(PlainSseTest, OpeningBurstNamesEveryChannelAndPosition) {
  StreamPosition top = publish("news", "{\"n\":1}");
  CaptureSink sink;
  auto s = open({"news", "live:ticker"}, sink);
  std::string expected = "retry: 3000\n\nevent: subscribed\nid: " + top.epoch + ":1,0\n" +
                         "data: {\"channels\":[{\"channel\":\"news\",\"epoch\":\"" + top.epoch +
                         "\",\"offset\":1},{\"channel\":\"live:ticker\",\"offset\":0}]}\n\n";
  EXPECT_EQ(sink.text, expected);
}

TEST_F(PlainSseTest, LiveEventCarriesChannelOffsetDataAndEveryPosition) {
  StreamPosition top = publish("news", "{\"n\":1}");
  CaptureSink sink;
  auto s = open({"news", "live:ticker"}, sink);
  sink.text.clear();
  publish("news", "{\"n\":2}");
  publish("live:ticker", "{\"p\":7}");
  runPosted(loop);
  EXPECT_EQ(sink.text, "id: " + top.epoch + ":2,0\ndata: {\"channel\":\"news\",\"offset\":2,\"data\":{\"n\":2}}\n\n" +
                           "id: " + top.epoch + ":2,0\ndata: {\"channel\":\"live:ticker\",\"offset\":0,\"data\":{\"p\":7}}\n\n");
}

TEST_F(PlainSseTest, PublisherInfoAndTagsAreIncluded) {
  protocol::Publication pub;
  pub.offset = 3;
  pub.data = "[1]";
  pub.info = protocol::ClientInfo{"alice", "c1", "", ""};
  pub.tags = {{"k", "v"}};
  std::string out;
  writePlainEvent(out, "a\"b", pub);
  EXPECT_EQ(out, "{\"channel\":\"a\\\"b\",\"offset\":3,\"data\":[1],\"info\":{\"user\":\"alice\",\"client\":\"c1\"},"
                 "\"tags\":{\"k\":\"v\"}}");
}

TEST_F(PlainSseTest, ResumeSendsMissedOnceInOrderThenLive) {
  StreamPosition first = publish("news", "{\"n\":1}");
  // Another subscriber on the worker: publications 2..4 wait in the worker's
  // inbox while the resuming one reads history. Delivered after, they must
  // not be repeated.
  CaptureSink other;
  auto o = open({"news"}, other);
  for (int i = 2; i <= 4; ++i) publish("news", "{\"n\":" + std::to_string(i) + "}");
  CaptureSink sink;
  auto s = open({"news", "live:x"}, sink, std::vector<StreamPosition>{first, {0, ""}});
  publish("news", "{\"n\":5}");
  runPosted(loop);
  EXPECT_EQ(offsetsIn(sink.text), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_NE(sink.text.find("event: subscribed\nid: " + first.epoch + ":1,0\n"), std::string::npos);
  EXPECT_NE(sink.text.find("id: " + first.epoch + ":4,0\ndata: {\"channel\":\"news\",\"offset\":4,"), std::string::npos);
  EXPECT_EQ(sink.text.find("event: reset"), std::string::npos);
  EXPECT_EQ(s->positions()[0].offset, 5u);
}

TEST_F(PlainSseTest, ResumeAtTheTopSendsNothingMissed) {
  StreamPosition top = publish("news", "{}");
  CaptureSink sink;
  auto s = open({"news"}, sink, std::vector<StreamPosition>{top});
  EXPECT_TRUE(offsetsIn(sink.text).empty());
  EXPECT_EQ(sink.text.find("event: reset"), std::string::npos);
}

TEST_F(PlainSseTest, OtherEpochIsAnExplicitReset) {
  StreamPosition top = publish("news", "{}");
  CaptureSink sink;
  auto s = open({"news"}, sink, std::vector<StreamPosition>{{1, "otherEpo"}});
  EXPECT_NE(sink.text.find("event: reset\nid: " + top.epoch + ":1\ndata: {\"channel\":\"news\",\"recovered\":false,"
                           "\"epoch\":\"" + top.epoch + "\",\"offset\":1,\"reason\":\"epoch changed"),
            std::string::npos)
      << sink.text;
  EXPECT_TRUE(offsetsIn(sink.text).empty());
  // Live after the reset.
  publish("news", "{}");
  runPosted(loop);
  EXPECT_EQ(offsetsIn(sink.text), (std::vector<uint64_t>{2}));
}

TEST_F(PlainSseTest, TooManyMissedIsAResetAtTheTop) {
  StreamPosition first = publish("news", "{}");
  for (int i = 0; i < 10; ++i) publish("news", "{}");  // recovery_max_publications is 5
  CaptureSink sink;
  auto s = open({"news"}, sink, std::vector<StreamPosition>{first});
  EXPECT_NE(sink.text.find("\"offset\":11,\"reason\":\"more missed publications"), std::string::npos) << sink.text;
  EXPECT_TRUE(offsetsIn(sink.text).empty());
  EXPECT_EQ(s->positions()[0].offset, 11u);
}

TEST_F(PlainSseTest, HeartbeatIsAComment) {
  CaptureSink sink;
  auto s = open({"news"}, sink);
  sink.text.clear();
  s->onHeartbeat(sink);
  EXPECT_EQ(sink.text, ": ping\n\n");
  EXPECT_FALSE(sink.ended);
}

TEST_F(PlainSseTest, ExpiredTokenEndsTheStreamAtAHeartbeat) {
  CaptureSink sink;
  PlainRequest req;
  req.channels = {"news"};
  PlainSseStream s(node, 0, PlainOptions{}, /*expiresAt=*/1);
  ASSERT_FALSE(s.prepare(req));
  s.onStreamOpen(sink);
  s.onHeartbeat(sink);
  EXPECT_TRUE(sink.ended);
  EXPECT_NE(sink.text.find("event: expired\n"), std::string::npos);
}

TEST_F(PlainSseTest, ClosedStreamLeavesItsChannels) {
  CaptureSink sink;
  auto s = open({"news", "live:x"}, sink);
  EXPECT_EQ(node.hub().localSubscribers(0, "news"), 1u);
  s->onStreamClosed();
  EXPECT_EQ(node.hub().localSubscribers(0, "news"), 0u);
  EXPECT_EQ(node.hub().localSubscribers(0, "live:x"), 0u);
  publish("news", "{}");
  runPosted(loop);  // nothing delivered to a closed stream
}

// The fan-out claim. Every subscriber is on two channels, so each needs its
// own `id:` line; the `data:` part is one buffer for all.
TEST_F(PlainSseTest, OneSharedDataEncodingAndNoAllocationPerDelivery) {
  auto countFor = [&](int subscribers, uint64_t& blocks, uint64_t& encodings) {
    std::vector<std::unique_ptr<CaptureSink>> sinks;
    std::vector<std::unique_ptr<PlainSseStream>> streams;
    for (int i = 0; i < subscribers; ++i) {
      sinks.push_back(std::make_unique<CaptureSink>());
      streams.push_back(open({"bench", "live:" + std::to_string(i % 3)}, *sinks.back()));
      sinks.back()->keepText = false;
    }
    publish("bench", "{\"warm\":true}");  // first use sizes the worker's buffers
    runPosted(loop);
    uint64_t blocksBefore = node.hub().sliceArena(0).blocksAllocated();
    uint64_t encodedBefore = node.hub().stats().eventsEncoded.load();
    test::AllocationCounter::start();
    publish("bench", "{\"payload\":\"0123456789012345678901234567890123456789\"}");
    runPosted(loop);
    size_t n = test::AllocationCounter::stop();
    blocks = node.hub().sliceArena(0).blocksAllocated() - blocksBefore;
    encodings = node.hub().stats().eventsEncoded.load() - encodedBefore;
    const net::SharedBuffer* shared = sinks[0]->lastBuffer;
    for (auto& sink : sinks) EXPECT_EQ(sink->lastBuffer, shared);  // the very same data bytes
    for (auto& s : streams) s->onStreamClosed();
    return n;
  };
  uint64_t blocksSmall, blocksLarge, encSmall, encLarge;
  size_t small = countFor(10, blocksSmall, encSmall);
  size_t large = countFor(10000, blocksLarge, encLarge);
  EXPECT_EQ(encSmall, 1u);
  EXPECT_EQ(encLarge, 1u) << "the data part must be encoded once per publication per worker";
  // Flushed queues (these sinks keep no reference): the arena block is
  // rewound and reused, no new one.
  EXPECT_EQ(blocksLarge, 0u);
  EXPECT_LE(large, small) << "allocations grew with the number of subscribers";
  EXPECT_LT(large, 16u) << "10,000 deliveries took " << large << " allocations";
}

// Queues that still hold their slices (not flushed yet) force new arena
// blocks, one per block's worth of id lines, never one per delivery.
TEST_F(PlainSseTest, ArenaBlocksAreAmortisedWhileQueuesHoldSlices) {
  std::vector<std::unique_ptr<CaptureSink>> sinks;
  std::vector<std::unique_ptr<PlainSseStream>> streams;
  const int kSubscribers = 5000;
  for (int i = 0; i < kSubscribers; ++i) {
    sinks.push_back(std::make_unique<CaptureSink>());
    sinks.back()->held.reserve(4);
    streams.push_back(open({"bench", "live:a"}, *sinks.back()));
    sinks.back()->keepText = false;
    sinks.back()->retain = true;
  }
  uint64_t before = node.hub().sliceArena(0).blocksAllocated();
  publish("bench", "{}");
  runPosted(loop);
  uint64_t blocks = node.hub().sliceArena(0).blocksAllocated() - before;
  // "id: EEEEEEEE:1,0\n" is 17 bytes: 5000 of them fill about 6 blocks of 16 KiB.
  EXPECT_GE(blocks, 5u);
  EXPECT_LE(blocks, 7u);
  for (auto& s : streams) s->onStreamClosed();
}

// /poll: answers at once with what was missed, else at the first live
// publication, else at the timeout (the stream's heartbeat), then ends.
class PlainPollTest : public PlainSseTest {
 protected:
  std::unique_ptr<PlainPoll> poll(std::vector<std::string> channels, CaptureSink& sink, bool wait,
                                  std::optional<std::vector<StreamPosition>> since = std::nullopt) {
    PlainRequest req;
    req.channels = std::move(channels);
    req.since = std::move(since);
    auto p = std::make_unique<PlainPoll>(node, 0, wait);
    EXPECT_FALSE(p->prepare(req).has_value());
    p->onStreamOpen(sink);
    return p;
  }
  static std::string body(const std::string& response) { return response.substr(response.find("\r\n\r\n") + 4); }
};

TEST_F(PlainPollTest, MissedPublicationsAnswerAtOnce) {
  StreamPosition first = publish("news", "{\"n\":1}");
  StreamPosition second = publish("news", "{\"n\":2}");
  CaptureSink sink;
  auto p = poll({"news", "live:x"}, sink, true, std::vector<StreamPosition>{first, {0, ""}});
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(sink.text.substr(0, 17), "HTTP/1.1 200 OK\r\n");
  EXPECT_NE(sink.text.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(body(sink.text), "{\"publications\":[{\"channel\":\"news\",\"offset\":2,\"data\":{\"n\":2}}],\"position\":\"" +
                                 second.epoch + ":2,0\"}\n");
  EXPECT_EQ(node.hub().localSubscribers(0, "news"), 0u);
}

TEST_F(PlainPollTest, WaitsForTheNextPublication) {
  StreamPosition top = publish("news", "{}");
  CaptureSink sink;
  auto p = poll({"news"}, sink, true, std::vector<StreamPosition>{top});
  EXPECT_FALSE(sink.ended);
  EXPECT_TRUE(sink.text.empty());
  publish("news", "{\"late\":true}");
  runPosted(loop);
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(body(sink.text), "{\"publications\":[{\"channel\":\"news\",\"offset\":2,\"data\":{\"late\":true}}],"
                             "\"position\":\"" + top.epoch + ":2\"}\n");
  EXPECT_EQ(node.hub().localSubscribers(0, "news"), 0u);
}

TEST_F(PlainPollTest, TimeoutAnswersAnEmptyList) {
  StreamPosition top = publish("news", "{}");
  CaptureSink sink;
  auto p = poll({"news"}, sink, true);
  EXPECT_FALSE(sink.ended);
  p->onHeartbeat(sink);
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(body(sink.text), "{\"publications\":[],\"position\":\"" + top.epoch + ":1\"}\n");
}

TEST_F(PlainPollTest, NoWaitAnswersAtOnceAndStaleSaysSo) {
  StreamPosition top = publish("news", "{}");
  CaptureSink sink;
  auto p = poll({"news"}, sink, false, std::vector<StreamPosition>{{1, "zzzz"}});
  EXPECT_TRUE(sink.ended);
  EXPECT_NE(body(sink.text).find("\"resets\":[{\"channel\":\"news\",\"recovered\":false,\"epoch\":\"" + top.epoch +
                                 "\",\"offset\":1,\"reason\":\"epoch changed"),
            std::string::npos)
      << sink.text;
}

TEST(PlainEventEncoding, WebSocketFrameHoldsTheEventObject) {
  core::ChannelEvent ev;
  ev.channel = "a";
  auto pub = std::make_shared<protocol::Publication>();
  pub->offset = 7;
  pub->data = "{\"x\":1}";
  ev.pub = pub;
  ev.offset = 7;
  const std::string json = "{\"channel\":\"a\",\"offset\":7,\"data\":{\"x\":1}}";
  auto frame = encodePlainWsFrame(ev);
  ASSERT_EQ(frame->size(), 2 + json.size());
  EXPECT_EQ(frame->data()[0], 0x81);  // FIN + text
  EXPECT_EQ(frame->data()[1], json.size());
  EXPECT_EQ(frame->view().substr(2), json);
  EXPECT_EQ(encodePlainJson(ev)->view(), json);
  EXPECT_EQ(encodeSseData(ev)->view(), "data: " + json + "\n\n");
}

TEST(PlainPositionList, FormatsAndParses) {
  std::vector<StreamPosition> list{{5, "abcd"}, {0, ""}, {18446744073709551615ull, "Z9"}};
  std::string text = positionList(list);
  EXPECT_EQ(text, "abcd:5,0,Z9:18446744073709551615");
  std::string why;
  auto back = parsePositionList(text, 3, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, list);
}

TEST(PlainPositionList, RefusesMalformedLists) {
  std::string why;
  EXPECT_FALSE(parsePositionList("abcd:5", 2, why));
  EXPECT_NE(why.find("for 1 channel(s), the request lists 2"), std::string::npos) << why;
  EXPECT_FALSE(parsePositionList("a:1,b:2,c:3", 2, why));
  EXPECT_FALSE(parsePositionList("abcd:x", 1, why));
  EXPECT_FALSE(parsePositionList("abcd:", 1, why));
  EXPECT_FALSE(parsePositionList(":5", 1, why));
  EXPECT_FALSE(parsePositionList("abcd:-1", 1, why));
  EXPECT_FALSE(parsePositionList("", 1, why));
  EXPECT_FALSE(parsePositionList("1,,2", 3, why));
}

class PlainRequestTest : public ::testing::Test {
 protected:
  PlainRequestTest() : node(testConfig(), std::make_unique<broker::MemoryBroker>(), 1) {}
  std::optional<PlainError> read(std::string query, std::string since = {}, std::string authz = {}) {
    http::Request req;
    req.method = "GET";
    req.path = "/sse";
    req.query = std::move(query);
    if (!authz.empty()) req.headers.emplace_back("Authorization", authz);
    out = PlainRequest{};
    return readPlainRequest(req, node, PlainOptions{}, since, "last event id", out);
  }
  static std::string token(std::string_view user, int64_t ttl = 3600) {
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    return auth::makeHs256Token("secret", user, ttl < 0 ? now - 7200 : now, ttl < 0 ? 60 : ttl);
  }
  core::Node node;
  PlainRequest out;
};

TEST_F(PlainRequestTest, ReadsChannelsInOrder) {
  ASSERT_FALSE(read("channel=b&x=1&channel=live%3Ab"));
  EXPECT_EQ(out.channels, (std::vector<std::string>{"b", "live:b"}));
  EXPECT_FALSE(out.since);
}

TEST_F(PlainRequestTest, BadChannelListsAre400) {
  EXPECT_EQ(read("")->status, 400);
  EXPECT_EQ(read("channel=")->status, 400);
  EXPECT_EQ(read("channel=a&channel=a")->status, 400);
  EXPECT_EQ(read("channel=nosuchns:a")->status, 400);
  std::string many;
  for (int i = 0; i < 17; ++i) many += "channel=c" + std::to_string(i) + "&";
  auto e = read(many);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("at most 16"), std::string::npos);
}

TEST_F(PlainRequestTest, PrivateAndForbiddenChannelsAre403) {
  auto e = read("channel=$secret");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 403);
  EXPECT_NE(e->message.find("subscription token"), std::string::npos);
  EXPECT_EQ(read("channel=users:x")->status, 403);  // anonymous
  EXPECT_FALSE(read("channel=users:x&token=" + token("alice")));
  EXPECT_EQ(out.user, "alice");
}

TEST_F(PlainRequestTest, TokensFromHeaderOrQuery) {
  EXPECT_FALSE(read("channel=users:x", {}, "Bearer " + token("bob")));
  EXPECT_EQ(out.user, "bob");
  EXPECT_EQ(read("channel=a&token=nonsense")->status, 401);
  EXPECT_EQ(read("channel=a", {}, "Basic abc")->status, 401);
  auto e = read("channel=a&token=" + token("bob", -1));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 401);
  EXPECT_EQ(e->message, "token expired");
}

TEST_F(PlainRequestTest, AnonymousNeedsAllowAnonymous) {
  config::Config cfg = testConfig();
  cfg.client.allow_anonymous = false;
  core::Node strict(cfg, std::make_unique<broker::MemoryBroker>(), 1);
  http::Request req;
  req.query = "channel=a";
  auto e = readPlainRequest(req, strict, PlainOptions{}, {}, "last event id", out);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 401);
}

TEST_F(PlainRequestTest, LastEventIdMustMatchTheChannels) {
  EXPECT_FALSE(read("channel=a&channel=live:b", "abcd:3,0"));
  ASSERT_TRUE(out.since);
  EXPECT_EQ((*out.since)[0], (StreamPosition{3, "abcd"}));
  auto e = read("channel=a", "abcd:3,0");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("last event id"), std::string::npos);
}

}  // namespace
}  // namespace sb::transport
