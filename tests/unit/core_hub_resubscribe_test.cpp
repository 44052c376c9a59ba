// No subscriber left silently stale: a publication of another epoch or one
// that skips offsets tells a positioned subscriber its position is lost, and
// after a broker reconnect (onResubscribed) the hub delivers what was missed
// from history, in order and without duplicates, or tells the positioned
// subscribers when the history does not cover it.
#include <gtest/gtest.h>

#include "../support/DeferredBroker.h"
#include "../support/NodeTestHelpers.h"
#include "core/Hub.h"
#include "net/EventLoop.h"

namespace sb::core {
namespace {

using protocol::Publication;
using protocol::StreamPosition;
using testsupport::runPosted;

struct RecordingSubscriber final : Subscriber {
  void deliver(ChannelSubscribers&, const ChannelEvent& ev, const net::SharedBuffer::Ref&) override {
    offsets.push_back(ev.offset);
  }
  void deliverPending(ChannelSubscribers&, const ChannelEventPtr& ev) override { pending.push_back(ev); }
  void entryMoved(ChannelSubscribers&, uint32_t s) override { slot = s; }
  void positionLost(ChannelSubscribers&, uint32_t) override { ++lost; }

  ChannelSubscribers* channel = nullptr;
  uint32_t slot = 0;
  std::vector<uint64_t> offsets;  // offsets delivered live, in order
  std::vector<ChannelEventPtr> pending;
  int lost = 0;
};

class HubResubscribeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub.attachLoop(0, &loop0);
    hub.attachLoop(1, &loop1);
    broker.defer = false;
  }

  // A subscriber that follows no position (offset checks only skip duplicates).
  RecordingSubscriber& addPlain(std::string_view channel, size_t worker = 0) {
    subs.push_back(std::make_unique<RecordingSubscriber>());
    RecordingSubscriber& s = *subs.back();
    s.channel = hub.add(worker, channel, &s, 0, 0, s.slot);
    return s;
  }
  // A subscriber told position `pos`, as ClientSession does after reading
  // the stream: added pending, then given the position and made live.
  RecordingSubscriber& addPositioned(std::string_view channel, StreamPosition pos, size_t worker = 0) {
    subs.push_back(std::make_unique<RecordingSubscriber>());
    RecordingSubscriber& s = *subs.back();
    s.channel = hub.add(worker, channel, &s, SubscriberEntry::kPending, 0, s.slot);
    SubscriberEntry& e = s.channel->at(s.slot);
    e.lastOffset = pos.offset;
    e.flags &= uint8_t(~SubscriberEntry::kPending);
    s.channel->markPositioned(s.slot, pos.epoch);
    return s;
  }
  // Positioned at the stream's current top as the broker reports it.
  RecordingSubscriber& addAtTop(std::string_view channel, size_t worker = 0) {
    StreamPosition top;
    broker.history(channel, broker::HistoryRequest{}, [&](broker::HistoryResult r, const broker::BrokerError*) {
      top = r.position;
    });
    return addPositioned(channel, top, worker);
  }
  // An event straight from "the broker" (the hub's BrokerEventHandler side).
  void event(std::string_view channel, uint64_t offset, std::string epoch) {
    Publication p;
    p.data = "{}";
    p.offset = offset;
    hub.onPublication(channel, std::make_shared<const Publication>(std::move(p)), StreamPosition{offset, epoch});
  }
  // Publishes through the broker (with history unless `history` is false).
  StreamPosition publish(std::string_view channel, bool history = true) {
    broker::PublishOptions opts;
    if (history) {
      opts.historySize = 100;
      opts.historyTtl = std::chrono::seconds(60);
    }
    Publication p;
    p.data = "{\"n\":1}";
    // The publish itself always completes at once, even while the test holds
    // other completions: the callback writes to this frame.
    StreamPosition pos;
    const bool held = broker.defer;
    broker.defer = false;
    broker.publish(channel, std::move(p), opts,
                   [&](broker::PublishResult r, const broker::BrokerError*) { pos = r.position; });
    broker.defer = held;
    return pos;
  }
  // Publications this node does not receive (the broker's connection is down).
  void publishWhileAway(std::string_view channel, int n, bool history = true) {
    broker.setEventHandler(nullptr);
    for (int i = 0; i < n; ++i) publish(channel, history);
    broker.setEventHandler(&hub);
  }
  void run() {
    runPosted(loop0);
    runPosted(loop1);
  }

  testsupport::DeferredBroker broker;
  Hub hub{broker, 2};
  net::EventLoop loop0, loop1;
  std::vector<std::unique_ptr<RecordingSubscriber>> subs;
};

