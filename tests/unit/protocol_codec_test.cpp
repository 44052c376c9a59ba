// The Centrifugo v2 JSON codec: command parsing (every method, batches,
// malformed input), exact wire shapes of replies and pushes (as Centrifugo
// emits them and centrifuge-js reads them), round trips through the JSON
// readers, and the code tables.
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/Codec.h"
#include "protocol/Codes.h"
#include "protocol/Json.h"

using namespace sb::protocol;

namespace {

// Walks `path` through nested objects and returns the raw value, or nullopt.
std::optional<std::string> at(std::string_view object, std::initializer_list<std::string_view> path) {
  std::string_view current = object;
  for (std::string_view key : path) {
    json::ObjectReader r(current);
    json::Member m;
    bool found = false;
    while (r.next(m)) {
      if (m.key == key) {
        current = m.raw;
        found = true;  // keep going: the last duplicate wins, and r must finish cleanly
      }
    }
    if (!r.ok() || !found) return std::nullopt;
  }
  return std::string(current);
}

std::vector<Command> parseOk(std::string_view frame) {
  std::vector<Command> cmds;
  std::string error;
  EXPECT_TRUE(parseCommands(frame, cmds, error)) << frame << " -> " << error;
  return cmds;
}

Command parseOne(std::string_view line) {
  auto cmds = parseOk(line);
  EXPECT_EQ(cmds.size(), 1u) << line;
  return cmds.empty() ? Command{} : cmds.front();
}

std::string parseError(std::string_view frame) {
  std::vector<Command> cmds;
  std::string error;
  EXPECT_FALSE(parseCommands(frame, cmds, error)) << frame;
  EXPECT_FALSE(error.empty()) << frame;
  return error;
}

PublicationPtr makePub(uint64_t offset, std::string data) {
  auto p = std::make_shared<Publication>();
  p->offset = offset;
  p->data = std::move(data);
  return p;
}

// --- methodName ----------------------------------------------------------------

TEST(ProtocolCodecMethodName, WireNames) {
  EXPECT_EQ(methodName(Method::Empty), "");
  EXPECT_EQ(methodName(Method::Connect), "connect");
  EXPECT_EQ(methodName(Method::PresenceStats), "presence_stats");
  EXPECT_EQ(methodName(Method::SubRefresh), "sub_refresh");
  EXPECT_EQ(methodName(Method::Rpc), "rpc");
}

// --- parsing: every method ------------------------------------------------------

TEST(ProtocolCodecParse, ConnectWithAllFields) {
  auto c = parseOne(
      R"({"connect":{"token":"tok","data":{"a":[1, 2]},"name":"js","version":"5.0.0","headers":{"h":"v"},"flag":3,)"
      R"("subs":{"news":{"recover":true,"offset":7,"epoch":"ep"},"chat":{}}},"id":1})");
  EXPECT_EQ(c.id, 1u);
  EXPECT_EQ(c.method, Method::Connect);
  EXPECT_EQ(c.connect.token, "tok");
  EXPECT_EQ(c.connect.data, R"({"a":[1, 2]})");  // raw text, verbatim
  EXPECT_EQ(c.connect.name, "js");
  EXPECT_EQ(c.connect.version, "5.0.0");
  ASSERT_EQ(c.connect.subs.size(), 2u);
  EXPECT_EQ(c.connect.subs[0].first, "news");
  EXPECT_EQ(c.connect.subs[0].second.channel, "news");
  EXPECT_TRUE(c.connect.subs[0].second.recover);
  EXPECT_EQ(c.connect.subs[0].second.offset, 7u);
  EXPECT_EQ(c.connect.subs[0].second.epoch, "ep");
  EXPECT_EQ(c.connect.subs[1].first, "chat");
  EXPECT_FALSE(c.connect.subs[1].second.recover);
}

TEST(ProtocolCodecParse, ConnectEmptyAsTheSdkSendsIt) {
  auto c = parseOne(R"({"connect":{},"id":1})");
  EXPECT_EQ(c.method, Method::Connect);
  EXPECT_TRUE(c.connect.token.empty());
  EXPECT_TRUE(c.connect.data.empty());
  EXPECT_TRUE(c.connect.subs.empty());
}

TEST(ProtocolCodecParse, ConnectSubsDuplicateChannelLastWins) {
  auto c = parseOne(R"({"id":1,"connect":{"subs":{"a":{"offset":1},"b":{},"a":{"offset":2}}}})");
  ASSERT_EQ(c.connect.subs.size(), 2u);
  EXPECT_EQ(c.connect.subs[0].first, "a");
  EXPECT_EQ(c.connect.subs[0].second.offset, 2u);
}

TEST(ProtocolCodecParse, ConnectSubsNullEntrySkippedAndBadEntryRefused) {
  auto c = parseOne(R"({"id":1,"connect":{"subs":{"a":null,"b":{}}}})");
  ASSERT_EQ(c.connect.subs.size(), 1u);
  EXPECT_EQ(c.connect.subs[0].first, "b");
  EXPECT_NE(parseError(R"({"id":1,"connect":{"subs":{"a":1}}})").find("subs"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"connect":{"subs":[]}})").find("subs"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"connect":{"subs":{"a":{"offset":"1"}}}})").find("offset"), std::string::npos);
}

