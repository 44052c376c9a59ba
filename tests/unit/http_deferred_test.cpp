// HttpSession's deferred responses on a real worker and loopback socket: a
// handler answers later through DeferredResponse; pipelined requests wait for
// it and are answered in order; a closed connection makes the late answer a
// no-op; the request timer leaves a waiting connection alone.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/HttpSession.h"
#include "net/Listener.h"
#include "net/Worker.h"

namespace sb::http {
namespace {

class DeferredHttpServer {
 public:
  DeferredHttpServer(uint64_t requestTimeoutMs = 15000) {
    ctx_.requestTimeoutMs = requestTimeoutMs;
    // /later: answered by answerLater(); /now: answered at once with the path.
    ctx_.router.add("/later", {}, [this](HttpContext& hc) {
      std::lock_guard lock(mu_);
      waiting_.push_back(hc.session.defer(hc.conn, hc.req));
    });
    ctx_.router.add("/soon", {}, [](HttpContext& hc) {
      // Deferred, but answered before the handler returns (a synchronous broker).
      DeferredResponse d = hc.session.defer(hc.conn, hc.req);
      d.respond(Response::text(200, "soon"));
      d.respond(Response::text(200, "twice"));  // ignored
    });
    ctx_.router.add("/now", {}, [](HttpContext& hc) {
      hc.session.respond(hc.conn, hc.req, Response::text(200, "now"));
    });
    auto listeners = net::openListeners("127.0.0.1", 0, 1);
    port_ = listeners.port;
    worker_ = std::make_unique<net::Worker>(0, listeners.fds[0], nullptr, net::WorkerOptions{}, stats_,
                                            [this](net::Connection&) { return std::make_unique<HttpSession>(ctx_); });
    worker_->start();
  }
  ~DeferredHttpServer() {
    worker_->stop();
    worker_->join();
  }
  uint16_t port() const { return port_; }
  size_t waitingCount() {
    std::lock_guard lock(mu_);
    return waiting_.size();
  }
  // Answers the oldest deferred request on the worker's thread; returns
  // whether its connection was still waiting.
  bool answerLater(std::string body) {
    std::promise<bool> done;
    worker_->loop().post([&] {
      DeferredResponse d;
      {
        std::lock_guard lock(mu_);
        d = waiting_.front();
        waiting_.erase(waiting_.begin());
      }
      bool pending = d.pending();
      d.respond(Response::text(200, body));
      done.set_value(pending);
    });
    return done.get_future().get();
  }

 private:
  HttpServerContext ctx_;
  net::NetStats stats_;
  std::unique_ptr<net::Worker> worker_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<DeferredResponse> waiting_;
};

int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{0, 200 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void sendAll(int fd, std::string_view s) { ASSERT_EQ(::send(fd, s.data(), s.size(), 0), ssize_t(s.size())); }

// What arrives within `ms` (reads until a quiet 200 ms period or EOF).
std::string readFor(int fd, int ms = 600) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n > 0) out.append(buf, size_t(n));
  }
  return out;
}

bool waitFor(const std::function<bool()>& cond) {
  for (int i = 0; i < 200 && !cond(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return cond();
}

TEST(HttpDeferred, AnswersLaterWithKeepAlive) {
  DeferredHttpServer server;
  int fd = connectTo(server.port());
  sendAll(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(waitFor([&] { return server.waitingCount() == 1; }));
  EXPECT_EQ(readFor(fd, 300), "");  // nothing until the answer
  EXPECT_TRUE(server.answerLater("late answer"));
  std::string got = readFor(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("late answer"), std::string::npos) << got;
  // The connection stays usable.
  sendAll(fd, "GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(readFor(fd).find("now"), std::string::npos);
  ::close(fd);
}

TEST(HttpDeferred, PipelinedRequestsWaitAndAnswerInOrder) {
  DeferredHttpServer server;
  int fd = connectTo(server.port());
  sendAll(fd,
          "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /now HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(waitFor([&] { return server.waitingCount() == 1; }));
  // /now must not overtake the first deferred answer.
  EXPECT_EQ(readFor(fd, 300), "");
  // Bytes that arrive while waiting are kept too.
  sendAll(fd, "GET /soon HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(server.answerLater("first"));
  ASSERT_TRUE(waitFor([&] { return server.waitingCount() == 1; }));  // the second /later
  EXPECT_TRUE(server.answerLater("third"));
  std::string got = readFor(fd);
  size_t first = got.find("first"), now = got.find("\r\n\r\nnow"), third = got.find("third"),
         soon = got.find("soon");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(now, std::string::npos) << got;
  ASSERT_NE(third, std::string::npos) << got;
  ASSERT_NE(soon, std::string::npos) << got;
  EXPECT_LT(first, now);
  EXPECT_LT(now, third);
  EXPECT_LT(third, soon);
  EXPECT_EQ(got.find("twice"), std::string::npos);
  ::close(fd);
}

TEST(HttpDeferred, ClosedConnectionMakesTheLateAnswerANoOp) {
  DeferredHttpServer server;
  int fd = connectTo(server.port());
  sendAll(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(waitFor([&] { return server.waitingCount() == 1; }));
  ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(server.answerLater("nobody listens"));  // and no crash
  // The server still serves others.
  int fd2 = connectTo(server.port());
  sendAll(fd2, "GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(readFor(fd2).find("now"), std::string::npos);
  ::close(fd2);
}

TEST(HttpDeferred, RequestTimerDoesNotFireWhileWaitingForTheAnswer) {
  DeferredHttpServer server(/*requestTimeoutMs=*/300);
  int fd = connectTo(server.port());
  // A deferred request followed by the start of another one.
  sendAll(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /now HT");
  ASSERT_TRUE(waitFor([&] { return server.waitingCount() == 1; }));
  EXPECT_EQ(readFor(fd, 1000), "");  // no 408 although the request timeout passed
  EXPECT_TRUE(server.answerLater("waited"));
  sendAll(fd, "TP/1.1\r\nHost: x\r\n\r\n");
  std::string got = readFor(fd);
  EXPECT_NE(got.find("waited"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\n\r\nnow"), std::string::npos) << got;
  EXPECT_EQ(got.find("408"), std::string::npos) << got;
  ::close(fd);
}

TEST(HttpDeferred, HeadRequestGetsNoBody) {
  DeferredHttpServer server;
  int fd = connectTo(server.port());
  sendAll(fd, "HEAD /later HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(waitFor([&] { return server.waitingCount() == 1; }));
  EXPECT_TRUE(server.answerLater("body-not-sent"));
  std::string got = readFor(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_EQ(got.find("body-not-sent"), std::string::npos) << got;
  ::close(fd);
}

}  // namespace
}  // namespace sb::http
