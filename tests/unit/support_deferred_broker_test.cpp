// The test broker that holds completions (tests/support/DeferredBroker.h)
// really holds them, and runs them in order.
#include <gtest/gtest.h>

#include "../support/DeferredBroker.h"

namespace sb::testsupport {
namespace {

TEST(DeferredBroker, HoldsCompletionsUntilRun) {
  DeferredBroker b;
  int order = 0, publishAt = 0, historyAt = 0;
  broker::PublishOptions opts;
  opts.historySize = 10;
  opts.historyTtl = std::chrono::seconds(60);
  broker::Publication pub;
  pub.data = "{}";
  b.publish("ch", pub, opts, [&](broker::PublishResult r, const broker::BrokerError* e) {
    ASSERT_EQ(e, nullptr);
    EXPECT_EQ(r.position.offset, 1u);
    publishAt = ++order;
  });
  broker::HistoryRequest req;
  req.limit = -1;
  req.historyTtl = std::chrono::seconds(60);
  b.history("ch", req, [&](broker::HistoryResult h, const broker::BrokerError*) {
    EXPECT_EQ(h.publications.size(), 1u);
    historyAt = ++order;
  });
  EXPECT_EQ(order, 0);
  EXPECT_EQ(b.deferredCount(), 2u);
  b.runDeferred();
  EXPECT_EQ(publishAt, 1);
  EXPECT_EQ(historyAt, 2);
}

TEST(DeferredBroker, FailNextAnswersATemporaryError) {
  DeferredBroker b;
  b.defer = false;
  b.failNext("redis away");
  std::string msg;
  b.presenceStats("ch", [&](broker::PresenceStats, const broker::BrokerError* e) {
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(e->temporary);
    msg = e->message;
  });
  EXPECT_EQ(msg, "redis away");
}

}  // namespace
}  // namespace sb::testsupport
