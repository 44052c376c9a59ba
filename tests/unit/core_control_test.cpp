// The control channel between nodes: its message codec, the registry of live
// nodes (expiry on a test clock) and how ControlChannel treats what the
// broker delivers (own messages, addressed ones, heartbeats, malformed input).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../support/DeferredBroker.h"
#include "../support/DeferredNodeTest.h"
#include "api/ServerApi.h"
#include "broker/MemoryBroker.h"
#include "core/ControlChannel.h"
#include "core/Node.h"
#include "http/Router.h"
#include "net/EventLoop.h"

using namespace sb;
using core::ControlMessage;
using core::NodeInfo;

namespace {

NodeInfo infoOf(std::string uid, std::string name, uint64_t clients = 0) {
  NodeInfo n;
  n.uid = std::move(uid);
  n.name = std::move(name);
  n.version = "1.2.3";
  n.numClients = clients;
  n.numChannels = 4;
  n.numSubs = 5;
  n.uptime = 6;
  return n;
}

}  // namespace

TEST(ControlCodec, RoundTrips) {
  ControlMessage m{"node-a", "node-b", "api", "{\"method\":\"disconnect\",\"params\":{\"user\":\"u\\\"1\"}}"};
  std::string text = core::encodeControl(m);
  std::string problem;
  auto back = core::decodeControl(text, problem);
  ASSERT_TRUE(back) << problem;
  EXPECT_EQ(back->from, "node-a");
  EXPECT_EQ(back->to, "node-b");
  EXPECT_EQ(back->kind, "api");
  EXPECT_EQ(back->body, m.body);

  NodeInfo n = infoOf("u-1", "host/1", 42);
  auto info = core::decodeNodeInfo(core::encodeNodeInfo(n), problem);
  ASSERT_TRUE(info) << problem;
  EXPECT_EQ(info->uid, "u-1");
  EXPECT_EQ(info->name, "host/1");
  EXPECT_EQ(info->version, "1.2.3");
  EXPECT_EQ(info->numClients, 42u);
  EXPECT_EQ(info->numChannels, 4u);
  EXPECT_EQ(info->numSubs, 5u);
  EXPECT_EQ(info->uptime, 6u);
}

TEST(ControlCodec, RefusesMalformedMessages) {
  const char* bad[] = {
      "",
      "not json",
      "[1,2]",
      "{\"v\":2,\"from\":\"a\",\"kind\":\"info\",\"body\":{}}",  // unknown version
      "{\"from\":\"a\",\"kind\":\"info\",\"body\":{}}",          // no version
      "{\"v\":1,\"kind\":\"info\",\"body\":{}}",                 // no sender
      "{\"v\":1,\"from\":\"\",\"kind\":\"info\",\"body\":{}}",   // empty sender
      "{\"v\":1,\"from\":\"a\",\"kind\":7,\"body\":{}}",         // kind not a string
      "{\"v\":1,\"from\":\"a\",\"kind\":\"info\"}",              // no body
      "{\"v\":1,\"from\":\"a\",\"kind\":\"info\",\"body\":{}",   // truncated
  };
  for (const char* text : bad) {
    std::string problem;
    EXPECT_FALSE(core::decodeControl(text, problem)) << text;
    EXPECT_FALSE(problem.empty()) << text;
  }
  std::string huge = "{\"v\":1,\"from\":\"a\",\"kind\":\"x\",\"body\":\"" + std::string(core::kMaxControlBytes, 'x') +
                     "\"}";
  std::string problem;
  EXPECT_FALSE(core::decodeControl(huge, problem));
  EXPECT_NE(problem.find("larger than"), std::string::npos) << problem;

  EXPECT_FALSE(core::decodeNodeInfo("{\"name\":\"x\"}", problem));  // no uid
  EXPECT_FALSE(core::decodeNodeInfo("{\"uid\":\"x\",\"num_clients\":-1}", problem));
  EXPECT_FALSE(core::decodeNodeInfo("{\"uid\":\"x\",\"num_subs\":\"5\"}", problem));
  EXPECT_FALSE(core::decodeNodeInfo("[]", problem));
}

