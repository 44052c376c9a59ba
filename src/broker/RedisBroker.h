#pragma once
// The broker for many nodes: history, stream positions and presence live in
// Redis, and publications, joins and leaves travel between nodes over Redis
// pub/sub. Same interface and same test suite as the memory broker
// (tests/unit/broker_suite.h); the key layout, the scripts and what happens
// when Redis goes away are described in docs/scaling.md.
//
// Connections (hiredis's asynchronous API on our event loops, no thread of
// the broker's own):
//   - one command connection per attached event loop: a call made on a
//     worker's loop goes out on that loop's connection, pipelined with the
//     loop turn's other commands, and its callback runs on that loop;
//   - one pub/sub connection, on the first attached loop (the "home" loop),
//     which subscribes each channel once for the whole node however many
//     local subscribers and workers want it, and unsubscribes when the last
//     one leaves. Events (BrokerEventHandler) are called on the home loop's
//     thread, one at a time, in the order Redis published them (so offset
//     order for one channel).
// A call from a thread that runs no attached loop (a test, a tool) is handed
// to the home loop; its callback then runs on the caller's loop when the
// caller runs one (EventLoop::current()), else on the home loop's thread.
//
// Each publication is ONE script call (EVALSHA, EVAL when Redis answers
// NOSCRIPT): it assigns the offset, appends to the channel's stream and
// PUBLISHes once, whatever the number of subscribing nodes and clients.
//
// When Redis goes away every call fails fast with a temporary BrokerError
// (never a hang: see RedisConnection for the bounds and timeouts); the
// connections come back with backoff and jitter; the pub/sub connection
// subscribes every channel again and then calls
// BrokerEventHandler::onResubscribed for each, because publications made
// meanwhile were not delivered.
//
// Lifetime: attachLoop() every loop before it makes broker calls; close()
// (or destroy the broker) after those loops stopped running and before they
// are destroyed.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/Broker.h"
#include "broker/RedisCluster.h"
#include "broker/RedisConnection.h"
#include "net/EventLoop.h"

namespace sb::broker {

struct RedisBrokerOptions {
  // See parseRedisAddress. With `cluster`, a comma-separated list of seed
  // nodes ("10.0.0.1:7000,10.0.0.2:7000"): any one that answers gives the
  // slot map.
  std::string address = "127.0.0.1:6379";
  // Redis Cluster: commands go to the master owning the channel's hash slot
  // and channels travel over sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7).
  bool cluster = false;
  std::string password;                    // "" = no AUTH
  int db = 0;
  // First part of every key and pub/sub topic, so that several applications
  // (or test runs) can share one Redis. No '{' or '}' (they would break the
  // keys' hash tags).
  std::string prefix = "switchboard";
  // As MemoryBrokerOptions: how long a stream's epoch and top offset outlive
  // the last publish (or history read) when the read does not say.
  std::chrono::milliseconds historyMetaTtl{std::chrono::hours(24)};
  // Idempotency window for publishes to channels that keep no history.
  std::chrono::milliseconds idempotencyTtl{std::chrono::minutes(5)};
  std::chrono::milliseconds connectTimeout{2000};
  std::chrono::milliseconds replyTimeout{5000};
  std::chrono::milliseconds reconnectMin{100};
  std::chrono::milliseconds reconnectMax{5000};
  size_t maxPendingPerConnection = 20000;
};

class RedisBroker final : public Broker {
 public:
  static constexpr size_t kMaxLoops = 128;

  // Throws std::invalid_argument naming the problem when the address or the
  // prefix cannot be used. Connects only once a loop is attached.
  explicit RedisBroker(RedisBrokerOptions options);
  ~RedisBroker() override;
  RedisBroker(const RedisBroker&) = delete;
  RedisBroker& operator=(const RedisBroker&) = delete;

  // Gives `loop` its own command connection (created on the loop's thread);
  // the first loop attached also carries the pub/sub connection. Call before
  // the loop runs broker calls, from any thread; at most kMaxLoops.
  void attachLoop(net::EventLoop& loop);
  // Closes every connection; callbacks still pending are dropped without
  // being called, later calls fail. Only while no attached loop is running.
  void close();

  void setEventHandler(BrokerEventHandler* handler) override;
  void subscribe(std::string_view channel) override;
  void subscribeReady(std::string_view channel, Callback<bool> ready) override;
  void unsubscribe(std::string_view channel) override;

  void publish(std::string_view channel, Publication pub, const PublishOptions& opts,
               Callback<PublishResult> done) override;
  void publishJoin(std::string_view channel, const ClientInfo& info) override;
  void publishLeave(std::string_view channel, const ClientInfo& info) override;
  // PUBLISH on "<prefix>:control", which every node's pub/sub connection
  // subscribes from its start (and again after each reconnect).
  void publishControl(std::string payload, Callback<bool> done) override;

  // Same choice of publications and the same sinceRetained as MemoryBroker
  // (see MemoryBroker::history), read from the channel's stream.
  void history(std::string_view channel, const HistoryRequest& req, Callback<HistoryResult> done) override;
  void removeHistory(std::string_view channel, Callback<bool> done) override;

