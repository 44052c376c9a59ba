#pragma once
// One connection to Redis through hiredis's asynchronous API, driven by one
// of our event loops: no thread of its own. Commands issued during a loop
// turn are written together at the end of the turn (the loop's flush step),
// so a burst becomes one write and Redis sees a pipeline.
//
// Life of a connection:
//   Connecting  TCP/unix connect, then AUTH (when a password is set), SELECT
//               (when db != 0) and PING. Commands are accepted and queued
//               behind the handshake.
//   Ready       the handshake answered; commands go straight out.
//   Down        the connection failed or was dropped: every pending command
//               fails with a temporary BrokerError naming the reason, new
//               commands fail at once (no queue builds up while Redis is
//               away), and a reconnect is scheduled after an exponential
//               backoff with jitter.
// A reply that does not come within `replyTimeout` (a hung or stopped
// server) drops the connection the same way, so nothing waits forever.
//
// Bounds: at most `maxPending` commands wait for a reply; beyond that a
// command fails at once (temporary).
//
// Threading: everything runs on the loop's thread, including construction and
// the callbacks. hiredis writes with write(2): the process must ignore SIGPIPE
// (main() does). Destroy it only while its loop is not running, or from a task
// of that loop (never from inside one of its own callbacks); pending commands
// are then forgotten without their callbacks being called.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "broker/Broker.h"
#include "net/EventLoop.h"

struct redisAsyncContext;
struct redisReply;

namespace sb::broker {

// Where Redis listens: a TCP host and port, or a unix socket path.
struct RedisAddress {
  std::string host;      // empty for a unix socket
  int port = 0;
  std::string unixPath;  // set for a unix socket
  std::string text() const;
};

// "host:port", "[ipv6]:port", "host" (port 6379), "unix:/path" or "/path".
// nullopt with `error` set when the text is none of these.
std::optional<RedisAddress> parseRedisAddress(std::string_view text, std::string* error);

struct RedisConnectionOptions {
  RedisAddress address;
  std::string password;  // "" = no AUTH
  int db = 0;
  std::chrono::milliseconds connectTimeout{2000};  // connect + handshake
  std::chrono::milliseconds replyTimeout{5000};    // oldest pending command
  std::chrono::milliseconds reconnectMin{100};     // first backoff step
  std::chrono::milliseconds reconnectMax{5000};    // backoff ceiling
  size_t maxPending = 20000;
  std::string label;  // names the connection in logs ("worker 0", "pub/sub")
};

class RedisConnection final : private net::IoHandler, private net::Flushable {
 public:
  enum class State { Connecting, Ready, Down };

  // What the owner hears about, on the loop thread. The owner may issue
  // commands from these (not destroy the connection).
  class Observer {
   public:
    virtual ~Observer() = default;
    virtual void onRedisReady(RedisConnection&) {}
    // The connection went Down. Its pending commands fail around this call
    // (some may still fail after it returns); new ones fail at once.
    virtual void onRedisLost(RedisConnection&, const std::string& /*reason*/) {}
    // Pub/sub traffic: subscribe/unsubscribe confirmations and messages,
    // arrays exactly as Redis sends them.
    virtual void onRedisPush(RedisConnection&, const redisReply&) {}
  };

  // `reply` is the reply (possibly an error reply, type REDIS_REPLY_ERROR) and
  // `error` nullptr; or `reply` nullptr and `error` the connection's failure.
  using ReplyFn = std::function<void(const redisReply* reply, const BrokerError* error)>;

  RedisConnection(net::EventLoop& loop, RedisConnectionOptions options, Observer* observer);
  ~RedisConnection() override;
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects (first attempt); later ones are scheduled by the connection.
  void start();
  // Sends one command (binary-safe arguments). `done` runs exactly once,
  // later, or at once when the connection is Down or too many commands wait.
  void command(std::span<const std::string> argv, ReplyFn done);
  // SUBSCRIBE/UNSUBSCRIBE (`verb`) for `channels`; confirmations and messages
  // go to Observer::onRedisPush. Only while Ready (false otherwise).
  bool pubsub(std::string_view verb, std::span<const std::string> channels);
  // SSUBSCRIBE/SUNSUBSCRIBE (`verb`, Redis 7 sharded pub/sub). hiredis 0.14
  // does not know these commands, so from the first one on this connection
  // reads Redis's answers itself and hands every reply (confirmations,
  // "smessage"s and error replies such as -MOVED) to Observer::onRedisPush.
  // Only while Ready with no command() awaiting a reply; a connection used
  // for this takes no command() afterwards (until it reconnects).
  bool shardedPubsub(std::string_view verb, std::span<const std::string> channels);
  // Closes now: pending commands fail with `reason`, a reconnect follows.
  void drop(const std::string& reason);

  State state() const { return state_; }
  // Why the connection last went Down ("" if it never did).
  const std::string& lastFailure() const { return failure_.message; }
  size_t pending() const { return sentAt_.size(); }
  net::EventLoop& loop() { return loop_; }
  const RedisConnectionOptions& options() const { return options_; }

 private:
  struct Timer : net::TimerNode {
    RedisConnection* owner = nullptr;
    void (RedisConnection::*action)() = nullptr;
  };
  struct PendingCommand;

  // hiredis's event hooks and callbacks.
  static void hookAddRead(void* self);
  static void hookDelRead(void* self);
  static void hookAddWrite(void* self);
  static void hookDelWrite(void* self);
  static void hookCleanup(void* self);
  static void onConnected(const redisAsyncContext* ac, int status);
  static void onDisconnected(const redisAsyncContext* ac, int status);
  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void onPush(redisAsyncContext* ac, void* reply, void* privdata);
  static void fireTimer(net::TimerNode* node);

  void onIoEvent(uint32_t events) override;
  // Push mode (shardedPubsub): reads and hands over what Redis sent.
  void readPushes();
  void flush() override;

  void connect();
  void sendHandshake();
  void handshakeStep(const redisReply* reply, const BrokerError* error, const char* what);
  // The context `ac` failed or closed: go Down (once per context).
  void lost(const redisAsyncContext* ac, std::string reason);
  void goDown(std::string reason);
  void scheduleReconnect();
  void updateInterest();
  // Sets wantRead_ or wantWrite_; the epoll interest follows a change.
  void setWant(bool& want, bool on);
  void armTimer(Timer& timer, std::chrono::milliseconds delay);
  void connectTimedOut();
  void checkReplies();
  void sendCommand(std::span<const std::string> argv, ReplyFn done);
  void failNow(const ReplyFn& done, const BrokerError& error);

  net::EventLoop& loop_;
  RedisConnectionOptions options_;
  Observer* observer_;
  redisAsyncContext* ctx_ = nullptr;  // nullptr while Down
  State state_ = State::Down;
  BrokerError failure_;               // why the last context went Down
  int fd_ = -1;
  bool registered_ = false;           // fd_ is in the epoll set
  bool wantRead_ = false;
  bool wantWrite_ = false;            // EPOLLOUT wanted (connecting, or a partial write)
  bool writing_ = false;              // inside redisAsyncHandleWrite
  bool closing_ = false;              // in the destructor: callbacks are not called
  bool pushMode_ = false;             // shardedPubsub used: replies are read by readPushes
  int handshakeLeft_ = 0;
  unsigned attempts_ = 0;             // failed connects since the last Ready
  std::deque<uint64_t> sentAt_;       // loop time of each command awaiting a reply, oldest first
  Timer reconnectTimer_, connectTimer_, replyTimer_;
  std::mt19937 jitter_{std::random_device{}()};
};

}  // namespace sb::broker
