// What the plain client (web/client/switchboard-plain.js) relies on from the
// plain streams, on a real hub and memory broker: a stream with a user token
// has a client id, holds presence while open and publishes join/leave
// (removed and published when it ends), asks for join/leave events; a resume
// says per channel whether it is recovered and how many publications the
// catch-up brings; join/leave encodings; the server API's disconnect ends an
// SSE stream with its code. The HTTP calls (/publish, /presence, /history)
// are tested against the binary in tests/interop/plain-client-calls.test.js.
#include <gtest/gtest.h>

#include "../support/NodeTestHelpers.h"
#include "broker/MemoryBroker.h"
#include "core/Node.h"
#include "net/EventLoop.h"
#include "protocol/Codec.h"
#include "transport/PlainEvent.h"
#include "transport/PlainSse.h"

namespace sb::transport {
namespace {

using testsupport::runPosted;

using protocol::StreamPosition;

struct TextSink final : StreamSink {
  void write(const net::SharedBuffer::Ref& buf, size_t offset, size_t len) override {
    text.append(buf->view().substr(offset, len));
  }
  void writeCopy(std::string_view bytes) override { text.append(bytes); }
  bool open() const override { return !ended; }
  void end() override { ended = true; }
  std::string text;
  bool ended = false;
};

config::Config clientConfig() {
  config::Config cfg;
  cfg.client.allow_anonymous = true;
  cfg.client.recovery_max_publications = 5;
  config::NamespaceConfig room;
  room.name = "room";
  room.options.presence = true;
  room.options.join_leave = true;
  room.options.history_size = 100;
  room.options.history_ttl = std::chrono::minutes(5);
  room.options.allow_subscribe_for_client = true;
  room.options.allow_subscribe_for_anonymous = true;
  cfg.channel.namespaces.push_back(room);
  return cfg;
}

class PlainClientStreamTest : public ::testing::Test {
 protected:
  PlainClientStreamTest() : node(clientConfig(), std::make_unique<broker::MemoryBroker>(), 1) {
    node.hub().attachLoop(0, &loop);
  }

  StreamPosition publish(std::string_view channel, std::string data) {
    return testsupport::publishNow(node, channel, std::move(data));
  }

  std::unique_ptr<PlainSseStream> open(TextSink& sink, std::string user, bool joinLeave = false,
                                       std::optional<std::vector<StreamPosition>> since = std::nullopt) {
    PlainRequest req;
    req.channels = {"room:a"};
    req.user = std::move(user);
    req.connInfo = "{\"name\":\"Ann\"}";
    req.joinLeave = joinLeave;
    req.since = std::move(since);
    auto s = std::make_unique<PlainSseStream>(node, 0, PlainOptions{}, 0);
    EXPECT_FALSE(s->prepare(req).has_value());
    s->onStreamOpen(sink);
    return s;
  }

  std::unordered_map<std::string, protocol::ClientInfo> presence() {
    std::unordered_map<std::string, protocol::ClientInfo> out;
    node.broker().presence("room:a", [&](auto m, const broker::BrokerError*) { out = std::move(m); });
    return out;
  }

  size_t streams() {
    size_t n = 0;
    node.forEachStream(0, [&](core::UserStream&) { ++n; });
    return n;
  }

