// Hub::channelCounts, behind the server API's `channels`: the channels with
// local subscribers on the node, merged across workers, with their counts.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/Hub.h"
#include "net/EventLoop.h"

namespace sb::core {
namespace {

// Only what the hub calls when entries come and go; nothing is published.
class QuietBroker final : public broker::Broker {
 public:
  void setEventHandler(broker::BrokerEventHandler*) override {}
  void subscribe(std::string_view) override {}
  void unsubscribe(std::string_view) override {}
  void publish(std::string_view, protocol::Publication, const broker::PublishOptions&,
               broker::Callback<broker::PublishResult>) override {}
  void publishJoin(std::string_view, const protocol::ClientInfo&) override {}
  void publishLeave(std::string_view, const protocol::ClientInfo&) override {}
  void history(std::string_view, const broker::HistoryRequest&, broker::Callback<broker::HistoryResult>) override {}
  void removeHistory(std::string_view, broker::Callback<bool>) override {}
  void addPresence(std::string_view, const protocol::ClientInfo&, std::chrono::milliseconds,
                   broker::Callback<bool>) override {}
  void removePresence(std::string_view, std::string_view, std::string_view, broker::Callback<bool>) override {}
  void presence(std::string_view, broker::Callback<std::unordered_map<std::string, protocol::ClientInfo>>) override {}
  void presenceStats(std::string_view, broker::Callback<broker::PresenceStats>) override {}
  size_t channelCount() const override { return 0; }
  const char* name() const override { return "quiet"; }
};

struct Entry final : Subscriber {
  void deliver(ChannelSubscribers&, const ChannelEvent&, const net::SharedBuffer::Ref&) override {}
  void deliverPending(ChannelSubscribers&, const ChannelEventPtr&) override {}
  void entryMoved(ChannelSubscribers&, uint32_t s) override { slot = s; }
  void positionLost(ChannelSubscribers&, uint32_t) override {}
  ChannelSubscribers* channel = nullptr;
  uint32_t slot = 0;
  size_t worker = 0;
};

using Counts = std::vector<std::pair<std::string, uint64_t>>;

class HubChannelCounts : public ::testing::Test {
 protected:
  Entry& add(std::string_view channel, size_t worker) {
    entries.push_back(std::make_unique<Entry>());
    Entry& e = *entries.back();
    e.worker = worker;
    e.channel = hub.add(worker, channel, &e, 0, 0, e.slot);
    return e;
  }
  void remove(Entry& e) { hub.remove(e.worker, e.channel, e.slot); }
  Counts counts(std::function<bool(std::string_view)> keep = {}) {
    Counts c = hub.channelCounts(keep);
    std::sort(c.begin(), c.end());
    return c;
  }
  QuietBroker broker;
  Hub hub{broker, 2};
  std::vector<std::unique_ptr<Entry>> entries;
};

TEST_F(HubChannelCounts, MergesWorkersAndForgetsEmptyChannels) {
  EXPECT_TRUE(counts().empty());
  auto& a = add("chat:a", 0);
  add("chat:a", 1);
  auto& c = add("chat:a", 0);
  auto& b = add("chat:b", 1);
  EXPECT_EQ(counts(), (Counts{{"chat:a", 3}, {"chat:b", 1}}));
  remove(a);
  remove(b);
  EXPECT_EQ(counts(), (Counts{{"chat:a", 2}}));
  remove(c);
  EXPECT_EQ(counts(), (Counts{{"chat:a", 1}}));
}

TEST_F(HubChannelCounts, FilterSeesEveryName) {
  add("news", 0);
  add("chat:a", 1);
  EXPECT_EQ(counts([](std::string_view n) { return n.starts_with("chat:"); }), (Counts{{"chat:a", 1}}));
  EXPECT_TRUE(counts([](std::string_view) { return false; }).empty());
}

TEST_F(HubChannelCounts, ChannelCountIsDistinctAcrossWorkers) {
  auto& a0 = add("chat:a", 0);
  auto& a1 = add("chat:a", 1);
  auto& b1 = add("chat:b", 1);
  EXPECT_EQ(hub.channelCount(), 2u);
  EXPECT_EQ(hub.stats().channels.load(), 3u);  // once per worker, as documented
  remove(a0);
  EXPECT_EQ(hub.channelCount(), 2u);
  remove(a1);
  EXPECT_EQ(hub.channelCount(), 1u);
  EXPECT_EQ(hub.channelCount(), counts().size());
  remove(b1);
  EXPECT_EQ(hub.channelCount(), 0u);
}

}  // namespace
}  // namespace sb::core
