#pragma once
// Test support for the Redis broker: a redis-server child process on a
// loopback port (RedisServer), a synchronous client to look at it from the
// side (RedisProbe), and a RedisBroker with running event loops of its own
// (LoopedRedisBroker). Used by broker_redis_test.cpp and
// broker_redis_cluster_test.cpp.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "broker/RedisBroker.h"
#include "net/EventLoop.h"

namespace sb::broker::suite {

using namespace std::chrono_literals;

// The redis-server binary on PATH, or "".
inline std::string findRedisServer() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

inline int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// Why no redis-server can run here ("" when one can).
inline std::string redisUnavailableReason() {
  static const std::string reason =
      findRedisServer().empty() ? "redis-server is not installed (run scripts/install-deps)" : "";
  return reason;
}

// One T (a server, a cluster) for the whole test binary, started on first
// use; nullptr when redis-server is missing or T did not start.
template <class T>
T* sharedStarted() {
  static std::unique_ptr<T> instance = [] {
    if (!redisUnavailableReason().empty()) return std::unique_ptr<T>();
    auto t = std::make_unique<T>();
    if (!t->start()) return std::unique_ptr<T>();
    return t;
  }();
  return instance.get();
}

// A synchronous hiredis client for looking at the server from the side.
class RedisProbe {
 public:
  RedisProbe(int port, const std::string& password = "") {
    timeval tv{2, 0};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (ctx_ && !ctx_->err && !password.empty()) command({"AUTH", password});
  }
  ~RedisProbe() {
    if (ctx_) redisFree(ctx_);
  }
  bool ok() const { return ctx_ && !ctx_->err; }

  // The reply as text (integers in decimal, arrays joined by '\n'), or
  // "ERR:<message>".
  std::string command(const std::vector<std::string>& args) {
    if (!ok()) return "ERR:not connected";
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_, int(argv.size()), argv.data(), lens.data()));
    if (!r) return "ERR:no reply";
    std::string out = render(r);
    freeReplyObject(r);
    return out;
  }

  // calls=<n> of one command in INFO commandstats (0 when never called).
  long commandCalls(const std::string& name) {
    std::string info = command({"INFO", "commandstats"});
    std::string needle = "cmdstat_" + name + ":calls=";
    size_t at = info.find(needle);
    if (at == std::string::npos) return 0;
    return std::strtol(info.c_str() + at + needle.size(), nullptr, 10);
  }

 private:
  static std::string render(const redisReply* r) {
    switch (r->type) {
      case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
      case REDIS_REPLY_ERROR: return "ERR:" + std::string(r->str, r->len);
      case REDIS_REPLY_NIL: return "(nil)";
      case REDIS_REPLY_ARRAY: {
        std::string out;
        for (size_t i = 0; i < r->elements; ++i) out += (i ? "\n" : "") + render(r->element[i]);
        return out;
      }
      default: return std::string(r->str, r->len);
    }
  }
  redisContext* ctx_ = nullptr;
};

// A redis-server child process on a loopback port; killed with the test
// binary (PR_SET_PDEATHSIG) even if the binary crashes.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extraArgs = {}) : extra_(std::move(extraArgs)) {}
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Why no server can run here ("" when one can).
  static std::string unavailableReason() { return redisUnavailableReason(); }

  // Starts on a free port, or on the previous one (a restart). Waits until it
  // answers PING.
  bool start() {
    if (pid_ > 0) return true;
    // hiredis writes with write(2): a write to a connection Redis just closed
    // must not kill the test binary (the server ignores SIGPIPE in main()).
    signal(SIGPIPE, SIG_IGN);
    if (port_ == 0) port_ = freeLoopbackPort();
    std::string binary = findRedisServer();
    std::vector<std::string> args{binary,          "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--save",        "",       "--appendonly",        "no",     "--daemonize",
                                  "no",            "--dir",  "/tmp"};
    for (const auto& a : extra_) args.push_back(a);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      std::this_thread::sleep_for(50ms);
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: e.g. its port was taken meanwhile
        pid_ = -1;
        return false;
      }
      RedisProbe probe(port_, password());
      if (probe.ok() && probe.command({"PING"}) == "PONG") return true;
    }
    return false;
  }
  // SIGKILL: the harshest loss (no goodbye to the clients).
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void stop() { kill(); }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string password() const {
    for (size_t i = 0; i + 1 < extra_.size(); ++i)
      if (extra_[i] == "--requirepass") return extra_[i + 1];
    return "";
  }

  // One server for the whole binary (channel names keep tests apart).
  static RedisServer* shared() { return sharedStarted<RedisServer>(); }

 private:
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int port_ = 0;
};


