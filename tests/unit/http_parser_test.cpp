#include <gtest/gtest.h>

#include <string>

#include "http/HttpParser.h"
#include "http/Request.h"
#include "http/Response.h"
#include "http/StaticFiles.h"

using sb::http::HttpParser;
using sb::http::Request;

namespace {
HttpParser::Result parseAll(HttpParser& p, std::string data, Request& out, size_t* used = nullptr) {
  size_t consumed = 0;
  auto r = p.parse(data, consumed, out);
  if (used) *used = consumed;
  return r;
}
}  // namespace

TEST(HttpParser, SimpleGet) {
  HttpParser p({});
  Request req;
  ASSERT_EQ(parseAll(p, "GET /a/b?x=1&y=%41+b HTTP/1.1\r\nHost: h\r\nX-Two: 1\r\nx-two: 2\r\n\r\n", req),
            HttpParser::Result::Complete);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.path, "/a/b");
  EXPECT_EQ(req.query, "x=1&y=%41+b");
  EXPECT_EQ(req.queryParam("y"), "A b");
  EXPECT_EQ(req.queryParam("missing"), "");
  EXPECT_EQ(req.header("HOST"), "h");
  EXPECT_EQ(req.headerJoined("X-Two"), "1, 2");
  EXPECT_TRUE(req.keep_alive);
  EXPECT_EQ(req.version, 11);
}

TEST(HttpParser, IncrementalHeaderNeedsMore) {
  HttpParser p({});
  Request req;
  std::string full = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t cut = 1; cut < full.size(); ++cut) {
    HttpParser q({});
    size_t used = 0;
    ASSERT_EQ(parseAll(q, full.substr(0, cut), req, &used), HttpParser::Result::NeedMore) << cut;
    // The caller re-offers unconsumed bytes with the rest appended.
    std::string again = full.substr(used);
    ASSERT_EQ(parseAll(q, again, req), HttpParser::Result::Complete) << cut;
    EXPECT_EQ(req.path, "/");
  }
}

TEST(HttpParser, PipelinedRequests) {
  HttpParser p({});
  std::string two = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  Request req;
  size_t used = 0;
  ASSERT_EQ(parseAll(p, two, req, &used), HttpParser::Result::Complete);
  EXPECT_EQ(req.path, "/1");
  ASSERT_EQ(parseAll(p, two.substr(used), req), HttpParser::Result::Complete);
  EXPECT_EQ(req.path, "/2");
}