TEST(ProtocolCodecParse, SubscribeWithAllFields) {
  auto c = parseOne(
      R"({"id":2,"subscribe":{"channel":"chat:1","token":"t","recover":true,"epoch":"e","offset":18446744073709551615,)"
      R"("data":"hello","positioned":true,"recoverable":true,"join_leave":true,"flag":1,"delta":"fossil","tf":{"op":"and"}}})");
  EXPECT_EQ(c.id, 2u);
  EXPECT_EQ(c.method, Method::Subscribe);
  EXPECT_EQ(c.subscribe.channel, "chat:1");
  EXPECT_EQ(c.subscribe.token, "t");
  EXPECT_TRUE(c.subscribe.recover);
  EXPECT_EQ(c.subscribe.epoch, "e");
  EXPECT_EQ(c.subscribe.offset, UINT64_MAX);
  EXPECT_EQ(c.subscribe.data, "\"hello\"");
  EXPECT_TRUE(c.subscribe.positioned);
  EXPECT_TRUE(c.subscribe.recoverable);
  EXPECT_TRUE(c.subscribe.joinLeave);
}

TEST(ProtocolCodecParse, ChannelOnlyMethods) {
  auto u = parseOne(R"({"id":3,"unsubscribe":{"channel":"a"}})");
  EXPECT_EQ(u.method, Method::Unsubscribe);
  EXPECT_EQ(u.channel, "a");
  auto p = parseOne(R"({"id":4,"presence":{"channel":"b"}})");
  EXPECT_EQ(p.method, Method::Presence);
  EXPECT_EQ(p.channel, "b");
  auto s = parseOne(R"({"id":5,"presence_stats":{"channel":"c"}})");
  EXPECT_EQ(s.method, Method::PresenceStats);
  EXPECT_EQ(s.channel, "c");
}

TEST(ProtocolCodecParse, Publish) {
  auto c = parseOne(R"({"id":6,"publish":{"channel":"ch","data":{"text":"hi \"there\""}}})");
  EXPECT_EQ(c.method, Method::Publish);
  EXPECT_EQ(c.channel, "ch");
  EXPECT_EQ(c.data, R"({"text":"hi \"there\""})");
}

TEST(ProtocolCodecParse, PublishNeedsData) {
  EXPECT_NE(parseError(R"({"id":6,"publish":{"channel":"ch"}})").find("publish.data"), std::string::npos);
  // A JSON null is data (the SDK's publish(channel, null)).
  EXPECT_EQ(parseOne(R"({"id":6,"publish":{"channel":"ch","data":null}})").data, "null");
}

TEST(ProtocolCodecParse, HistoryWithAllFields) {
  auto c = parseOne(R"({"id":7,"history":{"channel":"h","limit":-1,"since":{"offset":5,"epoch":"xyz"},"reverse":true}})");
  EXPECT_EQ(c.method, Method::History);
  EXPECT_EQ(c.channel, "h");
  EXPECT_EQ(c.limit, -1);
  ASSERT_TRUE(c.since.has_value());
  EXPECT_EQ(*c.since, (StreamPosition{5, "xyz"}));
  EXPECT_TRUE(c.reverse);
}

TEST(ProtocolCodecParse, HistoryWithoutSinceAndSinceWithoutEpoch) {
  auto a = parseOne(R"({"id":7,"history":{"channel":"h"}})");
  EXPECT_FALSE(a.since.has_value());
  EXPECT_EQ(a.limit, 0);
  EXPECT_FALSE(a.reverse);
  auto b = parseOne(R"({"id":7,"history":{"channel":"h","since":{"offset":3}}})");
  ASSERT_TRUE(b.since.has_value());
  EXPECT_EQ(b.since->offset, 3u);
  EXPECT_EQ(b.since->epoch, "");
  auto n = parseOne(R"({"id":7,"history":{"channel":"h","since":null}})");
  EXPECT_FALSE(n.since.has_value());
}

TEST(ProtocolCodecParse, HistoryLimitIsInt32) {
  EXPECT_EQ(parseOne(R"({"id":7,"history":{"channel":"h","limit":2147483647}})").limit, INT32_MAX);
  EXPECT_EQ(parseOne(R"({"id":7,"history":{"channel":"h","limit":-2147483648}})").limit, INT32_MIN);
  EXPECT_NE(parseError(R"({"id":7,"history":{"channel":"h","limit":2147483648}})").find("limit"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":7,"history":{"channel":"h","limit":1.5}})").find("limit"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":7,"history":{"channel":"h","since":5}})").find("since"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":7,"history":{"channel":"h","since":{"offset":-1}}})").find("history.since.offset"),
            std::string::npos);
}

TEST(ProtocolCodecParse, PingSendRpcRefreshSubRefresh) {
  EXPECT_EQ(parseOne(R"({"id":8,"ping":{}})").method, Method::Ping);
  auto s = parseOne(R"({"send":{"data":{"x":1}}})");
  EXPECT_EQ(s.method, Method::Send);
  EXPECT_EQ(s.id, 0u);
  EXPECT_EQ(s.data, R"({"x":1})");
  auto r = parseOne(R"({"id":9,"rpc":{"method":"getUser","data":[1,2]}})");
  EXPECT_EQ(r.method, Method::Rpc);
  EXPECT_EQ(r.rpcMethod, "getUser");
  EXPECT_EQ(r.data, "[1,2]");
  auto f = parseOne(R"({"id":10,"refresh":{"token":"new"}})");
  EXPECT_EQ(f.method, Method::Refresh);
  EXPECT_EQ(f.token, "new");
  auto sr = parseOne(R"({"id":11,"sub_refresh":{"channel":"c","token":"st"}})");
  EXPECT_EQ(sr.method, Method::SubRefresh);
  EXPECT_EQ(sr.channel, "c");
  EXPECT_EQ(sr.token, "st");
}

TEST(ProtocolCodecParse, SendWithIdIsAccepted) {
  auto s = parseOne(R"({"id":4,"send":{"data":1}})");
  EXPECT_EQ(s.method, Method::Send);
  EXPECT_EQ(s.id, 4u);
}

