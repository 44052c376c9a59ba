// RedisBroker: the shared broker suite against a real redis-server started on
// a free loopback port, plus what only the Redis engine promises (one PUBLISH
// per publication, callbacks on the caller's loop, failing fast and
// recovering when Redis goes away, clear errors for a bad address or
// password). Skipped, naming the reason, when redis-server is not installed
// (scripts/install-deps installs it).
#include "broker/RedisBroker.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/RedisCodec.h"
#include "broker_suite.h"
#include "../support/RedisServer.h"
#include "net/EventLoop.h"
#include "protocol/Json.h"

namespace sb::broker::suite {

struct RedisEngine {
  static BrokerSuiteEngine engine() {
    BrokerSuiteEngine e;
    RedisServer* server = RedisServer::shared();
    if (!server) {
      e.skipReason = RedisServer::unavailableReason().empty() ? "redis-server did not start"
                                                              : RedisServer::unavailableReason();
      return e;
    }
    std::string address = server->address();
    e.makeBroker = [address] {
      RedisBrokerOptions o;
      o.address = address;
      o.prefix = "sbtest";
      o.historyMetaTtl = 5s;
      return std::make_unique<LoopedRedisBroker>(o);
    };
    e.metaTtl = 5s;  // real time: HistoryExpiresAfterTtl needs it above 4 s
    return e;
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, BrokerSuite, ::testing::Types<RedisEngine>);

}  // namespace sb::broker::suite

namespace {

using namespace std::chrono_literals;
using sb::broker::BrokerError;
using sb::broker::Callback;
using sb::broker::ClientInfo;
using sb::broker::HistoryRequest;
using sb::broker::HistoryResult;
using sb::broker::PresenceStats;
using sb::broker::PublishOptions;
using sb::broker::PublishResult;
using sb::broker::RedisBroker;
using sb::broker::RedisBrokerOptions;
using sb::broker::StreamPosition;
using sb::broker::suite::EventRecorder;
using sb::broker::suite::LoopedRedisBroker;
using sb::broker::suite::makePublication;
using sb::broker::suite::RedisProbe;
using sb::broker::suite::RedisServer;
using sb::broker::suite::withHistory;
using Kind = sb::broker::suite::RecordedEvent::Kind;

using sb::broker::suite::Outcome;
using namespace sb::broker::suite::calls;

std::string uniqueName(const std::string& base) {
  static std::atomic<int> counter{0};
  return base + ":" + std::to_string(getpid()) + ":" + std::to_string(counter++) + ":" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

RedisBrokerOptions optionsFor(const RedisServer& server) {
  RedisBrokerOptions o;
  o.address = server.address();
  o.password = server.password();
  o.prefix = "sbtest";
  o.reconnectMin = 50ms;
  o.reconnectMax = 400ms;
  o.connectTimeout = 1000ms;
  return o;
}

class RedisBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::unavailableReason().empty()) GTEST_SKIP() << RedisServer::unavailableReason();
    shared_ = RedisServer::shared();
    ASSERT_NE(shared_, nullptr) << "redis-server did not start";
  }
  RedisServer* shared_ = nullptr;
};

