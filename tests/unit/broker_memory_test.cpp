// MemoryBroker: the shared broker suite plus what only the memory engine
// promises (synchronous callbacks, sweep(), the channel bound, epochs).
#include "broker/MemoryBroker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <set>
#include <thread>

#include "broker_suite.h"

namespace sb::broker::suite {

struct MemoryEngine {
  static BrokerSuiteEngine engine() {
    auto clock = std::make_shared<std::atomic<int64_t>>(1'000'000);
    BrokerSuiteEngine e;
    e.makeBroker = [clock] {
      MemoryBrokerOptions o;
      o.historyMetaTtl = 10s;
      o.clockMs = [clock] { return clock->load(); };
      return std::make_unique<MemoryBroker>(std::move(o));
    };
    e.advanceClock = [clock](std::chrono::milliseconds d) { clock->fetch_add(d.count()); };
    e.metaTtl = 10s;
    return e;
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, BrokerSuite, ::testing::Types<MemoryEngine>);

}  // namespace sb::broker::suite

namespace {

using namespace std::chrono_literals;
using sb::broker::BrokerError;
using sb::broker::ClientInfo;
using sb::broker::HistoryRequest;
using sb::broker::HistoryResult;
using sb::broker::MemoryBroker;
using sb::broker::MemoryBrokerOptions;
using sb::broker::PresenceStats;
using sb::broker::PublishOptions;
using sb::broker::PublishResult;
using sb::broker::StreamPosition;
using sb::broker::suite::EventRecorder;
using sb::broker::suite::makePublication;
using sb::broker::suite::offsetsOf;
using sb::broker::suite::withHistory;
using Kind = sb::broker::suite::RecordedEvent::Kind;

class MemoryBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { make({}); }

  // Replaces the broker; the fake clock is kept.
  void make(MemoryBrokerOptions o) {
    o.clockMs = [this] { return clock_.load(); };
    if (o.historyMetaTtl == std::chrono::hours(24)) o.historyMetaTtl = 10s;
    broker_ = std::make_unique<MemoryBroker>(std::move(o));
    broker_->setEventHandler(&events_);
  }
  void advance(std::chrono::milliseconds d) { clock_.fetch_add(d.count()); }

  // The memory broker completes before returning: the results are read
  // straight from the callback.
  struct Published {
    StreamPosition position;
    std::optional<BrokerError> error;
  };
  Published publish(const std::string& ch, const std::string& data, const PublishOptions& opts = {}) {
    Published out;
    bool called = false;
    broker_->publish(ch, makePublication(data), opts, [&](PublishResult r, const BrokerError* e) {
      called = true;
      out.position = r.position;
      if (e) out.error = *e;
    });
    EXPECT_TRUE(called);
    return out;
  }
  HistoryResult history(const std::string& ch, int limit = -1, std::optional<StreamPosition> since = std::nullopt,
                        bool reverse = false, const BrokerError** errorOut = nullptr) {
    HistoryRequest req;
    req.limit = limit;
    req.since = std::move(since);
    req.reverse = reverse;
    HistoryResult out;
    bool called = false;
    broker_->history(ch, req, [&](HistoryResult r, const BrokerError* e) {
      called = true;
      out = std::move(r);
      if (errorOut) *errorOut = e ? &lastError_ : nullptr;
      if (e) lastError_ = *e;
    });
    EXPECT_TRUE(called);
    return out;
  }
  std::optional<BrokerError> addPresence(const std::string& ch, const ClientInfo& info,
                                         std::chrono::milliseconds ttl) {
    std::optional<BrokerError> error;
    bool called = false;
    broker_->addPresence(ch, info, ttl, [&](bool, const BrokerError* e) {
      called = true;
      if (e) error = *e;
    });
    EXPECT_TRUE(called);
    return error;
  }
  size_t presenceCount(const std::string& ch) {
    size_t n = 0;
    broker_->presence(ch, [&](std::unordered_map<std::string, ClientInfo> m, const BrokerError*) { n = m.size(); });
    return n;
  }

