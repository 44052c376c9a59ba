// The server API and the plain subscriptions with a broker that answers
// later (tests/support/DeferredBroker.h, as Redis does): nothing is answered
// before the broker is, replies keep their order, broker errors are JSON
// errors 100, and a plain stream gone before the answer is left alone.
#include <gtest/gtest.h>

#include <optional>

#include "../support/DeferredBroker.h"
#include "../support/DeferredNodeTest.h"
#include "../support/NodeTestHelpers.h"
#include "api/ServerApi.h"
#include "core/Node.h"
#include "net/EventLoop.h"
#include "transport/PlainSse.h"

namespace sb {
namespace {

config::Config asyncTestConfig() {
  config::Config cfg;
  cfg.client.allow_anonymous = true;
  cfg.client.recovery_max_publications = 5;
  auto& root = cfg.channel.options;
  root.allow_subscribe_for_client = true;
  root.allow_subscribe_for_anonymous = true;
  root.presence = true;
  root.history_size = 100;
  root.history_ttl = std::chrono::minutes(5);
  return cfg;
}

class ApiAsyncTest : public testsupport::DeferredNodeTest {
 protected:
  ApiAsyncTest() : DeferredNodeTest(asyncTestConfig()) {}
};

TEST_F(ApiAsyncTest, PublishAnswersWhenTheBrokerDoes) {
  {
    std::string body = R"({"channel":"news","data":{"n":1}})";
    callApi("publish", body);
    body.assign(body.size(), 'x');  // the call must not need the body any more
  }
  EXPECT_FALSE(last.has_value());
  EXPECT_EQ(broker->deferredCount(), 1u);
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 200);
  EXPECT_NE(last->body.find("\"result\":{\"offset\":1,\"epoch\":"), std::string::npos) << last->body;
}

TEST_F(ApiAsyncTest, BrokerErrorIsJsonError100) {
  broker->failNext("redis went away");
  callApi("history", R"({"channel":"news","limit":-1})");
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 200);
  EXPECT_EQ(last->body, R"({"error":{"code":100,"message":"redis went away"}})");
}

TEST_F(ApiAsyncTest, PresenceAndStatsAnswerLater) {
  callApi("presence", R"({"channel":"news"})");
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body, R"({"result":{"presence":{}}})");
  last.reset();
  callApi("presence_stats", R"({"channel":"news"})");
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body, R"({"result":{"num_clients":0,"num_users":0}})");
}

TEST_F(ApiAsyncTest, BatchRunsCommandsInOrderAndAnswersOnceAllAreDone) {
  api::call(node, "batch",
            R"({"commands":[{"publish":{"channel":"a","data":1}},{"history":{"channel":"a","limit":-1}},)"
            R"({"info":{}},{"nope":{}},{"publish":{"channel":"a","data":2}}]})",
            [this](api::ApiReply r) { last = std::move(r); });
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  const std::string& b = last->body;
  size_t pub1 = b.find("{\"publish\":{\"offset\":1"), hist = b.find("{\"history\":{\"publications\":[{"),
         info = b.find("{\"info\":"), nope = b.find("unknown API method 'nope'"),
         pub2 = b.find("{\"publish\":{\"offset\":2");
  ASSERT_NE(pub1, std::string::npos) << b;
  ASSERT_NE(hist, std::string::npos) << b;  // ran after the first publish was stored
  ASSERT_NE(info, std::string::npos) << b;
  ASSERT_NE(nope, std::string::npos) << b;
  ASSERT_NE(pub2, std::string::npos) << b;
  EXPECT_TRUE(pub1 < hist && hist < info && info < nope && nope < pub2) << b;
}

// parallel: every command reaches the broker before any answer (one Redis
// round trip for the lot); the replies keep the command order. Without it,
// each waits for the one before.
TEST_F(ApiAsyncTest, ParallelBatchSendsEveryCommandAtOnceAndAnswersInOrder) {
  const std::string commands =
      R"("commands":[{"publish":{"channel":"a","data":1}},{"nope":{}},{"publish":{"channel":"b","data":2}},)"
      R"({"history":{"channel":"a","limit":-1}}])";
  callApi("batch", "{" + commands + "}");
  EXPECT_EQ(broker->deferredCount(), 1u) << "sequential: one command at a time";
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  const std::string sequential = last->body;
  last.reset();

  callApi("batch", "{" + commands + ",\"parallel\":true}");
  EXPECT_EQ(broker->deferredCount(), 3u) << "parallel: both publishes and the history at once";
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  const std::string& b = last->body;
  size_t pubA = b.find("{\"publish\":{\"offset\":2"), nope = b.find("unknown API method 'nope'"),
         pubB = b.find("{\"publish\":{\"offset\":2", pubA + 1), hist = b.find("{\"history\":{\"publications\":[{");
  ASSERT_NE(pubA, std::string::npos) << b;
  ASSERT_NE(nope, std::string::npos) << b;
  ASSERT_NE(pubB, std::string::npos) << b;
  ASSERT_NE(hist, std::string::npos) << b;
  EXPECT_TRUE(pubA < nope && nope < pubB && pubB < hist) << b;
  EXPECT_NE(sequential.find("{\"publish\":{\"offset\":1"), std::string::npos) << sequential;
}

