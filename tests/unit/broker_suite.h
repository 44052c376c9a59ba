#pragma once
// Behaviour every broker engine must show (memory, Redis, ...): one
// type-parameterized GoogleTest suite that each engine's test file
// instantiates. Type-parameterized (not TEST_P) so that this header can be
// included by several test files of the same binary.
//
// To run it against an engine, write a type with a static `engine()`
// returning a BrokerSuiteEngine and instantiate inside this namespace:
//
//   namespace sb::broker::suite {
//   struct RedisEngine {
//     static BrokerSuiteEngine engine() { ... }
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Redis, BrokerSuite, ::testing::Types<RedisEngine>);
//   }
//
// Completion callbacks and events may come later and on other threads: every
// helper waits for them (up to `timeout`), so an engine whose callbacks run on
// its own event loops (Redis: loops running in threads the engine's broker
// owns) needs no help from the test thread. subscribe() waits for
// Broker::subscribeReady, so a publication right after it must arrive. TTLs
// are whole seconds with at least one second of margin, so engines that count
// time in seconds pass too.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/Broker.h"

namespace sb::broker::suite {

using namespace std::chrono_literals;

struct BrokerSuiteEngine {
  // A fresh broker per test.
  std::function<std::unique_ptr<Broker>()> makeBroker;
  // Moves the broker's clock forward; empty = really sleep that long.
  std::function<void(std::chrono::milliseconds)> advanceClock;
  // The history meta TTL the factory gave the broker (0 skips the case that
  // waits for meta expiry).
  std::chrono::milliseconds metaTtl{0};
  // Waited after subscribe/unsubscribe and before asserting that no event came
  // (for engines whose subscriptions take effect asynchronously).
  std::chrono::milliseconds settle{0};
  // Longest wait for a completion callback or an expected event.
  std::chrono::milliseconds timeout{5000};
  // Non-empty: the engine cannot run here (e.g. no redis-server); every case
  // is skipped with this reason.
  std::string skipReason;
};

struct RecordedEvent {
  enum class Kind { Publication, Join, Leave, Resubscribed };
  Kind kind;
  std::string channel;
  PublicationPtr pub;
  StreamPosition position;
  ClientInfo info;
};

// Records events; thread-safe. Checks that each channel's publications with
// offsets arrive in strictly increasing offset order (within one epoch) and
// carry their offset.
class EventRecorder final : public BrokerEventHandler {
 public:
  void onPublication(std::string_view channel, const PublicationPtr& pub, const StreamPosition& pos) override {
    std::lock_guard lock(mu_);
    if (pos.offset > 0) {
      StreamPosition& last = lastPosition_[std::string(channel)];
      if (pos.epoch == last.epoch && pos.offset <= last.offset) ++outOfOrder_;
      last = pos;
    }
    if (!pub || pub->offset != pos.offset) ++offsetMismatch_;
    events_.push_back(RecordedEvent{RecordedEvent::Kind::Publication, std::string(channel), pub, pos, {}});
    cv_.notify_all();
  }
  void onJoin(std::string_view channel, const ClientInfo& info) override {
    record(RecordedEvent::Kind::Join, channel, info);
  }
  void onLeave(std::string_view channel, const ClientInfo& info) override {
    record(RecordedEvent::Kind::Leave, channel, info);
  }
  void onResubscribed(std::string_view channel) override { record(RecordedEvent::Kind::Resubscribed, channel, {}); }

  std::vector<RecordedEvent> of(const std::string& channel, RecordedEvent::Kind kind) {
    std::lock_guard lock(mu_);
    std::vector<RecordedEvent> out;
    for (const auto& e : events_)
      if (e.channel == channel && e.kind == kind) out.push_back(e);
    return out;
  }
  size_t count(const std::string& channel, RecordedEvent::Kind kind) { return of(channel, kind).size(); }