  std::atomic<int64_t> clock_{5'000'000};
  EventRecorder events_;
  BrokerError lastError_;
  std::unique_ptr<MemoryBroker> broker_;
};

TEST_F(MemoryBrokerTest, NameIsMemory) { EXPECT_STREQ(broker_->name(), "memory"); }

TEST_F(MemoryBrokerTest, CallbacksRunBeforeReturn) {
  bool published = false, read = false, removed = false, stats = false;
  broker_->publish("c", makePublication("{}"), withHistory(5, 60s),
                   [&](PublishResult r, const BrokerError* e) { published = !e && r.position.offset == 1; });
  broker_->history("c", HistoryRequest{}, [&](HistoryResult r, const BrokerError* e) {
    read = !e && r.position.offset == 1;
  });
  broker_->removeHistory("c", [&](bool ok, const BrokerError* e) { removed = ok && !e; });
  broker_->presenceStats("c", [&](PresenceStats, const BrokerError* e) { stats = !e; });
  EXPECT_TRUE(published);
  EXPECT_TRUE(read);
  EXPECT_TRUE(removed);
  EXPECT_TRUE(stats);
}

TEST_F(MemoryBrokerTest, SubscriptionsAreCounted) {
  broker_->subscribe("c");
  broker_->subscribe("c");
  broker_->unsubscribe("c");
  publish("c", "1");
  EXPECT_EQ(events_.count("c", Kind::Publication), 1u);
  broker_->unsubscribe("c");
  publish("c", "2");
  EXPECT_EQ(events_.count("c", Kind::Publication), 1u);
  broker_->unsubscribe("c");  // more unsubscribes than subscribes do not underflow
  broker_->subscribe("c");
  publish("c", "3");
  EXPECT_EQ(events_.count("c", Kind::Publication), 2u);
  // Subscriptions alone hold no channel state.
  EXPECT_EQ(broker_->channelCount(), 0u);
}

TEST_F(MemoryBrokerTest, WithoutHandlerPublishingStillWorks) {
  broker_->setEventHandler(nullptr);
  broker_->subscribe("c");
  EXPECT_EQ(publish("c", "1", withHistory(5, 60s)).position.offset, 1u);
  broker_->publishJoin("c", ClientInfo{"u", "c1", "", ""});
  EXPECT_EQ(events_.count("c", Kind::Publication), 0u);
}

TEST_F(MemoryBrokerTest, CallerOffsetIsReplaced) {
  broker_->subscribe("c");
  sb::broker::Publication pub = makePublication("{}");
  pub.offset = 42;
  broker_->publish("c", pub, PublishOptions{}, [](PublishResult r, const BrokerError*) {
    EXPECT_EQ(r.position.offset, 0u);
  });
  auto got = events_.of("c", Kind::Publication);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].pub->offset, 0u);
  EXPECT_TRUE(got[0].position.epoch.empty());
}

TEST_F(MemoryBrokerTest, EpochsAreRandomAlphanumericAndDistinct) {
  std::set<std::string> epochs;
  for (int i = 0; i < 200; ++i) {
    std::string epoch = publish("ch" + std::to_string(i), "{}", withHistory(1, 60s)).position.epoch;
    ASSERT_EQ(epoch.size(), 8u);
    for (char c : epoch) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << epoch;
    epochs.insert(epoch);
  }
  EXPECT_EQ(epochs.size(), 200u);
  // Another broker instance draws other epochs.
  std::string first = publish("ch0", "{}", withHistory(1, 60s)).position.epoch;
  make({});
  EXPECT_NE(publish("ch0", "{}", withHistory(1, 60s)).position.epoch, first);
}

TEST_F(MemoryBrokerTest, ExpiryIsLazyWithoutSweep) {
  auto pos = publish("c", "1", withHistory(5, 2s)).position;
  advance(3s);
  HistoryResult h = history("c");
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.position, pos);
  EXPECT_EQ(broker_->channelCount(), 1u);  // the meta is still held
  advance(11s);                            // past the meta TTL (10 s) since the read
  h = history("c");
  EXPECT_EQ(h.position.offset, 0u);
  EXPECT_NE(h.position.epoch, pos.epoch);
}

TEST_F(MemoryBrokerTest, HistoryReadKeepsMetaAlive) {
  auto pos = publish("c", "1", withHistory(5, 1s)).position;
  advance(8s);
  EXPECT_EQ(history("c", 0).position, pos);
  advance(8s);  // 16 s after the publish, 8 s after the read
  broker_->sweep();
  EXPECT_EQ(history("c", 0).position, pos);
}

