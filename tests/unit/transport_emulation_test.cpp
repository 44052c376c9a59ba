// The client protocol over HTTP streams (transport::SessionStream): the
// framing of the emulation transports (sse, http_stream) and of the
// unidirectional ones (uni_sse, uni_http_stream, uni_websocket), the connect
// reply's session id, disconnect pushes, the /emulation body and its
// cross-worker hand-off (EmulationRegistry), the fan-out claim (one framing
// per publication per worker, nothing allocated per delivery), and the CORS
// helpers (http/Cors.h).
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>

#include "../support/NodeTestHelpers.h"
#include "auth/TokenVerifier.h"
#include "broker/MemoryBroker.h"
#include "core/Node.h"
#include "http/Cors.h"
#include "net/EventLoop.h"
#include "protocol/Codec.h"
#include "transport/EmulationRegistry.h"
#include "transport/SessionFraming.h"
#include "transport/SessionStream.h"
#include "../support/AllocationCounter.h"

namespace sb::transport {
namespace {

using testsupport::runPosted;

// ---------------------------------------------------------------- framing

TEST(TransportSessionFraming, SseMessageIsOneEventWithADataLinePerJsonLine) {
  std::string out;
  appendFramed(out, StreamFraming::Sse, false, "{\"id\":1,\"connect\":{}}\n{\"push\":{\"channel\":\"a\",\"pub\":{}}}");
  EXPECT_EQ(out, "data: {\"id\":1,\"connect\":{}}\ndata: {\"push\":{\"channel\":\"a\",\"pub\":{}}}\n\n");
}

TEST(TransportSessionFraming, NdjsonIsOneLinePerJsonLine) {
  std::string out;
  appendFramed(out, StreamFraming::Ndjson, false, "{\"id\":1}\n\n{}");
  EXPECT_EQ(out, "{\"id\":1}\n{}\n");
  out.clear();
  appendFramed(out, StreamFraming::Sse, false, "");
  EXPECT_EQ(out, "") << "nothing to send is no event at all";
}

TEST(TransportSessionFraming, UnidirectionalStripsThePushEnvelopeOnly) {
  std::string out;
  appendFramed(out, StreamFraming::Ndjson, true, "{\"push\":{\"connect\":{\"client\":\"c\"}}}\n{}");
  EXPECT_EQ(out, "{\"connect\":{\"client\":\"c\"}}\n{}\n");
  out.clear();
  appendFramed(out, StreamFraming::Sse, true, "{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":1}}}");
  EXPECT_EQ(out, "data: {\"channel\":\"a\",\"pub\":{\"data\":1}}\n\n");
}

core::ChannelEvent eventWithPush(std::string push) {
  core::ChannelEvent ev;
  ev.channel = "a";
  ev.push = std::move(push);
  return ev;
}