  // Waits until `channel` has at least `n` events of `kind`.
  bool waitFor(const std::string& channel, RecordedEvent::Kind kind, size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      size_t c = 0;
      for (const auto& e : events_) c += (e.channel == channel && e.kind == kind);
      return c >= n;
    });
  }

  size_t outOfOrder() {
    std::lock_guard lock(mu_);
    return outOfOrder_;
  }
  size_t offsetMismatch() {
    std::lock_guard lock(mu_);
    return offsetMismatch_;
  }

 private:
  void record(RecordedEvent::Kind kind, std::string_view channel, const ClientInfo& info) {
    std::lock_guard lock(mu_);
    events_.push_back(RecordedEvent{kind, std::string(channel), nullptr, {}, info});
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RecordedEvent> events_;
  std::unordered_map<std::string, StreamPosition> lastPosition_;
  size_t outOfOrder_ = 0;
  size_t offsetMismatch_ = 0;
};

// What a broker call completed with.
template <class T>
struct Outcome {
  T value{};
  std::optional<BrokerError> error;
  bool completed = false;
  std::chrono::milliseconds took{0};  // from the call to its callback
};

inline Publication makePublication(std::string data) {
  Publication pub;
  pub.data = std::move(data);
  return pub;
}

inline PublishOptions withHistory(int size, std::chrono::milliseconds ttl, std::string key = {}) {
  PublishOptions opts;
  opts.historySize = size;
  opts.historyTtl = ttl;
  opts.idempotencyKey = std::move(key);
  return opts;
}

// Free-standing calls for the broker tests outside the suite (the Redis and
// Redis Cluster tests): each waits up to `timeout` for the callback and
// returns an Outcome that is not `completed` when none came.
namespace calls {
template <class T, class Call>
Outcome<T> await(Call&& call, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto promise = std::make_shared<std::promise<Outcome<T>>>();
  auto future = promise->get_future();
  auto start = std::chrono::steady_clock::now();
  call([promise, start](T value, const BrokerError* error) {
    Outcome<T> out;
    out.value = std::move(value);
    if (error) out.error = *error;
    out.completed = true;
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    promise->set_value(std::move(out));
  });
  if (future.wait_for(timeout) != std::future_status::ready) return {};
  return future.get();
}

inline Outcome<PublishResult> publish(Broker& b, const std::string& ch, const std::string& data,
                                      const PublishOptions& opts = {}) {
  return await<PublishResult>(
      [&](Callback<PublishResult> cb) { b.publish(ch, makePublication(data), opts, std::move(cb)); });
}

inline Outcome<bool> subscribeReady(Broker& b, const std::string& ch) {
  return await<bool>([&](Callback<bool> cb) { b.subscribeReady(ch, std::move(cb)); });
}
}  // namespace calls

inline std::vector<uint64_t> offsetsOf(const std::vector<PublicationPtr>& pubs) {
  std::vector<uint64_t> out;
  for (const auto& p : pubs) out.push_back(p->offset);
  return out;
}

template <class Engine>
class BrokerSuite : public ::testing::Test {
 protected:
  using Kind = RecordedEvent::Kind;

  void SetUp() override {
    engine_ = Engine::engine();
    if (!engine_.skipReason.empty()) GTEST_SKIP() << engine_.skipReason;
    broker_ = engine_.makeBroker();
    ASSERT_TRUE(broker_);
    broker_->setEventHandler(&events_);
    std::random_device rd;
    nonce_ = std::to_string(rd()) + std::to_string(rd());
  }
  void TearDown() override {
    if (broker_) broker_->setEventHandler(nullptr);
    broker_.reset();
  }

  Broker& broker() { return *broker_; }
  EventRecorder& events() { return events_; }
  const BrokerSuiteEngine& engine() const { return engine_; }

  // A channel name no other test (or earlier run against a shared server) uses.
  std::string channel(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string("sbtest:") + info->name() + ":" + name + ":" + nonce_;
  }

  void advance(std::chrono::milliseconds d) {
    if (engine_.advanceClock) {
      engine_.advanceClock(d);
    } else {
      std::this_thread::sleep_for(d);
    }
  }
  void settle() {
    if (engine_.settle.count() > 0) std::this_thread::sleep_for(engine_.settle);
  }
  void subscribe(const std::string& ch) {
    auto out = await<bool>([&](Callback<bool> cb) { broker_->subscribeReady(ch, std::move(cb)); });
    EXPECT_TRUE(out.completed && out.value && !out.error) << (out.error ? out.error->message : "");
    settle();
  }
  void unsubscribe(const std::string& ch) {
    broker_->unsubscribe(ch);
    settle();
  }

