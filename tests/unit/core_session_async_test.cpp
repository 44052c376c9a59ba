// ClientSession with a broker that answers later (as the Redis broker does):
// answers go out as messages of their own with the right id, a session that
// is gone when its answers come is left alone, and a positioned subscription
// reads its position after subscribeReady and loses, duplicates or reorders
// nothing that was published while the read was out.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../support/DeferredBroker.h"
#include "../support/NodeTestHelpers.h"
#include "auth/TokenVerifier.h"
#include "core/ClientSession.h"
#include "core/SessionOps.h"
#include "net/EventLoop.h"

namespace sb::core {
namespace {

using testsupport::DeferredBroker;
using testsupport::runPosted;

// DeferredBroker plus what these tests need to see and steer: how many
// history reads were made, a hook that runs right after a history read is
// made (its answer still held), and a subscribeReady that fails.
class SteeredBroker final : public broker::Broker {
 public:
  DeferredBroker inner;
  size_t historyCalls = 0;
  std::function<void()> afterHistoryRead;
  bool failReady = false;

  void setEventHandler(broker::BrokerEventHandler* h) override { inner.setEventHandler(h); }
  void subscribe(std::string_view ch) override { inner.subscribe(ch); }
  void unsubscribe(std::string_view ch) override { inner.unsubscribe(ch); }
  void subscribeReady(std::string_view ch, broker::Callback<bool> ready) override {
    if (!failReady) return inner.subscribeReady(ch, std::move(ready));
    ++inner.subscribeReadyCalls;
    inner.subscribe(ch);
    ready(false, &readyError);
  }
  void publish(std::string_view ch, broker::Publication pub, const broker::PublishOptions& o,
               broker::Callback<broker::PublishResult> done) override {
    inner.publish(ch, std::move(pub), o, std::move(done));
  }
  void publishJoin(std::string_view ch, const broker::ClientInfo& i) override { inner.publishJoin(ch, i); }
  void publishLeave(std::string_view ch, const broker::ClientInfo& i) override { inner.publishLeave(ch, i); }
  void history(std::string_view ch, const broker::HistoryRequest& r, broker::Callback<broker::HistoryResult> done) override {
    ++historyCalls;
    inner.history(ch, r, std::move(done));
    if (afterHistoryRead) std::exchange(afterHistoryRead, nullptr)();
  }
  void removeHistory(std::string_view ch, broker::Callback<bool> done) override { inner.removeHistory(ch, std::move(done)); }
  void addPresence(std::string_view ch, const broker::ClientInfo& i, std::chrono::milliseconds ttl,
                   broker::Callback<bool> done) override {
    inner.addPresence(ch, i, ttl, std::move(done));
  }
  void removePresence(std::string_view ch, std::string_view c, std::string_view u, broker::Callback<bool> done) override {
    inner.removePresence(ch, c, u, std::move(done));
  }
  void presence(std::string_view ch, broker::Callback<std::unordered_map<std::string, broker::ClientInfo>> done) override {
    inner.presence(ch, std::move(done));
  }
  void presenceStats(std::string_view ch, broker::Callback<broker::PresenceStats> done) override {
    inner.presenceStats(ch, std::move(done));
  }
  size_t channelCount() const override { return inner.channelCount(); }
  const char* name() const override { return "steered"; }

  broker::BrokerError readyError{"redis unreachable", true};
};

class RecordingTransport final : public SessionTransport {
 public:
  explicit RecordingTransport(net::EventLoop& loop) : loop_(loop) {}
  void sendText(std::string_view text) override { messages.emplace_back(text); }
  // Live deliveries are recorded as messages too, to check their order.
  void sendShared(const ChannelEvent& ev, const net::SharedBuffer::Ref&) override { messages.push_back(ev.push); }
  void close(uint16_t code, std::string_view) override { closedWith = code; }
  net::EventLoop& loop() override { return loop_; }
  size_t workerIndex() const override { return 0; }
  void armTimer(uint64_t) override {}
  void cancelTimer() override {}
  const char* name() const override { return "test"; }

  std::vector<std::string> messages;
  uint16_t closedWith = 0;

