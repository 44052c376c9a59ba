// Opening handshake (RFC 6455 §4.2): accept key, request validation with the
// exact status for each failure, subprotocol/origin hooks, the 101 response,
// and the base64 helper it relies on.
#include <gtest/gtest.h>

#include <string>

#include "http/Request.h"
#include "util/Base64.h"
#include "ws/Handshake.h"

using namespace sb;
using namespace sb::ws;

namespace {

http::Request goodRequest() {
  http::Request r;
  r.method = "GET";
  r.target = r.path = "/chat";
  r.version = 11;
  r.headers = {{"Host", "server.example.com"},
               {"Upgrade", "websocket"},
               {"Connection", "Upgrade"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
               {"Origin", "http://example.com"},
               {"Sec-WebSocket-Version", "13"}};
  return r;
}

void setHeader(http::Request& r, const std::string& name, const std::string& value) {
  for (auto& [k, v] : r.headers)
    if (http::iequals(k, name)) {
      v = value;
      return;
    }
  r.headers.emplace_back(name, value);
}

void removeHeader(http::Request& r, const std::string& name) {
  std::erase_if(r.headers, [&](const auto& kv) { return http::iequals(kv.first, name); });
}

std::string headerOf(const HandshakeResult& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (http::iequals(k, name)) return v;
  return "<absent>";
}

}  // namespace

// ---- Base64 ----------------------------------------------------------------

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                   {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (auto [plain, enc] : v) {
    EXPECT_EQ(util::base64Encode(plain), enc);
    auto d = util::base64Decode(enc);
    ASSERT_TRUE(d.has_value()) << enc;
    EXPECT_EQ(*d, plain);
  }
}

TEST(Base64, RoundTripAllBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  for (size_t n = 0; n <= all.size(); n += 1) {
    std::string s = all.substr(0, n);
    auto d = util::base64Decode(util::base64Encode(s));
    ASSERT_TRUE(d.has_value());
    ASSERT_EQ(*d, s);
  }
}

TEST(Base64, RejectsMalformed) {
  for (const char* bad : {"Z", "Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm=v", "Zm9v!A==", " Zm9v", "Zm9v ",
                          "Zm9v\n", "Zm-v", "Zm_v", "=Zm9"}) {
    EXPECT_FALSE(util::base64Decode(bad).has_value()) << bad;
  }
}

// ---- Accept key ------------------------------------------------------------

TEST(Handshake, AcceptKeyRfcExample) {
  // RFC 6455 §1.3.
  EXPECT_EQ(computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // RFC 6455 §4.2.2 / common test vector.
  EXPECT_EQ(computeAcceptKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  EXPECT_EQ(computeAcceptKey(" dGhlIHNhbXBsZSBub25jZQ== "), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// ---- validateUpgrade ---------------------------------------------------------

TEST(Handshake, ValidRequest) {
  HandshakeResult r = validateUpgrade(goodRequest());
  EXPECT_EQ(r.status, 101);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.acceptKey, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(r.requestedProtocols.empty());
  EXPECT_TRUE(r.protocol.empty());
  EXPECT_TRUE(r.headers.empty());
}

TEST(Handshake, TokenListsAndCaseInsensitivity) {
  http::Request req = goodRequest();
  setHeader(req, "Upgrade", "WebSocket");
  setHeader(req, "Connection", "keep-alive, Upgrade");
  EXPECT_EQ(validateUpgrade(req).status, 101);
  setHeader(req, "Upgrade", "foo/1, WEBSOCKET");
  setHeader(req, "Connection", "UPGRADE");
  EXPECT_EQ(validateUpgrade(req).status, 101);
  // Repeated Connection headers are joined (RFC 9110 §5.3).
  setHeader(req, "Connection", "keep-alive");
  req.headers.emplace_back("connection", "upgrade");
  EXPECT_EQ(validateUpgrade(req).status, 101);
  // Header names are case-insensitive.
  http::Request lower = goodRequest();
  for (auto& [k, v] : lower.headers)
    for (auto& c : k) c = char(std::tolower(c));
  EXPECT_EQ(validateUpgrade(lower).status, 101);
}

TEST(Handshake, MethodMustBeGet) {
  for (const char* m : {"POST", "PUT", "HEAD", "get"}) {
    http::Request req = goodRequest();
    req.method = m;
    HandshakeResult r = validateUpgrade(req);
    EXPECT_EQ(r.status, 405) << m;
    EXPECT_NE(r.error.find("GET"), std::string::npos);
    EXPECT_EQ(headerOf(r, "Allow"), "GET");
  }
}

TEST(Handshake, RequiresHttp11) {
  http::Request req = goodRequest();
  req.version = 10;
  HandshakeResult r = validateUpgrade(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.error.find("HTTP/1.1"), std::string::npos);
}

TEST(Handshake, RequiresHost) {
  http::Request req = goodRequest();
  removeHeader(req, "Host");
  EXPECT_EQ(validateUpgrade(req).status, 400);
}

TEST(Handshake, MissingOrForeignUpgradeIs426) {
  http::Request req = goodRequest();
  removeHeader(req, "Upgrade");
  HandshakeResult r = validateUpgrade(req);
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(headerOf(r, "Upgrade"), "websocket");
  EXPECT_NE(r.error.find("Upgrade"), std::string::npos);
  setHeader(req, "Upgrade", "h2c");
  r = validateUpgrade(req);
  EXPECT_EQ(r.status, 426);
  EXPECT_NE(r.error.find("h2c"), std::string::npos);
  setHeader(req, "Upgrade", "websocketx");
  EXPECT_EQ(validateUpgrade(req).status, 426);
}

TEST(Handshake, ConnectionMustContainUpgrade) {
  http::Request req = goodRequest();
  setHeader(req, "Connection", "keep-alive");
  HandshakeResult r = validateUpgrade(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.error.find("Connection"), std::string::npos);
  removeHeader(req, "Connection");
  EXPECT_EQ(validateUpgrade(req).status, 400);
  setHeader(req, "Connection", "upgraded");
  EXPECT_EQ(validateUpgrade(req).status, 400);
}

TEST(Handshake, VersionMustBe13) {
  for (const char* v : {"8", "12", "14", "13, 8", "", "thirteen"}) {
    http::Request req = goodRequest();
    if (*v) setHeader(req, "Sec-WebSocket-Version", v);
    else removeHeader(req, "Sec-WebSocket-Version");
    HandshakeResult r = validateUpgrade(req);
    EXPECT_EQ(r.status, 426) << v;
    EXPECT_EQ(headerOf(r, "Sec-WebSocket-Version"), "13");
    EXPECT_NE(r.error.find("Sec-WebSocket-Version"), std::string::npos);
  }
  http::Request req = goodRequest();
  setHeader(req, "Sec-WebSocket-Version", " 13 ");
  EXPECT_EQ(validateUpgrade(req).status, 101);
}

TEST(Handshake, KeyMustBe16BytesOfBase64) {
  struct Case {
    const char* key;
    const char* errorPart;
  } cases[] = {
      {"", "missing"},
      {"not base64!", "base64"},
      {"dGhlIHNhbXBsZSBub25jZQ", "base64"},                 // padding missing
      {"AAAAAAAAAAAAAAAAAAAA", "16 bytes"},                  // 15 bytes
      {"AAAAAAAAAAAAAAAAAAAAAA==AAAA", "base64"},
      {"AAAAAAAAAAAAAAAAAAAAAAA=", "16 bytes"},             // 17 bytes
      {"dGhlIHNhbXBsZSBub25jZSEhIQ==", "16 bytes"},         // 19 bytes
  };
  for (auto c : cases) {
    http::Request req = goodRequest();
    if (*c.key) setHeader(req, "Sec-WebSocket-Key", c.key);
    else removeHeader(req, "Sec-WebSocket-Key");
    HandshakeResult r = validateUpgrade(req);
    EXPECT_EQ(r.status, 400) << c.key;
    EXPECT_NE(r.error.find(c.errorPart), std::string::npos) << c.key << ": " << r.error;
    EXPECT_TRUE(r.acceptKey.empty());
  }
  // Two keys: refused.
  http::Request req = goodRequest();
  req.headers.emplace_back("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==");
  EXPECT_EQ(validateUpgrade(req).status, 400);
  // Any 16 random bytes are fine.
  setHeader(req, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==");
  removeHeader(req, "Sec-WebSocket-Key");
  req.headers.emplace_back("Sec-WebSocket-Key", util::base64Encode(std::string(16, '\xff')));
  EXPECT_EQ(validateUpgrade(req).status, 101);
}

TEST(Handshake, CheckOrder) {
  // A POST with nothing else right is reported as the method problem first.
  http::Request req;
  req.method = "POST";
  EXPECT_EQ(validateUpgrade(req).status, 405);
  req.method = "GET";
  req.version = 10;
  EXPECT_EQ(validateUpgrade(req).status, 400);
  // An old-draft client (no version, no key) learns which version we speak.
  http::Request old = goodRequest();
  removeHeader(old, "Sec-WebSocket-Version");
  removeHeader(old, "Sec-WebSocket-Key");
  EXPECT_EQ(validateUpgrade(old).status, 426);
}

TEST(Handshake, Subprotocols) {
  http::Request req = goodRequest();
  req.headers.emplace_back("Sec-WebSocket-Protocol", "chat, superchat");
  req.headers.emplace_back("Sec-WebSocket-Protocol", " v2.json ,, ");
  HandshakeResult r = validateUpgrade(req);
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.requestedProtocols, (std::vector<std::string>{"chat", "superchat", "v2.json"}));
  EXPECT_TRUE(r.protocol.empty()) << "no selector: none chosen";

  HandshakeHooks hooks;
  hooks.selectProtocol = [](const std::vector<std::string>& offered) -> std::optional<std::string> {
    for (const auto& p : offered)
      if (p == "superchat") return p;
    return std::nullopt;
  };
  r = validateUpgrade(req, hooks);
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.protocol, "superchat");

  hooks.selectProtocol = [](const std::vector<std::string>&) -> std::optional<std::string> { return "mqtt"; };
  r = validateUpgrade(req, hooks);
  EXPECT_EQ(r.status, 101);
  EXPECT_TRUE(r.protocol.empty()) << "a protocol the client did not offer is never echoed";

  hooks.selectProtocol = [](const std::vector<std::string>&) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_TRUE(validateUpgrade(req, hooks).protocol.empty());

  // Selector not called without offers.
  bool called = false;
  hooks.selectProtocol = [&](const std::vector<std::string>&) -> std::optional<std::string> {
    called = true;
    return std::nullopt;
  };
  EXPECT_EQ(validateUpgrade(goodRequest(), hooks).status, 101);
  EXPECT_FALSE(called);

  http::Request bad = goodRequest();
  bad.headers.emplace_back("Sec-WebSocket-Protocol", "chat, sup er");
  r = validateUpgrade(bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.error.find("sup er"), std::string::npos);
}

TEST(Handshake, OriginHook) {
  HandshakeHooks hooks;
  std::string seen;
  hooks.originAllowed = [&](std::string_view origin) {
    seen = origin;
    return origin == "https://good.example";
  };
  HandshakeResult r = validateUpgrade(goodRequest(), hooks);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(seen, "http://example.com");
  EXPECT_NE(r.error.find("http://example.com"), std::string::npos);
  http::Request req = goodRequest();
  setHeader(req, "Origin", "https://good.example");
  EXPECT_EQ(validateUpgrade(req, hooks).status, 101);
  removeHeader(req, "Origin");
  r = validateUpgrade(req, hooks);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(seen, "");
}

TEST(Handshake, AcceptResponse) {
  EXPECT_EQ(buildAcceptResponse("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "", ""),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
  EXPECT_EQ(buildAcceptResponse("abc=", "chat", "permessage-deflate; server_no_context_takeover"),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: abc=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
            "\r\n");
}
