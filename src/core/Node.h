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

#include "auth/ChannelRules.h"
#include "auth/TokenVerifier.h"
#include "broker/Broker.h"
#include "config/Config.h"
#include "core/Hub.h"
#include "http/OriginPolicy.h"

namespace sb::core {

class ClientSession;

// Intrusive links of a worker's session list (no allocation per session).
struct SessionLink {
  SessionLink* prevSession = nullptr;
  SessionLink* nextSession = nullptr;
};

// A lasting connection that is not a protocol session: a plain /sse or /ws
// stream opened with a user's token (transport/PlainSubscription). The server
// API's `disconnect` finds it by user and client id like a session.
struct StreamLink {
  StreamLink* prevStream = nullptr;
  StreamLink* nextStream = nullptr;
};
class UserStream : public StreamLink {
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
    SessionLink* head = &heads_[w];
    for (SessionLink* l = head->nextSession; l != head;) {
      SessionLink* next = l->nextSession;
      fn(asSession(l));
      l = next;
    }
  }

  // The same for UserStreams (loop thread of worker `w` only).
  void attachStream(size_t w, UserStream* s);
  void detachStream(size_t w, UserStream* s);
  template <class Fn>
  void forEachStream(size_t w, Fn&& fn) {
    StreamLink* head = &streamHeads_[w];
    for (StreamLink* l = head->nextStream; l != head;) {
      StreamLink* next = l->nextStream;
      fn(*static_cast<UserStream*>(l));
      l = next;
    }
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
  std::unique_ptr<SessionLink[]> heads_;  // one circular list per worker
  std::unique_ptr<StreamLink[]> streamHeads_;  // the same for UserStreams
  static ClientSession& asSession(SessionLink* l);
};

}  // namespace sb::core