// A RedisBroker with event loops of its own running in threads, as a node's
// workers would be: the Broker interface forwarded, loops stopped and the
// broker closed on destruction (in the order RedisBroker requires).
class LoopedRedisBroker final : public Broker {
 public:
  explicit LoopedRedisBroker(RedisBrokerOptions options, int loops = 2) : broker_(std::move(options)) {
    for (int i = 0; i < loops; ++i) {
      loops_.push_back(std::make_unique<net::EventLoop>());
      broker_.attachLoop(*loops_.back());
    }
    for (auto& loop : loops_) threads_.emplace_back([l = loop.get()] { l->run(); });
  }
  ~LoopedRedisBroker() override {
    for (auto& loop : loops_) loop->stop();
    for (auto& t : threads_) t.join();
    broker_.close();
  }

  RedisBroker& redis() { return broker_; }
  net::EventLoop& loop(size_t i) { return *loops_[i]; }

  void setEventHandler(BrokerEventHandler* handler) override { broker_.setEventHandler(handler); }
  void subscribe(std::string_view channel) override { broker_.subscribe(channel); }
  void subscribeReady(std::string_view channel, Callback<bool> ready) override {
    broker_.subscribeReady(channel, std::move(ready));
  }
  void unsubscribe(std::string_view channel) override { broker_.unsubscribe(channel); }
  void publish(std::string_view channel, Publication pub, const PublishOptions& opts,
               Callback<PublishResult> done) override {
    broker_.publish(channel, std::move(pub), opts, std::move(done));
  }
  void publishJoin(std::string_view channel, const ClientInfo& info) override { broker_.publishJoin(channel, info); }
  void publishLeave(std::string_view channel, const ClientInfo& info) override {
    broker_.publishLeave(channel, info);
  }
  void history(std::string_view channel, const HistoryRequest& req, Callback<HistoryResult> done) override {
    broker_.history(channel, req, std::move(done));
  }
  void removeHistory(std::string_view channel, Callback<bool> done) override {
    broker_.removeHistory(channel, std::move(done));
  }
  void addPresence(std::string_view channel, const ClientInfo& info, std::chrono::milliseconds ttl,
                   Callback<bool> done) override {
    broker_.addPresence(channel, info, ttl, std::move(done));
  }
  void removePresence(std::string_view channel, std::string_view clientId, std::string_view user,
                      Callback<bool> done) override {
    broker_.removePresence(channel, clientId, user, std::move(done));
  }
  void presence(std::string_view channel, Callback<std::unordered_map<std::string, ClientInfo>> done) override {
    broker_.presence(channel, std::move(done));
  }
  void presenceStats(std::string_view channel, Callback<PresenceStats> done) override {
    broker_.presenceStats(channel, std::move(done));
  }
  void publishControl(std::string payload, Callback<bool> done) override {
    broker_.publishControl(std::move(payload), std::move(done));
  }
  size_t channelCount() const override { return broker_.channelCount(); }
  const char* name() const override { return broker_.name(); }

 private:
  std::vector<std::unique_ptr<net::EventLoop>> loops_;
  RedisBroker broker_;
  std::vector<std::thread> threads_;
};

}  // namespace sb::broker::suite