TEST(ProtocolCodecParse, EmptyObjectIsPong) {
  auto c = parseOne("{}");
  EXPECT_EQ(c.method, Method::Empty);
  EXPECT_EQ(c.id, 0u);
  EXPECT_EQ(parseOne(R"({"id":0})").method, Method::Empty);
  EXPECT_EQ(parseOne(R"({"unknown":[1]})").method, Method::Empty);
}

TEST(ProtocolCodecParse, StringsAreUnescaped) {
  auto c = parseOne(R"({"id":1,"subscribe":{"channel":"caf\u00e9 \ud83d\ude00 \"q\""}})");
  EXPECT_EQ(c.subscribe.channel, "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\"");
}

TEST(ProtocolCodecParse, NullFieldsAreAbsent) {
  auto c = parseOne(R"({"id":2,"subscribe":{"channel":"a","token":null,"offset":null,"recover":null}})");
  EXPECT_EQ(c.subscribe.channel, "a");
  EXPECT_EQ(c.subscribe.token, "");
  EXPECT_EQ(c.subscribe.offset, 0u);
  EXPECT_FALSE(c.subscribe.recover);
  EXPECT_EQ(parseOne(R"({"id":null,"send":{}})").id, 0u);
}

TEST(ProtocolCodecParse, NullMethodIsAbsent) {
  // As in centrifuge (Go): a null method is a nil pointer, i.e. no method.
  EXPECT_EQ(parseOne(R"({"connect":null})").method, Method::Empty);
  EXPECT_NE(parseError(R"({"id":1,"connect":null})").find("no method"), std::string::npos);
  auto c = parseOne(R"({"id":1,"connect":null,"subscribe":{"channel":"x"}})");
  EXPECT_EQ(c.method, Method::Subscribe);
  // The last occurrence wins, a null one erases an earlier object.
  EXPECT_NE(parseError(R"({"id":1,"connect":{},"connect":null})").find("no method"), std::string::npos);
}

TEST(ProtocolCodecParse, RepeatedSameMethodLastWins) {
  auto c = parseOne(R"({"id":1,"subscribe":{"channel":"a"},"subscribe":{"channel":"b"}})");
  EXPECT_EQ(c.method, Method::Subscribe);
  EXPECT_EQ(c.subscribe.channel, "b");
  auto d = parseOne(R"({"id":1,"subscribe":{"channel":"a","channel":"b"}})");
  EXPECT_EQ(d.subscribe.channel, "b");
}

TEST(ProtocolCodecParse, UnknownFieldsIgnored) {
  auto c = parseOne(
      R"({"id":1,"future":{"deep":[1,{"x":null}]},"connect":{"name":"js","version":"1","flag":7,"headers":{"a":"b"},)"
      R"("profile":"p","dict":"d","something":[true]},"tail":"x"})");
  EXPECT_EQ(c.method, Method::Connect);
  EXPECT_EQ(c.connect.name, "js");
}

TEST(ProtocolCodecParse, UnknownFieldsAreStillValidated) {
  parseError(R"({"id":1,"connect":{},"junk":[1,]})");
  parseError(R"({"id":1,"connect":{"junk":"\ud800"}})");
  parseError(R"({"id":1,"connect":{"junk":01}})");
}

// --- parsing: batches and framing ---------------------------------------------

TEST(ProtocolCodecParse, BatchSplitOnNewlines) {
  auto cmds = parseOk("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{}");
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].method, Method::Connect);
  EXPECT_EQ(cmds[1].method, Method::Subscribe);
  EXPECT_EQ(cmds[1].id, 2u);
  EXPECT_EQ(cmds[2].method, Method::Empty);
}

TEST(ProtocolCodecParse, BatchToleratesCrlfEmptyLinesAndTrailingNewline) {
  auto cmds = parseOk("\n{\"id\":1,\"connect\":{}}\r\n\r\n  \n{\"id\":2,\"ping\":{}}\n");
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].method, Method::Connect);
  EXPECT_EQ(cmds[1].method, Method::Ping);
}

TEST(ProtocolCodecParse, EmptyFrameGivesNoCommands) {
  EXPECT_TRUE(parseOk("").empty());
  EXPECT_TRUE(parseOk("\n\n\r\n").empty());
}

TEST(ProtocolCodecParse, ClearsOutputAndKeepsPrefixOnError) {
  std::vector<Command> cmds(3);
  std::string error;
  EXPECT_FALSE(parseCommands("{\"id\":1,\"ping\":{}}\n{\"id\":2,\"ping\":{}}\n{bad}", cmds, error));
  EXPECT_EQ(cmds.size(), 2u);
  EXPECT_NE(error.find("line 3"), std::string::npos) << error;
}

TEST(ProtocolCodecParse, CommandCountBound) {
  std::string frame;
  for (size_t i = 0; i < kMaxCommandsPerFrame; ++i) frame += "{}\n";
  EXPECT_EQ(parseOk(frame).size(), kMaxCommandsPerFrame);
  frame += "{}";
  EXPECT_NE(parseError(frame).find("too many"), std::string::npos);
}

TEST(ProtocolCodecParse, PrettyPrintedJsonIsNotOneCommand) {
  // A newline splits commands, so a multi-line object is malformed.
  parseError("{\n\"id\":1,\"ping\":{}\n}");
}

// --- parsing: malformed commands ----------------------------------------------

TEST(ProtocolCodecParse, RefusesNonObjectsAndBadJson) {
  for (const char* s : {"[]", "1", "\"x\"", "null", "{", "{\"id\":1,}", "{\"id\":1 \"ping\":{}}", "{}{}", "{} x",
                        "\xEF\xBB\xBF{}"}) {
    parseError(s);
  }
}