TEST_F(ApiAsyncTest, BroadcastAnswersEveryChannelInOrder) {
  broker->failNext("first failed");
  callApi("broadcast", R"({"channels":["a","b"],"data":1})");
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_NE(last->body.find(R"({"responses":[{"error":{"code":100,"message":"first failed"}},{"result":{"offset":1)"),
            std::string::npos)
      << last->body;
}

TEST_F(ApiAsyncTest, LegacyCommandsAnswerInOrder) {
  api::callLegacy(node, R"({"id":1,"method":"publish","params":{"channel":"a","data":1}}
{"id":2,"method":"history","params":{"channel":"a","limit":-1}})",
                  [this](api::ApiReply r) { last = std::move(r); });
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  size_t nl = last->body.find('\n');
  ASSERT_NE(nl, std::string::npos) << last->body;
  EXPECT_EQ(last->body.rfind("{\"id\":1,\"result\":{\"offset\":1", 0), 0u) << last->body;
  EXPECT_NE(last->body.find("{\"id\":2,\"result\":{\"publications\":[{", nl), std::string::npos) << last->body;
}

TEST_F(ApiAsyncTest, SynchronousFormWorksWithABrokerThatAnswersAtOnce) {
  broker->defer = false;
  api::ApiReply r = api::call(node, "publish", R"({"channel":"a","data":1})");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"offset\":1"), std::string::npos) << r.body;
}

struct SseCapture final : transport::StreamSink {
  void write(const net::SharedBuffer::Ref& buf, size_t offset, size_t len) override {
    text.append(buf->view().substr(offset, len));
  }
  void writeCopy(std::string_view bytes) override { text.append(bytes); }
  bool open() const override { return !ended; }
  void end() override { ended = true; }
  bool ended = false;
  std::string text;
};

TEST_F(ApiAsyncTest, PlainStreamReadsItsPositionAfterSubscribeReadyAndCatchesUpBeforeLiveEvents) {
  broker->defer = false;
  protocol::StreamPosition first = testsupport::publishNow(node, "news", "{\"n\":1}");
  testsupport::publishNow(node, "news", "{\"n\":2}");
  broker->defer = true;
  transport::PlainRequest req;
  req.channels = {"news"};
  req.since = std::vector<protocol::StreamPosition>{first};
  auto s = std::make_unique<transport::PlainSseStream>(node, 0, transport::PlainOptions{}, 0);
  std::optional<std::optional<transport::PlainError>> outcome;
  s->prepare(req, [&](std::optional<transport::PlainError> e) { outcome = std::move(e); });
  EXPECT_FALSE(outcome.has_value());
  EXPECT_EQ(broker->subscribeReadyCalls, 1u);
  // A live publication while the read is out: written after the catch-up.
  broker->defer = false;
  testsupport::publishNow(node, "news", "{\"n\":3}");
  testsupport::runPosted(loop);
  broker->defer = true;
  broker->runDeferred();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->has_value());
  SseCapture sink;
  s->onStreamOpen(sink);
  size_t n2 = sink.text.find("{\"n\":2}"), n3 = sink.text.find("{\"n\":3}");
  ASSERT_NE(n2, std::string::npos) << sink.text;
  ASSERT_NE(n3, std::string::npos) << sink.text;
  EXPECT_LT(n2, n3);
  EXPECT_EQ(sink.text.find("{\"n\":1}"), std::string::npos) << sink.text;
  EXPECT_EQ(sink.text.find("{\"n\":3}", n3 + 1), std::string::npos) << sink.text;  // once
}

TEST_F(ApiAsyncTest, PlainStreamGoneBeforeTheAnswerIsLeftAlone) {
  transport::PlainRequest req;
  req.channels = {"news"};
  bool called = false;
  auto s = std::make_unique<transport::PlainSseStream>(node, 0, transport::PlainOptions{}, 0);
  s->prepare(req, [&](std::optional<transport::PlainError>) { called = true; });
  EXPECT_GT(broker->deferredCount(), 0u);
  s.reset();  // the client closed while the broker was busy
  broker->runDeferred();
  EXPECT_FALSE(called);
  EXPECT_EQ(node.hub().channelCount(), 0u);
}

TEST_F(ApiAsyncTest, PlainStreamBrokerFailureIs503AndLeavesNothingRegistered) {
  transport::PlainRequest req;
  req.channels = {"news"};
  auto s = std::make_unique<transport::PlainSseStream>(node, 0, transport::PlainOptions{}, 0);
  std::optional<std::optional<transport::PlainError>> outcome;
  s->prepare(req, [&](std::optional<transport::PlainError> e) { outcome = std::move(e); });
  broker->failNext("timeout");
  broker->runDeferred();  // subscribeReady answers, then the history read fails
  ASSERT_TRUE(outcome.has_value());
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ((*outcome)->status, 503);
  EXPECT_EQ(node.hub().channelCount(), 0u);
}

}  // namespace
}  // namespace sb