  // Runs `call(callback)` and waits for the callback.
  template <class T, class Call>
  Outcome<T> await(Call&& call) {
    auto promise = std::make_shared<std::promise<Outcome<T>>>();
    auto future = promise->get_future();
    call([promise](T value, const BrokerError* error) {
      Outcome<T> out;
      out.value = std::move(value);
      if (error) out.error = *error;
      out.completed = true;
      promise->set_value(std::move(out));
    });
    if (future.wait_for(engine_.timeout) != std::future_status::ready) {
      ADD_FAILURE() << "broker call did not complete within " << engine_.timeout.count() << " ms";
      return {};
    }
    return future.get();
  }

  StreamPosition publish(const std::string& ch, Publication pub, const PublishOptions& opts = {}) {
    auto out = await<PublishResult>(
        [&](Callback<PublishResult> cb) { broker_->publish(ch, std::move(pub), opts, std::move(cb)); });
    EXPECT_TRUE(out.completed);
    EXPECT_FALSE(out.error) << out.error->message;
    return out.value.position;
  }
  StreamPosition publish(const std::string& ch, const std::string& data, const PublishOptions& opts = {}) {
    return publish(ch, makePublication(data), opts);
  }

  HistoryResult history(const std::string& ch, HistoryRequest req) {
    auto out = await<HistoryResult>([&](Callback<HistoryResult> cb) { broker_->history(ch, req, std::move(cb)); });
    EXPECT_TRUE(out.completed);
    EXPECT_FALSE(out.error) << out.error->message;
    return out.value;
  }
  HistoryResult history(const std::string& ch, int limit = -1, std::optional<StreamPosition> since = std::nullopt,
                        bool reverse = false) {
    HistoryRequest req;
    req.limit = limit;
    req.since = std::move(since);
    req.reverse = reverse;
    req.historyTtl = 60s;
    req.metaTtl = engine_.metaTtl;
    return history(ch, req);
  }

  void removeHistory(const std::string& ch) {
    auto out = await<bool>([&](Callback<bool> cb) { broker_->removeHistory(ch, std::move(cb)); });
    EXPECT_TRUE(out.completed && !out.error);
  }
  void addPresence(const std::string& ch, const ClientInfo& info, std::chrono::milliseconds ttl) {
    auto out = await<bool>([&](Callback<bool> cb) { broker_->addPresence(ch, info, ttl, std::move(cb)); });
    EXPECT_TRUE(out.completed && !out.error);
  }
  void removePresence(const std::string& ch, const std::string& client, const std::string& user) {
    auto out = await<bool>([&](Callback<bool> cb) { broker_->removePresence(ch, client, user, std::move(cb)); });
    EXPECT_TRUE(out.completed && !out.error);
  }
  std::unordered_map<std::string, ClientInfo> presence(const std::string& ch) {
    auto out = await<std::unordered_map<std::string, ClientInfo>>(
        [&](Callback<std::unordered_map<std::string, ClientInfo>> cb) { broker_->presence(ch, std::move(cb)); });
    EXPECT_TRUE(out.completed && !out.error);
    return out.value;
  }
  PresenceStats presenceStats(const std::string& ch) {
    auto out = await<PresenceStats>([&](Callback<PresenceStats> cb) { broker_->presenceStats(ch, std::move(cb)); });
    EXPECT_TRUE(out.completed && !out.error);
    return out.value;
  }

  // Publishes data "1".."n" with history; returns the positions.
  std::vector<StreamPosition> publishN(const std::string& ch, int n, int historySize = 100,
                                       std::chrono::milliseconds ttl = 60s) {
    std::vector<StreamPosition> out;
    for (int i = 1; i <= n; ++i) out.push_back(publish(ch, std::to_string(i), withHistory(historySize, ttl)));
    return out;
  }

  // Waits until a probe publication on a second subscribed channel arrives,
  // so that an event published on `ch` before it had its chance to arrive.
  void drainEvents() {
    std::string probe = channel("probe");
    subscribe(probe);
    size_t before = events_.count(probe, Kind::Publication);
    publish(probe, "{}");
    EXPECT_TRUE(events_.waitFor(probe, Kind::Publication, before + 1, engine_.timeout));
    unsubscribe(probe);
    settle();
  }

