// RedisBroker in Redis Cluster mode: a three-master cluster of redis-server
// children on loopback ports (slots 0-5460 / 5461-10922 / 10923-16383), the
// shared broker suite against it, and what only a cluster asks for: Redis's
// own slot numbers, channels spread over the masters, one SPUBLISH per
// publication, a master killed and restarted, a slot moved to another
// master (MOVED, sunsubscribe). Skipped, naming the reason,
// when redis-server is not installed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/RedisBroker.h"
#include "broker/RedisCluster.h"
#include "broker_suite.h"
#include "../support/RedisServer.h"

namespace sb::broker::suite {

// Three masters sharing the slots evenly, no replicas. Nodes keep their
// identity and slots across a restart on the same port (nodes-N.conf).
class RedisTestCluster {
 public:
  static constexpr int kMasters = 3;

  // `extra`: more redis-server arguments for every node.
  explicit RedisTestCluster(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    char pattern[] = "/tmp/sb-rcluster-XXXXXX";
    if (!mkdtemp(pattern)) return;
    dir_ = pattern;
    makeNodes();
  }
  ~RedisTestCluster() {
    nodes_.clear();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Starts the nodes, assigns the slots, introduces them to each other and
  // waits (up to 15 s) until every node says cluster_state:ok. The ports are
  // picked free but not held, so another test process (ctest -j) may take
  // one first: then it starts over on fresh ports, up to three times.
  bool start() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (startOnce()) return true;
      nodes_.clear();
      busPorts_.clear();
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
      makeNodes();
    }
    return false;
  }

 private:
  void makeNodes() {
    for (int i = 0; i < kMasters; ++i) {
      std::vector<std::string> args{"--cluster-enabled", "yes", "--cluster-config-file",
                                    dir_ + "/nodes-" + std::to_string(i) + ".conf", "--cluster-node-timeout", "1000",
                                    // By default the bus is on port + 10000, past 65535 for a high free port.
                                    "--cluster-port", std::to_string(busPorts_.emplace_back(freeLoopbackPort()))};
      args.insert(args.end(), extra_.begin(), extra_.end());
      nodes_.push_back(std::make_unique<RedisServer>(args));
    }
  }

