#pragma once
// One client connection speaking the Centrifugo protocol v2: the whole state
// machine (connect → subscribe/publish/presence/history/refresh → closed) in
// one place, independent of the transport that carries its bytes.
//
// Life: created when the transport opens; `connect` must come first (else
// 3501) and within client.connect_timeout (else 3502). Then the server pings
// ("{}") every client.ping_interval and expects the client's "{}" within
// client.pong_timeout (else 3012). An expired connection token closes with
// 3005 after client.expired_close_delay unless refreshed. Commands are
// rate-limited per connection (111, then 3013).
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/Hub.h"
#include "core/Node.h"
#include "net/SharedBuffer.h"
#include "net/TimerWheel.h"
#include "protocol/Codec.h"

namespace sb::net {
class EventLoop;
}

namespace sb::core {

// What a session needs from the transport carrying it.
class SessionTransport {
 public:
  virtual ~SessionTransport() = default;
  // One message of newline-separated JSON replies/pushes.
  virtual void sendText(std::string_view text) = 0;
  // A fan-out push of `ev` (its JSON is ev.push): `wsFrame` is ev.push already
  // framed as a WebSocket text message and shared by every receiver. Called
  // inside Subscriber::deliver, so other encodings come from Hub::encoded.
  virtual void sendShared(const ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) = 0;
  // Closes with a protocol disconnect code (WebSocket close code + reason;
  // a disconnect push on the HTTP-streaming transports).
  virtual void close(uint16_t code, std::string_view reason) = 0;
  virtual net::EventLoop& loop() = 0;
  virtual size_t workerIndex() const = 0;
  // The session's one timer (connect timeout, pings, pong and token
  // deadlines), supplied by the transport so that a connection whose own
  // timer is idle carries no second one: arms it to fire `delayMs` from now
  // (replacing an earlier arming), after which the transport calls
  // ClientSession::timerFired() on the loop thread. A transport with no
  // timer to spare embeds a SessionTimer. cancelTimer is also called from
  // the session's destructor, so it must stay callable until then.
  virtual void armTimer(uint64_t delayMs) = 0;
  virtual void cancelTimer() = 0;
  virtual const char* name() const = 0;
  // The emulation transports (sse, http_stream): the secret id the client
  // sends to /emulation with its later commands; it goes out in the connect
  // reply's `session`. Empty for the others.
  virtual std::string_view emulationSession() const { return {}; }
  // The unidirectional transports (uni_*): the connect result goes out as a
  // connect push, pings expect no pong, and connect errors are disconnects.
  // The transport strips the {"push":...} envelope of what it sends.
  virtual bool unidirectional() const { return false; }
};

// A subscription the server API makes on a client's behalf (`subscribe`).
struct ServerSubscribeRequest {
  std::string channel;
  std::string info;  // channel info seen in presence/join/leave: raw compact JSON or empty
  std::string data;  // sent to the client in the subscribe push: raw compact JSON or empty
  int64_t expireAt = 0;  // unix seconds; 0 = never (then unsubscribed with 2501 after the grace)
  std::optional<protocol::StreamPosition> recoverSince;  // recover from here (channels with force_recovery)
};

class ClientSession final : public Subscriber, public SessionLink {
 public:
  ClientSession(Node& node, SessionTransport& transport);
  ~ClientSession() override;
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // The transport is open: start the connect timeout.
  void start();
  // One message from the client (one or more commands).
  void handleMessage(std::string_view text);
  // Unidirectional transports: the connect request the client sent when it
  // opened the connection (no command id; the answer is a connect push).
  void connectUnidirectional(protocol::ConnectRequest req);
  // The transport is gone: leave every channel, drop presence.
  void transportClosed();
  // Server-initiated disconnect (API, shutdown, errors).
  void disconnect(uint16_t code, std::string_view reason);
  void disconnect(const protocol::DisconnectCode& d) { disconnect(d.code, d.reason); }

  // Server API actions, on this session's loop thread; ignored until connected.
  // Subscribes without permission checks and sends the subscribe push (the
  // SDK's server-side `subscribed` event), then any recovered publications.
  void serverSubscribe(const ServerSubscribeRequest& req);
  // Removes the subscription, if any, and sends the unsubscribe push (2000).
  void serverUnsubscribe(std::string_view channel);
  // `expired` closes with 3005 at once; otherwise the connection expires at
  // `expireAt` (unix s, 0 = never; a past time closes with 3005), its info
  // becomes `info` when non-empty, and the client gets a refresh push.
  void serverRefresh(bool expired, int64_t expireAt, std::string_view info);