 private:
  BrokerSuiteEngine engine_;
  EventRecorder events_;
  std::unique_ptr<Broker> broker_;
  std::string nonce_;
};

TYPED_TEST_SUITE_P(BrokerSuite);

TYPED_TEST_P(BrokerSuite, PublishWithoutHistoryHasOffsetZeroAndIsDelivered) {
  auto ch = this->channel("a");
  this->subscribe(ch);
  StreamPosition pos = this->publish(ch, R"({"n":1})");
  EXPECT_EQ(pos.offset, 0u);
  ASSERT_TRUE(this->events().waitFor(ch, TestFixture::Kind::Publication, 1, this->engine().timeout));
  auto got = this->events().of(ch, TestFixture::Kind::Publication);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].pub->data, R"({"n":1})");
  EXPECT_EQ(got[0].position.offset, 0u);
  // Nothing was kept.
  HistoryResult h = this->history(ch);
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.position.offset, 0u);
}

TYPED_TEST_P(BrokerSuite, PublishWithHistoryNumbersFromOneWithStableEpoch) {
  auto ch = this->channel("a");
  this->subscribe(ch);
  auto positions = this->publishN(ch, 5);
  ASSERT_EQ(positions.size(), 5u);
  EXPECT_FALSE(positions[0].epoch.empty());
  for (size_t i = 0; i < positions.size(); ++i) {
    EXPECT_EQ(positions[i].offset, i + 1);
    EXPECT_EQ(positions[i].epoch, positions[0].epoch);
  }
  ASSERT_TRUE(this->events().waitFor(ch, TestFixture::Kind::Publication, 5, this->engine().timeout));
  auto got = this->events().of(ch, TestFixture::Kind::Publication);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].position, positions[i]);
    EXPECT_EQ(got[i].pub->offset, i + 1);
    EXPECT_EQ(got[i].pub->data, std::to_string(i + 1));
  }
  HistoryResult h = this->history(ch);
  EXPECT_EQ(h.position, positions.back());
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(this->events().outOfOrder(), 0u);
  EXPECT_EQ(this->events().offsetMismatch(), 0u);
}

TYPED_TEST_P(BrokerSuite, HistoryWithoutSinceHonoursLimitAndReverse) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 5);
  EXPECT_EQ(offsetsOf(this->history(ch, -1).publications), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(offsetsOf(this->history(ch, 2).publications), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(offsetsOf(this->history(ch, 2, std::nullopt, true).publications), (std::vector<uint64_t>{5, 4}));
  EXPECT_EQ(offsetsOf(this->history(ch, -1, std::nullopt, true).publications),
            (std::vector<uint64_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(offsetsOf(this->history(ch, 100).publications), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  // limit 0: only the position.
  HistoryResult h = this->history(ch, 0);
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.position, positions.back());
  EXPECT_TRUE(h.sinceRetained);
}

TYPED_TEST_P(BrokerSuite, HistorySinceForward) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 5);
  const std::string epoch = positions[0].epoch;
  HistoryResult h = this->history(ch, -1, StreamPosition{2, epoch});
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_TRUE(h.sinceRetained);
  EXPECT_EQ(h.position, positions.back());
  h = this->history(ch, 2, StreamPosition{1, epoch});
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(h.sinceRetained);
  h = this->history(ch, -1, StreamPosition{0, epoch});
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(h.sinceRetained);
  h = this->history(ch, 0, StreamPosition{2, epoch});
  EXPECT_TRUE(h.publications.empty());
  EXPECT_TRUE(h.sinceRetained);
  EXPECT_EQ(h.position, positions.back());
}

TYPED_TEST_P(BrokerSuite, HistorySinceReversePagesBackwards) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 5);
  const std::string epoch = positions[0].epoch;
  // Publications before `since`, newest first.
  HistoryResult h = this->history(ch, -1, StreamPosition{4, epoch}, true);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_TRUE(h.sinceRetained);
  h = this->history(ch, 2, StreamPosition{5, epoch}, true);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{4, 3}));
  h = this->history(ch, 2, StreamPosition{6, epoch}, true);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{5, 4}));
  h = this->history(ch, -1, StreamPosition{1, epoch}, true);
  EXPECT_TRUE(h.publications.empty());
}