TEST_F(MemoryBrokerTest, PublishRefreshesMetaButMetaOutlivesHistory) {
  // A history TTL longer than the meta TTL: the meta lives as long as history.
  auto pos = publish("c", "1", withHistory(5, 30s)).position;
  advance(20s);
  broker_->sweep();
  HistoryResult h = history("c", -1);
  EXPECT_EQ(h.position, pos);
  EXPECT_EQ(h.publications.size(), 1u);
}

TEST_F(MemoryBrokerTest, SinceBeyondTopIsNotRetained) {
  auto pos = publish("c", "1", withHistory(5, 60s)).position;
  publish("c", "2", withHistory(5, 60s));
  HistoryResult h = history("c", -1, StreamPosition{5, pos.epoch});
  EXPECT_FALSE(h.sinceRetained);
  EXPECT_TRUE(h.publications.empty());
}

TEST_F(MemoryBrokerTest, ReverseSinceFarBeyondTopStartsAtTop) {
  for (int i = 0; i < 4; ++i) publish("c", std::to_string(i), withHistory(10, 60s));
  HistoryResult h = history("c", 2, StreamPosition{100, "x"}, true);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{4, 3}));
  EXPECT_FALSE(h.sinceRetained);
  h = history("c", -1, StreamPosition{0, "x"}, true);
  EXPECT_TRUE(h.publications.empty());
}

TEST_F(MemoryBrokerTest, SinceInTrimmedRangeStartsFromOldestKept) {
  std::string epoch;
  for (int i = 0; i < 10; ++i) epoch = publish("c", std::to_string(i), withHistory(3, 60s)).position.epoch;
  HistoryResult h = history("c", -1, StreamPosition{2, epoch});
  EXPECT_FALSE(h.sinceRetained);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{8, 9, 10}));
  h = history("c", -1, StreamPosition{5, epoch}, true);  // offsets < 5 are all gone
  EXPECT_TRUE(h.publications.empty());
}

TEST_F(MemoryBrokerTest, SmallerHistorySizeTrimsOnNextPublish) {
  for (int i = 0; i < 5; ++i) publish("c", std::to_string(i), withHistory(5, 60s));
  EXPECT_EQ(history("c").publications.size(), 5u);
  publish("c", "x", withHistory(2, 60s));
  EXPECT_EQ(offsetsOf(history("c").publications), (std::vector<uint64_t>{5, 6}));
}

TEST_F(MemoryBrokerTest, LargeHistoryKeepsEverything) {
  for (int i = 1; i <= 1000; ++i) publish("c", std::to_string(i), withHistory(600, 60s));
  HistoryResult h = history("c");
  ASSERT_EQ(h.publications.size(), 600u);
  EXPECT_EQ(h.publications.front()->offset, 401u);
  EXPECT_EQ(h.publications.front()->data, "401");
  EXPECT_EQ(h.publications.back()->offset, 1000u);
  h = history("c", 3, StreamPosition{700, h.position.epoch});
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{701, 702, 703}));
}

TEST_F(MemoryBrokerTest, IdempotencyKeyIsForgottenAfterHistoryTtl) {
  EXPECT_EQ(publish("c", "a", withHistory(5, 2s, "k")).position.offset, 1u);
  advance(1s);
  EXPECT_EQ(publish("c", "b", withHistory(5, 2s, "k")).position.offset, 1u);
  advance(2s);
  EXPECT_EQ(publish("c", "c", withHistory(5, 2s, "k")).position.offset, 2u);
}

TEST_F(MemoryBrokerTest, IdempotencyKeyWithoutHistory) {
  MemoryBrokerOptions o;
  o.idempotencyTtl = 5s;
  make(o);
  broker_->subscribe("c");
  EXPECT_EQ(publish("c", "a", PublishOptions{0, 0ms, "k"}).position.offset, 0u);
  EXPECT_EQ(publish("c", "b", PublishOptions{0, 0ms, "k"}).position.offset, 0u);
  EXPECT_EQ(events_.count("c", Kind::Publication), 1u);
  EXPECT_EQ(broker_->channelCount(), 1u);  // the key is state
  advance(6s);
  publish("c", "c", PublishOptions{0, 0ms, "k"});
  EXPECT_EQ(events_.count("c", Kind::Publication), 2u);
  advance(6s);
  broker_->sweep();
  EXPECT_EQ(broker_->channelCount(), 0u);
}