using Offsets = std::vector<uint64_t>;

TEST_F(HubResubscribeTest, EpochChangeTellsPositionedSubscribersNotSilently) {
  auto& positioned = addPositioned("news", {3, "A"});
  auto& plain = addPlain("news");
  event("news", 4, "A");
  event("news", 1, "B");  // the stream restarted: offsets begin again
  event("news", 2, "B");
  run();
  EXPECT_EQ(positioned.offsets, Offsets({4}));
  EXPECT_EQ(positioned.lost, 1);  // told once, then nothing more
  EXPECT_EQ(plain.offsets, Offsets({4, 1, 2}));  // follows the new stream
  EXPECT_EQ(hub.stats().positionsLost.load(), 1u);
}

// A quiet channel: no publication seen since the subscriber was positioned,
// then the stream restarts (history expired). Offset 1 <= its position 5
// must not be dropped as a duplicate.
TEST_F(HubResubscribeTest, EpochChangeBeforeAnyPublicationIsNoticed) {
  auto& s = addPositioned("quiet", {5, "A"});
  event("quiet", 1, "B");
  run();
  EXPECT_TRUE(s.offsets.empty());
  EXPECT_EQ(s.lost, 1);
}

// One subscriber read the old stream, a later one the new: the old one is
// told at the next event, the new one goes on.
TEST_F(HubResubscribeTest, APositionInANewerEpochMakesOlderPositionsLost) {
  auto& old = addPositioned("news", {5, "A"});
  auto& fresh = addPositioned("news", {0, "B"});
  event("news", 1, "B");
  run();
  EXPECT_EQ(old.lost, 1);
  EXPECT_TRUE(old.offsets.empty());
  EXPECT_EQ(fresh.lost, 0);
  EXPECT_EQ(fresh.offsets, Offsets({1}));
}

TEST_F(HubResubscribeTest, GapTellsPositionedSubscribers) {
  auto& positioned = addPositioned("news", {3, "A"});
  auto& plain = addPlain("news");
  event("news", 4, "A");
  event("news", 6, "A");  // 5 was lost on the way
  event("news", 7, "A");
  run();
  EXPECT_EQ(positioned.offsets, Offsets({4}));
  EXPECT_EQ(positioned.lost, 1);
  EXPECT_EQ(plain.offsets, Offsets({4, 6, 7}));  // no position: no check
}

// Held pending (e.g. a server-side subscription waiting for its connect
// reply) but never told a position: not checked, whatever offset comes.
TEST_F(HubResubscribeTest, PendingWithoutAPositionIsNotChecked) {
  subs.push_back(std::make_unique<RecordingSubscriber>());
  RecordingSubscriber& s = *subs.back();
  s.channel = hub.add(0, "news", &s, SubscriberEntry::kPending, 0, s.slot);
  s.channel->at(s.slot).flags &= uint8_t(~SubscriberEntry::kPending);
  event("news", 5, "A");
  event("news", 1, "B");
  run();
  EXPECT_EQ(s.offsets, Offsets({5, 1}));
  EXPECT_EQ(s.lost, 0);
}

TEST_F(HubResubscribeTest, OverlapDuplicatesAreSkippedNotLost) {
  auto& s = addPositioned("news", {3, "A"});
  event("news", 2, "A");  // already had by the position read
  event("news", 3, "A");
  event("news", 4, "A");
  run();
  EXPECT_EQ(s.offsets, Offsets({4}));
  EXPECT_EQ(s.lost, 0);
}

TEST_F(HubResubscribeTest, ChannelsWithoutHistoryAreNotChecked) {
  auto& s = addPositioned("chat", {0, ""});
  event("chat", 0, "");
  event("chat", 0, "");
  run();
  EXPECT_EQ(s.offsets, Offsets({0, 0}));
  EXPECT_EQ(s.lost, 0);
}