TYPED_TEST_P(BrokerSuite, HistoryKeepsOnlyHistorySize) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 10, 3);
  EXPECT_EQ(positions.back().offset, 10u);
  HistoryResult h = this->history(ch);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{8, 9, 10}));
  ASSERT_EQ(h.publications.size(), 3u);
  EXPECT_EQ(h.publications[0]->data, "8");
  EXPECT_EQ(h.position, positions.back());
}

TYPED_TEST_P(BrokerSuite, SinceOlderThanRetainedIsNotRetained) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 10, 3);
  const std::string epoch = positions[0].epoch;
  // Offsets 1..7 are gone: resuming after 5 would miss 6 and 7.
  HistoryResult h = this->history(ch, -1, StreamPosition{5, epoch});
  EXPECT_FALSE(h.sinceRetained);
  EXPECT_EQ(h.position, positions.back());
  // After 7 the next (8) is still kept.
  h = this->history(ch, -1, StreamPosition{7, epoch});
  EXPECT_TRUE(h.sinceRetained);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{8, 9, 10}));
}

TYPED_TEST_P(BrokerSuite, SinceWithOtherEpochIsNotRetained) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 3);
  HistoryResult h = this->history(ch, -1, StreamPosition{1, positions[0].epoch + "x"});
  EXPECT_FALSE(h.sinceRetained);
  EXPECT_EQ(h.position, positions.back());
  h = this->history(ch, -1, StreamPosition{3, "other"});
  EXPECT_FALSE(h.sinceRetained);
}

TYPED_TEST_P(BrokerSuite, SinceAtTopIsRetainedAndEmpty) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 10, 3);
  HistoryResult h = this->history(ch, -1, positions.back());
  EXPECT_TRUE(h.sinceRetained);
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.position, positions.back());
}

TYPED_TEST_P(BrokerSuite, UnknownChannelGetsEpochThatPublishesKeep) {
  auto ch = this->channel("a");
  HistoryResult before = this->history(ch, 0);
  EXPECT_EQ(before.position.offset, 0u);
  EXPECT_FALSE(before.position.epoch.empty());
  EXPECT_TRUE(before.publications.empty());
  // A second read sees the same stream.
  EXPECT_EQ(this->history(ch, 0).position, before.position);
  // A subscriber positioned at {0, E} recovers the next publication.
  StreamPosition pos = this->publish(ch, "1", withHistory(10, 60s));
  EXPECT_EQ(pos, (StreamPosition{1, before.position.epoch}));
  HistoryResult h = this->history(ch, -1, before.position);
  EXPECT_TRUE(h.sinceRetained);
  EXPECT_EQ(offsetsOf(h.publications), (std::vector<uint64_t>{1}));
}

TYPED_TEST_P(BrokerSuite, HistoryExpiresAfterTtlKeepingPosition) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 3, 10, 3s);
  this->advance(1s);
  EXPECT_EQ(this->history(ch).publications.size(), 3u);
  this->advance(3s);  // 4 s after the last publish
  HistoryResult h = this->history(ch);
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.position, positions.back());
  // Resuming from the top misses nothing; from before it misses expired ones.
  EXPECT_TRUE(this->history(ch, -1, positions.back()).sinceRetained);
  EXPECT_FALSE(this->history(ch, -1, positions[0]).sinceRetained);
  // The stream continues.
  StreamPosition next = this->publish(ch, "4", withHistory(10, 3s));
  EXPECT_EQ(next, (StreamPosition{4, positions[0].epoch}));
  EXPECT_EQ(offsetsOf(this->history(ch).publications), (std::vector<uint64_t>{4}));
}

TYPED_TEST_P(BrokerSuite, MetaExpiresAfterMetaTtl) {
  if (this->engine().metaTtl.count() == 0) GTEST_SKIP() << "engine sets no meta TTL";
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 2, 10, 1s);
  this->advance(this->engine().metaTtl + 2s);
  HistoryResult h = this->history(ch);
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.position.offset, 0u);
  EXPECT_NE(h.position.epoch, positions[0].epoch);
  EXPECT_FALSE(this->history(ch, -1, positions.back()).sinceRetained);
  StreamPosition next = this->publish(ch, "again", withHistory(10, 1s));
  EXPECT_EQ(next, (StreamPosition{1, h.position.epoch}));
}