TEST(TransportSessionFraming, OneEventBufferServesSseAndNdjson) {
  auto ev = eventWithPush("{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":{\"x\":1}}}}");
  auto buf = encodeEmulationEvent(ev);
  EXPECT_EQ(buf->view(), "data: " + ev.push + "\n\n");
  ByteRange sse = framedSlice(buf->size(), StreamFraming::Sse);
  ByteRange nd = framedSlice(buf->size(), StreamFraming::Ndjson);
  EXPECT_EQ(buf->view().substr(sse.offset, sse.length), "data: " + ev.push + "\n\n");
  EXPECT_EQ(buf->view().substr(nd.offset, nd.length), ev.push + "\n");

  auto uni = encodeUniEvent(ev);
  EXPECT_EQ(uni->view(), "data: {\"channel\":\"a\",\"pub\":{\"data\":{\"x\":1}}}\n\n");
  nd = framedSlice(uni->size(), StreamFraming::Ndjson);
  EXPECT_EQ(uni->view().substr(nd.offset, nd.length), "{\"channel\":\"a\",\"pub\":{\"data\":{\"x\":1}}}\n");
}

TEST(TransportSessionFraming, UniWebSocketFrameIsTheUnwrappedPushAsOneTextFrame) {
  auto ev = eventWithPush("{\"push\":{\"channel\":\"a\",\"pub\":{}}}");
  auto frame = encodeUniWebSocketFrame(ev);
  std::string_view inner = "{\"channel\":\"a\",\"pub\":{}}";
  ASSERT_EQ(frame->size(), 2 + inner.size());
  EXPECT_EQ(frame->data()[0], 0x81);  // FIN + text
  EXPECT_EQ(frame->data()[1], inner.size());  // unmasked, short length
  EXPECT_EQ(frame->view().substr(2), inner);
}

// ---------------------------------------------------------------- request bodies

TEST(TransportSessionFraming, EmulationRequestAsTheSdkSendsIt) {
  EmulationRequest req;
  // centrifuge-js: JSON.stringify({session, node, data}) with data the encoded commands.
  std::string body = R"({"session":"s-1","node":"n-1","data":"{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{}"})";
  ASSERT_EQ(parseEmulationRequest(body, req), "");
  EXPECT_EQ(req.session, "s-1");
  EXPECT_EQ(req.node, "n-1");
  EXPECT_EQ(req.data, "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{}");
  ASSERT_EQ(parseEmulationRequest(R"( {"data":"{}","session":"s"} )", req), "");
  EXPECT_EQ(req.node, "") << "node is optional";
}

TEST(TransportSessionFraming, BadEmulationRequestsSayWhatIsWrong) {
  EmulationRequest req;
  EXPECT_NE(parseEmulationRequest("", req).find("not valid JSON"), std::string::npos);
  EXPECT_NE(parseEmulationRequest("{\"session\":", req).find("not valid JSON"), std::string::npos);
  EXPECT_NE(parseEmulationRequest("[1]", req).find("JSON object"), std::string::npos);
  EXPECT_NE(parseEmulationRequest(R"({"data":"{}"})", req).find("\"session\" is missing"), std::string::npos);
  EXPECT_NE(parseEmulationRequest(R"({"session":"s"})", req).find("\"data\" is missing"), std::string::npos);
  EXPECT_NE(parseEmulationRequest(R"({"session":"s","data":{"id":1}})", req).find("JSON string"),
            std::string::npos);
  EXPECT_NE(parseEmulationRequest(R"({"session":7,"data":"{}"})", req).find("\"session\" must be a string"),
            std::string::npos);
}

TEST(TransportSessionFraming, ConnectRequestOfTheUnidirectionalTransports) {
  protocol::ConnectRequest req;
  std::string error;
  ASSERT_TRUE(protocol::parseConnectRequest(
      R"({"token":"t","name":"n","subs":{"news":{"recover":true,"epoch":"e","offset":4}}})", req, error))
      << error;
  EXPECT_EQ(req.token, "t");
  ASSERT_EQ(req.subs.size(), 1u);
  EXPECT_EQ(req.subs[0].first, "news");
  EXPECT_TRUE(req.subs[0].second.recover);
  EXPECT_EQ(req.subs[0].second.epoch, "e");
  EXPECT_EQ(req.subs[0].second.offset, 4u);
  EXPECT_TRUE(protocol::parseConnectRequest(" null ", req, error)) << "null is an empty request, as in Centrifugo";
  EXPECT_TRUE(req.token.empty());
  EXPECT_FALSE(protocol::parseConnectRequest("[]", req, error));
  EXPECT_NE(error.find("expected a JSON object"), std::string::npos) << error;
  EXPECT_FALSE(protocol::parseConnectRequest("{\"token\":", req, error));
  EXPECT_NE(error.find("connect request"), std::string::npos) << error;
  EXPECT_FALSE(protocol::parseConnectRequest(R"({"token":5})", req, error));
  EXPECT_NE(error.find("token"), std::string::npos) << error;
}

TEST(TransportSessionFraming, EmulationSessionsAreRandomUuids) {
  std::set<std::string> seen;
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 100; ++i) {
    std::string s;
    ASSERT_TRUE(newEmulationSession(s));
    EXPECT_TRUE(std::regex_match(s, uuid)) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
}

// ---------------------------------------------------------------- CORS

http::Request requestWith(std::vector<std::pair<std::string, std::string>> headers, std::string method = "GET") {
  http::Request req;
  req.method = std::move(method);
  req.headers = std::move(headers);
  return req;
}

TEST(HttpCors, HeadersOnlyForRequestsWithAnOrigin) {
  EXPECT_TRUE(http::corsHeaders(requestWith({{"Host", "a"}})).empty());
  auto h = http::corsHeaders(requestWith({{"Origin", "https://app.example.com"}}));
  EXPECT_EQ(http::headerLines(h),
            "Access-Control-Allow-Origin: https://app.example.com\r\nVary: Origin\r\n"
            "Access-Control-Allow-Credentials: true\r\n");
}

TEST(HttpCors, PreflightNamesMethodsRequestedHeadersAndMaxAge) {
  auto req = requestWith({{"Origin", "https://a.example"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "content-type, x-bad header,authorization"}},
                         "OPTIONS");
  http::Response res = http::preflightResponse(req, "POST, OPTIONS");
  EXPECT_EQ(res.status, 204);
  std::string wire = res.serialize(true);
  EXPECT_NE(wire.find("Access-Control-Allow-Origin: https://a.example\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("Access-Control-Allow-Methods: POST, OPTIONS\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("Access-Control-Allow-Headers: content-type, authorization\r\n"), std::string::npos)
      << "a header name that is not a token is left out: " << wire;
  EXPECT_NE(wire.find("Access-Control-Max-Age: 300\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("Access-Control-Allow-Credentials: true\r\n"), std::string::npos) << wire;

  http::Response plain = http::preflightResponse(requestWith({}, "OPTIONS"), "GET, OPTIONS");
  std::string plainWire = plain.serialize(true);
  EXPECT_NE(plainWire.find("Allow: GET, OPTIONS\r\n"), std::string::npos);
  EXPECT_EQ(plainWire.find("Access-Control-"), std::string::npos) << "no CORS without an Origin: " << plainWire;
}

// ---------------------------------------------------------------- sessions over a stream

struct CaptureSink final : StreamSink {
  void write(const net::SharedBuffer::Ref& buf, size_t offset, size_t len) override {
    if (keepText) text.append(buf->view().substr(offset, len));
    lastBuffer = buf.get();
    lastOffset = offset;
  }
  void writeCopy(std::string_view bytes) override {
    if (keepText) text.append(bytes);
  }
  bool open() const override { return !ended; }
  void end() override {
    ended = true;
    if (onEnd) onEnd();
  }
  void armTimer(uint64_t delayMs) override { armedMs = delayMs; }
  void cancelTimer() override { armedMs = 0; }

  bool keepText = true;
  bool ended = false;
  uint64_t armedMs = 0;  // the lent timer: 0 = not armed
  const net::SharedBuffer* lastBuffer = nullptr;
  size_t lastOffset = 0;
  std::string text;
  std::function<void()> onEnd;
};

config::Config testConfig() {
  config::Config cfg;
  cfg.client.allow_anonymous = true;
  cfg.client.token_hmac_secret = "secret";
  auto& root = cfg.channel.options;
  root.allow_subscribe_for_client = true;
  root.allow_subscribe_for_anonymous = true;
  root.history_size = 100;
  root.history_ttl = std::chrono::minutes(5);
  root.force_recovery = true;  // server-side subscriptions recover only with it (as Centrifugo)
  config::NamespaceConfig live;  // no history: plain subscribe replies
  live.name = "live";
  live.options.allow_subscribe_for_client = true;
  live.options.allow_subscribe_for_anonymous = true;
  cfg.channel.namespaces.push_back(live);
  return cfg;
}

class SessionStreamTest : public ::testing::Test {
 protected:
  SessionStreamTest() : node(testConfig(), std::make_unique<broker::MemoryBroker>(), 1) {
    node.hub().attachLoop(0, &loop);
  }

  // A stream as the route opens it: sink first (as HttpStream::start), then
  // the first input. The sink ends the stream as HttpStream::end does.
  std::unique_ptr<SessionStream> open(const SessionStreamKind& kind, CaptureSink& sink, std::string session = {}) {
    auto s = std::make_unique<SessionStream>(node, loop, 0, kind, session.empty() ? nullptr : registry,
                                             std::move(session));
    SessionStream* raw = s.get();
    sink.onEnd = [raw] { raw->onStreamClosed(); };
    s->onStreamOpen(sink);
    return s;
  }

  protocol::StreamPosition publish(std::string_view channel, std::string data) {
    return testsupport::publishNow(node, channel, std::move(data));
  }

  static int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  net::EventLoop loop;
  core::Node node;
  std::shared_ptr<EmulationRegistry> registry = std::make_shared<EmulationRegistry>();
};

TEST_F(SessionStreamTest, EmulationConnectReplyCarriesSessionAndNode) {
  CaptureSink sink;
  auto s = open(kSseEmulation, sink, "9a1f0c3e-0000-4000-8000-000000000001");
  s->receive("{\"id\":1,\"connect\":{}}");
  ASSERT_TRUE(sink.text.starts_with("data: {\"id\":1,\"connect\":{\"client\":\"")) << sink.text;
  EXPECT_TRUE(sink.text.ends_with("}}\n\n")) << sink.text;
  EXPECT_NE(sink.text.find("\"pong\":true"), std::string::npos) << sink.text;
  EXPECT_NE(sink.text.find("\"session\":\"9a1f0c3e-0000-4000-8000-000000000001\""), std::string::npos) << sink.text;
  EXPECT_NE(sink.text.find("\"node\":\"" + node.id() + "\""), std::string::npos) << sink.text;
  EXPECT_EQ(registry->size(), 1u);
  EXPECT_EQ(std::string(s->name()), "sse");
}

// The session's deadlines run on the connection's timer, lent by the stream.
TEST_F(SessionStreamTest, SessionDeadlinesUseTheStreamsTimer) {
  CaptureSink sink;
  auto s = open(kHttpStreamEmulation, sink, "s-timer");
  const uint64_t connectTimeout = uint64_t(node.config().client.connect_timeout.count());
  EXPECT_GT(sink.armedMs, connectTimeout - 1000) << "the connect timeout is armed at once";
  EXPECT_LE(sink.armedMs, connectTimeout);
  s->receive("{\"id\":1,\"connect\":{}}");
  // The first ping in the second half of client.ping_interval.
  const uint64_t ping = uint64_t(node.config().client.ping_interval.count());
  EXPECT_GE(sink.armedMs + 50, ping / 2);
  EXPECT_LE(sink.armedMs, ping);
  // A timer firing before any deadline changes nothing and re-arms.
  sink.armedMs = 0;
  s->onHeartbeat(sink);
  EXPECT_GT(sink.armedMs, 0u);
  EXPECT_FALSE(sink.ended);
  // Once the stream has ended the timer is the connection's linger: left alone.
  s->receive("garbage");
  ASSERT_TRUE(sink.ended);
  sink.armedMs = 12345;
  s.reset();
  EXPECT_EQ(sink.armedMs, 12345u);
}

TEST_F(SessionStreamTest, HttpStreamRepliesAreNewlineDelimited) {
  CaptureSink sink;
  auto s = open(kHttpStreamEmulation, sink, "s-http");
  s->receive("{\"id\":1,\"connect\":{}}");
  sink.text.clear();
  s->receive("{\"id\":2,\"subscribe\":{\"channel\":\"live:x\"}}\n{\"id\":3,\"ping\":{}}");
  EXPECT_EQ(sink.text, "{\"id\":2,\"subscribe\":{}}\n{\"id\":3,\"ping\":{}}\n");
}

TEST_F(SessionStreamTest, DisconnectIsAPushThenTheEndOfTheStream) {
  CaptureSink sink;
  auto s = open(kSseEmulation, sink, "s-bad");
  s->receive("{\"id\":1,\"connect\":{}}");
  sink.text.clear();
  s->receive("this is not a command");
  EXPECT_EQ(sink.text, "data: {\"push\":{\"disconnect\":{\"code\":3501,\"reason\":\"bad request\"}}}\n\n");
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(registry->size(), 0u) << "an ended session can no longer be addressed";
}

TEST_F(SessionStreamTest, ServerShutdownSendsDisconnect3001) {
  CaptureSink sink;
  auto s = open(kHttpStreamEmulation, sink, "s-drain");
  s->receive("{\"id\":1,\"connect\":{}}");
  sink.text.clear();
  s->onServerShutdown(sink);
  EXPECT_EQ(sink.text, "{\"push\":{\"disconnect\":{\"code\":3001,\"reason\":\"shutdown\"}}}\n");
  EXPECT_TRUE(sink.ended);
}

TEST_F(SessionStreamTest, UnidirectionalConnectIsAPushWithoutEnvelopeOrPong) {
  std::string token = auth::makeHs256Token("secret", "alice", now(), 3600, {}, {"news"});
  publish("news", "{\"n\":1}");
  CaptureSink sink;
  auto s = open(kUniHttpStream, sink);
  protocol::ConnectRequest req;
  req.token = token;
  s->connect(std::move(req));
  ASSERT_TRUE(sink.text.starts_with("{\"connect\":{\"client\":\"")) << sink.text;
  EXPECT_EQ(sink.text.find("\"pong\""), std::string::npos) << "a unidirectional client cannot answer pings";
  EXPECT_EQ(sink.text.find("\"id\""), std::string::npos) << sink.text;
  EXPECT_NE(sink.text.find("\"subs\":{\"news\":{"), std::string::npos) << "the token's channels: " << sink.text;
  EXPECT_TRUE(sink.text.ends_with("}}\n"));
  EXPECT_EQ(node.hub().localSubscribers(0, "news"), 1u);
  // Publications of the token's channels, without the envelope.
  sink.text.clear();
  publish("news", "{\"n\":2}");
  runPosted(loop);
  EXPECT_EQ(sink.text, "{\"channel\":\"news\",\"pub\":{\"data\":{\"n\":2},\"offset\":2}}\n");
}

TEST_F(SessionStreamTest, UnidirectionalRecoveryThroughSubs) {
  std::string token = auth::makeHs256Token("secret", "alice", now(), 3600, {}, {"news"});
  protocol::StreamPosition first = publish("news", "{\"n\":1}");
  publish("news", "{\"n\":2}");
  publish("news", "{\"n\":3}");
  CaptureSink sink;
  auto s = open(kUniSse, sink);
  std::string error;
  protocol::ConnectRequest req;
  ASSERT_TRUE(protocol::parseConnectRequest("{\"token\":\"" + token + "\",\"subs\":{\"news\":{\"recover\":true,"
                                            "\"epoch\":\"" + first.epoch + "\",\"offset\":1}}}",
                                            req, error))
      << error;
  s->connect(std::move(req));
  ASSERT_TRUE(sink.text.starts_with("data: {\"connect\":{")) << sink.text;
  EXPECT_NE(sink.text.find("\"recovered\":true"), std::string::npos) << sink.text;
  EXPECT_NE(sink.text.find("{\"data\":{\"n\":2},\"offset\":2},{\"data\":{\"n\":3},\"offset\":3}"), std::string::npos)
      << sink.text;
}

TEST_F(SessionStreamTest, UnidirectionalExpiredTokenIsDisconnect3005) {
  std::string token = auth::makeHs256Token("secret", "alice", now() - 7200, 60);
  CaptureSink sink;
  auto s = open(kUniSse, sink);
  protocol::ConnectRequest req;
  req.token = token;
  s->connect(std::move(req));
  EXPECT_EQ(sink.text, "data: {\"disconnect\":{\"code\":3005,\"reason\":\"connection expired\"}}\n\n");
  EXPECT_TRUE(sink.ended);
}

// The fan-out claim: each kind's framing is built once per publication per
// worker and every stream queues a slice of that one buffer.
TEST_F(SessionStreamTest, OneSharedFramingPerKindAndNoAllocationPerDelivery) {
  auto countFor = [&](int perKind, uint64_t& encodings) {
    std::vector<std::unique_ptr<CaptureSink>> sinks;
    std::vector<std::unique_ptr<SessionStream>> streams;
    const SessionStreamKind* kinds[] = {&kSseEmulation, &kHttpStreamEmulation, &kUniSse, &kUniHttpStream};
    std::string token = auth::makeHs256Token("secret", "u", now(), 3600, {}, {"bench"});
    for (int i = 0; i < perKind; ++i) {
      for (const SessionStreamKind* kind : kinds) {
        sinks.push_back(std::make_unique<CaptureSink>());
        streams.push_back(open(*kind, *sinks.back(), kind->unidirectional ? "" : "s" + std::to_string(sinks.size())));
        if (kind->unidirectional) {
          protocol::ConnectRequest req;
          req.token = token;
          streams.back()->connect(std::move(req));
        } else {
          streams.back()->receive("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"bench\"}}");
        }
        sinks.back()->keepText = false;
      }
    }
    publish("bench", "{\"warm\":true}");  // first use sizes the worker's buffers
    runPosted(loop);
    uint64_t encodedBefore = node.hub().stats().eventsEncoded.load();
    test::AllocationCounter::start();
    publish("bench", "{\"payload\":\"0123456789012345678901234567890123456789\"}");
    runPosted(loop);
    size_t n = test::AllocationCounter::stop();
    encodings = node.hub().stats().eventsEncoded.load() - encodedBefore;
    // Emulation sse and http_stream share one buffer, the uni ones another.
    EXPECT_EQ(sinks[0]->lastBuffer, sinks[1]->lastBuffer);
    EXPECT_EQ(sinks[0]->lastOffset, 0u);
    EXPECT_EQ(sinks[1]->lastOffset, kSseDataPrefix);
    EXPECT_EQ(sinks[2]->lastBuffer, sinks[3]->lastBuffer);
    EXPECT_NE(sinks[0]->lastBuffer, sinks[2]->lastBuffer);
    for (size_t i = 4; i < sinks.size(); ++i) EXPECT_EQ(sinks[i]->lastBuffer, sinks[i % 4]->lastBuffer);
    for (auto& s : streams) s->onStreamClosed();
    return n;
  };
  uint64_t encSmall, encLarge;
  size_t small = countFor(5, encSmall);
  size_t large = countFor(2500, encLarge);
  EXPECT_EQ(encSmall, 2u);
  EXPECT_EQ(encLarge, 2u) << "one framing per publication per worker and kind family";
  EXPECT_LE(large, small) << "allocations grew with the number of subscribers";
  EXPECT_LT(large, 16u) << "10,000 deliveries took " << large << " allocations";
}

// ---------------------------------------------------------------- /emulation hand-off

TEST_F(SessionStreamTest, RegistryDeliversOnTheSessionsOwnLoop) {
  CaptureSink sink;
  auto s = open(kHttpStreamEmulation, sink, "s-reg");
  s->receive("{\"id\":1,\"connect\":{}}");
  sink.text.clear();
  using D = EmulationRegistry::Delivery;
  // From the session's own loop: handled at once.
  EXPECT_EQ(registry->deliver("s-reg", "{\"id\":2,\"ping\":{}}", loop), D::Accepted);
  EXPECT_EQ(sink.text, "{\"id\":2,\"ping\":{}}\n");
  // From another worker's loop: posted, handled when the session's loop runs.
  net::EventLoop other;
  EXPECT_EQ(registry->deliver("s-reg", "{\"id\":3,\"ping\":{}}", other), D::Accepted);
  EXPECT_EQ(sink.text, "{\"id\":2,\"ping\":{}}\n");
  runPosted(loop);
  EXPECT_EQ(sink.text, "{\"id\":2,\"ping\":{}}\n{\"id\":3,\"ping\":{}}\n");
  EXPECT_EQ(registry->deliver("nobody", "{}", loop), D::UnknownSession);
}

TEST_F(SessionStreamTest, RegistryBoundsCommandsInFlight) {
  CaptureSink sink;
  auto s = open(kHttpStreamEmulation, sink, "s-busy");
  s->receive("{\"id\":1,\"connect\":{}}");
  net::EventLoop other;
  using D = EmulationRegistry::Delivery;
  for (uint32_t i = 0; i < EmulationRegistry::kMaxInFlight; ++i)
    ASSERT_EQ(registry->deliver("s-busy", "{\"id\":" + std::to_string(i + 2) + ",\"ping\":{}}", other), D::Accepted);
  EXPECT_EQ(registry->deliver("s-busy", "{\"id\":999,\"ping\":{}}", other), D::Busy);
  runPosted(loop);  // handled: room again
  EXPECT_EQ(registry->deliver("s-busy", "{\"id\":1000,\"ping\":{}}", other), D::Accepted);
  // A session that ends with commands still posted drops them.
  s->onStreamClosed();
  EXPECT_EQ(registry->deliver("s-busy", "{}", other), D::UnknownSession);
  runPosted(loop);
}

}  // namespace
}  // namespace sb::transport