// The Redis broker reconnected: what was published meanwhile comes from
// history, then the live events that arrived during the read, in order,
// with no duplicates, and nobody is disconnected.
TEST_F(HubResubscribeTest, ResubscribeDeliversWhatWasMissedInOrder) {
  auto& a = addAtTop("news", 0);
  auto& b = addAtTop("news", 1);
  auto& plain = addPlain("news", 0);
  publish("news");  // 1
  publish("news");  // 2
  run();
  publishWhileAway("news", 3);  // 3, 4, 5: not delivered to this node
  broker.defer = true;
  hub.onResubscribed("news");
  EXPECT_EQ(broker.deferredCount(), 1u);  // the stream read is out
  publish("news");  // 6: live, while the read is out
  publish("news");  // 7
  run();
  EXPECT_EQ(a.offsets, Offsets({1, 2})) << "live events overtook the recovered ones";
  broker.runDeferred();
  run();
  EXPECT_EQ(a.offsets, Offsets({1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(b.offsets, Offsets({1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(plain.offsets, Offsets({1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(a.lost + b.lost + plain.lost, 0);
  EXPECT_EQ(hub.stats().positionsLost.load(), 0u);
  // And the stream goes on normally afterwards.
  publish("news");
  run();
  EXPECT_EQ(a.offsets.back(), 8u);
}

// A live event that the read also returned (it came after the new
// SUBSCRIBE, before the read) reaches each subscriber once.
TEST_F(HubResubscribeTest, ResubscribeSkipsLiveEventsTheReadAlreadyHad) {
  auto& a = addAtTop("news");
  const std::string epoch = publish("news").epoch;  // 1
  run();
  publishWhileAway("news", 2);  // 2, 3
  broker.defer = true;
  hub.onResubscribed("news");  // reads 2, 3
  event("news", 3, epoch);     // live again: 3 arrives too, held
  event("news", 4, epoch);
  broker.runDeferred();
  run();
  EXPECT_EQ(a.offsets, Offsets({1, 2, 3, 4}));
  EXPECT_EQ(a.lost, 0);
}

TEST_F(HubResubscribeTest, ResubscribeNotCoveredTellsPositionedSubscribers) {
  hub.setRecoveryLimit(2);
  auto& a = addAtTop("news", 0);
  auto& b = addAtTop("news", 1);
  auto& plain = addPlain("news");
  publish("news");  // 1
  run();
  publishWhileAway("news", 5);  // more than the limit
  broker.defer = true;
  hub.onResubscribed("news");
  publish("news");  // 7: live during the read
  broker.runDeferred();
  run();
  EXPECT_EQ(a.lost, 1);
  EXPECT_EQ(b.lost, 1);
  EXPECT_EQ(a.offsets, Offsets({1}));
  EXPECT_EQ(plain.lost, 0);
  EXPECT_EQ(plain.offsets, Offsets({1, 7}));  // the live one still reaches it
}

TEST_F(HubResubscribeTest, ResubscribeReadFailureTellsPositionedSubscribers) {
  auto& a = addAtTop("news");
  publish("news");
  run();
  publishWhileAway("news", 1);
  broker.failNext("redis: connection refused");
  hub.onResubscribed("news");
  run();
  EXPECT_EQ(a.lost, 1);
  EXPECT_EQ(a.offsets, Offsets({1}));
}

// Redis lost its data while the node was away: the stream it reads has
// another epoch, so nothing can be recovered.
TEST_F(HubResubscribeTest, ResubscribeAfterTheStreamRestartedTellsPositionedSubscribers) {
  auto& a = addPositioned("news", {0, "lost-epoch"});
  event("news", 1, "lost-epoch");
  run();
  publishWhileAway("news", 2);  // the broker's stream: another epoch
  hub.onResubscribed("not-subscribed");  // ignored
  hub.onResubscribed("news");
  run();
  EXPECT_EQ(a.offsets, Offsets({1}));
  EXPECT_EQ(a.lost, 1);
}

TEST_F(HubResubscribeTest, ResubscribeWithoutHistoryDeliversNothing) {
  auto& s = addPlain("chat");
  publish("chat", false);
  run();
  publishWhileAway("chat", 2, false);
  hub.onResubscribed("chat");
  run();
  EXPECT_EQ(s.offsets, Offsets({0}));  // nothing recovered, nothing duplicated
  EXPECT_EQ(s.lost, 0);
  publish("chat", false);
  run();
  EXPECT_EQ(s.offsets, Offsets({0, 0}));
}

// Subscribed, positioned, but no publication seen before the reconnect: the
// hub reads the newest publications and each entry takes what follows its
// position.
TEST_F(HubResubscribeTest, ResubscribeBeforeAnyPublicationSeen) {
  publish("news");  // 1 (before anyone here subscribed)
  publish("news");  // 2
  auto& a = addAtTop("news");  // positioned at 2
  auto& plain = addPlain("news");
  publishWhileAway("news", 2);  // 3, 4
  hub.onResubscribed("news");
  run();
  EXPECT_EQ(a.offsets, Offsets({3, 4}));
  EXPECT_EQ(a.lost, 0);
  EXPECT_TRUE(plain.offsets.empty()) << "history older than its subscription reached a plain subscriber";
}

}  // namespace
}  // namespace sb::core