TYPED_TEST_P(BrokerSuite, RemoveHistoryKeepsPosition) {
  auto ch = this->channel("a");
  auto positions = this->publishN(ch, 3);
  this->removeHistory(ch);
  HistoryResult h = this->history(ch);
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.position, positions.back());
  EXPECT_EQ(this->publish(ch, "4", withHistory(10, 60s)), (StreamPosition{4, positions[0].epoch}));
  // Removing a channel that never had history is fine.
  this->removeHistory(this->channel("never"));
}

TYPED_TEST_P(BrokerSuite, IdempotencyKeyReturnsFirstPosition) {
  auto ch = this->channel("a");
  this->subscribe(ch);
  StreamPosition first = this->publish(ch, "first", withHistory(10, 60s, "key-1"));
  StreamPosition again = this->publish(ch, "retry", withHistory(10, 60s, "key-1"));
  EXPECT_EQ(first.offset, 1u);
  EXPECT_EQ(again, first);
  StreamPosition other = this->publish(ch, "second", withHistory(10, 60s, "key-2"));
  EXPECT_EQ(other.offset, 2u);
  HistoryResult h = this->history(ch);
  ASSERT_EQ(h.publications.size(), 2u);
  EXPECT_EQ(h.publications[0]->data, "first");
  EXPECT_EQ(h.publications[1]->data, "second");
  this->drainEvents();
  auto got = this->events().of(ch, TestFixture::Kind::Publication);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].pub->data, "first");
  EXPECT_EQ(got[1].pub->data, "second");
}

TYPED_TEST_P(BrokerSuite, EventsOnlyWhileSubscribed) {
  auto ch = this->channel("a");
  // publishJoin has no completion; the awaited publish after it on the same
  // broker is what guarantees the join was handled before we subscribe.
  this->broker().publishJoin(ch, ClientInfo{"u", "c", "", ""});
  this->publish(ch, "before", withHistory(10, 60s));
  this->subscribe(ch);
  this->publish(ch, "during", withHistory(10, 60s));
  ASSERT_TRUE(this->events().waitFor(ch, TestFixture::Kind::Publication, 1, this->engine().timeout));
  this->unsubscribe(ch);
  this->publish(ch, "after", withHistory(10, 60s));
  this->broker().publishJoin(ch, ClientInfo{"u", "c", "", ""});
  this->drainEvents();
  auto got = this->events().of(ch, TestFixture::Kind::Publication);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].pub->data, "during");
  EXPECT_EQ(got[0].position.offset, 2u);
  EXPECT_EQ(this->events().count(ch, TestFixture::Kind::Join), 0u);
  // History does not depend on subscriptions.
  EXPECT_EQ(offsetsOf(this->history(ch).publications), (std::vector<uint64_t>{1, 2, 3}));
}

TYPED_TEST_P(BrokerSuite, ConcurrentPublishersDeliverInOffsetOrder) {
  auto ch = this->channel("a");
  this->subscribe(ch);
  constexpr int kThreads = 4;
  constexpr int kEach = 250;
  std::atomic<int> failures{0};
  std::vector<std::vector<uint64_t>> offsets(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto promise = std::make_shared<std::promise<uint64_t>>();
        auto future = promise->get_future();
        this->broker().publish(ch, makePublication(std::to_string(t * kEach + i)), withHistory(50, 60s),
                               [promise, &failures](PublishResult r, const BrokerError* e) {
                                 if (e) failures.fetch_add(1);
                                 promise->set_value(r.position.offset);
                               });
        if (future.wait_for(this->engine().timeout) != std::future_status::ready) {
          failures.fetch_add(1);
          return;
        }
        offsets[t].push_back(future.get());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(
      this->events().waitFor(ch, TestFixture::Kind::Publication, kThreads * kEach, this->engine().timeout));
  EXPECT_EQ(this->events().outOfOrder(), 0u);
  EXPECT_EQ(this->events().offsetMismatch(), 0u);
  EXPECT_EQ(this->events().count(ch, TestFixture::Kind::Publication), size_t(kThreads * kEach));
  // Every publisher got distinct offsets, together exactly 1..N.
  std::vector<uint64_t> all;
  for (auto& v : offsets) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), size_t(kThreads * kEach));
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1) << "at " << i;
  HistoryResult h = this->history(ch);
  EXPECT_EQ(h.position.offset, uint64_t(kThreads * kEach));
  EXPECT_EQ(h.publications.size(), 50u);
}