TEST(NodeRegistry, ExpiresNodesNotHeardFrom) {
  core::NodeRegistry reg(std::chrono::milliseconds(1000));
  reg.update(infoOf("b", "beta"), 0);
  reg.update(infoOf("a", "alpha"), 500);
  auto live = reg.live(900);
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].uid, "a");  // sorted by name
  EXPECT_EQ(live[1].uid, "b");
  EXPECT_TRUE(reg.isLive("b", 1000));
  EXPECT_FALSE(reg.isLive("b", 1001));  // 1001 ms since heard: gone
  live = reg.live(1001);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].uid, "a");
  EXPECT_EQ(reg.size(), 1u);
  // A heartbeat refreshes the node and its counts.
  reg.update(infoOf("a", "alpha", 9), 1400);
  live = reg.live(2300);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].numClients, 9u);
  EXPECT_FALSE(reg.isLive("a", 2401));
  EXPECT_FALSE(reg.isLive("never", 0));
}

TEST(NodeRegistry, IsBounded) {
  core::NodeRegistry reg(std::chrono::milliseconds(1000));
  for (size_t i = 0; i < core::NodeRegistry::kMaxNodes + 10; ++i) reg.update(infoOf(std::to_string(i), "n"), 0);
  EXPECT_EQ(reg.size(), core::NodeRegistry::kMaxNodes);
  // Once the old ones expire there is room again.
  reg.update(infoOf("late", "n"), 5000);
  EXPECT_TRUE(reg.isLive("late", 5000));
  EXPECT_EQ(reg.size(), 1u);
}

class ControlChannelTest : public ::testing::Test {
 protected:
  ControlChannelTest() {
    node.control().setHandler("api", [this](const ControlMessage& m) { handled.push_back(m); });
  }
  void deliver(const ControlMessage& m) { node.control().onControl(core::encodeControl(m)); }

  core::Node node{config::Config{}, std::make_unique<broker::MemoryBroker>(), 1};
  std::vector<ControlMessage> handled;
};

TEST_F(ControlChannelTest, HeartbeatsOfOtherNodesListThem) {
  ASSERT_EQ(node.control().nodes().size(), 1u);
  EXPECT_EQ(node.control().nodes()[0].uid, node.id());
  deliver({"other", "", "info", core::encodeNodeInfo(infoOf("other", "zeta", 3))});
  auto nodes = node.control().nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].uid, node.id());  // this node first
  EXPECT_EQ(nodes[1].uid, "other");
  EXPECT_EQ(nodes[1].numClients, 3u);
  EXPECT_TRUE(node.control().isLiveNode("other"));
  EXPECT_TRUE(node.control().isLiveNode(node.id()));
  EXPECT_FALSE(node.control().isLiveNode("nobody"));
}

// A node that starts hears of the others at once: each answers the first
// broadcast heartbeat of a newcomer with its own, addressed to it, and only
// that first one (not later heartbeats, not addressed answers).
TEST(ControlChannelNewcomer, FirstBroadcastHeartbeatIsAnsweredOnce) {
  auto owned = std::make_unique<testsupport::DeferredBroker>();
  owned->defer = false;
  testsupport::DeferredBroker* broker = owned.get();
  core::Node node{config::Config{}, std::move(owned), 1};
  auto heartbeat = [&](std::string from, std::string to) {
    node.control().onControl(core::encodeControl({from, to, "info", core::encodeNodeInfo(infoOf(from, from))}));
  };
  heartbeat("newcomer", "");
  ASSERT_EQ(broker->controlSent.size(), 1u);
  std::string problem;
  auto answer = core::decodeControl(broker->controlSent[0], problem);
  ASSERT_TRUE(answer) << problem;
  EXPECT_EQ(answer->kind, "info");
  EXPECT_EQ(answer->to, "newcomer");
  EXPECT_EQ(answer->from, node.id());
  auto info = core::decodeNodeInfo(answer->body, problem);
  ASSERT_TRUE(info) << problem;
  EXPECT_EQ(info->uid, node.id());
  heartbeat("newcomer", "");  // its next heartbeat: known now
  heartbeat("other", node.id());  // an answer addressed to us
  EXPECT_EQ(broker->controlSent.size(), 1u);
  EXPECT_TRUE(node.control().isLiveNode("other"));
}