 private:
  net::EventLoop& loop_;
};

config::Config asyncConfig() {
  config::Config cfg;
  cfg.client.allow_anonymous = true;
  cfg.client.token_hmac_secret = "secret";
  cfg.client.recovery_max_publications = 50;
  config::NamespaceConfig room;
  room.name = "room";
  auto& o = room.options;
  o.presence = true;
  o.history_size = 100;
  o.history_ttl = std::chrono::minutes(5);
  o.allow_positioning = true;
  o.allow_recovery = true;
  o.allow_subscribe_for_client = o.allow_subscribe_for_anonymous = true;
  o.allow_publish_for_client = o.allow_publish_for_anonymous = true;
  o.allow_history_for_client = o.allow_history_for_anonymous = true;
  o.allow_presence_for_client = o.allow_presence_for_anonymous = true;
  cfg.channel.namespaces.push_back(room);
  config::NamespaceConfig feed = room;  // always recoverable
  feed.name = "feed";
  feed.options.force_recovery = true;
  cfg.channel.namespaces.push_back(feed);
  return cfg;
}

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class SessionAsyncTest : public ::testing::Test {
 protected:
  SessionAsyncTest() {
    auto b = std::make_unique<SteeredBroker>();
    broker = b.get();
    node = std::make_unique<Node>(asyncConfig(), std::move(b), 1);
    node->hub().attachLoop(0, &loop);
  }

  std::unique_ptr<ClientSession> open(RecordingTransport& t) {
    auto s = std::make_unique<ClientSession>(*node, t);
    s->start();
    return s;
  }
  std::unique_ptr<ClientSession> connected(RecordingTransport& t) {
    auto s = open(t);
    s->handleMessage(R"({"id":1,"connect":{}})");
    EXPECT_EQ(t.messages.size(), 1u);
    EXPECT_TRUE(s->connected());
    t.messages.clear();
    return s;
  }
  // Publishes with the broker answering at once; events reach the session
  // on the next runPosted.
  protocol::StreamPosition publish(std::string_view channel, std::string data) {
    bool was = broker->inner.defer;
    broker->inner.defer = false;
    auto pos = testsupport::publishNow(*node, channel, std::move(data));
    broker->inner.defer = was;
    return pos;
  }
  static size_t count(const std::string& text, std::string_view what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  net::EventLoop loop;
  SteeredBroker* broker = nullptr;
  std::unique_ptr<Node> node;
};

TEST(SessionOpTableTest, AnAnswerForAGoneOrReplacedSessionIsGone) {
  SessionOpTable table;
  int a = 0;
  uint64_t first = table.begin(&a);
  EXPECT_EQ(table.begin(&a), first);  // the same incarnation while it stays
  EXPECT_EQ(table.end(&a, first), SessionOpTable::End::Alive);
  table.forget(&a);  // closed with one outstanding
  uint64_t second = table.begin(&a);  // a new session at the same address
  EXPECT_NE(second, first);
  EXPECT_EQ(table.end(&a, first), SessionOpTable::End::Gone);
  EXPECT_EQ(table.end(&a, second), SessionOpTable::End::AliveLast);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.end(&a, second), SessionOpTable::End::Gone);
  EXPECT_NE(table.nextOpId(), table.nextOpId());
}

TEST_F(SessionAsyncTest, AnswersThatComeLaterAreMessagesOfTheirOwnWithTheirIds) {
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(
      "{\"id\":2,\"publish\":{\"channel\":\"room:a\",\"data\":{\"n\": 1}}}\n"
      "{\"id\":3,\"presence\":{\"channel\":\"room:a\"}}\n"
      "{\"id\":4,\"presence_stats\":{\"channel\":\"room:a\"}}\n"
      "{\"id\":5,\"history\":{\"channel\":\"room:a\",\"limit\":-1}}");
  EXPECT_TRUE(t.messages.empty());
  EXPECT_EQ(broker->inner.deferredCount(), 4u);
  EXPECT_EQ(node->sessionOps(0).size(), 1u);
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 4u);
  EXPECT_EQ(t.messages[0], R"({"id":2,"publish":{}})");
  EXPECT_EQ(t.messages[1].rfind(R"({"id":3,"presence":{"presence":{)", 0), 0u) << t.messages[1];
  EXPECT_EQ(t.messages[2], R"({"id":4,"presence_stats":{"num_clients":0,"num_users":0}})");
  EXPECT_EQ(t.messages[3].rfind(R"({"id":5,"history":{"publications":[{"data":{"n":1})", 0), 0u) << t.messages[3];
  EXPECT_EQ(node->sessionOps(0).size(), 0u);  // the last answer took the entry away
}

TEST_F(SessionAsyncTest, AnswersInsideTheCallStayInTheCommandsMessage) {
  broker->inner.defer = false;
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(
      "{\"id\":2,\"publish\":{\"channel\":\"room:a\",\"data\":{\"n\":1}}}\n"
      "{\"id\":4,\"presence_stats\":{\"channel\":\"room:a\"}}");
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0], "{\"id\":2,\"publish\":{}}\n{\"id\":4,\"presence_stats\":{\"num_clients\":0,\"num_users\":0}}");
  EXPECT_EQ(node->sessionOps(0).size(), 0u);
}

