#pragma once
// One Switchboard node: everything the client sessions and the server API
// share — configuration, channel rules, token verification, the broker and
// the hub — plus the node's identity and counters.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "auth/ChannelRules.h"
#include "auth/TokenVerifier.h"
#include "broker/Broker.h"
#include "config/Config.h"
#include "core/Hub.h"
#include "core/SessionOps.h"
#include "http/OriginPolicy.h"

namespace sb::core {

class ClientSession;

// The links of an intrusive list of T (no allocation per element); T
// derives from ListLink<T>.
template <class T>
struct ListLink {
  ListLink* prev = nullptr;
  ListLink* next = nullptr;
};

// One circular intrusive list of T per worker; each worker's list is used on
// that worker's loop thread only.
template <class T>
class PerWorkerList {
 public:
  explicit PerWorkerList(size_t workers) : heads_(std::make_unique<ListLink<T>[]>(workers)) {
    for (size_t i = 0; i < workers; ++i) heads_[i].prev = heads_[i].next = &heads_[i];
  }
  void attach(size_t w, ListLink<T>* l) {
    ListLink<T>* head = &heads_[w];
    l->next = head;
    l->prev = head->prev;
    head->prev->next = l;
    head->prev = l;
  }
  // Unlinks `l` if it is in a list.
  static void detach(ListLink<T>* l) {
    if (!l->prev) return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = nullptr;
  }
  // `fn(T&)` for every element on worker `w`; fn may detach the element.
  template <class Fn>
  void forEach(size_t w, Fn&& fn) {
    ListLink<T>* head = &heads_[w];
    for (ListLink<T>* l = head->next; l != head;) {
      ListLink<T>* next = l->next;
      fn(*static_cast<T*>(l));
      l = next;
    }
  }

 private:
  std::unique_ptr<ListLink<T>[]> heads_;
};

// A worker's session list links (ClientSession derives from it).
using SessionLink = ListLink<ClientSession>;

// A lasting connection that is not a protocol session: a plain /sse or /ws
// stream opened with a user's token (transport/PlainSubscription). The server
// API's `disconnect` finds it by user and client id like a session.
class UserStream : public ListLink<UserStream> {
 public:
  virtual ~UserStream() = default;
  virtual std::string_view streamUser() const = 0;
  virtual std::string_view streamClient() const = 0;
  // Ends the stream, saying `code` and `reason` where its wire can; loop
  // thread of its worker.
  virtual void disconnectStream(uint16_t code, std::string_view reason) = 0;
};

// Counters of client sessions (relaxed atomics: statistics).
struct SessionStats {
  std::atomic<int64_t> clients{0};           // connected (after the connect command)
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> messagesIn{0};
  std::atomic<uint64_t> messagesOut{0};
};

class Node {
 public:
  // Throws config::ConfigError (bad keys, namespaces) before anything runs.
  Node(const config::Config& cfg, std::unique_ptr<broker::Broker> broker, size_t workers);
  ~Node();

  const config::Config& config() const { return cfg_; }
  const auth::ChannelRules& rules() const { return rules_; }
  const auth::TokenVerifier& tokens() const { return tokens_; }
  // client.allowed_origins: every transport a browser can open checks it.
  const http::OriginPolicy& origins() const { return origins_; }
  broker::Broker& broker() { return *broker_; }
  Hub& hub() { return hub_; }
  SessionStats& stats() { return stats_; }
  const std::string& id() const { return id_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

  // Publishes with the history options of the channel's namespace.
  // `data` must be valid, compact JSON. The callback runs on the caller's
  // thread (maybe later, for remote brokers).
  void publish(std::string_view channel, std::string data, std::optional<protocol::ClientInfo> info,
               std::vector<std::pair<std::string, std::string>> tags, std::string idempotencyKey,
               broker::Callback<broker::PublishResult> done);

  // Each worker keeps its sessions in a list so API actions (disconnect by
  // user, counts) can find them; loop thread of worker `w` only.
  void attachSession(size_t w, ClientSession* s);
  void detachSession(size_t w, ClientSession* s);
  // `fn(ClientSession&)` for every session on worker `w`; fn may close it.
  template <class Fn>
  void forEachSession(size_t w, Fn&& fn) {
    sessions_.forEach(w, std::forward<Fn>(fn));
  }

  // Worker `w`'s table of sessions with broker answers outstanding
  // (core/SessionOps.h); loop thread of worker `w` only.
  SessionOpTable& sessionOps(size_t w) { return sessionOps_[w]; }

  // Each worker's UserStreams, as its sessions above (loop thread of worker `w` only).
  void attachStream(size_t w, UserStream* s) { streams_.attach(w, s); }
  void detachStream(size_t, UserStream* s) { PerWorkerList<UserStream>::detach(s); }
  template <class Fn>
  void forEachStream(size_t w, Fn&& fn) {
    streams_.forEach(w, std::forward<Fn>(fn));
  }

  // A fresh client id (UUID v4 text, 36 chars).
  static void newClientId(char out[36]);

 private:
  config::Config cfg_;
  auth::ChannelRules rules_;
  auth::TokenVerifier tokens_;
  http::OriginPolicy origins_;
  std::unique_ptr<broker::Broker> broker_;
  Hub hub_;
  SessionStats stats_;
  std::string id_;
  std::chrono::steady_clock::time_point started_;
  PerWorkerList<ClientSession> sessions_;
  PerWorkerList<UserStream> streams_;
  std::unique_ptr<SessionOpTable[]> sessionOps_;
};

}  // namespace sb::core