TEST(ProtocolCodecParse, MissingIdForMethodsOtherThanSend) {
  for (const char* s : {R"({"connect":{}})", R"({"subscribe":{"channel":"a"}})", R"({"id":0,"ping":{}})",
                        R"({"rpc":{}})", R"({"refresh":{}})", R"({"history":{"channel":"a"}})"}) {
    EXPECT_NE(parseError(s).find("missing id"), std::string::npos) << s;
  }
}

TEST(ProtocolCodecParse, IdMustBeUint32) {
  EXPECT_EQ(parseOne(R"({"id":4294967295,"ping":{}})").id, UINT32_MAX);
  for (const char* s : {R"({"id":4294967296,"ping":{}})", R"({"id":-1,"ping":{}})", R"({"id":1.0,"ping":{}})",
                        R"({"id":1e2,"ping":{}})", R"({"id":"1","ping":{}})", R"({"id":true,"ping":{}})",
                        R"({"id":-0,"ping":{}})"}) {
    EXPECT_NE(parseError(s).find("id"), std::string::npos) << s;
  }
}

TEST(ProtocolCodecParse, TwoMethodsRefused) {
  EXPECT_NE(parseError(R"({"id":1,"connect":{},"subscribe":{"channel":"a"}})").find("more than one"),
            std::string::npos);
}

TEST(ProtocolCodecParse, IdWithoutMethodRefused) {
  EXPECT_NE(parseError(R"({"id":5})").find("no method"), std::string::npos);
}

TEST(ProtocolCodecParse, MethodMustBeObject) {
  for (const char* s : {R"({"id":1,"connect":true})", R"({"id":1,"subscribe":"a"})", R"({"id":1,"ping":[]})",
                        R"({"id":1,"publish":1})"}) {
    EXPECT_NE(parseError(s).find("expected an object"), std::string::npos) << s;
  }
}

TEST(ProtocolCodecParse, WrongFieldTypesRefusedWithFieldName) {
  EXPECT_NE(parseError(R"({"id":1,"subscribe":{"channel":5}})").find("subscribe.channel"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"subscribe":{"channel":"a","recover":"yes"}})").find("subscribe.recover"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"subscribe":{"channel":"a","offset":1.5}})").find("subscribe.offset"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"subscribe":{"channel":"a","offset":-3}})").find("subscribe.offset"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"connect":{"token":{}}})").find("connect.token"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"connect":{"name":1}})").find("connect.name"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"publish":{"channel":["a"],"data":1}})").find("publish.channel"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"rpc":{"method":1}})").find("rpc.method"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"refresh":{"token":false}})").find("refresh.token"), std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"sub_refresh":{"channel":"a","token":1}})").find("sub_refresh.token"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"id":1,"history":{"channel":"a","reverse":1}})").find("history.reverse"),
            std::string::npos);
}

TEST(ProtocolCodecParse, DeepNestingInDataRefused) {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  EXPECT_NE(parseError(R"({"id":1,"publish":{"channel":"a","data":)" + deep + "}}").find("deep"), std::string::npos);
  parseError(std::string(1 << 20, '['));
}

TEST(ProtocolCodecParse, InvalidUtf8Refused) {
  EXPECT_NE(parseError("{\"id\":1,\"subscribe\":{\"channel\":\"\xC3\x28\"}}").find("UTF-8"), std::string::npos);
}

// --- replies: exact wire shapes ------------------------------------------------

TEST(ProtocolCodecReply, ErrorShape) {
  std::string out;
  writeError(out, 1, error::kPermissionDenied);
  EXPECT_EQ(out, R"({"id":1,"error":{"code":103,"message":"permission denied"}})");
  out.clear();
  writeError(out, 2, error::kTooManyRequests);
  EXPECT_EQ(out, R"({"id":2,"error":{"code":111,"message":"too many requests","temporary":true}})");
  out.clear();
  writeError(out, 3, 4000, "custom \"x\"", false);
  EXPECT_EQ(out, R"({"id":3,"error":{"code":4000,"message":"custom \"x\""}})");
}

TEST(ProtocolCodecReply, ConnectShape) {
  ConnectResult r;
  r.client = "c-1";
  r.version = "0.1.0";
  r.expires = true;
  r.ttl = 60;
  r.data = R"({"k":1})";
  SubscribeResult sub;
  sub.recoverable = true;
  sub.epoch = "ep";
  sub.offset = 4;
  sub.positioned = true;
  r.subs.emplace_back("news", sub);
  r.ping = 25;
  r.pong = true;
  std::string out;
  writeConnectReply(out, 1, r);
  EXPECT_EQ(out,
            R"({"id":1,"connect":{"client":"c-1","version":"0.1.0","expires":true,"ttl":60,"data":{"k":1},)"
            R"("subs":{"news":{"recoverable":true,"epoch":"ep","offset":4,"positioned":true}},"ping":25,"pong":true}})");
}

TEST(ProtocolCodecReply, ConnectMinimalOmitsZeroValues) {
  ConnectResult r;
  r.client = "c";
  r.ping = 25;
  r.pong = true;
  r.session = "s";
  r.node = "n";
  std::string out;
  writeConnectReply(out, 1, r);
  EXPECT_EQ(out, R"({"id":1,"connect":{"client":"c","ping":25,"pong":true,"session":"s","node":"n"}})");
}

TEST(ProtocolCodecReply, SubscribeShapeWithRecovery) {
  SubscribeResult r;
  r.expires = true;
  r.ttl = 10;
  r.recoverable = true;
  r.epoch = "e";
  r.publications = {makePub(5, R"({"a":1})"), nullptr, makePub(6, "2")};
  r.recovered = true;
  r.offset = 6;
  r.positioned = true;
  r.data = "\"d\"";
  r.wasRecovering = true;
  std::string out;
  writeSubscribeReply(out, 2, r);
  EXPECT_EQ(out,
            R"({"id":2,"subscribe":{"expires":true,"ttl":10,"recoverable":true,"epoch":"e",)"
            R"("publications":[{"data":{"a":1},"offset":5},{"data":2,"offset":6}],"recovered":true,"offset":6,)"
            R"("positioned":true,"data":"d","was_recovering":true}})");
}

