// switchboard-bench's channel naming: per-connection channels c<i mod K>,
// the {channel}/{channel2} request-target template of raw WebSocket and
// EventSource subscribers, and the option checks that guard both.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "args.h"
#include "centrifugo_options.h"
#include "common.h"
#include "options_common.h"

using namespace sbbench;

namespace {

CentrifugoOptions url_subscribers(std::string path_template, std::string shared, uint32_t k, uint64_t first_index) {
  CentrifugoOptions o;
  o.path_template = std::move(path_template);
  o.channel = std::move(shared);
  o.channels = k;
  o.first_index = first_index;
  return o;
}

TEST(BenchChannels, WithoutPerConnectionChannelsEveryoneGetsTheSharedOne) {
  CentrifugoOptions o = url_subscribers("/sub?channel={channel}", "bench", 0, 0);
  EXPECT_EQ(o.own_channel(0), "bench");
  EXPECT_EQ(o.own_channel(12345), "bench");
  EXPECT_EQ(o.expand_target(0), "/sub?channel=bench");
  EXPECT_EQ(o.expand_target(7), "/sub?channel=bench");
}

TEST(BenchChannels, OwnChannelFollowsTheGlobalIndexModK) {
  // A worker whose connection 0 is global connection 5, K = 3.
  CentrifugoOptions o = url_subscribers("/sub/{channel}/{channel2}", "shared", 3, 5);
  std::vector<std::string> got;
  for (uint32_t i = 0; i < 4; ++i) got.push_back(o.expand_target(i));
  EXPECT_EQ(got, (std::vector<std::string>{"/sub/c2/shared", "/sub/c0/shared", "/sub/c1/shared", "/sub/c2/shared"}));
  EXPECT_EQ(o.own_channel(1), "c0");
  EXPECT_EQ(per_connection_channel(41), "c41");
}

TEST(BenchChannels, TemplateReplacesEveryPlaceholderAndKeepsOtherBraces) {
  CentrifugoOptions o = url_subscribers("/s?a={channel}&b={channel2}&c={channel}&d={x}&e={channel&f={", "main", 2, 0);
  EXPECT_EQ(o.expand_target(1), "/s?a=c1&b=main&c=c1&d={x}&e={channel&f={");
  // "{channel2}" is not "{channel}" followed by "2}".
  EXPECT_EQ(url_subscribers("{channel2}{channel}", "S", 4, 2).expand_target(0), "Sc2");
  EXPECT_EQ(url_subscribers("/plain", "S", 0, 0).expand_target(3), "/plain");
}

// Runs subscriber_options on a raw-WebSocket --url, as idle/fanout do.
CentrifugoOptions raw_options(const std::string& url, const std::string& channel, uint32_t k,
                              std::vector<std::string> extra = {}) {
  static constexpr OptSpec kSpecs[] = {{"token", true}};
  std::vector<char*> argv;
  for (auto& s : extra) argv.push_back(s.data());
  Args a("test", argv, kSpecs);
  ClientOptions client;
  client.url = parse_loopback_ws_url(url);
  return subscriber_options(a, Protocol::kRaw, client, channel, k);
}

std::string raw_refusal(const std::string& url, const std::string& channel, uint32_t k,
                        std::vector<std::string> extra = {}) {
  try {
    raw_options(url, channel, k, std::move(extra));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(BenchChannels, RawSubscribersTakeTheUrlPathAsTemplate) {
  CentrifugoOptions o = raw_options("ws://127.0.0.1:9/sub?channel={channel},{channel2}", "all", 2);
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.path_template, "/sub?channel={channel},{channel2}");
  o.first_index = 1;
  EXPECT_EQ(o.expand_target(0), "/sub?channel=c1,all");
}

TEST(BenchChannels, PlaceholdersMustMatchTheChannelCount) {
  EXPECT_NE(raw_refusal("ws://127.0.0.1:9/sub?channel={channel}", "all", 2).find("needs {channel} and {channel2}"),
            std::string::npos);
  EXPECT_NE(raw_refusal("ws://127.0.0.1:9/sub?channel={channel2}", "all", 2).find("needs {channel} and {channel2}"),
            std::string::npos);
  EXPECT_NE(raw_refusal("ws://127.0.0.1:9/sub?c={channel}&d={channel2}", "all", 0).find("needs --channels K > 0"),
            std::string::npos);
  EXPECT_EQ(raw_refusal("ws://127.0.0.1:9/sub?channel={channel}", "all", 0), "");
}

TEST(BenchChannels, UrlChannelNamesMustNeedNoEscaping) {
  for (const char* bad : {"", "a b", "a&b", "a/b", "a?b", "a%20", "caf\xc3\xa9"}) {
    EXPECT_NE(raw_refusal("ws://127.0.0.1:9/s?c={channel}", bad, 0).find("cannot go into a URL as is"), std::string::npos)
        << bad;
  }
  EXPECT_NE(raw_refusal("ws://127.0.0.1:9/s?c={channel}", std::string(256, 'a'), 0).find("cannot go into a URL"),
            std::string::npos);
  EXPECT_EQ(raw_refusal("ws://127.0.0.1:9/s?c={channel}", "news:sport.A-b_c~1", 0), "");
  EXPECT_NE(raw_refusal("ws://127.0.0.1:9/s?c={channel}", "ok", 0, {"--token", "abc"}).find("--token only applies"),
            std::string::npos);
}

TEST(BenchChannels, CentrifugoChannelAndTokenMustFitAJsonStringAsIs) {
  CentrifugoOptions o;
  o.channel = "news";
  o.token = "eyJhbGci.eyJzdWIi.c2ln-_=";
  EXPECT_NO_THROW(validate_centrifugo_options(o));
  o.channel = "say \"hi\"";
  EXPECT_THROW(validate_centrifugo_options(o), UsageError);
  o.channel = "back\\slash";
  EXPECT_THROW(validate_centrifugo_options(o), UsageError);
  o.channel = "tab\there";
  EXPECT_THROW(validate_centrifugo_options(o), UsageError);
  o.channel = std::string(256, 'a');
  EXPECT_THROW(validate_centrifugo_options(o), UsageError);
  o.channel = "news";
  o.token = "abc\"}";
  EXPECT_THROW(validate_centrifugo_options(o), UsageError);
}

}  // namespace