  net::EventLoop loop;
  core::Node node;
};

TEST_F(PlainClientStreamTest, StreamWithATokenHasAClientIdAndHoldsPresenceUntilItEnds) {
  TextSink sink;
  auto s = open(sink, "ann");
  std::string id(s->streamClient());
  ASSERT_EQ(id.size(), 36u);
  EXPECT_NE(sink.text.find("],\"client\":\"" + id + "\"}\n\n"), std::string::npos) << sink.text;
  auto p = presence();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[id].user, "ann");
  EXPECT_EQ(p[id].connInfo, "{\"name\":\"Ann\"}");
  EXPECT_EQ(streams(), 1u);
  s->onStreamClosed();
  EXPECT_TRUE(presence().empty());
  EXPECT_EQ(streams(), 0u);
}

TEST_F(PlainClientStreamTest, AnonymousStreamHasNoClientIdNorPresence) {
  TextSink sink;
  auto s = open(sink, "");
  EXPECT_EQ(s->streamClient(), "");
  EXPECT_EQ(sink.text.find("\"client\""), std::string::npos);
  EXPECT_TRUE(presence().empty());
  EXPECT_EQ(streams(), 0u);
}

TEST_F(PlainClientStreamTest, JoinAndLeaveReachStreamsThatAskedForThem) {
  TextSink watcher, quiet, other;
  auto w = open(watcher, "bob", /*joinLeave=*/true);
  auto q = open(quiet, "carl", /*joinLeave=*/false);
  runPosted(loop);
  watcher.text.clear();
  auto a = open(other, "ann");
  std::string id(a->streamClient());
  runPosted(loop);
  EXPECT_EQ(watcher.text, "event: join\ndata: {\"channel\":\"room:a\",\"info\":{\"user\":\"ann\",\"client\":\"" + id +
                              "\",\"conn_info\":{\"name\":\"Ann\"}}}\n\n");
  watcher.text.clear();
  a.reset();  // the stream object goes away: leave
  runPosted(loop);
  EXPECT_EQ(watcher.text, "event: leave\ndata: {\"channel\":\"room:a\",\"info\":{\"user\":\"ann\",\"client\":\"" + id +
                              "\",\"conn_info\":{\"name\":\"Ann\"}}}\n\n");
  EXPECT_EQ(quiet.text.find("event: join\ndata: {\"channel\":\"room:a\",\"info\":{\"user\":\"ann\""), std::string::npos);
}

TEST_F(PlainClientStreamTest, ResumeSaysRecoveredAndHowManyWereMissed) {
  StreamPosition first = publish("room:a", "{\"n\":1}");
  publish("room:a", "{\"n\":2}");
  publish("room:a", "{\"n\":3}");
  TextSink ok;
  auto s = open(ok, "ann", false, std::vector<StreamPosition>{first});
  EXPECT_NE(ok.text.find("{\"channel\":\"room:a\",\"epoch\":\"" + first.epoch +
                         "\",\"offset\":1,\"recovered\":true,\"missed\":2}"),
            std::string::npos)
      << ok.text;
  TextSink lost;
  auto l = open(lost, "ann", false, std::vector<StreamPosition>{{1, "other"}});
  EXPECT_NE(lost.text.find("\"offset\":1,\"recovered\":false}"), std::string::npos) << lost.text;
  EXPECT_NE(lost.text.find("event: reset\n"), std::string::npos);
  TextSink fresh;
  auto f = open(fresh, "ann");
  EXPECT_EQ(fresh.text.find("recovered"), std::string::npos);
}

TEST_F(PlainClientStreamTest, ApiDisconnectEndsTheSseStreamWithItsCode) {
  TextSink sink;
  auto s = open(sink, "ann");
  sink.text.clear();
  node.forEachStream(0, [](core::UserStream& u) { u.disconnectStream(3011, "come \"back\""); });
  EXPECT_EQ(sink.text, "event: disconnect\ndata: {\"code\":3011,\"reason\":\"come \\\"back\\\"\"}\n\n");
  EXPECT_TRUE(sink.ended);
  EXPECT_TRUE(presence().empty());
  EXPECT_EQ(streams(), 0u);
}

TEST(PlainJoinLeaveEncoding, SseEventAndWebSocketFrame) {
  core::ChannelEvent ev;
  ev.kind = core::ChannelEvent::Kind::Leave;
  ev.channel = "c\"1";
  protocol::writeLeavePush(ev.push, ev.channel, protocol::ClientInfo{"u", "id", "{\"k\":[1]}", ""});
  const std::string object = "{\"channel\":\"c\\\"1\",\"info\":{\"user\":\"u\",\"client\":\"id\",\"conn_info\":{\"k\":[1]}}}";
  EXPECT_EQ(encodeSseJoinLeave(ev)->view(), "event: leave\ndata: " + object + "\n\n");
  auto frame = encodePlainWsJoinLeaveFrame(ev);
  EXPECT_EQ(frame->data()[0], 0x81);
  EXPECT_EQ(frame->view().substr(2), "{\"type\":\"leave\"," + object.substr(1));
  ev.kind = core::ChannelEvent::Kind::Join;
  ev.push.clear();
  protocol::writeJoinPush(ev.push, ev.channel, protocol::ClientInfo{"u", "id", "", ""});
  EXPECT_EQ(encodeSseJoinLeave(ev)->view(),
            "event: join\ndata: {\"channel\":\"c\\\"1\",\"info\":{\"user\":\"u\",\"client\":\"id\"}}\n\n");
}

}  // namespace
}  // namespace sb::transport