TEST_F(ControlChannelTest, IgnoresOwnAddressedElsewhereSpoofedAndMalformed) {
  deliver({node.id(), "", "api", "{}"});              // our own echo
  deliver({"other", "third-node", "api", "{}"});      // for another node
  deliver({"other", "", "info", core::encodeNodeInfo(infoOf("not-other", "x"))});  // uid != sender
  deliver({"other", "", "unknown-kind", "{}"});
  node.control().onControl("{\"v\":1,");
  node.control().onControl(std::string(100, '\xff'));
  EXPECT_TRUE(handled.empty());
  EXPECT_EQ(node.control().nodes().size(), 1u);

  deliver({"other", node.id(), "api", "{\"x\":1}"});  // addressed to us
  deliver({"other", "", "api", "{\"y\":2}"});         // to every node
  ASSERT_EQ(handled.size(), 2u);
  EXPECT_EQ(handled[0].body, "{\"x\":1}");
  EXPECT_EQ(handled[1].body, "{\"y\":2}");
}

TEST_F(ControlChannelTest, SendRefusesOversizedMessagesAndSucceedsOnTheMemoryBroker) {
  bool ok = false;
  const broker::BrokerError* err = reinterpret_cast<const broker::BrokerError*>(1);
  node.control().send("api", "", "{}", [&](bool r, const broker::BrokerError* e) {
    ok = r;
    err = e;
  });
  EXPECT_TRUE(ok);
  EXPECT_EQ(err, nullptr);
  std::string problem;
  node.control().send("api", "", "\"" + std::string(core::kMaxControlBytes, 'x') + "\"",
                      [&](bool r, const broker::BrokerError* e) {
                        ok = r;
                        problem = e ? e->message : "";
                      });
  EXPECT_FALSE(ok);
  EXPECT_NE(problem.find("limit"), std::string::npos) << problem;
}

// The server API's actions by user with a broker that answers later (as
// Redis does): the answer waits for the control message to the other nodes.
class ControlApiTest : public testsupport::DeferredNodeTest {};

TEST_F(ControlApiTest, ActionByUserAnswersOnceTheControlMessageIsTaken) {
  callApi("disconnect", R"({"user":"u1","code":3501,"reason":"bye"})");
  EXPECT_FALSE(last.has_value());
  ASSERT_EQ(broker->controlSent.size(), 1u);
  std::string problem;
  auto m = core::decodeControl(broker->controlSent[0], problem);
  ASSERT_TRUE(m) << problem;
  EXPECT_EQ(m->from, node.id());
  EXPECT_EQ(m->to, "");
  EXPECT_EQ(m->kind, "api");
  EXPECT_EQ(m->body, R"({"method":"disconnect","params":{"user":"u1","code":3501,"reason":"bye"}})");
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 200);
  EXPECT_EQ(last->body, R"({"result":{}})");
}

TEST_F(ControlApiTest, RefusedControlMessageIsError100AndBadParamsSendNothing) {
  broker->failNext("redis went away");
  callApi("unsubscribe", R"({"user":"u1","channel":"news"})");
  EXPECT_FALSE(last.has_value());
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body, R"({"error":{"code":100,"message":"not sent to the other nodes: redis went away"}})");

  last.reset();
  broker->controlSent.clear();
  callApi("subscribe", R"({"user":"u1"})");
  ASSERT_TRUE(last.has_value());  // refused before anything is sent
  EXPECT_EQ(last->status, 400);
  EXPECT_TRUE(broker->controlSent.empty());
}

TEST_F(ControlApiTest, MalformedActionsFromOtherNodesAreDropped) {
  // routes register the "api" handler; what it is given must never throw.
  http::Router router;
  api::registerRoutes(router, node);
  for (std::string body : {"{}", R"({"method":"disconnect"})", R"({"method":"nope","params":{}})",
                           R"({"method":"disconnect","params":{"user":5}})", R"({"method":"refresh","params":[1]})",
                           R"("text")"}) {
    EXPECT_NO_THROW(node.control().onControl(core::encodeControl({"other", "", "api", body}))) << body;
  }
  EXPECT_TRUE(broker->controlSent.empty());  // a forwarded action is not forwarded again
  callApi("refresh", R"({"user":"u1"})");
  broker->runDeferred();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body, R"({"result":{}})");
}
