// switchboard-bench's URL rules: what a ws:// or http:// target turns into
// (address, Host header, request target), and the refusal of everything
// that is not a loopback literal, before any socket could be opened.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

#include "common.h"
#include "url.h"

using namespace sbbench;

namespace {

// The UsageError text for `url`, or "" when it was accepted.
template <class Parse>
std::string refusal(Parse&& parse) {
  try {
    parse();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

std::string ws_refusal(const std::string& url) {
  return refusal([&] { parse_loopback_ws_url(url); });
}

std::string ipv4_of(const WsUrl& u) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&u.addr)->sin_addr, text, sizeof text);
  return text;
}

TEST(BenchUrl, WsUrlWithPortAndPath) {
  WsUrl u = parse_loopback_ws_url("ws://127.0.0.1:8000/connection/websocket");
  EXPECT_EQ(u.text, "ws://127.0.0.1:8000/connection/websocket");
  EXPECT_EQ(u.port, 8000);
  EXPECT_EQ(u.family, AF_INET);
  EXPECT_EQ(u.addr_len, sizeof(sockaddr_in));
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&u.addr)->sin_port), 8000);
  EXPECT_EQ(ipv4_of(u), "127.0.0.1");
  EXPECT_EQ(u.host_header, "127.0.0.1:8000");
  EXPECT_EQ(u.path, "/connection/websocket");
}

TEST(BenchUrl, DefaultPortIsLeftOutOfTheHostHeader) {
  WsUrl u = parse_loopback_ws_url("ws://127.0.0.1");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.host_header, "127.0.0.1");
  EXPECT_EQ(u.path, "/");
}

TEST(BenchUrl, LocalhostMapsTo127001WithoutDns) {
  WsUrl u = parse_loopback_ws_url("ws://LocalHost:9000/x");
  EXPECT_EQ(u.family, AF_INET);
  EXPECT_EQ(ipv4_of(u), "127.0.0.1");
  EXPECT_EQ(u.host_header, "127.0.0.1:9000");
}

TEST(BenchUrl, WholeLoopbackSlash8IsAccepted) {
  WsUrl u = parse_loopback_ws_url("ws://127.5.6.7:1/");
  EXPECT_EQ(ipv4_of(u), "127.5.6.7");
  EXPECT_EQ(u.port, 1);
}

TEST(BenchUrl, Ipv6LoopbackKeepsQueryDropsFragment) {
  WsUrl u = parse_loopback_ws_url("ws://[::1]:9001/sub?channel=a#frag");
  EXPECT_EQ(u.family, AF_INET6);
  EXPECT_EQ(u.addr_len, sizeof(sockaddr_in6));
  const auto* sa = reinterpret_cast<const sockaddr_in6*>(&u.addr);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr));
  EXPECT_EQ(ntohs(sa->sin6_port), 9001);
  EXPECT_EQ(u.host_header, "[::1]:9001");
  EXPECT_EQ(u.path, "/sub?channel=a");
}

TEST(BenchUrl, QueryWithoutPathGetsASlash) {
  EXPECT_EQ(parse_loopback_ws_url("ws://127.0.0.1:8000?x=1").path, "/?x=1");
}

TEST(BenchUrl, NonLoopbackAddressesAreRefused) {
  for (const char* url : {"ws://10.0.0.1:80/", "ws://128.0.0.1/", "ws://0.0.0.0:8000/", "ws://126.255.255.255/",
                          "ws://[::2]:80/", "ws://[::ffff:127.0.0.1]/", "ws://[2001:db8::1]/"}) {
    EXPECT_NE(ws_refusal(url).find("refusing non-loopback address"), std::string::npos) << url;
  }
}

TEST(BenchUrl, HostNamesAreRefusedWithoutResolving) {
  for (const char* url : {"ws://example.com/", "ws://localhost.example.com:80/", "ws://127.0.0.1.nip.io/"}) {
    EXPECT_NE(ws_refusal(url).find("is not a loopback IP literal"), std::string::npos) << url;
  }
}

TEST(BenchUrl, MalformedUrlsAreRefusedWithTheReason) {
  struct Case {
    const char* url;
    const char* why;
  } cases[] = {
      {"wss://127.0.0.1/", "(TLS) is not supported"},
      {"http://127.0.0.1/", "expected ws://host:port/path"},
      {"127.0.0.1:8000/", "expected ws://host:port/path"},
      {"ws://user@127.0.0.1/", "user info is not supported"},
      {"ws:///path", "missing host"},
      {"ws://127.0.0.1:/", "bad port"},
      {"ws://127.0.0.1:80a/", "bad port"},
      {"ws://127.0.0.1:123456/", "bad port"},
      {"ws://127.0.0.1:0/", "port out of range"},
      {"ws://127.0.0.1:65536/", "port out of range"},
      {"ws://[::1/", "unterminated [IPv6] host"},
      {"ws://[::1]x/", "garbage after ]"},
      {"ws://127.0.0.1/a b", "spaces or control characters"},
      {"ws://127.0.0.1/a\x01", "spaces or control characters"},
  };
  for (const auto& c : cases) {
    std::string why = ws_refusal(c.url);
    EXPECT_NE(why.find(c.why), std::string::npos) << c.url << " -> " << why;
    EXPECT_NE(why.find("bad --url '"), std::string::npos) << why;
  }
  EXPECT_EQ(ws_refusal("ws://127.0.0.1:65535/"), "");
}

TEST(BenchUrl, HttpBaseUrlDropsTrailingSlashes) {
  EXPECT_EQ(parse_loopback_http_url("http://127.0.0.1:8000").path, "");
  EXPECT_EQ(parse_loopback_http_url("http://127.0.0.1:8000/").path, "");
  EXPECT_EQ(parse_loopback_http_url("http://127.0.0.1:8000/base//").path, "/base");
  WsUrl u = parse_loopback_http_url("http://localhost:8000/base");
  EXPECT_EQ(u.host_header, "127.0.0.1:8000");
  EXPECT_EQ(u.path + "/api/publish", "/base/api/publish");
}

TEST(BenchUrl, HttpBaseUrlRefusesQueryAndWsScheme) {
  std::string why = refusal([] { parse_loopback_http_url("http://127.0.0.1:8000/api?x=1"); });
  EXPECT_NE(why.find("expected a base URL without a query"), std::string::npos) << why;
  why = refusal([] { parse_loopback_http_url("ws://127.0.0.1:8000"); });
  EXPECT_NE(why.find("bad --api 'ws://127.0.0.1:8000': expected http://"), std::string::npos) << why;
  why = refusal([] { parse_loopback_http_url("https://127.0.0.1:8000"); });
  EXPECT_NE(why.find("https:// (TLS) is not supported"), std::string::npos) << why;
}

TEST(BenchUrl, HttpTargetKeepsQueryAndNamesItsOption) {
  WsUrl u = parse_loopback_http_target("http://127.0.0.1:8080/pub?channel={channel}", "--publish-url");
  EXPECT_EQ(u.path, "/pub?channel={channel}");
  EXPECT_EQ(u.host_header, "127.0.0.1:8080");
  std::string why = refusal([] { parse_loopback_http_target("http://192.168.1.1/pub", "--publish-url"); });
  EXPECT_NE(why.find("bad --publish-url 'http://192.168.1.1/pub': refusing non-loopback"), std::string::npos) << why;
}

}  // namespace