TEST(ProtocolCodecReply, SubscribeEmpty) {
  std::string out;
  writeSubscribeReply(out, 2, SubscribeResult{});
  EXPECT_EQ(out, R"({"id":2,"subscribe":{}})");
}

TEST(ProtocolCodecReply, RefreshAndSubRefresh) {
  std::string out;
  writeRefreshReply(out, 3, RefreshResult{"c", "v", true, 30});
  EXPECT_EQ(out, R"({"id":3,"refresh":{"client":"c","version":"v","expires":true,"ttl":30}})");
  out.clear();
  writeRefreshReply(out, 3, RefreshResult{});
  EXPECT_EQ(out, R"({"id":3,"refresh":{}})");
  out.clear();
  writeSubRefreshReply(out, 4, true, 15);
  EXPECT_EQ(out, R"({"id":4,"sub_refresh":{"expires":true,"ttl":15}})");
  out.clear();
  writeSubRefreshReply(out, 4, false, 0);
  EXPECT_EQ(out, R"({"id":4,"sub_refresh":{}})");
}

TEST(ProtocolCodecReply, HistoryShape) {
  HistoryResult r;
  r.publications = {makePub(4, "1"), makePub(5, R"({"x":"y"})")};
  r.epoch = "e";
  r.offset = 5;
  std::string out;
  writeHistoryReply(out, 5, r);
  EXPECT_EQ(out,
            R"({"id":5,"history":{"publications":[{"data":1,"offset":4},{"data":{"x":"y"},"offset":5}],)"
            R"("epoch":"e","offset":5}})");
}

TEST(ProtocolCodecReply, HistoryEmptyKeepsAllFields) {
  std::string out;
  writeHistoryReply(out, 5, HistoryResult{});
  EXPECT_EQ(out, R"({"id":5,"history":{"publications":[],"epoch":"","offset":0}})");
}

TEST(ProtocolCodecReply, PresenceShape) {
  std::unordered_map<std::string, ClientInfo> presence;
  presence["c1"] = ClientInfo{"u1", "c1", R"({"n":"Ann"})", R"({"r":1})"};
  std::string out;
  writePresenceReply(out, 6, presence);
  EXPECT_EQ(out,
            R"({"id":6,"presence":{"presence":{"c1":{"user":"u1","client":"c1","conn_info":{"n":"Ann"},)"
            R"("chan_info":{"r":1}}}}})");
}

TEST(ProtocolCodecReply, PresenceEmptyAndAnonymousUser) {
  std::string out;
  writePresenceReply(out, 6, {});
  EXPECT_EQ(out, R"({"id":6,"presence":{"presence":{}}})");
  out.clear();
  std::unordered_map<std::string, ClientInfo> presence;
  presence["c2"] = ClientInfo{"", "c2", "", ""};
  writePresenceReply(out, 6, presence);
  EXPECT_EQ(out, R"({"id":6,"presence":{"presence":{"c2":{"user":"","client":"c2"}}}})");
}

TEST(ProtocolCodecReply, PresenceManyClientsRoundTrip) {
  std::unordered_map<std::string, ClientInfo> presence;
  for (int i = 0; i < 50; ++i) presence["c" + std::to_string(i)] = ClientInfo{"u" + std::to_string(i % 7), "c" + std::to_string(i), "", ""};
  std::string out;
  writePresenceReply(out, 9, presence);
  auto map = at(out, {"presence", "presence"});
  ASSERT_TRUE(map);
  json::ObjectReader r(*map);
  json::Member m;
  size_t n = 0;
  while (r.next(m)) {
    ++n;
    ASSERT_TRUE(presence.count(m.key));
    EXPECT_EQ(json::asString(*at(m.raw, {"client"})), m.key);
    EXPECT_EQ(json::asString(*at(m.raw, {"user"})), presence[m.key].user);
  }
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(n, presence.size());
}

TEST(ProtocolCodecReply, PresenceStatsAlwaysHasBothCounters) {
  std::string out;
  writePresenceStatsReply(out, 7, 2, 1);
  EXPECT_EQ(out, R"({"id":7,"presence_stats":{"num_clients":2,"num_users":1}})");
  out.clear();
  writePresenceStatsReply(out, 7, 0, 0);
  EXPECT_EQ(out, R"({"id":7,"presence_stats":{"num_clients":0,"num_users":0}})");
}

TEST(ProtocolCodecReply, EmptyRepliesPerMethod) {
  const std::pair<Method, const char*> cases[] = {
      {Method::Unsubscribe, R"({"id":8,"unsubscribe":{}})"},
      {Method::Publish, R"({"id":8,"publish":{}})"},
      {Method::Ping, R"({"id":8,"ping":{}})"},
      {Method::Rpc, R"({"id":8,"rpc":{}})"},
      {Method::Presence, R"({"id":8,"presence":{}})"},
  };
  for (const auto& [method, want] : cases) {
    std::string out;
    writeEmptyReply(out, 8, method);
    EXPECT_EQ(out, want);
  }
}

TEST(ProtocolCodecReply, RpcAndPing) {
  std::string out;
  writeRpcReply(out, 9, R"({"r":true})");
  EXPECT_EQ(out, R"({"id":9,"rpc":{"data":{"r":true}}})");
  out.clear();
  writeRpcReply(out, 9, "");
  EXPECT_EQ(out, R"({"id":9,"rpc":{}})");
  out.clear();
  writePing(out);
  EXPECT_EQ(out, "{}");
}