TEST_F(MemoryBrokerTest, IdempotencyKeysAreBoundedPerChannel) {
  MemoryBrokerOptions o;
  o.maxIdempotencyKeysPerChannel = 3;
  make(o);
  for (std::string key : {"a", "b", "c", "d"}) publish("c", key, withHistory(10, 60s, key));
  // "a" was forgotten to make room for "d"; "b".."d" are remembered.
  EXPECT_EQ(publish("c", "d2", withHistory(10, 60s, "d")).position.offset, 4u);
  EXPECT_EQ(publish("c", "a2", withHistory(10, 60s, "a")).position.offset, 5u);
}

TEST_F(MemoryBrokerTest, ChannelBoundRefusesNewStateTemporarily) {
  MemoryBrokerOptions o;
  o.maxChannels = 3;
  o.shards = 1;  // at the bound only the new channel's shard is swept
  make(o);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(publish("c" + std::to_string(i), "{}", withHistory(5, 1s)).error);
  EXPECT_EQ(broker_->channelCount(), 3u);
  broker_->subscribe("new");
  auto refused = publish("new", "{}", withHistory(5, 1s));
  ASSERT_TRUE(refused.error);
  EXPECT_TRUE(refused.error->temporary);
  EXPECT_EQ(refused.position.offset, 0u);
  EXPECT_EQ(events_.count("new", Kind::Publication), 0u);  // not published
  // Existing channels continue; channels that need no state are never refused.
  EXPECT_EQ(publish("c0", "{}", withHistory(5, 1s)).position.offset, 2u);
  EXPECT_FALSE(publish("new", "{}").error);
  EXPECT_EQ(events_.count("new", Kind::Publication), 1u);
  auto presenceError = addPresence("new", ClientInfo{"u", "x", "", ""}, 10s);
  ASSERT_TRUE(presenceError);
  EXPECT_TRUE(presenceError->temporary);
  const BrokerError* historyError = nullptr;
  history("new", 0, std::nullopt, false, &historyError);
  EXPECT_NE(historyError, nullptr);
  EXPECT_EQ(broker_->channelCount(), 3u);
  // Once the others expire, room is made on demand (no sweep() needed).
  advance(12s);
  auto accepted = publish("new", "{}", withHistory(5, 1s));
  EXPECT_FALSE(accepted.error);
  EXPECT_EQ(accepted.position.offset, 1u);
  EXPECT_LE(broker_->channelCount(), 3u);
}

TEST_F(MemoryBrokerTest, SweepFreesHundredThousandChannels) {
  MemoryBrokerOptions o;
  o.historyMetaTtl = 5s;
  make(o);
  constexpr int kChannels = 100'000;
  for (int i = 0; i < kChannels; ++i) {
    std::string ch = "ch:" + std::to_string(i);
    switch (i % 4) {
      case 0: publish(ch, "{}", withHistory(3, 1s)); break;
      case 1: publish(ch, "{}", withHistory(3, 1s, "key")); break;
      case 2: addPresence(ch, ClientInfo{"u", "c" + std::to_string(i), "", ""}, 2s); break;
      case 3: history(ch, 0); break;  // meta only
    }
  }
  EXPECT_EQ(broker_->channelCount(), size_t(kChannels));
  advance(1500ms);
  broker_->sweep();  // history gone, meta and presence still held
  EXPECT_EQ(broker_->channelCount(), size_t(kChannels));
  EXPECT_TRUE(history("ch:0").publications.empty());
  advance(1s);
  broker_->sweep();  // presence gone
  EXPECT_EQ(broker_->channelCount(), size_t(kChannels - kChannels / 4));
  advance(5s);
  broker_->sweep();  // meta gone
  EXPECT_EQ(broker_->channelCount(), 0u);
  // The streams restart.
  EXPECT_EQ(publish("ch:0", "{}", withHistory(3, 1s)).position.offset, 1u);
}

