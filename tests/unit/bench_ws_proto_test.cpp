// switchboard-bench's WebSocket client handshake: the upgrade request, the
// Sec-WebSocket-Accept it expects (RFC 6455 §4.2.2), and the check of the
// server's answer: a 101 with Upgrade, Connection and the right Accept, or a
// refusal that names what was wrong.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "url.h"
#include "ws_proto.h"

using namespace sbbench;

namespace {

// RFC 6455 §1.3's example key and its accept value.
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

std::string upgrade_answer(const std::string& fields) { return "HTTP/1.1 101 Switching Protocols\r\n" + fields + "\r\n"; }

const std::string kGoodFields =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + std::string(kAccept) + "\r\n";

TEST(BenchWsHandshake, AcceptValueAndKeys) {
  EXPECT_EQ(ws_accept_for(kKey), kAccept);
  std::string key = make_ws_key(0x0123456789abcdefull, 0xfedcba9876543210ull);
  EXPECT_EQ(key.size(), 24u);
  EXPECT_EQ(key.substr(22), "==");
  EXPECT_NE(key, make_ws_key(0x0123456789abcdefull, 0xfedcba9876543211ull));
}

TEST(BenchWsHandshake, Base64MatchesRfc4648Vectors) {
  auto b64 = [](std::string_view s) {
    return base64_encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
}

TEST(BenchWsHandshake, UpgradeRequest) {
  WsUrl url = parse_loopback_ws_url("ws://127.0.0.1:8000/connection/websocket?x=1");
  EXPECT_EQ(build_upgrade_request(url, kKey, "", {}),
            "GET /connection/websocket?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string with_extras = build_upgrade_request(url, kKey, "centrifuge-json", {"Cookie: a=b"});
  EXPECT_NE(with_extras.find("\r\nSec-WebSocket-Protocol: centrifuge-json\r\nCookie: a=b\r\n\r\n"), std::string::npos)
      << with_extras;
}

TEST(BenchWsHandshake, AcceptsA101AndLeavesTheFramesAfterIt) {
  std::string head = upgrade_answer(kGoodFields);
  auto r = parse_upgrade_response(head + "\x81\x02{}", kAccept);
  EXPECT_EQ(r.status, HttpHeadResult::kOk) << r.error;
  EXPECT_EQ(r.http_status, 101);
  EXPECT_EQ(r.consumed, head.size());
}

TEST(BenchWsHandshake, HeaderNamesAndTokensAreCaseInsensitive) {
  auto r = parse_upgrade_response(upgrade_answer("upgrade:  WebSocket \r\nCONNECTION: keep-alive, upgrade\r\n"
                                                 "sec-websocket-accept:\t" + std::string(kAccept) + "\r\n"),
                                  kAccept);
  EXPECT_EQ(r.status, HttpHeadResult::kOk) << r.error;
}

TEST(BenchWsHandshake, IncompleteUntilTheBlankLine) {
  std::string head = upgrade_answer(kGoodFields);
  for (size_t n = 0; n < head.size(); ++n) {
    ASSERT_EQ(parse_upgrade_response(std::string_view(head).substr(0, n), kAccept).status, HttpHeadResult::kIncomplete)
        << n;
  }
}

TEST(BenchWsHandshake, OtherStatusesAreRefusals) {
  auto r = parse_upgrade_response("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", kAccept);
  EXPECT_EQ(r.status, HttpHeadResult::kBadStatus);
  EXPECT_EQ(r.http_status, 403);
  EXPECT_EQ(r.error, "HTTP 403 Forbidden");
  r = parse_upgrade_response("HTTP/1.1 200 OK\r\n" + kGoodFields + "\r\n", kAccept);
  EXPECT_EQ(r.status, HttpHeadResult::kBadStatus) << "a 200 is no upgrade, whatever its headers";
  EXPECT_EQ(r.http_status, 200);
  r = parse_upgrade_response("HTTP/1.1 1O1 Switching\r\n\r\n", kAccept);
  EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders);
  EXPECT_NE(r.error.find("malformed status"), std::string::npos) << r.error;
  r = parse_upgrade_response("HTTP/1.1-101\r\n\r\n", kAccept);
  EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders);
  EXPECT_NE(r.error.find("malformed status"), std::string::npos) << r.error;
}

TEST(BenchWsHandshake, MissingOrWrongHeadersAreNamed) {
  struct Case {
    std::string fields;
    const char* error;
  } cases[] = {
      {"Connection: Upgrade\r\nSec-WebSocket-Accept: " + std::string(kAccept) + "\r\n", "missing Upgrade: websocket"},
      {"Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + std::string(kAccept) + "\r\n",
       "missing Upgrade: websocket"},
      {"Upgrade: websocket\r\nSec-WebSocket-Accept: " + std::string(kAccept) + "\r\n", "missing Connection: upgrade"},
      {"Upgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Accept: " + std::string(kAccept) + "\r\n",
       "missing Connection: upgrade"},
      {"Upgrade: websocket\r\nConnection: Upgrade\r\n", "wrong or missing Sec-WebSocket-Accept"},
      {"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
       "wrong or missing Sec-WebSocket-Accept"},
      {"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + std::string(kAccept) + "x\r\n",
       "wrong or missing Sec-WebSocket-Accept"},
  };
  for (const auto& c : cases) {
    auto r = parse_upgrade_response(upgrade_answer(c.fields), kAccept);
    EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders) << c.fields;
    EXPECT_EQ(r.error, c.error) << c.fields;
    EXPECT_EQ(r.http_status, 101);
  }
  // The accept value of another key is just as wrong.
  auto r = parse_upgrade_response(upgrade_answer(kGoodFields), ws_accept_for("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders);
}

TEST(BenchWsHandshake, OversizedHeadIsRefused) {
  std::string big = upgrade_answer(kGoodFields + "X-Pad: " + std::string(20000, 'p') + "\r\n");
  EXPECT_EQ(parse_upgrade_response(std::string_view(big).substr(0, 16000), kAccept).status, HttpHeadResult::kIncomplete);
  for (std::string_view buf : {std::string_view(big).substr(0, 17000), std::string_view(big)}) {
    auto r = parse_upgrade_response(buf, kAccept);
    EXPECT_EQ(r.status, HttpHeadResult::kBadHeaders) << buf.size();
    EXPECT_EQ(r.error, "response head larger than 16 KiB");
  }
}

}  // namespace