TEST(ProtocolCodecReply, WritersAppend) {
  std::string out = "{}\n";
  writePresenceStatsReply(out, 1, 1, 1);
  out += '\n';
  writePing(out);
  EXPECT_EQ(out, "{}\n{\"id\":1,\"presence_stats\":{\"num_clients\":1,\"num_users\":1}}\n{}");
  auto cmds = parseOk(out);  // each line is one JSON object
  EXPECT_EQ(cmds.size(), 3u);
}

// --- pushes: exact wire shapes ---------------------------------------------------

TEST(ProtocolCodecPush, PublicationFull) {
  Publication pub;
  pub.data = R"({"text":"hi"})";
  pub.offset = 5;
  pub.info = ClientInfo{"u", "id", R"({"ci":1})", R"({"ch":2})"};
  pub.tags = {{"k", "v"}, {"a", "b"}};
  pub.time = 1700000000123;
  std::string out;
  writePublicationPush(out, "c", pub);
  EXPECT_EQ(out,
            R"({"push":{"channel":"c","pub":{"data":{"text":"hi"},"info":{"user":"u","client":"id","conn_info":{"ci":1},)"
            R"("chan_info":{"ch":2}},"offset":5,"tags":{"k":"v","a":"b"},"time":1700000000123}}})");
}

TEST(ProtocolCodecPush, PublicationMinimal) {
  Publication pub;
  pub.data = "1";
  std::string out;
  writePublicationPush(out, "news", pub);
  EXPECT_EQ(out, R"({"push":{"channel":"news","pub":{"data":1}}})");
}

TEST(ProtocolCodecPush, JoinLeave) {
  ClientInfo info{"u", "c", R"({"n":1})", ""};
  std::string out;
  writeJoinPush(out, "room", info);
  EXPECT_EQ(out, R"({"push":{"channel":"room","join":{"info":{"user":"u","client":"c","conn_info":{"n":1}}}}})");
  out.clear();
  writeLeavePush(out, "room", ClientInfo{"", "c", "", ""});
  EXPECT_EQ(out, R"({"push":{"channel":"room","leave":{"info":{"user":"","client":"c"}}}})");
}

TEST(ProtocolCodecPush, Unsubscribe) {
  std::string out;
  writeUnsubscribePush(out, "c", unsubscribe::kServer);
  EXPECT_EQ(out, R"({"push":{"channel":"c","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}})");
}

TEST(ProtocolCodecPush, Subscribe) {
  SubscribeResult r;
  r.recoverable = true;
  r.epoch = "e";
  r.offset = 3;
  r.positioned = true;
  r.data = "{}";
  r.expires = true;  // not part of the Subscribe push
  r.ttl = 5;
  std::string out;
  writeSubscribePush(out, "s", r);
  EXPECT_EQ(out,
            R"({"push":{"channel":"s","subscribe":{"recoverable":true,"epoch":"e","offset":3,"positioned":true,"data":{}}}})");
}

TEST(ProtocolCodecPush, MessageHasNoChannel) {
  std::string out;
  writeMessagePush(out, R"({"m":1})");
  EXPECT_EQ(out, R"({"push":{"message":{"data":{"m":1}}}})");
}

TEST(ProtocolCodecPush, Disconnect) {
  std::string out;
  writeDisconnectPush(out, disconnect::kShutdown);
  EXPECT_EQ(out, R"({"push":{"disconnect":{"code":3001,"reason":"shutdown"}}})");
  out.clear();
  writeDisconnectPush(out, 4000, "custom");
  EXPECT_EQ(out, R"({"push":{"disconnect":{"code":4000,"reason":"custom"}}})");
}

TEST(ProtocolCodecPush, Refresh) {
  std::string out;
  writeRefreshPush(out, true, 100);
  EXPECT_EQ(out, R"({"push":{"refresh":{"expires":true,"ttl":100}}})");
}

TEST(ProtocolCodecPush, ConnectUsesPushFieldOrder) {
  ConnectResult r;
  r.client = "c";
  r.version = "v";
  r.expires = true;
  r.ttl = 9;
  r.data = "1";
  r.subs.emplace_back("a", SubscribeResult{});
  r.ping = 25;
  r.session = "s";
  std::string out;
  writeConnectPush(out, r);
  EXPECT_EQ(out,
            R"({"push":{"connect":{"client":"c","version":"v","data":1,"subs":{"a":{}},"expires":true,"ttl":9,)"
            R"("ping":25,"session":"s"}}})");
}

TEST(ProtocolCodecPush, UnwrapForUnidirectionalTransports) {
  std::string out;
  writeDisconnectPush(out, disconnect::kShutdown);
  EXPECT_EQ(unwrapPush(out), R"({"disconnect":{"code":3001,"reason":"shutdown"}})");
  out.clear();
  Publication pub;
  pub.data = "1";
  writePublicationPush(out, "c", pub);
  EXPECT_EQ(unwrapPush(out), R"({"channel":"c","pub":{"data":1}})");
  EXPECT_EQ(unwrapPush("{}"), "{}");
  EXPECT_EQ(unwrapPush(R"({"id":1,"rpc":{}})"), R"({"id":1,"rpc":{}})");
}

// --- raw fields and strings ---------------------------------------------------------

TEST(ProtocolCodecString, Escapes) {
  std::string out;
  writeString(out, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/\"");
  EXPECT_TRUE(json::validate(out));
}