TEST_F(MemoryBrokerTest, PresenceEntriesFreeTheirChannel) {
  addPresence("c", ClientInfo{"u", "c1", "", ""}, 5s);
  addPresence("c", ClientInfo{"u", "c2", "", ""}, 5s);
  EXPECT_EQ(broker_->channelCount(), 1u);
  broker_->removePresence("c", "c1", "u", [](bool, const BrokerError*) {});
  EXPECT_EQ(broker_->channelCount(), 1u);
  broker_->removePresence("c", "c2", "u", [](bool, const BrokerError*) {});
  EXPECT_EQ(broker_->channelCount(), 0u);
  // Expiry frees it too: lazily on read, or by sweep().
  addPresence("d", ClientInfo{"u", "c1", "", ""}, 5s);
  addPresence("e", ClientInfo{"u", "c1", "", ""}, 5s);
  advance(6s);
  EXPECT_EQ(presenceCount("d"), 0u);
  EXPECT_EQ(broker_->channelCount(), 1u);
  broker_->sweep();
  EXPECT_EQ(broker_->channelCount(), 0u);
}

TEST_F(MemoryBrokerTest, PresenceChurnStaysCorrect) {
  // Entries erased and recreated leave stale sweep items behind; the queue is
  // compacted and later expiries still happen.
  for (int i = 0; i < 20'000; ++i) {
    addPresence("c", ClientInfo{"u", "c1", "", ""}, 60s);
    broker_->removePresence("c", "c1", "u", [](bool, const BrokerError*) {});
  }
  EXPECT_EQ(broker_->channelCount(), 0u);
  addPresence("c", ClientInfo{"u", "c1", "", ""}, 2s);
  advance(3s);
  broker_->sweep();
  EXPECT_EQ(broker_->channelCount(), 0u);
}

TEST_F(MemoryBrokerTest, ShortenedPresenceTtlIsSweptOnTime) {
  addPresence("c", ClientInfo{"u", "c1", "", ""}, 60s);
  addPresence("c", ClientInfo{"u", "c2", "", ""}, 60s);
  broker_->removePresence("c", "c1", "u", [](bool, const BrokerError*) {});
  addPresence("c", ClientInfo{"u", "c2", "", ""}, 2s);  // refreshed with a shorter TTL
  advance(3s);
  broker_->sweep();
  EXPECT_EQ(broker_->channelCount(), 0u);
}

TEST_F(MemoryBrokerTest, NonPositivePresenceTtlIsRejected) {
  auto error = addPresence("c", ClientInfo{"u", "c1", "", ""}, 0ms);
  ASSERT_TRUE(error);
  EXPECT_FALSE(error->temporary);
  EXPECT_EQ(presenceCount("c"), 0u);
  EXPECT_EQ(broker_->channelCount(), 0u);
}

// Many threads on many channels while another sweeps and moves the clock:
// meant for ThreadSanitizer as much as for the assertions.
TEST_F(MemoryBrokerTest, ConcurrentMixedLoad) {
  constexpr int kThreads = 4;
  constexpr int kChannels = 16;
  constexpr int kRounds = 400;
  for (int c = 0; c < kChannels; ++c) broker_->subscribe("mix" + std::to_string(c));
  std::atomic<bool> stop{false};
  std::thread sweeper([&] {
    while (!stop.load()) {
      advance(5ms);
      broker_->sweep();
      std::this_thread::sleep_for(1ms);
    }
  });
  std::atomic<int> errors{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::string ch = "mix" + std::to_string((i + t) % kChannels);
        broker_->publish(ch, makePublication(std::to_string(i)), withHistory(20, 1h),
                         [&](PublishResult r, const BrokerError* e) {
                           if (e || r.position.offset == 0) errors.fetch_add(1);
                         });
        ClientInfo info{"u" + std::to_string(t), "c" + std::to_string(t), "", ""};
        broker_->addPresence(ch, info, 1s, [&](bool, const BrokerError* e) { errors += e != nullptr; });
        broker_->publishJoin(ch, info);
        HistoryRequest req;
        req.limit = 5;
        req.reverse = (i % 2) == 0;
        broker_->history(ch, req, [&](HistoryResult r, const BrokerError* e) {
          if (e || r.publications.size() > 5) errors.fetch_add(1);
        });
        broker_->presenceStats(ch, [&](PresenceStats, const BrokerError* e) { errors += e != nullptr; });
        if (i % 3 == 0) broker_->removePresence(ch, info.client, info.user, [](bool, const BrokerError*) {});
      }
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  sweeper.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(events_.outOfOrder(), 0u);
  EXPECT_EQ(events_.offsetMismatch(), 0u);
  size_t total = 0;
  for (int c = 0; c < kChannels; ++c) total += events_.count("mix" + std::to_string(c), Kind::Publication);
  EXPECT_EQ(total, size_t(kThreads * kRounds));
}

}  // namespace