TEST(HttpParser, BodyWithLengthAndChunked) {
  HttpParser p({});
  Request req;
  ASSERT_EQ(parseAll(p, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", req),
            HttpParser::Result::Complete);
  EXPECT_EQ(req.body, "hello");
  ASSERT_EQ(parseAll(p, "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", req),
            HttpParser::Result::Complete);
  EXPECT_EQ(req.body, "abcde");
}

TEST(HttpParser, HeaderLimitIs431) {
  HttpParser p({1024, 1 << 20});
  Request req;
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n";
  ASSERT_EQ(parseAll(p, big, req), HttpParser::Result::Error);
  EXPECT_EQ(p.errorStatus(), 431);
  // Also when the oversized header has not ended yet.
  HttpParser q({1024, 1 << 20});
  ASSERT_EQ(parseAll(q, "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a'), req), HttpParser::Result::Error);
  EXPECT_EQ(q.errorStatus(), 431);
}

TEST(HttpParser, BodyLimitIs413) {
  HttpParser p({16384, 10});
  Request req;
  ASSERT_EQ(parseAll(p, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", req), HttpParser::Result::Error);
  EXPECT_EQ(p.errorStatus(), 413);
}

TEST(HttpParser, MalformedIs400) {
  for (std::string bad : {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                          "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    HttpParser p({});
    Request req;
    ASSERT_EQ(parseAll(p, bad, req), HttpParser::Result::Error) << bad;
    EXPECT_EQ(p.errorStatus(), 400) << bad;
    EXPECT_FALSE(p.errorMessage().empty());
  }
}

TEST(HttpParser, Http10KeepAlive) {
  HttpParser p({});
  Request req;
  ASSERT_EQ(parseAll(p, "GET / HTTP/1.0\r\n\r\n", req), HttpParser::Result::Complete);
  EXPECT_EQ(req.version, 10);
  EXPECT_FALSE(req.keep_alive);
}

TEST(HttpHeaders, TokenLists) {
  EXPECT_TRUE(sb::http::headerHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(sb::http::headerHasToken(" WebSocket ", "websocket"));
  EXPECT_FALSE(sb::http::headerHasToken("upgrades", "upgrade"));
  EXPECT_FALSE(sb::http::headerHasToken("", "upgrade"));
}

TEST(HttpResponse, SerializeAndErrorBody) {
  auto r = sb::http::Response::error(404, "no \"such\" path");
  std::string s = r.serialize(true);
  EXPECT_NE(s.find("HTTP/1.1 404 Not Found\r\n"), std::string::npos);
  EXPECT_NE(s.find("Content-Length: "), std::string::npos);
  EXPECT_NE(s.find("\\\"such\\\""), std::string::npos);
  std::string head = r.serialize(false, true);
  EXPECT_NE(head.find("Connection: close"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(StaticFiles, ContentTypesAndTraversal) {
  EXPECT_STREQ(sb::http::StaticFiles::contentType("a/index.html"), "text/html; charset=utf-8");
  EXPECT_STREQ(sb::http::StaticFiles::contentType("x.js"), "text/javascript; charset=utf-8");
  EXPECT_STREQ(sb::http::StaticFiles::contentType("x.css"), "text/css; charset=utf-8");
  EXPECT_STREQ(sb::http::StaticFiles::contentType("x.bin"), "application/octet-stream");
  char tmpl[] = "/tmp/sbstaticXXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string web = dir + "/web";
  ASSERT_EQ(system(("mkdir -p " + web + "/sub && echo hi > " + web + "/index.html && echo secret > " + dir +
                    "/secret.txt && ln -s ../secret.txt " + web + "/link.txt").c_str()),
            0);
  sb::http::StaticFiles files(web);
  Request req;
  req.method = "GET";
  req.path = "/";
  EXPECT_EQ(files.serve(req).status, 200);
  EXPECT_EQ(files.serve(req).body, "hi\n");
  for (std::string bad : {"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/%2E%2E%2Fsecret.txt"}) {
    req.path = bad;
    int st = files.serve(req).status;
    EXPECT_TRUE(st == 400 || st == 404) << bad << " -> " << st;
  }
  req.path = "/link.txt";  // symlink escaping the root
  EXPECT_EQ(files.serve(req).status, 404);
  req.path = "/sub";
  EXPECT_EQ(files.serve(req).status, 301);
  req.path = "/nope.html";
  EXPECT_EQ(files.serve(req).status, 404);
  req.method = "POST";
  req.path = "/";
  EXPECT_EQ(files.serve(req).status, 405);
  system(("rm -rf " + dir).c_str());
}

// Expect: 100-continue (RFC 9110 §10.1.1).
TEST(HttpParser, ExpectContinueIsSignalledOnceWhenTheBodyIsStillToCome) {
  HttpParser p({});
  Request req;
  size_t used = 0;
  std::string head = "POST /api/publish HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n";
  ASSERT_EQ(parseAll(p, head, req, &used), HttpParser::Result::NeedMore);
  EXPECT_EQ(used, head.size());
  EXPECT_TRUE(p.takeContinue());
  EXPECT_FALSE(p.takeContinue()) << "once per request";
  ASSERT_EQ(parseAll(p, "hel", req, &used), HttpParser::Result::NeedMore);
  EXPECT_FALSE(p.takeContinue());
  ASSERT_EQ(parseAll(p, "lo", req), HttpParser::Result::Complete);
  EXPECT_EQ(req.body, "hello");
  EXPECT_FALSE(p.takeContinue());
  // The next request on the connection starts afresh.
  ASSERT_EQ(parseAll(p, head, req), HttpParser::Result::NeedMore);
  EXPECT_TRUE(p.takeContinue());
}

TEST(HttpParser, ExpectContinueWithTheBodyAlreadyThereNeedsNoInterimResponse) {
  HttpParser p({});
  Request req;
  ASSERT_EQ(parseAll(p, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", req),
            HttpParser::Result::Complete);
  EXPECT_FALSE(p.takeContinue());
  // No body at all: nothing to continue to either.
  ASSERT_EQ(parseAll(p, "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", req), HttpParser::Result::Complete);
  EXPECT_FALSE(p.takeContinue());
}

TEST(HttpParser, UnknownExpectationIs417AndHttp10IgnoresExpect) {
  HttpParser p({});
  Request req;
  ASSERT_EQ(parseAll(p, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n", req),
            HttpParser::Result::Error);
  EXPECT_EQ(p.errorStatus(), 417);
  EXPECT_NE(p.errorMessage().find("\"200-ok\""), std::string::npos) << p.errorMessage();
  EXPECT_EQ(sb::http::statusReason(417), std::string("Expectation Failed"));

  HttpParser q({});
  ASSERT_EQ(parseAll(q, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", req),
            HttpParser::Result::NeedMore);
  EXPECT_FALSE(q.takeContinue()) << "an HTTP/1.0 request's expectation is ignored";
}

TEST(HttpParser, ExpectContinueWithABodyOverTheLimitIs413Before100) {
  HttpParser p({16 * 1024, 10});
  Request req;
  ASSERT_EQ(parseAll(p, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n", req),
            HttpParser::Result::Error);
  EXPECT_EQ(p.errorStatus(), 413);
  EXPECT_FALSE(p.takeContinue());
}