TEST(ProtocolCodecString, KeepsValidUtf8) {
  std::string out;
  writeString(out, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(ProtocolCodecString, ReplacesInvalidUtf8) {
  std::string out;
  writeString(out, "a\xFF" "b\xC3" "\xED\xA0\x80" "c");
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "c\"");
  EXPECT_TRUE(json::validate(out));
}

TEST(ProtocolCodecString, EveryByteGivesValidJson) {
  for (int b = 0; b < 256; ++b) {
    std::string out;
    writeString(out, std::string(1, char(b)) + "x" + std::string(1, char(b)));
    ASSERT_TRUE(json::validate(out)) << b;
  }
}

TEST(ProtocolCodecString, RoundTripsThroughAsString) {
  const std::string samples[] = {"", "plain", std::string("nul\0inside", 10), "\"\\/\b\f\n\r\t", "\x01\x02\x1f",
                                 "caf\xC3\xA9 \xF0\x9F\x98\x80"};
  for (const auto& s : samples) {
    std::string out;
    writeString(out, s);
    EXPECT_EQ(json::asString(out), s);
  }
}

TEST(ProtocolCodecString, ChannelNamesAreEscapedInPushes) {
  Publication pub;
  pub.data = "1";
  std::string out;
  writePublicationPush(out, "we\"ird\n\xFF", pub);
  EXPECT_TRUE(json::validate(out));
  EXPECT_EQ(out.find('\n'), std::string::npos);
  EXPECT_EQ(json::asString(*at(out, {"push", "channel"})), "we\"ird\n\xEF\xBF\xBD");
}

TEST(ProtocolCodecRaw, StrayNewlinesInRawDataDropped) {
  std::string out;
  writeMessagePush(out, "{\n\"a\":\n1}");
  EXPECT_EQ(out, R"({"push":{"message":{"data":{"a":1}}}})");
}

// --- round trips through the readers -------------------------------------------------

TEST(ProtocolCodecRoundTrip, PublicationPush) {
  Publication pub;
  pub.data = R"({"nested":{"list":[1,"two",null]}})";
  pub.offset = 18446744073709551615ull;
  pub.info = ClientInfo{"user \"q\"", "client-1", R"({"x":1})", ""};
  pub.tags = {{"tag\n", "v\x01"}};
  pub.time = -5;
  std::string out;
  writePublicationPush(out, "chan", pub);
  ASSERT_TRUE(json::validate(out));
  EXPECT_EQ(json::asString(*at(out, {"push", "channel"})), "chan");
  EXPECT_EQ(*at(out, {"push", "pub", "data"}), pub.data);
  EXPECT_EQ(json::asUint(*at(out, {"push", "pub", "offset"})), pub.offset);
  EXPECT_EQ(json::asInt(*at(out, {"push", "pub", "time"})), -5);
  EXPECT_EQ(json::asString(*at(out, {"push", "pub", "info", "user"})), "user \"q\"");
  EXPECT_EQ(json::asString(*at(out, {"push", "pub", "info", "client"})), "client-1");
  EXPECT_EQ(*at(out, {"push", "pub", "info", "conn_info"}), R"({"x":1})");
  EXPECT_FALSE(at(out, {"push", "pub", "info", "chan_info"}));
  EXPECT_EQ(json::asString(*at(out, {"push", "pub", "tags", "tag\n"})), "v\x01");
}

TEST(ProtocolCodecRoundTrip, HistoryReply) {
  HistoryResult r;
  for (uint64_t i = 1; i <= 20; ++i) r.publications.push_back(makePub(i, "{\"n\":" + std::to_string(i) + "}"));
  r.epoch = "abc";
  r.offset = 20;
  std::string out;
  writeHistoryReply(out, 77, r);
  EXPECT_EQ(json::asUint(*at(out, {"id"})), 77u);
  EXPECT_EQ(json::asString(*at(out, {"history", "epoch"})), "abc");
  EXPECT_EQ(json::asUint(*at(out, {"history", "offset"})), 20u);
  const auto pubsRaw = at(out, {"history", "publications"});
  ASSERT_TRUE(pubsRaw);
  json::ArrayReader pubs(*pubsRaw);
  std::string_view raw;
  json::Type type;
  uint64_t expect = 1;
  while (pubs.next(raw, type)) {
    ASSERT_EQ(type, json::Type::Object);
    EXPECT_EQ(json::asUint(*at(raw, {"offset"})), expect);
    EXPECT_EQ(*at(raw, {"data"}), "{\"n\":" + std::to_string(expect) + "}");
    ++expect;
  }
  EXPECT_TRUE(pubs.ok());
  EXPECT_EQ(expect, 21u);
}

TEST(ProtocolCodecRoundTrip, ConnectReplyWithSubs) {
  ConnectResult r;
  r.client = "cid";
  r.version = "1.0";
  r.data = R"(["x"])";
  for (int i = 0; i < 3; ++i) {
    SubscribeResult s;
    s.recoverable = true;
    s.epoch = "e" + std::to_string(i);
    s.offset = uint64_t(i);
    s.publications = {makePub(uint64_t(i) + 1, "true")};
    s.recovered = true;
    s.wasRecovering = true;
    r.subs.emplace_back("chan" + std::to_string(i), s);
  }
  std::string out;
  writeConnectReply(out, 1, r);
  ASSERT_TRUE(json::validate(out));
  EXPECT_EQ(*at(out, {"connect", "data"}), R"(["x"])");
  EXPECT_EQ(json::asString(*at(out, {"connect", "subs", "chan2", "epoch"})), "e2");
  EXPECT_EQ(json::asUint(*at(out, {"connect", "subs", "chan2", "offset"})), 2u);
  EXPECT_FALSE(at(out, {"connect", "subs", "chan0", "offset"}));  // zero omitted
  EXPECT_EQ(json::asBool(*at(out, {"connect", "subs", "chan1", "recovered"})), true);
}

TEST(ProtocolCodecRoundTrip, CommandsEncodedByHandParseBack) {
  // What centrifuge-js 5.x actually sends for a connect, a subscribe with
  // recovery, and a batch with publish and history.
  auto cmds = parseOk(
      R"({"connect":{"token":"eyJ","name":"js","version":"5.0.0"},"id":1})"
      "\n"
      R"({"subscribe":{"channel":"chat","positioned":true,"recoverable":true,"join_leave":true,"flag":1,"recover":true,"offset":12,"epoch":"Xy"},"id":2})"
      "\n"
      R"({"publish":{"channel":"chat","data":{"input":"hello"}},"id":3})"
      "\n"
      R"({"history":{"channel":"chat","since":{"offset":10,"epoch":"Xy"},"limit":100,"reverse":true},"id":4})");
  ASSERT_EQ(cmds.size(), 4u);
  EXPECT_EQ(cmds[0].connect.token, "eyJ");
  EXPECT_EQ(cmds[1].subscribe.offset, 12u);
  EXPECT_EQ(cmds[1].subscribe.epoch, "Xy");
  EXPECT_EQ(cmds[2].data, R"({"input":"hello"})");
  EXPECT_EQ(cmds[3].limit, 100);
  EXPECT_EQ(cmds[3].since->epoch, "Xy");
}

// --- codes ---------------------------------------------------------------------------

TEST(ProtocolCodes, EveryErrorFindable) {
  const ErrorCode* all[] = {&error::kInternal,         &error::kUnauthorized,      &error::kUnknownChannel,
                            &error::kPermissionDenied, &error::kMethodNotFound,    &error::kAlreadySubscribed,
                            &error::kLimitExceeded,    &error::kBadRequest,        &error::kNotAvailable,
                            &error::kTokenExpired,     &error::kExpired,           &error::kTooManyRequests,
                            &error::kUnrecoverablePosition, &error::kConcurrentPagination};
  for (const ErrorCode* e : all) EXPECT_EQ(findError(e->code), e) << e->code;
  for (uint32_t code = 100; code <= 113; ++code) EXPECT_NE(findError(code), nullptr) << code;
  EXPECT_EQ(findError(99), nullptr);
  EXPECT_EQ(findError(114), nullptr);
  EXPECT_EQ(findError(0), nullptr);
  EXPECT_TRUE(findError(100)->temporary);
  EXPECT_TRUE(findError(111)->temporary);
  EXPECT_TRUE(findError(113)->temporary);
  EXPECT_FALSE(findError(103)->temporary);
}

TEST(ProtocolCodes, EveryDisconnectFindable) {
  const DisconnectCode* all[] = {
      &disconnect::kConnectionClosed, &disconnect::kShutdown,          &disconnect::kInternal,
      &disconnect::kExpired,          &disconnect::kSubExpired,        &disconnect::kSlow,
      &disconnect::kWriteError,       &disconnect::kInsufficientState, &disconnect::kForceReconnect,
      &disconnect::kNoPong,           &disconnect::kTooManyRequests,   &disconnect::kStateInvalidated,
      &disconnect::kInvalidToken,     &disconnect::kBadRequest,        &disconnect::kStale,
      &disconnect::kForceNoReconnect, &disconnect::kConnectionLimit,   &disconnect::kChannelLimit,
      &disconnect::kInappropriateProtocol, &disconnect::kPermissionDenied, &disconnect::kNotAvailable,
      &disconnect::kTooManyErrors};
  for (const DisconnectCode* d : all) {
    EXPECT_EQ(findDisconnect(d->code), d) << d->code;
    EXPECT_LT(d->reason.size(), 123u) << d->code;  // fits a close frame
    EXPECT_EQ(d->reconnect(), d->code < 3500) << d->code;
  }
  EXPECT_EQ(findDisconnect(3002), nullptr);
  EXPECT_EQ(findDisconnect(3499), nullptr);
  EXPECT_EQ(findDisconnect(1000), nullptr);
}

TEST(ProtocolCodes, ReconnectBoundaries) {
  const auto rc = [](uint16_t c) { return DisconnectCode{c, ""}.reconnect(); };
  EXPECT_FALSE(rc(2999));
  EXPECT_TRUE(rc(3000));
  EXPECT_TRUE(rc(3499));
  EXPECT_FALSE(rc(3500));
  EXPECT_FALSE(rc(3999));
  EXPECT_TRUE(rc(4000));
  EXPECT_TRUE(rc(4499));
  EXPECT_FALSE(rc(4500));
  EXPECT_FALSE(rc(4999));
  EXPECT_TRUE(rc(5000));
  EXPECT_FALSE(rc(1000));
  EXPECT_FALSE(rc(1001));
}

TEST(ProtocolCodes, EveryUnsubscribeFindableAndResubscribeBoundaries) {
  const UnsubscribeCode* all[] = {&unsubscribe::kServer, &unsubscribe::kInsufficientState, &unsubscribe::kExpired,
                                  &unsubscribe::kStateInvalidated};
  for (const UnsubscribeCode* u : all) EXPECT_EQ(findUnsubscribe(u->code), u) << u->code;
  EXPECT_FALSE(unsubscribe::kServer.resubscribe());
  EXPECT_TRUE(unsubscribe::kInsufficientState.resubscribe());
  EXPECT_TRUE(unsubscribe::kExpired.resubscribe());
  EXPECT_EQ(findUnsubscribe(2001), nullptr);
  const auto rs = [](uint32_t c) { return UnsubscribeCode{c, ""}.resubscribe(); };
  EXPECT_FALSE(rs(2000));
  EXPECT_FALSE(rs(2499));
  EXPECT_TRUE(rs(2500));
  EXPECT_TRUE(rs(2999));
  EXPECT_FALSE(rs(3000));
  EXPECT_FALSE(rs(1999));
}

}  // namespace