  bool startOnce() {
    if (dir_.empty()) return false;
    static constexpr int kRanges[kMasters][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
    for (auto& n : nodes_)
      if (!n->start()) return false;
    for (int i = 0; i < kMasters; ++i) {
      RedisProbe probe(nodes_[i]->port());
      if (probe.command({"CLUSTER", "ADDSLOTSRANGE", std::to_string(kRanges[i][0]), std::to_string(kRanges[i][1])}) !=
          "OK")
        return false;
    }
    RedisProbe first(nodes_[0]->port());
    for (int i = 1; i < kMasters; ++i)
      if (first.command({"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes_[i]->port()),
                         std::to_string(busPorts_[i])}) != "OK")
        return false;
    return waitHealthy(15s);
  }

 public:
  bool waitHealthy(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      bool ok = true;
      for (auto& n : nodes_) {
        RedisProbe probe(n->port());
        ok = ok && probe.command({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos;
      }
      if (ok) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  RedisServer& node(int i) { return *nodes_[i]; }
  // Seed list for redis_address.
  std::string seeds() const {
    std::string out;
    for (auto& n : nodes_) out += (out.empty() ? "" : ",") + n->address();
    return out;
  }
  // The node that owns `slot` (by the ranges start() assigned).
  int ownerIndex(uint16_t slot) const { return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2; }

  // One cluster for the whole binary (channel names keep tests apart).
  static RedisTestCluster* shared() { return sharedStarted<RedisTestCluster>(); }

 private:
  std::vector<std::string> extra_;
  std::string dir_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<int> busPorts_;  // --cluster-port of each node
};

inline RedisBrokerOptions clusterOptions(const RedisTestCluster& cluster) {
  RedisBrokerOptions o;
  o.address = cluster.seeds();
  o.cluster = true;
  o.prefix = "sbcluster";
  o.reconnectMin = 50ms;
  o.reconnectMax = 400ms;
  o.connectTimeout = 1000ms;
  return o;
}

struct RedisClusterEngine {
  static BrokerSuiteEngine engine() {
    BrokerSuiteEngine e;
    RedisTestCluster* cluster = RedisTestCluster::shared();
    if (!cluster) {
      e.skipReason = RedisServer::unavailableReason().empty() ? "the Redis Cluster did not start"
                                                              : RedisServer::unavailableReason();
      return e;
    }
    RedisBrokerOptions options = clusterOptions(*cluster);
    options.historyMetaTtl = 5s;
    e.makeBroker = [options] { return std::make_unique<LoopedRedisBroker>(options); };
    e.metaTtl = 5s;
    return e;
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(RedisCluster, BrokerSuite, ::testing::Types<RedisClusterEngine>);

}  // namespace sb::broker::suite

namespace {

using namespace std::chrono_literals;
using sb::broker::BrokerError;
using sb::broker::Callback;
using sb::broker::PublishOptions;
using sb::broker::PublishResult;
using sb::broker::RedisBroker;
using sb::broker::RedisBrokerOptions;
using sb::broker::suite::clusterOptions;
using sb::broker::suite::EventRecorder;
using sb::broker::suite::LoopedRedisBroker;
using sb::broker::suite::makePublication;
using sb::broker::suite::RedisProbe;
using sb::broker::suite::RedisServer;
using sb::broker::suite::RedisTestCluster;
using sb::broker::suite::withHistory;
using Kind = sb::broker::suite::RecordedEvent::Kind;
namespace rc = sb::broker::rediscluster;

using sb::broker::suite::Outcome;
using namespace sb::broker::suite::calls;

// Retries `publish` until it succeeds (a node coming back), up to `timeout`.
bool publishEventually(sb::broker::Broker& b, const std::string& ch, const std::string& data,
                       std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (!publish(b, ch, data, withHistory(10, 60s)).error) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// A channel name (from `base`) whose slot belongs to master `index`.
std::string channelOn(const RedisBroker& broker, const RedisTestCluster& cluster, int index, const std::string& base) {
  for (int i = 0;; ++i) {
    std::string ch = base + "-" + std::to_string(i);
    if (cluster.ownerIndex(rc::keySlot(broker.topic(ch))) == index) return ch;
  }
}

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::unavailableReason().empty()) GTEST_SKIP() << RedisServer::unavailableReason();
    cluster_ = RedisTestCluster::shared();
    ASSERT_NE(cluster_, nullptr) << "the Redis Cluster did not start";
  }
  RedisTestCluster* cluster_ = nullptr;
};

TEST(RedisClusterParts, Crc16AndRedirects) {
  EXPECT_EQ(rc::crc16("123456789"), 0x31C3);  // the CRC16/XMODEM check value
  EXPECT_EQ(rc::keySlot("a{user1000}b"), rc::keySlot("user1000"));
  EXPECT_EQ(rc::keySlot("a{}b"), rc::crc16("a{}b") % 16384);  // an empty tag hashes the whole key
  auto moved = rc::parseRedirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->to.text(), "127.0.0.1:6381");
  auto ask = rc::parseRedirect("ASK 12 10.0.0.2:7000");
  ASSERT_TRUE(ask);
  EXPECT_TRUE(ask->ask);
  EXPECT_FALSE(rc::parseRedirect("ERR something"));
  EXPECT_FALSE(rc::parseRedirect("MOVED 99999 127.0.0.1:1"));
  std::string error;
  auto seeds = rc::parseSeedList("127.0.0.1:7000, 127.0.0.1:7001", &error);
  ASSERT_TRUE(seeds) << error;
  EXPECT_EQ(seeds->size(), 2u);
  EXPECT_FALSE(rc::parseSeedList("127.0.0.1:7000,host:x", &error));
  EXPECT_NE(error.find("port"), std::string::npos) << error;
}

TEST(RedisClusterParts, ClusterOptionsAreChecked) {
  RedisBrokerOptions list;
  list.address = "127.0.0.1:7000,127.0.0.1:7001";
  try {
    RedisBroker b(list);
    FAIL() << "a list without cluster mode was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cluster"), std::string::npos) << e.what();
  }
  RedisBrokerOptions db;
  db.address = "127.0.0.1:7000";
  db.cluster = true;
  db.db = 2;
  EXPECT_THROW(RedisBroker{db}, std::invalid_argument);
}

TEST_F(RedisClusterTest, SlotsMatchClusterKeyslot) {
  RedisProbe probe(cluster_->node(0).port());
  for (std::string key : {"plain", "sbcluster:{chat:room}:events", "a{}b", "{}", "x{y", "{user1000}.following",
                          "ünïcödé", "sbcluster:{}:meta", "ns:{ch}:{other}"}) {
    EXPECT_EQ(std::to_string(rc::keySlot(key)), probe.command({"CLUSTER", "KEYSLOT", key})) << key;
  }
  for (int i = 0; i < 200; ++i) {
    std::string key = "k:" + std::to_string(i * 7919);
    ASSERT_EQ(std::to_string(rc::keySlot(key)), probe.command({"CLUSTER", "KEYSLOT", key})) << key;
  }
}

TEST_F(RedisClusterTest, ChannelsLandOnTheirSlotsMaster) {
  LoopedRedisBroker a(clusterOptions(*cluster_));
  int perMaster[RedisTestCluster::kMasters] = {};
  for (int i = 0; i < 30; ++i) {
    std::string ch = "spread-" + std::to_string(getpid()) + "-" + std::to_string(i);
    auto out = publish(a, ch, "{}", withHistory(5, 60s));
    ASSERT_FALSE(out.error) << out.error->message;
    int owner = cluster_->ownerIndex(rc::keySlot(a.redis().key(ch, "meta")));
    ++perMaster[owner];
    for (int n = 0; n < RedisTestCluster::kMasters; ++n) {
      RedisProbe probe(cluster_->node(n).port());
      // A node that does not own the slot answers MOVED: the keys live on the owner only.
      std::string exists = probe.command({"EXISTS", a.redis().key(ch, "meta")});
      if (n == owner)
        EXPECT_EQ(exists, "1") << ch;
      else
        EXPECT_EQ(exists.rfind("ERR:MOVED", 0), 0u) << ch << ": " << exists;
    }
  }
  for (int n = 0; n < RedisTestCluster::kMasters; ++n) EXPECT_GT(perMaster[n], 0) << "no channel on master " << n;
}

TEST_F(RedisClusterTest, OneSpublishPerPublicationAndEventsCrossNodes) {
  LoopedRedisBroker a(clusterOptions(*cluster_)), b(clusterOptions(*cluster_));
  EventRecorder eventsA, eventsB;
  a.setEventHandler(&eventsA);
  b.setEventHandler(&eventsB);
  std::vector<std::string> channels;
  for (int n = 0; n < RedisTestCluster::kMasters; ++n)
    channels.push_back(channelOn(a.redis(), *cluster_, n, "fan-" + std::to_string(getpid())));
  for (auto& ch : channels) {
    ASSERT_FALSE(subscribeReady(a, ch).error);
    ASSERT_FALSE(subscribeReady(b, ch).error);
  }
  auto spublishes = [&] {
    long sum = 0;
    for (int n = 0; n < RedisTestCluster::kMasters; ++n) sum += RedisProbe(cluster_->node(n).port()).commandCalls("spublish");
    return sum;
  };
  auto publishes = [&] {
    long sum = 0;
    for (int n = 0; n < RedisTestCluster::kMasters; ++n) sum += RedisProbe(cluster_->node(n).port()).commandCalls("publish");
    return sum;
  };
  long spublishBefore = spublishes(), publishBefore = publishes();
  constexpr int kEach = 10;
  for (auto& ch : channels)
    for (int i = 0; i < kEach; ++i) ASSERT_FALSE(publish(a, ch, std::to_string(i), withHistory(20, 60s)).error);
  for (auto& ch : channels) {
    EXPECT_TRUE(eventsA.waitFor(ch, Kind::Publication, kEach, 5s)) << ch;
    EXPECT_TRUE(eventsB.waitFor(ch, Kind::Publication, kEach, 5s)) << ch;
  }
  EXPECT_EQ(spublishes() - spublishBefore, long(channels.size()) * kEach);
  EXPECT_EQ(publishes() - publishBefore, 0);
  EXPECT_EQ(eventsA.outOfOrder(), 0u);
  EXPECT_EQ(eventsB.offsetMismatch(), 0u);
  a.setEventHandler(nullptr);
  b.setEventHandler(nullptr);
}

TEST(RedisClusterFailure, KilledMasterFailsFastThenResubscribes) {
  if (!RedisServer::unavailableReason().empty()) GTEST_SKIP() << RedisServer::unavailableReason();
  // The other masters keep serving their slots while one is away.
  RedisTestCluster cluster({"--cluster-require-full-coverage", "no"});
  ASSERT_TRUE(cluster.start());
  LoopedRedisBroker a(clusterOptions(cluster)), b(clusterOptions(cluster));
  EventRecorder events;
  a.setEventHandler(&events);
  const std::string lost = channelOn(a.redis(), cluster, 1, "lost");
  // A second channel on the same master, in another slot: the resubscribe
  // must not name both in one SSUBSCRIBE (CROSSSLOT).
  const std::string lost2 = channelOn(a.redis(), cluster, 1, "lost2");
  ASSERT_NE(rc::keySlot(a.redis().topic(lost)), rc::keySlot(a.redis().topic(lost2)));
  const std::string kept = channelOn(a.redis(), cluster, 2, "kept");
  ASSERT_FALSE(subscribeReady(a, lost).error);
  ASSERT_FALSE(subscribeReady(a, lost2).error);
  ASSERT_FALSE(subscribeReady(a, kept).error);
  ASSERT_FALSE(publish(b, lost, "before", withHistory(10, 60s)).error);
  ASSERT_TRUE(events.waitFor(lost, Kind::Publication, 1, 5s));

  cluster.node(1).kill();
  for (int i = 0; i < 5; ++i) {
    auto out = publish(b, lost, "during", withHistory(10, 60s));
    ASSERT_TRUE(out.completed) << "publish hung";
    ASSERT_TRUE(out.error);
    EXPECT_TRUE(out.error->temporary);
    EXPECT_LT(out.took, 1500ms);
  }
  // The channels of the other masters carry on.
  ASSERT_FALSE(publish(b, kept, "meanwhile", withHistory(10, 60s)).error);
  ASSERT_TRUE(events.waitFor(kept, Kind::Publication, 1, 5s));
  EXPECT_EQ(events.count(lost, Kind::Resubscribed), 0u);

  ASSERT_TRUE(cluster.node(1).start());  // same port, same nodes.conf: it owns its slots again
  ASSERT_TRUE(events.waitFor(lost, Kind::Resubscribed, 1, 15s)) << "no gap report after the master came back";
  EXPECT_TRUE(a.redis().subscriptionConfirmed(lost));
  ASSERT_TRUE(events.waitFor(lost2, Kind::Resubscribed, 1, 5s)) << "the second channel was not resubscribed";
  EXPECT_TRUE(a.redis().subscriptionConfirmed(lost2));
  EXPECT_EQ(events.count(kept, Kind::Resubscribed), 0u);
  ASSERT_TRUE(publishEventually(b, lost, "after", 10s));
  ASSERT_TRUE(events.waitFor(lost, Kind::Publication, 2, 5s));
  EXPECT_EQ(events.of(lost, Kind::Publication).back().pub->data, "after");
  a.setEventHandler(nullptr);
}

TEST(RedisClusterFailure, MovedSlotIsFollowedAndResubscribed) {
  if (!RedisServer::unavailableReason().empty()) GTEST_SKIP() << RedisServer::unavailableReason();
  RedisTestCluster cluster;
  ASSERT_TRUE(cluster.start());
  LoopedRedisBroker a(clusterOptions(cluster)), b(clusterOptions(cluster));
  EventRecorder events;
  a.setEventHandler(&events);
  const std::string ch = channelOn(a.redis(), cluster, 0, "moving");
  ASSERT_FALSE(subscribeReady(a, ch).error);
  ASSERT_FALSE(publish(b, ch, "before", withHistory(10, 60s)).error);
  ASSERT_TRUE(events.waitFor(ch, Kind::Publication, 1, 5s));

  // Move the channel's slot from master 0 to master 1, keys included.
  const std::string slot = std::to_string(rc::keySlot(a.redis().topic(ch)));
  RedisProbe from(cluster.node(0).port()), to(cluster.node(1).port()), other(cluster.node(2).port());
  const std::string fromId = from.command({"CLUSTER", "MYID"}), toId = to.command({"CLUSTER", "MYID"});
  ASSERT_EQ(to.command({"CLUSTER", "SETSLOT", slot, "IMPORTING", fromId}), "OK");
  ASSERT_EQ(from.command({"CLUSTER", "SETSLOT", slot, "MIGRATING", toId}), "OK");
  std::string keys = from.command({"CLUSTER", "GETKEYSINSLOT", slot, "100"});
  std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(cluster.node(1).port()), "", "0", "5000",
                                   "KEYS"};
  for (size_t start = 0; !keys.empty() && start <= keys.size();) {
    size_t end = keys.find('\n', start);
    if (end == std::string::npos) end = keys.size();
    migrate.push_back(keys.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_GT(migrate.size(), 7u) << "the channel has keys to move";
  ASSERT_EQ(from.command(migrate), "OK");
  for (RedisProbe* p : {&to, &from, &other}) ASSERT_EQ(p->command({"CLUSTER", "SETSLOT", slot, "NODE", toId}), "OK");

  // Redis ends the shard subscription; the broker subscribes at the new
  // master, reports the gap, and commands follow the MOVED answers.
  ASSERT_TRUE(events.waitFor(ch, Kind::Resubscribed, 1, 10s)) << "no resubscription after the slot moved";
  ASSERT_TRUE(publishEventually(b, ch, "after", 10s));
  ASSERT_TRUE(events.waitFor(ch, Kind::Publication, 2, 5s));
  auto got = events.of(ch, Kind::Publication);
  EXPECT_EQ(got.back().pub->data, "after");
  EXPECT_EQ(got.back().position.offset, 2u);  // the stream moved with its slot
  EXPECT_EQ(got.back().position.epoch, got.front().position.epoch);
  EXPECT_EQ(to.command({"EXISTS", a.redis().key(ch, "meta")}), "1");
  a.setEventHandler(nullptr);
}

}  // namespace