TYPED_TEST_P(BrokerSuite, JoinAndLeaveReachSubscribedNode) {
  auto ch = this->channel("a");
  this->subscribe(ch);
  ClientInfo info{"user-1", "client-1", R"({"name":"Ann"})", R"({"role":"x"})"};
  this->broker().publishJoin(ch, info);
  this->broker().publishLeave(ch, info);
  ASSERT_TRUE(this->events().waitFor(ch, TestFixture::Kind::Join, 1, this->engine().timeout));
  ASSERT_TRUE(this->events().waitFor(ch, TestFixture::Kind::Leave, 1, this->engine().timeout));
  for (auto kind : {TestFixture::Kind::Join, TestFixture::Kind::Leave}) {
    auto got = this->events().of(ch, kind);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].info.user, "user-1");
    EXPECT_EQ(got[0].info.client, "client-1");
    EXPECT_EQ(got[0].info.connInfo, R"({"name":"Ann"})");
    EXPECT_EQ(got[0].info.chanInfo, R"({"role":"x"})");
  }
  // Join/leave keep no history.
  EXPECT_EQ(this->history(ch).position.offset, 0u);
}

TYPED_TEST_P(BrokerSuite, PresenceAddRefreshRemove) {
  auto ch = this->channel("a");
  EXPECT_TRUE(this->presence(ch).empty());
  this->addPresence(ch, ClientInfo{"u1", "c1", R"({"a":1})", ""}, 60s);
  this->addPresence(ch, ClientInfo{"u2", "c2", "", R"({"b":2})"}, 60s);
  auto p = this->presence(ch);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p["c1"].user, "u1");
  EXPECT_EQ(p["c1"].connInfo, R"({"a":1})");
  EXPECT_EQ(p["c2"].chanInfo, R"({"b":2})");
  // Adding again replaces the info rather than duplicating the client.
  this->addPresence(ch, ClientInfo{"u1", "c1", R"({"a":2})", ""}, 60s);
  p = this->presence(ch);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p["c1"].connInfo, R"({"a":2})");
  this->removePresence(ch, "c1", "u1");
  p = this->presence(ch);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p.count("c2"), 1u);
  this->removePresence(ch, "c2", "u2");
  this->removePresence(ch, "c2", "u2");  // twice is fine
  EXPECT_TRUE(this->presence(ch).empty());
  EXPECT_EQ(this->presenceStats(ch).numClients, 0u);
}

TYPED_TEST_P(BrokerSuite, PresenceExpiresUnlessRefreshed) {
  auto ch = this->channel("a");
  this->addPresence(ch, ClientInfo{"u1", "c1", "", ""}, 4s);
  this->addPresence(ch, ClientInfo{"u2", "c2", "", ""}, 4s);
  this->advance(2s);
  this->addPresence(ch, ClientInfo{"u1", "c1", "", ""}, 4s);  // refresh c1 only
  this->advance(3s);  // c2: 5 s old, c1: 3 s since refresh
  auto p = this->presence(ch);
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(p.count("c1"), 1u);
  EXPECT_EQ(this->presenceStats(ch).numClients, 1u);
  this->advance(3s);
  EXPECT_TRUE(this->presence(ch).empty());
  PresenceStats s = this->presenceStats(ch);
  EXPECT_EQ(s.numClients, 0u);
  EXPECT_EQ(s.numUsers, 0u);
}

