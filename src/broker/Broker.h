#pragma once
// The engine behind channels: assigns stream positions, keeps history and
// presence, and carries publications and join/leave events to every node that
// subscribed a channel. The memory broker (this process only) and the Redis
// broker (a cluster) implement the same interface and pass the same test suite
// (tests/unit/broker_suite.h).
//
// Threading: every method may be called from any worker thread. Completion
// callbacks run on the calling thread; the memory broker runs them before the
// method returns, the Redis broker on a later loop iteration. Callers keep
// their request until the callback runs and check that their owner is still
// alive (core::SessionOpTable for sessions, HttpSession::defer for HTTP).
// Events (BrokerEventHandler) may arrive on any thread; for one channel they
// arrive one at a time, in offset order.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/Model.h"

namespace sb::broker {

using protocol::ClientInfo;
using protocol::Publication;
using protocol::PublicationPtr;
using protocol::StreamPosition;

// Failures a caller can act on. `temporary` ones may succeed on retry
// (protocol error 100 with temporary=true).
struct BrokerError {
  std::string message;
  bool temporary = true;
};

struct PublishOptions {
  int historySize = 0;                      // 0 = no history, offset stays 0
  std::chrono::milliseconds historyTtl{0};  // 0 = no history
  // Publication id for idempotent retries: a second publish with the same key
  // within the history TTL returns the first one's position. Empty = none.
  std::string idempotencyKey;
};

struct PublishResult {
  StreamPosition position;  // offset 0 when the channel keeps no history
};

struct HistoryRequest {
  // Publications after this position (offset > since.offset); nullopt = from
  // the oldest kept (or the newest when reverse).
  std::optional<StreamPosition> since;
  // At most this many; 0 = none (only the stream position), -1 = all kept.
  int limit = 0;
  // Newest first. With `since`: publications before it (offset <
  // since.offset), newest first, i.e. paging backwards (centrifuge semantics).
  bool reverse = false;
  // Options of the channel's namespace, used to expire history and meta.
  std::chrono::milliseconds historyTtl{0};
  std::chrono::milliseconds metaTtl{0};
};

struct HistoryResult {
  std::vector<PublicationPtr> publications;
  StreamPosition position;  // the stream's top: newest offset and epoch
  // When `since` was given: false if its epoch differs from the stream's or
  // publications after it are no longer kept (so the range has a gap).
  bool sinceRetained = true;
};

struct PresenceStats {
  uint32_t numClients = 0;
  uint32_t numUsers = 0;
};

// Receives what the broker delivers to this node.
class BrokerEventHandler {
 public:
  virtual ~BrokerEventHandler() = default;
  virtual void onPublication(std::string_view channel, const PublicationPtr& pub, const StreamPosition& pos) = 0;
  virtual void onJoin(std::string_view channel, const ClientInfo& info) = 0;
  virtual void onLeave(std::string_view channel, const ClientInfo& info) = 0;
  // The channel's events flow again after an interruption (a remote broker
  // lost its connection and has subscribed the channel anew): publications
  // made meanwhile were NOT delivered to this node. The caller must
  // re-position every local subscriber of `channel`: read the stream
  // (history since the last position each subscriber was sent) and deliver
  // what is missing, or, when the history no longer covers it, tell the
  // subscriber it cannot recover (disconnect with reconnect, so that it
  // resubscribes with recover and is told `recovered: false`). Never leave it
  // subscribed as if nothing happened. Only channels still subscribed get it.
  // The stream read may itself fail with a temporary error while the engine's
  // other connections are still coming back: retry it, or treat the gap as
  // unrecoverable. The memory broker never calls it.
  virtual void onResubscribed(std::string_view /*channel*/) {}
};

template <class T>
using Callback = std::function<void(T result, const BrokerError* error)>;  // error != nullptr on failure

class Broker {
 public:
  virtual ~Broker() = default;

  // Set once before use.
  virtual void setEventHandler(BrokerEventHandler* handler) = 0;

  // Starts receiving this channel's events on this node (idempotent per
  // channel; the hub calls it when the first local subscriber arrives and
  // unsubscribe when the last leaves).
  virtual void subscribe(std::string_view channel) = 0;
  virtual void unsubscribe(std::string_view channel) = 0;
  // subscribe(), then `ready` (on the calling thread, like completion
  // callbacks) once this node is certain to receive every later publication
  // of the channel. A caller that positions a subscriber by reading the
  // stream (recovery, the offset in a subscribe reply) must read it after
  // `ready`, or a publication made in between could be missed. On failure
  // (Redis unreachable: a temporary error) the subscription still counts;
  // call unsubscribe() as usual. The engine keeps trying and calls
  // BrokerEventHandler::onResubscribed once the channel flows. Default, for
  // engines whose subscribe takes effect at once: ready before returning.
  virtual void subscribeReady(std::string_view channel, Callback<bool> ready) {
    subscribe(channel);
    if (ready) ready(true, nullptr);
  }

  // Appends to history (when enabled) and delivers to every subscribed node.
  virtual void publish(std::string_view channel, Publication pub, const PublishOptions& opts,
                       Callback<PublishResult> done) = 0;
  // Delivers a join/leave event to every subscribed node (no history).
  virtual void publishJoin(std::string_view channel, const ClientInfo& info) = 0;
  virtual void publishLeave(std::string_view channel, const ClientInfo& info) = 0;

  virtual void history(std::string_view channel, const HistoryRequest& req, Callback<HistoryResult> done) = 0;
  virtual void removeHistory(std::string_view channel, Callback<bool> done) = 0;

  // Presence: client → info, expiring after `ttl` unless added again.
  virtual void addPresence(std::string_view channel, const ClientInfo& info, std::chrono::milliseconds ttl,
                           Callback<bool> done) = 0;
  virtual void removePresence(std::string_view channel, std::string_view clientId, std::string_view user,
                              Callback<bool> done) = 0;
  virtual void presence(std::string_view channel,
                        Callback<std::unordered_map<std::string, ClientInfo>> done) = 0;
  virtual void presenceStats(std::string_view channel, Callback<PresenceStats> done) = 0;

  // Channels with history or presence currently held (for /api/info and metrics).
  virtual size_t channelCount() const = 0;
  virtual const char* name() const = 0;
};

}  // namespace sb::broker
