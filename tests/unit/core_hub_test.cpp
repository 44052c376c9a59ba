// The hub's fan-out: one encoding and one frame per publication per worker,
// one shared buffer for every subscriber, nothing allocated per delivery,
// duplicates after a recovery skipped, and subscribers that leave while an
// event is being delivered.
#include <gtest/gtest.h>

#include "../support/NodeTestHelpers.h"
#include "core/ClientSession.h"
#include "core/Hub.h"
#include "net/EventLoop.h"
#include "../support/AllocationCounter.h"

namespace sb::core {
namespace {

using testsupport::runPosted;

using protocol::ClientInfo;
using protocol::Publication;
using protocol::PublicationPtr;
using protocol::StreamPosition;

// A broker that delivers synchronously with increasing offsets.
class FakeBroker final : public broker::Broker {
 public:
  void setEventHandler(broker::BrokerEventHandler* h) override { handler = h; }
  void subscribe(std::string_view ch) override { subscribed.push_back(std::string(ch)); }
  void unsubscribe(std::string_view ch) override { unsubscribed.push_back(std::string(ch)); }
  void publish(std::string_view channel, Publication pub, const broker::PublishOptions&,
               broker::Callback<broker::PublishResult> done) override {
    pub.offset = ++offset;
    auto p = std::make_shared<const Publication>(std::move(pub));
    handler->onPublication(channel, p, StreamPosition{offset, "e"});
    done(broker::PublishResult{{offset, "e"}}, nullptr);
  }
  void publishJoin(std::string_view ch, const ClientInfo& i) override { handler->onJoin(ch, i); }
  void publishLeave(std::string_view ch, const ClientInfo& i) override { handler->onLeave(ch, i); }
  void history(std::string_view, const broker::HistoryRequest&, broker::Callback<broker::HistoryResult>) override {}
  void removeHistory(std::string_view, broker::Callback<bool>) override {}
  void addPresence(std::string_view, const ClientInfo&, std::chrono::milliseconds, broker::Callback<bool>) override {}
  void removePresence(std::string_view, std::string_view, std::string_view, broker::Callback<bool>) override {}
  void presence(std::string_view, broker::Callback<std::unordered_map<std::string, ClientInfo>>) override {}
  void presenceStats(std::string_view, broker::Callback<broker::PresenceStats>) override {}
  size_t channelCount() const override { return 0; }
  const char* name() const override { return "fake"; }

  broker::BrokerEventHandler* handler = nullptr;
  uint64_t offset = 0;
  std::vector<std::string> subscribed, unsubscribed;
};

struct FakeSubscriber final : Subscriber {
  void deliver(ChannelSubscribers& ch, const ChannelEvent& ev, const net::SharedBuffer::Ref& frame) override {
    ++delivered;
    lastFrame = frame;
    lastOffset = ev.offset;
    if (onDeliver) onDeliver(ch);
  }
  void deliverPending(ChannelSubscribers&, const ChannelEventPtr& ev) override { pending.push_back(ev); }
  void entryMoved(ChannelSubscribers&, uint32_t s) override { slot = s; }
  void positionLost(ChannelSubscribers&, uint32_t) override { ++lost; }
  size_t lost = 0;