TYPED_TEST_P(BrokerSuite, PresenceStatsCountsDistinctUsers) {
  auto ch = this->channel("a");
  this->addPresence(ch, ClientInfo{"u1", "c1", "", ""}, 60s);
  this->addPresence(ch, ClientInfo{"u1", "c2", "", ""}, 60s);
  this->addPresence(ch, ClientInfo{"u2", "c3", "", ""}, 60s);
  this->addPresence(ch, ClientInfo{"", "c4", "", ""}, 60s);
  this->addPresence(ch, ClientInfo{"", "c5", "", ""}, 60s);
  PresenceStats s = this->presenceStats(ch);
  EXPECT_EQ(s.numClients, 5u);
  EXPECT_EQ(s.numUsers, 3u);  // u1, u2 and the anonymous user ""
  this->removePresence(ch, "c3", "u2");
  s = this->presenceStats(ch);
  EXPECT_EQ(s.numClients, 4u);
  EXPECT_EQ(s.numUsers, 2u);
}

TYPED_TEST_P(BrokerSuite, PublicationFieldsSurviveHistoryAndEvents) {
  auto ch = this->channel("a");
  this->subscribe(ch);
  Publication pub;
  pub.data = R"({"text":"hello \"world\"","n":[1,2]})";
  pub.info = ClientInfo{"user-9", "client-9", R"({"c":1})", R"({"d":2})"};
  pub.tags = {{"k1", "v1"}, {"k2", "v2"}};
  pub.time = 1700000000123;
  pub.offset = 777;  // the broker assigns offsets; this one is ignored
  StreamPosition pos = this->publish(ch, pub, withHistory(10, 60s));
  EXPECT_EQ(pos.offset, 1u);
  ASSERT_TRUE(this->events().waitFor(ch, TestFixture::Kind::Publication, 1, this->engine().timeout));
  HistoryResult h = this->history(ch);
  ASSERT_EQ(h.publications.size(), 1u);
  auto got = this->events().of(ch, TestFixture::Kind::Publication);
  ASSERT_EQ(got.size(), 1u);
  for (const PublicationPtr& p : {got[0].pub, h.publications[0]}) {
    ASSERT_TRUE(p);
    EXPECT_EQ(p->offset, 1u);
    EXPECT_EQ(p->data, pub.data);
    ASSERT_TRUE(p->info.has_value());
    EXPECT_EQ(p->info->user, "user-9");
    EXPECT_EQ(p->info->client, "client-9");
    EXPECT_EQ(p->info->connInfo, R"({"c":1})");
    EXPECT_EQ(p->info->chanInfo, R"({"d":2})");
    auto tags = p->tags;
    std::sort(tags.begin(), tags.end());  // an engine may keep tags as a map
    EXPECT_EQ(tags, pub.tags);
    EXPECT_EQ(p->time, 1700000000123);
  }
  // Without info the publication comes back without info.
  StreamPosition pos2 = this->publish(ch, "{}", withHistory(10, 60s));
  EXPECT_EQ(pos2.offset, 2u);
  h = this->history(ch, -1, pos);
  ASSERT_EQ(h.publications.size(), 1u);
  EXPECT_FALSE(h.publications[0]->info.has_value());
  EXPECT_TRUE(h.publications[0]->tags.empty());
}

REGISTER_TYPED_TEST_SUITE_P(BrokerSuite, PublishWithoutHistoryHasOffsetZeroAndIsDelivered,
                            PublishWithHistoryNumbersFromOneWithStableEpoch, HistoryWithoutSinceHonoursLimitAndReverse,
                            HistorySinceForward, HistorySinceReversePagesBackwards, HistoryKeepsOnlyHistorySize,
                            SinceOlderThanRetainedIsNotRetained, SinceWithOtherEpochIsNotRetained,
                            SinceAtTopIsRetainedAndEmpty, UnknownChannelGetsEpochThatPublishesKeep,
                            HistoryExpiresAfterTtlKeepingPosition, MetaExpiresAfterMetaTtl,
                            RemoveHistoryKeepsPosition, IdempotencyKeyReturnsFirstPosition, EventsOnlyWhileSubscribed,
                            ConcurrentPublishersDeliverInOffsetOrder, JoinAndLeaveReachSubscribedNode,
                            PresenceAddRefreshRemove, PresenceExpiresUnlessRefreshed,
                            PresenceStatsCountsDistinctUsers, PublicationFieldsSurviveHistoryAndEvents);

}  // namespace sb::broker::suite
