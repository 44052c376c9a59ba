// client.allowed_origins: which pages may open client connections
// (http/OriginPolicy.h), and which entries the config accepts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/OriginPolicy.h"
#include "util/Glob.h"

using sb::http::OriginPolicy;
using sb::http::originPatternProblem;
using testing::HasSubstr;

TEST(HttpOriginPolicy, RequestsWithoutOriginAlwaysPass) {
  EXPECT_TRUE(OriginPolicy().allows("", "example.com"));
  EXPECT_TRUE(OriginPolicy({"https://example.com"}).allows("", "other.org"));
}

TEST(HttpOriginPolicy, EmptyListAllowsOnlyTheSameOrigin) {
  OriginPolicy same;
  EXPECT_TRUE(same.allows("http://127.0.0.1:8000", "127.0.0.1:8000"));
  EXPECT_TRUE(same.allows("https://Chat.Example.com", "chat.example.COM"));
  // Default ports are the same as none, on either side.
  EXPECT_TRUE(same.allows("https://example.com", "example.com:443"));
  EXPECT_TRUE(same.allows("http://example.com:80", "example.com"));
  EXPECT_FALSE(same.allows("https://example.com", "example.com:80"));
  // Another port or host is another origin.
  EXPECT_FALSE(same.allows("http://127.0.0.1:9000", "127.0.0.1:8000"));
  EXPECT_FALSE(same.allows("http://evil.example", "127.0.0.1:8000"));
  EXPECT_FALSE(same.allows("http://127.0.0.1:8000.evil.example", "127.0.0.1:8000"));
  // Sandboxed pages and file:// send "null"; a request without Host has no origin to compare.
  EXPECT_FALSE(same.allows("null", "127.0.0.1:8000"));
  EXPECT_FALSE(same.allows("http://127.0.0.1:8000", ""));
}

TEST(HttpOriginPolicy, ListedOriginsAreAllowedOthersRefused) {
  OriginPolicy p({"https://example.com", "http://localhost:3000"});
  EXPECT_TRUE(p.allows("https://example.com", "api.example.com"));
  EXPECT_TRUE(p.allows("HTTPS://EXAMPLE.COM", "api.example.com"));
  EXPECT_TRUE(p.allows("https://example.com:443", "api.example.com"));
  EXPECT_TRUE(p.allows("http://localhost:3000", "localhost:8000"));
  EXPECT_FALSE(p.allows("http://example.com", "api.example.com"));  // scheme differs
  EXPECT_FALSE(p.allows("https://example.com:8443", "api.example.com"));
  EXPECT_FALSE(p.allows("https://example.com.evil.org", "api.example.com"));
  EXPECT_FALSE(p.allows("https://sub.example.com", "api.example.com"));
  EXPECT_FALSE(p.allows("http://localhost:30001", "localhost:8000"));
  // With a list, the request's own host is not implied.
  EXPECT_FALSE(p.allows("http://localhost:8000", "localhost:8000"));
  EXPECT_FALSE(p.allows("null", "localhost:8000"));
}

TEST(HttpOriginPolicy, WildcardsMatchSubdomainsAndAnyOrigin) {
  OriginPolicy sub({"https://*.example.com"});
  EXPECT_TRUE(sub.allows("https://a.example.com", "x"));
  EXPECT_TRUE(sub.allows("https://a.b.Example.com", "x"));
  EXPECT_FALSE(sub.allows("https://example.com", "x"));
  EXPECT_FALSE(sub.allows("https://evilexample.com", "x"));
  EXPECT_FALSE(sub.allows("https://a.example.com.evil.org", "x"));
  EXPECT_FALSE(sub.allows("http://a.example.com", "x"));

  OriginPolicy one({"http://app?.local"});
  EXPECT_TRUE(one.allows("http://app1.local", "x"));
  EXPECT_FALSE(one.allows("http://app12.local", "x"));

  OriginPolicy any({"*"});
  EXPECT_TRUE(any.allows("https://anything.example", "x"));
  EXPECT_TRUE(any.allows("null", "x"));

  OriginPolicy null({"null"});
  EXPECT_TRUE(null.allows("null", "x"));
  EXPECT_FALSE(null.allows("https://example.com", "x"));
}

TEST(HttpOriginPolicy, PatternsAreValidated) {
  for (const char* ok : {"*", "null", "https://example.com", "https://*.example.com", "http://localhost:3000",
                         "http://[::1]:8000", "capacitor://localhost", "http://127.0.0.1:*"})
    EXPECT_EQ(originPatternProblem(ok), "") << ok;
  EXPECT_THAT(originPatternProblem("example.com"), HasSubstr("missing \"scheme://\""));
  EXPECT_THAT(originPatternProblem("https://"), HasSubstr("missing host"));
  EXPECT_THAT(originPatternProblem("https://example.com/"), HasSubstr("remove the trailing '/'"));
  EXPECT_THAT(originPatternProblem("https://example.com/app"), HasSubstr("no path"));
  EXPECT_THAT(originPatternProblem("https://exa mple.com"), HasSubstr("invalid character ' '"));
  EXPECT_THAT(originPatternProblem("ht tp://example.com"), HasSubstr("scheme"));
  EXPECT_THAT(originPatternProblem(""), HasSubstr("got \"\""));
}

// The wildcard matcher behind allowed_origins and the API's channels pattern.
TEST(UtilGlob, StarAndQuestionMark) {
  using sb::util::globMatch;
  EXPECT_TRUE(globMatch("", ""));
  EXPECT_FALSE(globMatch("", "a"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "anything:at all"));
  EXPECT_TRUE(globMatch("chat:*", "chat:"));
  EXPECT_TRUE(globMatch("chat:*", "chat:room"));
  EXPECT_FALSE(globMatch("chat:*", "news:chat:room"));
  EXPECT_TRUE(globMatch("*:room", "chat:room"));
  EXPECT_TRUE(globMatch("a*b*c", "a-b-b-c"));
  EXPECT_FALSE(globMatch("a*b*c", "a-b-b-"));
  EXPECT_TRUE(globMatch("r??m", "room"));
  EXPECT_FALSE(globMatch("r??m", "rom"));
  EXPECT_FALSE(globMatch("Room", "room"));  // case-sensitive
  // Many stars against a long miss stays fast (no exponential backtracking).
  EXPECT_FALSE(globMatch("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}