  // Entries expire per client on Redis's clock (a dead node's clients vanish
  // when their TTL passes); ttl must be positive.
  void addPresence(std::string_view channel, const ClientInfo& info, std::chrono::milliseconds ttl,
                   Callback<bool> done) override;
  void removePresence(std::string_view channel, std::string_view clientId, std::string_view user,
                      Callback<bool> done) override;
  void presence(std::string_view channel, Callback<std::unordered_map<std::string, ClientInfo>> done) override;
  void presenceStats(std::string_view channel, Callback<PresenceStats> done) override;

  // Channels this node subscribes to in Redis (what it holds locally; the
  // channels with history or presence are counted by Redis, not here).
  size_t channelCount() const override { return subscribedChannels_.load(std::memory_order_relaxed); }
  const char* name() const override { return "redis"; }

  // Whether Redis has confirmed this node's subscription to `channel` (tests
  // and diagnostics). Thread-safe.
  bool subscriptionConfirmed(std::string_view channel) const;
  // Whether the pub/sub connection is up (for /health-style checks).
  bool pubsubReady() const { return pubsubReady_.load(std::memory_order_relaxed); }

  // Key and topic names (docs/scaling.md): "<prefix>:{<channel>}:<suffix>".
  std::string key(std::string_view channel, std::string_view suffix) const;
  std::string topic(std::string_view channel) const;
  const std::string& controlTopic() const { return controlTopic_; }

 private:
  struct LoopSlot;
  class PubSub;
  struct Script {
    std::string source;
    std::string sha1;  // hex, as SCRIPT LOAD answers
  };
  template <class T>
  using Operation = std::function<void(LoopSlot&, Callback<T>)>;
  using Argv = std::shared_ptr<std::vector<std::string>>;

  // Runs `op` with the command connection of the caller's loop, or hands it
  // to the home loop (see the file comment); `done` reaches the caller.
  template <class T>
  void dispatch(Callback<T> done, Operation<T> op);
  LoopSlot* slotFor(const net::EventLoop* loop) const;
  RedisConnectionOptions connectionOptions(const RedisAddress& address, std::string label) const;
  // The hash slot of every key and the topic of `channel` (they share it).
  uint16_t channelSlot(std::string_view channel) const;
  // Cluster: the master owning `hashSlot` by the last slot map (the first
  // seed while none is known: it redirects).
  RedisAddress ownerOf(uint16_t hashSlot) const;
  // Cluster: asks CLUSTER SLOTS (seeds and known masters in turn, on the
  // home loop) and tells the pub/sub side; one refresh at a time.
  void refreshSlotMap();
  void refreshFrom(std::shared_ptr<std::vector<RedisAddress>> candidates, size_t next);
  // Sends `argv` on `slot`'s connection to the master owning `hashSlot` (or
  // to the one Redis), follows one -MOVED/-ASK redirection (refreshing the
  // map on MOVED) and re-sends an EVALSHA that Redis does not know as EVAL.
  void send(LoopSlot& slot, uint16_t hashSlot, Argv argv, const Script* script, RedisConnection::ReplyFn done,
            int redirects, std::optional<RedisAddress> to, bool asking);
  // The channel whose topic this is, or nullopt (not one of ours).
  std::optional<std::string_view> channelOfTopic(std::string_view topic) const;
  LoopSlot* homeSlot() const;
  // Runs `task` on the home loop (at once when already there).
  void onHomeLoop(std::function<void()> task);
  // EVALSHA, then EVAL if Redis does not know the script.
  void runScript(LoopSlot& slot, uint16_t hashSlot, const Script& script, std::vector<std::string> keys,
                 std::vector<std::string> args, RedisConnection::ReplyFn done);
  void command(LoopSlot& slot, uint16_t hashSlot, std::vector<std::string> argv, RedisConnection::ReplyFn done);
  void loadScripts(RedisConnection& conn);
  static std::string newEpoch();

  RedisBrokerOptions options_;
  std::string controlTopic_;         // "<prefix>:control"
  RedisAddress address_;             // the one Redis, or the first seed
  std::vector<RedisAddress> seeds_;  // cluster
  mutable std::mutex mapMu_;
  std::shared_ptr<const rediscluster::SlotMap> slotMap_;  // guarded by mapMu_; nullptr until known
  std::atomic<bool> refreshing_{false};
  Script publishScript_, historyScript_, addPresenceScript_, removePresenceScript_, presenceScript_,
      presenceStatsScript_;

  std::mutex attachMu_;
  std::vector<std::unique_ptr<LoopSlot>> ownedSlots_;  // guarded by attachMu_
  std::array<std::atomic<LoopSlot*>, kMaxLoops> slots_{};
  std::atomic<size_t> slotCount_{0};
  std::unique_ptr<PubSub> pubsub_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> pubsubReady_{false};
  std::atomic<BrokerEventHandler*> handler_{nullptr};
  std::atomic<size_t> subscribedChannels_{0};
};

}  // namespace sb::broker