  // The transport's timer (SessionTransport::armTimer) fired.
  void timerFired();

  bool connected() const { return state_ == State::Connected; }
  const std::string& user() const { return identity_ ? identity_->user : emptyString(); }
  std::string_view clientId() const { return {clientId_.data(), clientId_.size()}; }
  size_t subscriptionCount() const { return subs_.size(); }

  // Subscriber
  void deliver(ChannelSubscribers& ch, const ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) override;
  void deliverPending(ChannelSubscribers& ch, const ChannelEventPtr& ev) override;
  void entryMoved(ChannelSubscribers& ch, uint32_t slot) override;
  void positionLost(ChannelSubscribers& ch, uint32_t slot) override;

 private:
  enum class State : uint8_t { Connecting, Connected, Closed };
  // Defined in ClientSession.cpp: a positioned subscription's state while its
  // position is read, where its answer goes, and a connect reply waiting for
  // such subscriptions.
  struct PendingSubscribe;
  struct SubscribeAnswer;
  struct ConnectWait;

  // Kept small (40 bytes): an idle connection's memory is mostly its
  // session, and the rarely set parts live behind pointers.
  struct Subscription {
    ChannelSubscribers* channel = nullptr;
    uint32_t slot = 0;
    uint8_t flags = 0;
    int64_t expiresAt = 0;  // subscription token exp (unix s), 0 = never
    // Channel info from the subscription token (raw JSON); null when none.
    std::unique_ptr<std::string> chanInfo;
    // Set while the subscription's position is being read (positioned
    // subscriptions): the events buffered meanwhile and what the answer needs.
    std::unique_ptr<PendingSubscribe> pending;
    static constexpr uint8_t kPresence = 1;
    static constexpr uint8_t kJoinLeave = 2;  // publishes join/leave
  };
  static_assert(sizeof(Subscription) <= 40, "Subscription grew: 40 bytes is one 48-byte malloc chunk");

  // Command handlers append their reply (or error) to `out`.
  void dispatch(const protocol::Command& cmd, std::string& out);
  void handleConnect(const protocol::Command& cmd, std::string& out);
  void handleSubscribe(const protocol::Command& cmd, std::string& out);
  void handleUnsubscribe(const protocol::Command& cmd, std::string& out);
  void handlePublish(const protocol::Command& cmd, std::string& out);
  void handlePresence(const protocol::Command& cmd, std::string& out);
  void handlePresenceStats(const protocol::Command& cmd, std::string& out);
  void handleHistory(const protocol::Command& cmd, std::string& out);
  void handleRefresh(const protocol::Command& cmd, std::string& out);
  void handleSubRefresh(const protocol::Command& cmd, std::string& out);
  bool allowRead(const protocol::Command& cmd, auth::Action action, std::string& out);

  // Subscribes (after permission checks); false with `err` set when the
  // subscription could not be made. `tokenGranted` skips the namespace's
  // subscribe permission (token "channels" claim, subscription token, API).
  // A positioned subscription reads the stream first (subscribeReady, then
  // history) and is answered by completeSubscribe when the read is done,
  // which may be inside this call (memory broker) or later; `answer` says
  // where the answer goes. Otherwise it answers before returning.
  bool subscribe(const protocol::SubscribeRequest& req, bool tokenGranted, int64_t tokenExp, std::string chanInfo,
                 std::shared_ptr<SubscribeAnswer> answer, std::optional<protocol::ErrorCode>& err);
  void readPosition(std::string channel, uint64_t opId, std::shared_ptr<SubscribeAnswer> answer);
  void completeSubscribe(const std::string& channel, uint64_t opId, SubscribeAnswer& answer,
                         broker::HistoryResult* hist, const broker::BrokerError* error);
  void answerSubscribe(SubscribeAnswer& answer, protocol::SubscribeResult& result, Subscription* sub);
  void finishConnect(ConnectWait& wait);
  // Where an answer goes: `out` when the broker answered inside the command's
  // handling (syncSerial's scope is still open), else a message of its own.
  std::string* syncOut(uint64_t serial);
  void sendOwnMessage(std::string_view text);