  ChannelSubscribers* channel = nullptr;
  uint32_t slot = 0;
  size_t delivered = 0;
  net::SharedBuffer::Ref lastFrame;  // held, so another frame cannot reuse its address
  uint64_t lastOffset = 0;
  std::vector<ChannelEventPtr> pending;
  std::function<void(ChannelSubscribers&)> onDeliver;
};

class HubTest : public ::testing::Test {
 protected:
  void publish(std::string_view channel, std::string data) {
    Publication p;
    p.data = std::move(data);
    broker.publish(channel, std::move(p), {}, [](broker::PublishResult, const broker::BrokerError*) {});
  }
  FakeSubscriber& add(std::string_view channel, uint8_t flags = 0, size_t worker = 0) {
    subs.push_back(std::make_unique<FakeSubscriber>());
    FakeSubscriber& s = *subs.back();
    s.channel = hub.add(worker, channel, &s, flags, 0, s.slot);
    return s;
  }
  FakeBroker broker;
  Hub hub{broker, 2};
  net::EventLoop loop0, loop1;
  std::vector<std::unique_ptr<FakeSubscriber>> subs;
  void SetUp() override {
    hub.attachLoop(0, &loop0);
    hub.attachLoop(1, &loop1);
  }
};

TEST_F(HubTest, OneFrameSharedByEverySubscriberOfAWorker) {
  for (int i = 0; i < 100; ++i) add("news");
  publish("news", "{\"n\":1}");
  runPosted(loop0);
  for (auto& s : subs) {
    EXPECT_EQ(s->delivered, 1u);
    EXPECT_EQ(s->lastFrame.get(), subs[0]->lastFrame.get());  // the very same bytes
    EXPECT_EQ(s->lastOffset, 1u);
  }
  EXPECT_EQ(hub.stats().framesEncoded.load(), 1u);
  EXPECT_EQ(hub.stats().deliveries.load(), 100u);
}

TEST_F(HubTest, EachWorkerFramesItsOwnCopyOnce) {
  auto& a = add("news", 0, 0);
  auto& b = add("news", 0, 1);
  publish("news", "{}");
  runPosted(loop0);
  runPosted(loop1);
  EXPECT_EQ(a.delivered, 1u);
  EXPECT_EQ(b.delivered, 1u);
  EXPECT_NE(a.lastFrame.get(), b.lastFrame.get());
  EXPECT_EQ(hub.stats().framesEncoded.load(), 2u);
}

TEST_F(HubTest, FrameIsTheEncodedPush) {
  auto ref = Hub::frameText("{\"push\":{}}");
  ASSERT_EQ(ref->size(), 2u + 11u);
  EXPECT_EQ(ref->data()[0], 0x81);  // FIN + text
  EXPECT_EQ(ref->data()[1], 11);    // unmasked, length 11
  EXPECT_EQ(ref->view().substr(2), "{\"push\":{}}");
}

// The claim of DESIGN.md: allocations per publication do not grow with the
// number of subscribers.
TEST_F(HubTest, NoAllocationPerDelivery) {
  auto countFor = [&](int subscribers) {
    subs.clear();
    for (int i = 0; i < subscribers; ++i) add("bench");
    publish("bench", "{\"warm\":true}");  // first use sizes the worker's buffers
    runPosted(loop0);
    test::AllocationCounter::start();
    publish("bench", "{\"payload\":\"0123456789012345678901234567890123456789\"}");
    runPosted(loop0);
    size_t n = test::AllocationCounter::stop();
    for (auto& s : subs) EXPECT_EQ(s->delivered, 2u);
    for (auto& s : subs) hub.remove(0, s->channel, s->slot);
    return n;
  };
  size_t small = countFor(10);
  size_t large = countFor(10000);
  // A few allocations per publication (the publication, its encoded push,
  // the frame, the wake-up task), however many subscribers receive it.
  EXPECT_LE(large, small) << "allocations grew with the number of subscribers";
  EXPECT_GT(large, 0u);
  EXPECT_LT(large, 16u) << "10,000 deliveries took " << large << " allocations";
}

TEST_F(HubTest, SkipsOffsetsAlreadyDelivered) {
  auto& s = add("news");
  s.channel->at(s.slot).lastOffset = 2;  // as after a recovery up to offset 2
  publish("news", "{}");                 // offset 1
  publish("news", "{}");                 // offset 2
  publish("news", "{}");                 // offset 3
  runPosted(loop0);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.lastOffset, 3u);
}

TEST_F(HubTest, PendingEntriesBufferEvents) {
  auto& s = add("news", SubscriberEntry::kPending);
  publish("news", "{}");
  runPosted(loop0);
  EXPECT_EQ(s.delivered, 0u);
  ASSERT_EQ(s.pending.size(), 1u);
  EXPECT_EQ(s.pending[0]->offset, 1u);
}

TEST_F(HubTest, JoinLeaveOnlyToThoseWhoAsked) {
  auto& wants = add("room", SubscriberEntry::kJoinLeave);
  auto& not_ = add("room");
  broker.publishJoin("room", ClientInfo{"u", "c", "", ""});
  runPosted(loop0);
  EXPECT_EQ(wants.delivered, 1u);
  EXPECT_EQ(not_.delivered, 0u);
}

TEST_F(HubTest, SubscriberLeavingDuringDeliveryIsSafe) {
  std::vector<FakeSubscriber*> all;
  for (int i = 0; i < 5; ++i) all.push_back(&add("news"));
  // Every subscriber leaves while receiving (like a slow consumer closed in
  // the middle of the fan-out); the rest must still be visited.
  for (FakeSubscriber* s : all) {
    s->onDeliver = [this, s](ChannelSubscribers& ch) { hub.remove(0, &ch, s->slot); };
  }
  publish("news", "{}");
  runPosted(loop0);
  for (FakeSubscriber* s : all) EXPECT_EQ(s->delivered, 1u);
  EXPECT_EQ(hub.localSubscribers(0, "news"), 0u);
  ASSERT_EQ(broker.unsubscribed.size(), 1u);
}

TEST_F(HubTest, BrokerSubscribedOnceAndReleasedWithTheLast) {
  auto& a = add("x", 0, 0);
  auto& b = add("x", 0, 1);
  auto& c = add("x", 0, 0);
  EXPECT_EQ(broker.subscribed, std::vector<std::string>{"x"});
  hub.remove(0, a.channel, a.slot);
  hub.remove(0, c.channel, c.slot);
  EXPECT_TRUE(broker.unsubscribed.empty());
  hub.remove(1, b.channel, b.slot);
  EXPECT_EQ(broker.unsubscribed, std::vector<std::string>{"x"});
  EXPECT_EQ(hub.stats().subscriptions.load(), 0);
}

TEST_F(HubTest, NoDeliveryWithoutSubscribers) {
  publish("nobody", "{}");
  runPosted(loop0);
  EXPECT_EQ(hub.stats().framesEncoded.load(), 0u);
}

PublicationPtr pubAt(uint64_t offset) {
  auto p = std::make_shared<Publication>();
  p->offset = offset;
  return p;
}

ChannelEventPtr liveAt(uint64_t offset) {
  auto ev = std::make_shared<ChannelEvent>();
  ev->offset = offset;
  ev->pub = pubAt(offset);
  return ev;
}

std::vector<uint64_t> offsets(const std::vector<PublicationPtr>& v) {
  std::vector<uint64_t> out;
  for (auto& p : v) out.push_back(p->offset);
  return out;
}

TEST(RecoveryMerge, HistoryThenLiveWithoutDuplicates) {
  uint64_t last = 3;
  auto merged = mergeRecovery({pubAt(4), pubAt(5), pubAt(6)}, {liveAt(6), liveAt(5), liveAt(7), liveAt(8)}, last);
  EXPECT_EQ(offsets(merged), (std::vector<uint64_t>{4, 5, 6, 7, 8}));
  EXPECT_EQ(last, 8u);
}

TEST(RecoveryMerge, SkipsWhatTheClientHas) {
  uint64_t last = 5;
  auto merged = mergeRecovery({pubAt(4), pubAt(5), pubAt(6)}, {}, last);
  EXPECT_EQ(offsets(merged), (std::vector<uint64_t>{6}));
  EXPECT_EQ(last, 6u);
}

TEST(RecoveryMerge, OnlyLiveEvents) {
  uint64_t last = 2;
  auto merged = mergeRecovery({}, {liveAt(4), liveAt(3), liveAt(3)}, last);
  EXPECT_EQ(offsets(merged), (std::vector<uint64_t>{3, 4}));
}

TEST(RecoveryMerge, JoinLeaveEventsAreNotPublications) {
  uint64_t last = 0;
  auto join = std::make_shared<ChannelEvent>();
  join->kind = ChannelEvent::Kind::Join;
  auto merged = mergeRecovery({pubAt(1)}, {join}, last);
  EXPECT_EQ(offsets(merged), (std::vector<uint64_t>{1}));
}

}  // namespace
}  // namespace sb::core