TEST_F(SessionAsyncTest, BrokerErrorIsATemporaryInternalError) {
  RecordingTransport t(loop);
  auto s = connected(t);
  broker->inner.failNext("boom");
  s->handleMessage(R"({"id":2,"publish":{"channel":"room:a","data":{}}})");
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0], R"({"id":2,"error":{"code":100,"message":"boom","temporary":true}})");
}

TEST_F(SessionAsyncTest, SessionGoneBeforeItsAnswersIsLeftAlone) {
  publish("room:a", "{\"n\":1}");
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(
      "{\"id\":2,\"publish\":{\"channel\":\"room:a\",\"data\":{}}}\n"
      "{\"id\":3,\"history\":{\"channel\":\"room:a\",\"limit\":-1}}\n"
      "{\"id\":4,\"subscribe\":{\"channel\":\"room:a\",\"positioned\":true}}");
  EXPECT_EQ(broker->inner.deferredCount(), 3u);
  s.reset();
  EXPECT_EQ(node->sessionOps(0).size(), 0u);
  EXPECT_EQ(node->hub().localSubscribers(0, "room:a"), 0u);
  // Another session, maybe at the same address, with its own answer out.
  RecordingTransport t2(loop);
  auto s2 = connected(t2);
  s2->handleMessage(R"({"id":7,"presence_stats":{"channel":"room:a"}})");
  broker->inner.runDeferred();  // the gone session's answers: dropped (ASan checks the rest)
  EXPECT_TRUE(t.messages.empty());
  ASSERT_EQ(t2.messages.size(), 1u);
  EXPECT_EQ(t2.messages[0].rfind(R"({"id":7,)", 0), 0u);
  EXPECT_EQ(broker->historyCalls, 1u);  // the gone subscription's read was never made
}

TEST_F(SessionAsyncTest, RecoveryAnsweredLaterDeliversEverythingOnceInOrder) {
  auto p1 = publish("room:a", "{\"n\":1}");
  publish("room:a", "{\"n\":2}");
  publish("room:a", "{\"n\":3}");
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(R"({"id":2,"subscribe":{"channel":"room:a","recoverable":true,"recover":true,"epoch":")" +
                   p1.epoch + R"(","offset":1}})");
  // subscribeReady first; the stream is read only once it is answered.
  EXPECT_EQ(broker->inner.subscribeReadyCalls, 1u);
  EXPECT_EQ(broker->historyCalls, 0u);
  EXPECT_TRUE(t.messages.empty());
  publish("room:a", "{\"n\":4}");
  runPosted(loop);  // n:4 is buffered: the subscription is pending
  EXPECT_TRUE(t.messages.empty());
  broker->afterHistoryRead = [&] {
    publish("room:a", "{\"n\":5}");  // after the read, before its answer: not in the history
    runPosted(loop);
  };
  broker->inner.runDeferred();
  EXPECT_EQ(broker->historyCalls, 1u);
  ASSERT_EQ(t.messages.size(), 1u);
  const std::string& reply = t.messages[0];
  EXPECT_EQ(reply.rfind(R"({"id":2,"subscribe":{"recoverable":true,"epoch":")", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"recovered\":true"), std::string::npos) << reply;
  for (int n = 2; n <= 5; ++n) EXPECT_EQ(count(reply, "{\"n\":" + std::to_string(n) + "}"), 1u) << reply;
  EXPECT_EQ(count(reply, "{\"n\":1}"), 0u);
  EXPECT_LT(reply.find("{\"n\":2}"), reply.find("{\"n\":3}"));
  EXPECT_LT(reply.find("{\"n\":4}"), reply.find("{\"n\":5}"));
  EXPECT_NE(reply.find("\"offset\":5,\"positioned\":true"), std::string::npos) << reply;
  publish("room:a", "{\"n\":6}");
  runPosted(loop);
  ASSERT_EQ(t.messages.size(), 2u);
  EXPECT_NE(t.messages[1].find("{\"n\":6}"), std::string::npos);
}