TEST(RedisAddress, Parses) {
  std::string error;
  auto a = sb::broker::parseRedisAddress("127.0.0.1:6380", &error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  a = sb::broker::parseRedisAddress("redis.internal", &error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, 6379);
  a = sb::broker::parseRedisAddress("[::1]:7000", &error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->text(), "[::1]:7000");
  a = sb::broker::parseRedisAddress("unix:/run/redis.sock", &error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->unixPath, "/run/redis.sock");
  EXPECT_TRUE(sb::broker::parseRedisAddress("/run/redis.sock", &error));
  for (const char* bad : {"", "host:", ":6379", "host:0", "host:70000", "host:abc", "::1:6379", "unix:", "[::1"}) {
    EXPECT_FALSE(sb::broker::parseRedisAddress(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(RedisCodec, PublicationRoundTripKeepsEveryByte) {
  sb::broker::Publication pub;
  pub.data = "not json \"quoted\" \\ \n\t\x01 é";
  pub.info = ClientInfo{"user \"1\"", "client", R"({"a":"b"})", ""};
  pub.tags = {{"k\"1", "v\n1"}, {"k2", ""}};
  pub.time = -5;
  std::string json = sb::broker::rediscodec::encodePublication(pub);
  EXPECT_TRUE(sb::protocol::json::validate(json)) << json;
  sb::broker::Publication back;
  ASSERT_TRUE(sb::broker::rediscodec::decodePublication(json, back));
  EXPECT_EQ(back.data, pub.data);
  ASSERT_TRUE(back.info);
  EXPECT_EQ(back.info->user, pub.info->user);
  EXPECT_EQ(back.info->connInfo, pub.info->connInfo);
  EXPECT_EQ(back.info->chanInfo, "");
  EXPECT_EQ(back.tags, pub.tags);
  EXPECT_EQ(back.time, -5);
  EXPECT_FALSE(sb::broker::rediscodec::decodePublication(R"({"info":{}})", back));  // no data
  EXPECT_FALSE(sb::broker::rediscodec::decodePublication("{\"data\":1}", back));
}

TEST(RedisCodec, Messages) {
  // As the publish script builds it around the publication JSON.
  std::string msg = R"({"o":42,"e":"AbC","p":)" + sb::broker::rediscodec::encodePublication(makePublication("x")) + "}";
  sb::broker::rediscodec::Message m;
  ASSERT_TRUE(sb::broker::rediscodec::decodeMessage(msg, m));
  EXPECT_EQ(m.kind, sb::broker::rediscodec::Message::Kind::Publication);
  EXPECT_EQ(m.offset, 42u);
  EXPECT_EQ(m.epoch, "AbC");
  EXPECT_EQ(m.publication.data, "x");
  sb::broker::rediscodec::Message join;
  ASSERT_TRUE(sb::broker::rediscodec::decodeMessage(sb::broker::rediscodec::leaveMessage({"u", "c", "", ""}), join));
  EXPECT_EQ(join.kind, sb::broker::rediscodec::Message::Kind::Leave);
  EXPECT_EQ(join.info.client, "c");
  sb::broker::rediscodec::Message bad;
  EXPECT_FALSE(sb::broker::rediscodec::decodeMessage("{}", bad));
  EXPECT_FALSE(sb::broker::rediscodec::decodeMessage("garbage", bad));
}

TEST(RedisBrokerOptionsTest, BadAddressOrPrefixIsRefusedWithTheReason) {
  RedisBrokerOptions o;
  o.address = "redis:port";
  try {
    RedisBroker b(o);
    FAIL() << "accepted a bad address";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bad address"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("redis:port"), std::string::npos) << e.what();
  }
  o.address = "127.0.0.1:6379";
  o.prefix = "a{b}";
  EXPECT_THROW(RedisBroker{o}, std::invalid_argument);
}

TEST(RedisBrokerOptionsTest, KeysAreHashTaggedByChannel) {
  RedisBrokerOptions o;
  o.prefix = "app";
  RedisBroker b(o);
  EXPECT_EQ(b.key("chat:room", "meta"), "app:{chat:room}:meta");
  EXPECT_EQ(b.topic("chat:room"), "app:{chat:room}:events");
}

TEST(RedisBrokerOptionsTest, WithoutLoopCallsFailInsteadOfHanging) {
  RedisBroker b(RedisBrokerOptions{});
  auto out = publish(b, "c", "{}");
  ASSERT_TRUE(out.completed);
  ASSERT_TRUE(out.error);
  EXPECT_NE(out.error->message.find("attachLoop"), std::string::npos) << out.error->message;
}

TEST_F(RedisBrokerTest, OnePublishPerPublicationWhateverTheSubscribers) {
  // Two nodes; node A has three local subscribers, node B two.
  LoopedRedisBroker a(optionsFor(*shared_)), b(optionsFor(*shared_));
  EventRecorder eventsA, eventsB;
  a.setEventHandler(&eventsA);
  b.setEventHandler(&eventsB);
  std::string ch = uniqueName("fanout");
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(subscribeReady(a, ch).error);
  for (int i = 0; i < 2; ++i) ASSERT_FALSE(subscribeReady(b, ch).error);
  RedisProbe probe(shared_->port());
  ASSERT_TRUE(probe.ok());
  // Each node subscribed the topic once.
  EXPECT_EQ(probe.command({"PUBSUB", "NUMSUB", a.redis().topic(ch)}), a.redis().topic(ch) + "\n2");
  const long publishesBefore = probe.commandCalls("publish");
  constexpr int kPublications = 20;
  for (int i = 0; i < kPublications; ++i) {
    auto out = publish(a, ch, std::to_string(i), withHistory(10, 60s));
    ASSERT_FALSE(out.error) << out.error->message;
  }
  EXPECT_EQ(probe.commandCalls("publish") - publishesBefore, kPublications);
  EXPECT_TRUE(eventsA.waitFor(ch, Kind::Publication, kPublications, 5s));
  EXPECT_TRUE(eventsB.waitFor(ch, Kind::Publication, kPublications, 5s));
  std::this_thread::sleep_for(100ms);
  // Delivered once per node, not once per local subscriber.
  EXPECT_EQ(eventsA.count(ch, Kind::Publication), size_t(kPublications));
  EXPECT_EQ(eventsB.count(ch, Kind::Publication), size_t(kPublications));
  EXPECT_EQ(eventsB.outOfOrder(), 0u);
  // The last local unsubscribe on a node releases its Redis subscription.
  for (int i = 0; i < 2; ++i) b.unsubscribe(ch);
  const std::string onlyA = a.redis().topic(ch) + "\n1";  // Redis handles b's UNSUBSCRIBE a moment later
  for (int i = 0; i < 100 && probe.command({"PUBSUB", "NUMSUB", a.redis().topic(ch)}) != onlyA; ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(b.redis().subscriptionConfirmed(ch));
  EXPECT_EQ(probe.command({"PUBSUB", "NUMSUB", a.redis().topic(ch)}), onlyA);
  a.setEventHandler(nullptr);
  b.setEventHandler(nullptr);
}

TEST_F(RedisBrokerTest, SubscribeUnsubscribeChurnEndsInTheLastState) {
  LoopedRedisBroker a(optionsFor(*shared_));
  std::string ch = uniqueName("churn");
  for (int i = 0; i < 50; ++i) {
    a.subscribe(ch);
    a.unsubscribe(ch);
  }
  ASSERT_FALSE(subscribeReady(a, ch).error);
  RedisProbe probe(shared_->port());
  EXPECT_EQ(probe.command({"PUBSUB", "NUMSUB", a.redis().topic(ch)}), a.redis().topic(ch) + "\n1");
  EXPECT_EQ(a.channelCount(), 1u);
  a.unsubscribe(ch);
  // The broker forgets the confirmation when it sends UNSUBSCRIBE; Redis
  // handles it a moment later (PUBSUB asks on another connection).
  const std::string none = a.redis().topic(ch) + "\n0";
  for (int i = 0; i < 100 && probe.command({"PUBSUB", "NUMSUB", a.redis().topic(ch)}) != none; ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(a.redis().subscriptionConfirmed(ch));
  EXPECT_EQ(probe.command({"PUBSUB", "NUMSUB", a.redis().topic(ch)}), none);
  EXPECT_EQ(a.channelCount(), 0u);
  // A caller waiting for a subscription released at once is answered either
  // way, never left waiting; nothing stays subscribed.
  LoopedRedisBroker fresh(optionsFor(*shared_));  // still connecting: the hardest case
  std::string released = uniqueName("released");
  auto out = await<bool>([&](Callback<bool> cb) {
    fresh.subscribeReady(released, cb);
    fresh.unsubscribe(released);
  });
  EXPECT_TRUE(out.completed);
  ASSERT_FALSE(subscribeReady(fresh, ch).error);  // the pub/sub connection is up now
  for (int i = 0; i < 50 && fresh.redis().subscriptionConfirmed(released); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(fresh.redis().subscriptionConfirmed(released));
  EXPECT_EQ(fresh.channelCount(), 1u);
}

TEST_F(RedisBrokerTest, CallbacksRunOnTheCallingLoop) {
  LoopedRedisBroker a(optionsFor(*shared_), 2);
  std::string ch = uniqueName("threads");
  // From an attached loop: its own connection, its own thread.
  std::promise<bool> onLoop1;
  a.loop(1).post([&] {
    a.publish(ch, makePublication("{}"), withHistory(5, 60s), [&](PublishResult r, const sb::broker::BrokerError* e) {
      onLoop1.set_value(!e && r.position.offset == 1 && sb::net::EventLoop::current() == &a.loop(1));
    });
  });
  auto f1 = onLoop1.get_future();
  ASSERT_EQ(f1.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f1.get());
  // From a loop the broker does not know: handed to the home loop, answered
  // on the caller's loop.
  sb::net::EventLoop stranger;
  std::thread strangerThread([&] { stranger.run(); });
  std::promise<bool> onStranger;
  stranger.post([&] {
    HistoryRequest req;
    req.limit = -1;
    a.history(ch, req, [&](HistoryResult r, const sb::broker::BrokerError* e) {
      onStranger.set_value(!e && r.publications.size() == 1 && sb::net::EventLoop::current() == &stranger);
    });
  });
  auto f2 = onStranger.get_future();
  EXPECT_EQ(f2.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f2.get());
  stranger.stop();
  strangerThread.join();
}

TEST_F(RedisBrokerTest, PresenceIsSharedByNodes) {
  LoopedRedisBroker a(optionsFor(*shared_)), b(optionsFor(*shared_));
  std::string ch = uniqueName("presence");
  auto added = await<bool>([&](Callback<bool> cb) { a.addPresence(ch, ClientInfo{"u1", "c1", "", ""}, 60s, cb); });
  ASSERT_TRUE(added.completed && !added.error);
  added = await<bool>([&](Callback<bool> cb) { b.addPresence(ch, ClientInfo{"u2", "c2", "", ""}, 60s, cb); });
  ASSERT_TRUE(added.completed && !added.error);
  auto stats = await<PresenceStats>([&](Callback<PresenceStats> cb) { b.presenceStats(ch, cb); });
  EXPECT_EQ(stats.value.numClients, 2u);
  EXPECT_EQ(stats.value.numUsers, 2u);
  // A client moving to another user id is counted once, under its new user.
  added = await<bool>([&](Callback<bool> cb) { b.addPresence(ch, ClientInfo{"u2", "c1", "", ""}, 60s, cb); });
  stats = await<PresenceStats>([&](Callback<PresenceStats> cb) { a.presenceStats(ch, cb); });
  EXPECT_EQ(stats.value.numClients, 2u);
  EXPECT_EQ(stats.value.numUsers, 1u);
}

TEST_F(RedisBrokerTest, UnreachableAddressFailsFastWithAClearError) {
  auto options = optionsFor(*shared_);
  const int port = sb::broker::suite::freeLoopbackPort();  // nothing listens there
  options.address = "127.0.0.1:" + std::to_string(port);
  LoopedRedisBroker a(options);
  for (int i = 0; i < 3; ++i) {
    auto out = publish(a, "c", "{}");
    ASSERT_TRUE(out.completed) << "publish hung";
    ASSERT_TRUE(out.error);
    EXPECT_TRUE(out.error->temporary);
    EXPECT_LT(out.took, 1500ms);
    EXPECT_NE(out.error->message.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << out.error->message;
    EXPECT_NE(out.error->message.find("unavailable"), std::string::npos) << out.error->message;
  }
  auto ready = subscribeReady(a, "c");
  ASSERT_TRUE(ready.completed);
  EXPECT_TRUE(ready.error);
}

TEST_F(RedisBrokerTest, AuthFailureIsNamed) {
  RedisServer secured({"--requirepass", "s3cret"});
  ASSERT_TRUE(secured.start());
  auto options = optionsFor(secured);
  {
    options.password = "wrong";
    LoopedRedisBroker a(options);
    auto out = publish(a, "c", "{}");
    ASSERT_TRUE(out.completed && out.error);
    EXPECT_NE(out.error->message.find("AUTH failed"), std::string::npos) << out.error->message;
  }
  {
    options.password = "";
    LoopedRedisBroker a(options);
    auto out = publish(a, "c", "{}");
    ASSERT_TRUE(out.completed && out.error);
    EXPECT_NE(out.error->message.find("NOAUTH"), std::string::npos) << out.error->message;
  }
  options.password = "s3cret";
  LoopedRedisBroker a(options);
  auto out = publish(a, "c", "{}", withHistory(5, 60s));
  ASSERT_TRUE(out.completed);
  EXPECT_FALSE(out.error) << out.error->message;
  EXPECT_EQ(out.value.position.offset, 1u);
}

TEST_F(RedisBrokerTest, NonDefaultDbIsUsed) {
  auto options = optionsFor(*shared_);
  options.db = 3;
  LoopedRedisBroker a(options);
  std::string ch = uniqueName("db");
  auto out = publish(a, ch, "{}", withHistory(5, 60s));
  ASSERT_FALSE(out.error) << out.error->message;
  RedisProbe probe(shared_->port());
  EXPECT_EQ(probe.command({"EXISTS", a.redis().key(ch, "meta")}), "0");
  probe.command({"SELECT", "3"});
  EXPECT_EQ(probe.command({"EXISTS", a.redis().key(ch, "meta")}), "1");
}

TEST_F(RedisBrokerTest, ScriptFlushFallsBackToEval) {
  LoopedRedisBroker a(optionsFor(*shared_));
  std::string ch = uniqueName("noscript");
  ASSERT_FALSE(publish(a, ch, "1", withHistory(5, 60s)).error);
  RedisProbe probe(shared_->port());
  probe.command({"SCRIPT", "FLUSH"});
  auto out = publish(a, ch, "2", withHistory(5, 60s));
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_EQ(out.value.position.offset, 2u);
}

TEST_F(RedisBrokerTest, HungServerTimesOutAndPendingIsBounded) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  auto options = optionsFor(server);
  options.replyTimeout = 400ms;
  options.maxPendingPerConnection = 8;
  LoopedRedisBroker a(options, 1);
  ASSERT_FALSE(publish(a, "c", "{}").error);
  server.pause();
  // Nine calls from the test thread go to the home loop's connection: the
  // ninth finds eight waiting and fails at once.
  std::vector<std::future<Outcome<PublishResult>>> calls;
  for (int i = 0; i < 9; ++i) calls.push_back(std::async(std::launch::async, [&] { return publish(a, "c", "{}"); }));
  int full = 0, timedOut = 0;
  for (auto& f : calls) {
    auto out = f.get();
    ASSERT_TRUE(out.completed) << "a call hung";
    ASSERT_TRUE(out.error);
    EXPECT_TRUE(out.error->temporary);
    if (out.error->message.find("already wait") != std::string::npos) ++full;
    if (out.error->message.find("no reply within") != std::string::npos) ++timedOut;
    EXPECT_LT(out.took, 2500ms);
  }
  EXPECT_GE(full, 1);
  EXPECT_GE(timedOut, 1);
  server.resume();
  // It reconnects.
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    back = !publish(a, "c", "{}").error;
    if (!back) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(back);
}

TEST_F(RedisBrokerTest, RedisRestartFailsFastThenResubscribesAndReportsTheGap) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  LoopedRedisBroker a(optionsFor(server)), b(optionsFor(server));
  EventRecorder events;
  a.setEventHandler(&events);
  const std::string ch = "restart", quiet = "quiet";
  ASSERT_FALSE(subscribeReady(a, ch).error);
  ASSERT_FALSE(subscribeReady(a, quiet).error);
  a.unsubscribe(quiet);  // no longer subscribed: no gap report for it
  ASSERT_FALSE(publish(b, ch, "before", withHistory(10, 60s)).error);
  ASSERT_TRUE(events.waitFor(ch, Kind::Publication, 1, 5s));

  server.kill();
  // Every kind of call fails fast with a temporary error while Redis is away.
  for (int i = 0; i < 5; ++i) {
    auto out = publish(a, ch, "during", withHistory(10, 60s));
    ASSERT_TRUE(out.completed) << "publish hung";
    ASSERT_TRUE(out.error);
    EXPECT_TRUE(out.error->temporary);
    EXPECT_LT(out.took, 1000ms);
    EXPECT_NE(out.error->message.find(server.address()), std::string::npos) << out.error->message;
  }
  HistoryRequest req;
  req.limit = -1;
  auto h = await<HistoryResult>([&](Callback<HistoryResult> cb) { a.history(ch, req, cb); });
  ASSERT_TRUE(h.completed && h.error);
  EXPECT_TRUE(h.error->temporary);
  auto p = await<bool>([&](Callback<bool> cb) { a.addPresence(ch, ClientInfo{"u", "c", "", ""}, 10s, cb); });
  ASSERT_TRUE(p.completed && p.error);
  EXPECT_FALSE(a.redis().pubsubReady());
  EXPECT_EQ(events.count(ch, Kind::Resubscribed), 0u);

  ASSERT_TRUE(server.start());  // same port, empty data set
  ASSERT_TRUE(events.waitFor(ch, Kind::Resubscribed, 1, 5s)) << "no gap report after resubscribing";
  EXPECT_TRUE(a.redis().subscriptionConfirmed(ch));
  EXPECT_EQ(events.count(quiet, Kind::Resubscribed), 0u);
  // Publications flow again, from the other node too once it reconnected.
  bool published = false;
  for (int i = 0; i < 100 && !published; ++i) {
    published = !publish(b, ch, "after", withHistory(10, 60s)).error;
    if (!published) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(published);
  ASSERT_TRUE(events.waitFor(ch, Kind::Publication, 2, 5s));
  auto got = events.of(ch, Kind::Publication);
  EXPECT_EQ(got.back().pub->data, "after");
  EXPECT_EQ(got.back().position.offset, 1u);  // Redis lost everything: a new stream
  EXPECT_NE(got.back().position.epoch, got.front().position.epoch);
  EXPECT_EQ(events.count(ch, Kind::Resubscribed), 1u);
  a.setEventHandler(nullptr);
}

// Records control messages (BrokerEventHandler::onControl) only.
class ControlRecorder final : public sb::broker::BrokerEventHandler {
 public:
  void onPublication(std::string_view, const sb::broker::PublicationPtr&, const StreamPosition&) override {}
  void onJoin(std::string_view, const ClientInfo&) override {}
  void onLeave(std::string_view, const ClientInfo&) override {}
  void onControl(std::string_view payload) override {
    std::lock_guard lock(mu_);
    payloads_.emplace_back(payload);
  }
  std::vector<std::string> payloads() {
    std::lock_guard lock(mu_);
    return payloads_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> payloads_;
};

TEST_F(RedisBrokerTest, ControlMessagesReachEveryNodeIncludingTheSender) {
  LoopedRedisBroker a(optionsFor(*shared_)), b(optionsFor(*shared_));
  ControlRecorder controlA, controlB;
  a.setEventHandler(&controlA);
  b.setEventHandler(&controlB);
  for (int i = 0; i < 250 && !(a.redis().pubsubReady() && b.redis().pubsubReady()); ++i)
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(a.redis().pubsubReady() && b.redis().pubsubReady());
  RedisProbe probe(shared_->port());
  ASSERT_TRUE(probe.ok());
  // Both pub/sub connections subscribe the control topic once they are up.
  for (int i = 0; i < 100 && probe.command({"PUBSUB", "NUMSUB", a.redis().controlTopic()}) !=
                                 a.redis().controlTopic() + "\n2";
       ++i)
    std::this_thread::sleep_for(20ms);
  const std::string payload = "{\"v\":1,\"from\":\"x\",\"kind\":\"k\",\"body\":{\"n\":" +
                              std::to_string(getpid()) + "}}";
  auto sent = await<bool>([&](Callback<bool> cb) { a.publishControl(payload, std::move(cb)); });
  ASSERT_TRUE(sent.completed);
  ASSERT_FALSE(sent.error) << sent.error->message;
  EXPECT_TRUE(sent.value);
  auto received = [&](ControlRecorder& r) {
    auto all = r.payloads();
    return std::count(all.begin(), all.end(), payload);
  };
  for (int i = 0; i < 250 && (received(controlA) < 1 || received(controlB) < 1); ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(received(controlA), 1);
  EXPECT_EQ(received(controlB), 1);
  a.setEventHandler(nullptr);
  b.setEventHandler(nullptr);
}

}  // namespace
