// The demo chat's token endpoint (app/DemoTokens): the tokens it mints verify
// with the configured secret and carry a fresh user and the nickname as info;
// every bad nickname or body is a 400 naming the problem; the [demo] config
// key is off by default and refuses to load without an HMAC secret.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "app/DemoTokens.h"
#include "auth/TokenVerifier.h"
#include "config/Config.h"
#include "protocol/Json.h"

using sb::app::checkNickname;
using sb::app::mintDemoToken;
using testing::HasSubstr;

namespace json = sb::protocol::json;

namespace {

constexpr int64_t kNow = 1'750'000'000;
const std::string kSecret = "demo-tokens-test-secret-0123456789";

// A member of a JSON object's raw text, as a string; "" when absent.
std::string member(const std::string& object, std::string_view key) {
  json::ObjectReader r(object);
  json::Member m;
  std::string out;
  while (r.next(m))
    if (m.key == key) out = m.type == json::Type::String ? json::asString(m.raw).value_or("") : std::string(m.raw);
  return out;
}

std::string errorMessage(const sb::http::Response& r) {
  json::ObjectReader outer(r.body);
  json::Member m;
  while (outer.next(m))
    if (m.key == "error") return member(std::string(m.raw), "message");
  return {};
}

sb::auth::Verified<sb::auth::ConnectClaims> verify(const std::string& token, int64_t now = kNow) {
  sb::config::ClientConfig c;
  c.token_hmac_secret = kSecret;
  sb::auth::TokenVerifier verifier(c);
  return verifier.verifyConnect(token, now);
}

}  // namespace

TEST(DemoTokens, MintsAVerifiableTokenForAFreshUserWithTheNameAsInfo) {
  auto r = mintDemoToken(kSecret, R"({"name": "  Ann \"the\" Coder  "})", kNow);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string token = member(r.body, "token"), user = member(r.body, "user");
  EXPECT_EQ(member(r.body, "name"), "Ann \"the\" Coder");
  EXPECT_EQ(member(r.body, "expires"), std::to_string(kNow + 86400));
  auto v = verify(token);
  ASSERT_EQ(v.status, sb::auth::TokenStatus::Ok) << v.reason;
  EXPECT_EQ(v.claims.user, user);
  EXPECT_EQ(user.size(), 36u);
  EXPECT_EQ(v.claims.exp, kNow + 86400);
  EXPECT_EQ(v.claims.info, R"({"name":"Ann \"the\" Coder"})");
  EXPECT_EQ(verify(token, kNow + 86400).status, sb::auth::TokenStatus::Expired);
  bool noStore = false;
  for (const auto& [k, val] : r.headers) noStore |= k == "Cache-Control" && val == "no-store";
  EXPECT_TRUE(noStore);
}

TEST(DemoTokens, EveryTokenGetsItsOwnUser) {
  std::set<std::string> users;
  for (int i = 0; i < 50; ++i) users.insert(member(mintDemoToken(kSecret, R"({"name":"same"})", kNow).body, "user"));
  EXPECT_EQ(users.size(), 50u);
}

TEST(DemoTokens, AcceptsThirtyTwoCodePointsOfUnicode) {
  std::string name;
  for (int i = 0; i < 32; ++i) name += "é";  // 64 bytes, 32 characters
  EXPECT_EQ(checkNickname(name).name, name);
  EXPECT_EQ(checkNickname(name + "é").error, "name must be at most 32 characters");
  EXPECT_EQ(checkNickname("𝄞 Zoë").name, "𝄞 Zoë");
  EXPECT_EQ(checkNickname(std::string(32, 'a')).name, std::string(32, 'a'));
  EXPECT_EQ(checkNickname(" \t" + std::string(32, 'a') + "\n ").name, std::string(32, 'a'));
  EXPECT_EQ(checkNickname(std::string(33, 'a')).error, "name must be at most 32 characters");
}

TEST(DemoTokens, RefusesEmptyAndControlCharacters) {
  EXPECT_EQ(checkNickname("").error, "name must not be empty");
  EXPECT_EQ(checkNickname("   \t ").error, "name must not be empty");
  for (std::string bad : {std::string("a\nb"), std::string("a\tb"), std::string("a\x7f"), std::string("a\0b", 3),
                          std::string("a\u0085b"), std::string("a\u202eb"), std::string("a\u2028b"),
                          std::string("\u2066x")})
    EXPECT_EQ(checkNickname(bad).error, "name must not contain control characters") << bad;
  EXPECT_EQ(checkNickname("a\xff").error, "name is not valid UTF-8");
}

TEST(DemoTokens, BadBodiesAre400WithAMessage) {
  struct Case {
    std::string body, message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "body must be a JSON object"},
           {"not json", "body must be a JSON object"},
           {"[\"Ann\"]", "body must be a JSON object {\"name\": \"...\"}"},
           {"{}", "name required"},
           {"{\"nick\":\"Ann\"}", "name required"},
           {"{\"name\":42}", "name must be a string"},
           {"{\"name\":null}", "name must be a string"},
           {"{\"name\":\"\"}", "name must not be empty"},
           {"{\"name\":\"a\\u0000b\"}", "name must not contain control characters"},
           {"{\"name\":\"a\\nb\"}", "name must not contain control characters"},
           {"{\"name\":\"" + std::string(33, 'x') + "\"}", "name must be at most 32 characters"},
       }) {
    auto r = mintDemoToken(kSecret, c.body, kNow);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_THAT(errorMessage(r), HasSubstr(c.message)) << c.body << " -> " << r.body;
  }
}

TEST(DemoConfig, OffByDefaultAndNeedsTheHmacSecret) {
  EXPECT_FALSE(sb::config::loadConfigFromString("", nullptr).demo.token_endpoint);
  auto on = sb::config::loadConfigFromString("[client]\ntoken_hmac_secret = \"s\"\n[demo]\ntoken_endpoint = true\n",
                                             nullptr);
  EXPECT_TRUE(on.demo.token_endpoint);
  try {
    sb::config::loadConfigFromString("[demo]\ntoken_endpoint = true\n", nullptr);
    FAIL() << "loaded without a secret";
  } catch (const sb::config::ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("demo.token_endpoint is on but client.token_hmac_secret is not set"));
  }
  EXPECT_THAT(sb::config::generateDefaultConfig(), HasSubstr("[demo]"));
  EXPECT_THAT(sb::config::generateDefaultConfig(), HasSubstr("DEMO ONLY, never for production"));
}