  // A broker operation in flight: what its callback needs to find out
  // whether this session is still there (core/SessionOps.h).
  struct OpTicket {
    Node* node;
    ClientSession* session;  // may be gone: only compared until endOp says it is live
    uint64_t incarnation;
    uint32_t worker;
  };
  OpTicket beginOp();
  // Ends the operation; the session when it is still live, else null.
  static ClientSession* endOp(const OpTicket& t);
  // Runs `call(callback)`; the callback answers command `id` with
  // `write(out, result)`, or error 100 with the broker's message.
  template <class T, class Call, class Write>
  void brokerCall(uint32_t id, Call&& call, Write write);
  void unsubscribeAt(size_t index, bool sendLeave);
  Subscription* findSubscription(std::string_view channel, size_t* index = nullptr);
  protocol::ClientInfo clientInfo(const Subscription* sub) const;
  bool allowCommand();
  void flushPending(Subscription& sub, std::string& out);

  void scheduleTimer();
  void sendPing();
  int64_t unixNow() const;

  // What the connection token says; null for an anonymous connection
  // without expiry (most idle connections in a benchmark, and every byte
  // here is per connection).
  struct Identity {
    std::string user;
    std::string connInfo;   // raw JSON or empty
    int64_t expiresAt = 0;  // connection token exp (unix s), 0 = never
  };
  // Replaces the identity; an empty one frees it.
  void setIdentity(std::string user, std::string connInfo, int64_t expiresAt);
  const std::string& connInfo() const { return identity_ ? identity_->connInfo : emptyString(); }
  int64_t expiresAt() const { return identity_ ? identity_->expiresAt : 0; }
  static const std::string& emptyString();

  // Members are ordered to pack (144 bytes): an idle subscribed connection
  // holds one session, so every 8 bytes here is 8 bytes per connection
  // (bench/profiles.md, "idle memory").
  Node& node_;
  SessionTransport& transport_;
  std::unique_ptr<Identity> identity_;
  // Monotonic ms: the connect timeout while Connecting, then the pong
  // deadline while a ping is outstanding (the two never overlap).
  uint64_t deadline_ = 0;
  uint64_t nextPingAt_ = 0;
  uint64_t tokensAt_ = 0;
  std::vector<Subscription> subs_;
  std::array<char, 36> clientId_;
  uint32_t worker_ = 0;
  float tokens_;                  // rate limiter bucket
  uint16_t rejectedInRow_ = 0;    // saturates at 65535
  State state_ = State::Connecting;
  bool started_ : 1 = false;  // start() ran: the transport's timer may be armed
  bool pingOutstanding_ : 1 = false;
  bool attached_ : 1 = false;
  bool unusable_ : 1 = false;  // connect failed: the next command closes with 3501
  bool inOpTable_ : 1 = false;  // has an entry in node_.sessionOps(worker_)
  // The connect reply waits for the position reads of the token's channels.
  bool connectPending_ : 1 = false;
};
static_assert(sizeof(ClientSession) <= 144, "ClientSession grew: 144 bytes per connection (bench/profiles.md, idle memory)");

// A session timer for transports that have no timer of their own to lend
// (SessionTransport::armTimer): schedules on the loop's timer wheel and calls
// the session back.
class SessionTimer : private net::TimerNode {
 public:
  explicit SessionTimer(ClientSession& session);
  ~SessionTimer();
  SessionTimer(const SessionTimer&) = delete;
  SessionTimer& operator=(const SessionTimer&) = delete;
  void arm(net::EventLoop& loop, uint64_t delayMs);
  void cancel();

 private:
  static void onFire(net::TimerNode* node);
  ClientSession& session_;
  net::EventLoop* loop_ = nullptr;  // set by the first arm()
};

// Merges a recovery read from history with events buffered while it was
// read: `history` are the publications after the client's position, in
// offset order; `buffered` arrived live meanwhile (any order, may overlap
// history). Returns every publication once, in offset order, without gaps
// when the inputs have none; `lastOffset` becomes the newest offset.
std::vector<protocol::PublicationPtr> mergeRecovery(const std::vector<protocol::PublicationPtr>& history,
                                                    const std::vector<ChannelEventPtr>& buffered,
                                                    uint64_t& lastOffset);

}  // namespace sb::core