TEST_F(SessionAsyncTest, PositionedSubscribeAnsweredLaterFlushesBufferedEventsAfterTheReply) {
  publish("room:a", "{\"n\":1}");
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(R"({"id":2,"subscribe":{"channel":"room:a","positioned":true}})");
  broker->afterHistoryRead = [&] {
    publish("room:a", "{\"n\":2}");
    runPosted(loop);
  };
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 1u);
  // The reply says offset 1 (what was read); n:2 follows it in the same message.
  size_t nl = t.messages[0].find('\n');
  ASSERT_NE(nl, std::string::npos) << t.messages[0];
  EXPECT_NE(t.messages[0].substr(0, nl).find("\"offset\":1,\"positioned\":true"), std::string::npos) << t.messages[0];
  EXPECT_NE(t.messages[0].find("{\"n\":2}", nl), std::string::npos);
  EXPECT_EQ(count(t.messages[0], "{\"n\":2}"), 1u);
}

TEST_F(SessionAsyncTest, SubscribeWhileTheFirstReadIsOutIsAlreadySubscribed) {
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(R"({"id":2,"subscribe":{"channel":"room:a","positioned":true}})");
  s->handleMessage(R"({"id":3,"subscribe":{"channel":"room:a","positioned":true}})");
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0], R"({"id":3,"error":{"code":105,"message":"already subscribed"}})");
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 2u);
  EXPECT_EQ(t.messages[1].rfind(R"({"id":2,"subscribe":{)", 0), 0u);
}

TEST_F(SessionAsyncTest, UnsubscribeAndSubscribeAgainWhileTheReadIsOut) {
  publish("room:a", "{\"n\":1}");
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(R"({"id":2,"subscribe":{"channel":"room:a","positioned":true}})");
  s->handleMessage(R"({"id":3,"unsubscribe":{"channel":"room:a"}})");
  publish("room:a", "{\"n\":2}");
  runPosted(loop);
  s->handleMessage(R"({"id":4,"subscribe":{"channel":"room:a","positioned":true}})");
  publish("room:a", "{\"n\":3}");
  runPosted(loop);  // buffered by the second subscription
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 3u) << t.messages.back();
  EXPECT_EQ(t.messages[0], R"({"id":3,"unsubscribe":{}})");
  // The first subscribe is answered (its own id) without touching the second.
  EXPECT_EQ(t.messages[1], R"({"id":2,"subscribe":{}})");
  EXPECT_EQ(t.messages[2].rfind(R"({"id":4,"subscribe":{)", 0), 0u);
  EXPECT_NE(t.messages[2].find("\"offset\":3,\"positioned\":true"), std::string::npos) << t.messages[2];
  EXPECT_EQ(count(t.messages[2], "{\"n\":3}"), 0u);  // read with the position, not sent again
  EXPECT_EQ(s->subscriptionCount(), 1u);
  EXPECT_EQ(broker->historyCalls, 1u);  // the stale read was not made
  publish("room:a", "{\"n\":4}");
  runPosted(loop);
  ASSERT_EQ(t.messages.size(), 4u);
  EXPECT_NE(t.messages[3].find("{\"n\":4}"), std::string::npos);
  EXPECT_NE(t.messages[3].find("\"offset\":4"), std::string::npos);
}

TEST_F(SessionAsyncTest, FailedReadAnswersTemporaryErrorAndRemovesTheSubscription) {
  RecordingTransport t(loop);
  auto s = connected(t);
  s->handleMessage(R"({"id":2,"subscribe":{"channel":"room:a","positioned":true}})");
  broker->inner.failNext("history down");
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0], R"({"id":2,"error":{"code":100,"message":"history down","temporary":true}})");
  EXPECT_EQ(s->subscriptionCount(), 0u);
  EXPECT_EQ(node->hub().localSubscribers(0, "room:a"), 0u);
}

TEST_F(SessionAsyncTest, FailedSubscribeReadyAnswersTemporaryErrorAndRemovesTheSubscription) {
  RecordingTransport t(loop);
  auto s = connected(t);
  broker->failReady = true;
  s->handleMessage(R"({"id":2,"subscribe":{"channel":"room:a","positioned":true}})");
  ASSERT_EQ(t.messages.size(), 1u);  // answered inside the call: the command's own message
  EXPECT_EQ(t.messages[0], R"({"id":2,"error":{"code":100,"message":"redis unreachable","temporary":true}})");
  EXPECT_EQ(s->subscriptionCount(), 0u);
  EXPECT_EQ(broker->historyCalls, 0u);
}

TEST_F(SessionAsyncTest, ConnectWithPositionedChannelsRepliesWhenTheReadsAreDone) {
  publish("feed:a", "{\"n\":1}");
  RecordingTransport t(loop);
  auto s = open(t);
  std::string token = auth::makeHs256Token("secret", "ann", unixNow(), 3600, {}, {"feed:a", "room:b"});
  s->handleMessage(R"({"id":1,"connect":{"token":")" + token +
                   R"(","subs":{"feed:a":{"recover":true,"epoch":"x","offset":0}}}})");
  EXPECT_TRUE(t.messages.empty());
  // feed:a is recoverable and positioned, room:b is not; both hold their events.
  publish("room:b", "{\"b\":1}");
  runPosted(loop);
  EXPECT_TRUE(t.messages.empty());
  broker->afterHistoryRead = [&] {
    publish("feed:a", "{\"n\":2}");
    runPosted(loop);
  };
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 1u);
  const std::string& m = t.messages[0];
  EXPECT_EQ(m.rfind(R"({"id":1,"connect":{"client":")", 0), 0u) << m;
  EXPECT_NE(m.find("\"subs\":{\"feed:a\":{"), std::string::npos) << m;
  EXPECT_NE(m.find("\"room:b\":{"), std::string::npos) << m;
  size_t nl = m.find('\n');
  ASSERT_NE(nl, std::string::npos) << m;
  EXPECT_NE(m.find("{\"b\":1}", nl), std::string::npos) << m;
  EXPECT_NE(m.find("{\"n\":2}", nl), std::string::npos) << m;
  EXPECT_EQ(count(m, "{\"n\":2}"), 1u);
  EXPECT_EQ(s->subscriptionCount(), 2u);
}

TEST_F(SessionAsyncTest, CommandWhileTheConnectReplyWaitsIsRefused) {
  RecordingTransport t(loop);
  auto s = open(t);
  std::string token = auth::makeHs256Token("secret", "ann", unixNow(), 3600, {}, {"feed:a"});
  s->handleMessage(R"({"id":1,"connect":{"token":")" + token + R"(","subs":{"feed:a":{"recover":true}}}})");
  s->handleMessage(R"({"id":2,"presence_stats":{"channel":"feed:a"}})");
  EXPECT_EQ(t.closedWith, 3501);
  broker->inner.runDeferred();
  EXPECT_TRUE(t.messages.empty());
}

TEST_F(SessionAsyncTest, ServerSubscribeAnsweredLaterPushesWhenTheReadIsDone) {
  publish("feed:a", "{\"n\":1}");
  RecordingTransport t(loop);
  auto s = connected(t);
  ServerSubscribeRequest req;
  req.channel = "feed:a";
  req.recoverSince = protocol::StreamPosition{0, "whatever"};
  s->serverSubscribe(req);
  EXPECT_TRUE(t.messages.empty());
  broker->inner.runDeferred();
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].rfind(R"({"push":{"channel":"feed:a","subscribe":{"recoverable":true,)", 0), 0u) << t.messages[0];
  EXPECT_NE(t.messages[0].find("\"offset\":1"), std::string::npos) << t.messages[0];
}

}  // namespace
}  // namespace sb::core
