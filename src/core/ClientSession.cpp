#include "core/ClientSession.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "util/Logging.h"
#include "metrics/ServerMetrics.h"
#include "net/EventLoop.h"
#include "protocol/Json.h"

namespace sb::core {

using protocol::Command;
using protocol::ErrorCode;
using protocol::Method;
namespace err = protocol::error;
namespace dis = protocol::disconnect;

namespace {

uint64_t randomBelow(uint64_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return n == 0 ? 0 : rng() % n;
}

// The per-thread buffer that collects one message's replies (several
// commands in one frame are answered in one frame).
std::string& replyBuffer() {
  thread_local std::string buf;
  return buf;
}

// The handling of one command on this thread: a broker answer that arrives
// while its scope is open (the memory broker answers inside the call) is
// written into `out`, in the same message as today; one that arrives later
// goes out as a message of its own. Scopes nest (an answer that starts
// another command's handling); each has a serial no other scope reuses.
struct SyncScope {
  explicit SyncScope(std::string& o) : out(o), serial(++lastSerial()), prev(current()) { current() = this; }
  ~SyncScope() { current() = prev; }
  SyncScope(const SyncScope&) = delete;
  SyncScope& operator=(const SyncScope&) = delete;
  static SyncScope*& current() {
    thread_local SyncScope* scope = nullptr;
    return scope;
  }
  static uint64_t& lastSerial() {
    thread_local uint64_t serial = 0;
    return serial;
  }
  // The open scope's serial, 0 outside any.
  static uint64_t currentSerial() { return current() ? current()->serial : 0; }
  std::string& out;
  uint64_t serial;
  SyncScope* prev;
};

}  // namespace

// A positioned subscription while its position is read.
struct ClientSession::PendingSubscribe {
  // Events that arrived meanwhile (bounded in deliverPending).
  std::vector<ChannelEventPtr> events;
  // The read in flight; an answer with another id is stale (the channel was
  // unsubscribed, maybe subscribed again). 0 once the read is done and the
  // subscription only waits for the connect reply to go out first.
  uint64_t opId = 0;
};

// Where a subscription's answer goes, and what the read needs.
struct ClientSession::SubscribeAnswer {
  enum class To : uint8_t { Client, Connect, Server };
  To to = To::Client;
  uint32_t cmdId = 0;       // Client: the subscribe command's id
  uint64_t syncSerial = 0;  // Client: the SyncScope of its handling
  std::shared_ptr<ConnectWait> connect;  // Connect: the reply waiting for it
  size_t connectIndex = 0;               // Connect: its entry in connect->result.subs
  std::string serverData;                // Server: `data` of the subscribe push
  bool recoverable = false;
  bool recovering = false;
  std::string recoverEpoch;
  uint64_t recoverOffset = 0;
  broker::HistoryRequest read;
  protocol::SubscribeResult result;  // expires/ttl before the read, the rest after
};

// A connect reply that waits for the position reads of the token's channels.
struct ClientSession::ConnectWait {
  uint32_t cmdId = 0;
  uint64_t syncSerial = 0;
  size_t outstanding = 1;  // one held by handleConnect until its loop is done
  protocol::ConnectResult result;
};

ClientSession::ClientSession(Node& node, SessionTransport& transport)
    : node_(node), transport_(transport) {
  Node::newClientId(clientId_.data());
  tokens_ = float(node_.config().client.command_burst);
}

const std::string& ClientSession::emptyString() {
  static const std::string empty;
  return empty;
}

void ClientSession::setIdentity(std::string user, std::string connInfo, int64_t expiresAt) {
  if (user.empty() && connInfo.empty() && expiresAt == 0) {
    identity_.reset();
    return;
  }
  if (!identity_) identity_ = std::make_unique<Identity>();
  identity_->user = std::move(user);
  identity_->connInfo = std::move(connInfo);
  identity_->expiresAt = expiresAt;
}

ClientSession::~ClientSession() {
  if (state_ != State::Closed) transportClosed();
  if (started_) transport_.cancelTimer();
}

void ClientSession::start() {
  started_ = true;
  worker_ = uint32_t(transport_.workerIndex());
  uint64_t now = net::monotonicMs();
  tokensAt_ = now;
  deadline_ = now + uint64_t(node_.config().client.connect_timeout.count());
  scheduleTimer();
  metrics::sessionOpened(transport_.name());
}

int64_t ClientSession::unixNow() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ---- input ----------------------------------------------------------------

void ClientSession::handleMessage(std::string_view text) {
  if (state_ == State::Closed) return;
  node_.stats().messagesIn.fetch_add(1, std::memory_order_relaxed);
  thread_local std::vector<Command> commands;
  commands.clear();
  std::string error;
  if (!protocol::parseCommands(text, commands, error)) {
    spdlog::info("client {}: malformed command ({}), disconnecting", clientId(), error);
    disconnect(dis::kBadRequest);
    return;
  }
  std::string& out = replyBuffer();
  out.clear();
  for (const Command& cmd : commands) {
    if (state_ == State::Closed) break;
    size_t before = out.size();
    if (before > 0) out.push_back('\n');
    SyncScope scope(out);
    dispatch(cmd, out);
    if (out.size() == before + 1 && before > 0) out.pop_back();  // no reply (send, pong)
  }
  if (!out.empty() && state_ != State::Closed) {
    transport_.sendText(out);
    node_.stats().messagesOut.fetch_add(1, std::memory_order_relaxed);
  }
  // The next message may be handled by another session on this thread.
  if (out.capacity() > 64 * 1024) std::string().swap(out);
}

void ClientSession::connectUnidirectional(protocol::ConnectRequest req) {
  if (state_ != State::Connecting) return;
  node_.stats().messagesIn.fetch_add(1, std::memory_order_relaxed);
  node_.stats().commands.fetch_add(1, std::memory_order_relaxed);
  Command cmd;
  cmd.method = Method::Connect;
  cmd.connect = std::move(req);
  std::string& out = replyBuffer();
  out.clear();
  {
    SyncScope scope(out);
    handleConnect(cmd, out);
  }
  if (!out.empty() && state_ != State::Closed) {
    transport_.sendText(out);
    node_.stats().messagesOut.fetch_add(1, std::memory_order_relaxed);
  }
  if (out.capacity() > 64 * 1024) std::string().swap(out);
}

bool ClientSession::allowCommand() {
  const auto& cfg = node_.config().client;
  uint64_t now = net::monotonicMs();
  tokens_ = float(std::min(double(cfg.command_burst),
                           double(tokens_) + double(now - tokensAt_) * double(cfg.command_rate) / 1000.0));
  tokensAt_ = now;
  if (tokens_ >= 1.0f) {
    tokens_ -= 1.0f;
    rejectedInRow_ = 0;
    return true;
  }
  if (rejectedInRow_ < UINT16_MAX) ++rejectedInRow_;
  return false;
}

void ClientSession::dispatch(const Command& cmd, std::string& out) {
  node_.stats().commands.fetch_add(1, std::memory_order_relaxed);
  if (cmd.method == Method::Empty) {
    // The client's pong. One without an outstanding ping is a protocol error.
    if (!pingOutstanding_) {
      spdlog::info("client {}: pong without ping", clientId());
      disconnect(dis::kBadRequest);
      return;
    }
    pingOutstanding_ = false;
    deadline_ = 0;
    scheduleTimer();
    return;
  }
  if (unusable_) {
    // A connect that failed (e.g. 109) leaves the connection unusable, as in
    // Centrifugo: the client must reconnect.
    spdlog::info("client {}: command after a failed connect", clientId());
    disconnect(dis::kBadRequest);
    return;
  }
  if (state_ == State::Connecting && cmd.method != Method::Connect) {
    spdlog::info("client {}: {} before connect", clientId(), protocol::methodName(cmd.method));
    disconnect(dis::kBadRequest);
    return;
  }
  if (connectPending_) {
    // The connect reply waits for the position reads of the token's
    // channels. centrifuge-js (like every official SDK) sends nothing before
    // the connect reply, so a command now is a client that does not follow
    // the protocol: refused as a command before connect.
    spdlog::info("client {}: {} before the connect reply", clientId(), protocol::methodName(cmd.method));
    disconnect(dis::kBadRequest);
    return;
  }
  if (state_ == State::Connected && cmd.method == Method::Connect) {
    spdlog::info("client {}: second connect", clientId());
    disconnect(dis::kBadRequest);
    return;
  }
  if (!allowCommand()) {
    // (A burst setting past the counter's range counts as its maximum.)
    if (rejectedInRow_ > std::min<uint32_t>(uint32_t(node_.config().client.command_burst), UINT16_MAX - 1)) {
      spdlog::info("client {} (user '{}'): command flood, disconnecting", clientId(), user());
      disconnect(dis::kTooManyRequests);
      return;
    }
    if (cmd.id != 0) protocol::writeError(out, cmd.id, err::kTooManyRequests);
    return;
  }
  switch (cmd.method) {
    case Method::Connect: return handleConnect(cmd, out);
    case Method::Subscribe: return handleSubscribe(cmd, out);
    case Method::Unsubscribe: return handleUnsubscribe(cmd, out);
    case Method::Publish: return handlePublish(cmd, out);
    case Method::Presence: return handlePresence(cmd, out);
    case Method::PresenceStats: return handlePresenceStats(cmd, out);
    case Method::History: return handleHistory(cmd, out);
    case Method::Refresh: return handleRefresh(cmd, out);
    case Method::SubRefresh: return handleSubRefresh(cmd, out);
    case Method::Rpc: return protocol::writeError(out, cmd.id, err::kMethodNotFound);
    case Method::Ping: return protocol::writeEmptyReply(out, cmd.id, Method::Ping);
    case Method::Send: return;  // accepted; no handler consumes it yet
    case Method::Empty: return;
  }
}

// ---- connect and refresh ----------------------------------------------------

void ClientSession::handleConnect(const Command& cmd, std::string& out) {
  const auto& cfg = node_.config().client;
  const auto& req = cmd.connect;
  int64_t now = unixNow();
  std::vector<std::string> serverChannels;
  if (!req.token.empty()) {
    auto v = node_.tokens().verifyConnect(req.token, now);
    if (v.status == auth::TokenStatus::Expired) {
      // A unidirectional client cannot refresh: as Centrifugo, the error
      // becomes a disconnect (3005), and the client reconnects with a new token.
      if (transport_.unidirectional()) return disconnect(dis::kExpired);
      protocol::writeError(out, cmd.id, err::kTokenExpired);
      unusable_ = true;
      return;
    }
    if (v.status != auth::TokenStatus::Ok) {
      spdlog::info("client {}: invalid connection token: {}", clientId(), v.reason);
      disconnect(dis::kInvalidToken);
      return;
    }
    setIdentity(std::move(v.claims.user), std::move(v.claims.info), v.claims.exp);
    serverChannels = std::move(v.claims.channels);
  } else if (!cfg.allow_anonymous) {
    spdlog::info("client {}: connect without a token and client.allow_anonymous is off", clientId());
    disconnect(dis::kBadRequest);
    return;
  }

  state_ = State::Connected;
  node_.attachSession(worker_, this);
  attached_ = true;
  node_.stats().clients.fetch_add(1, std::memory_order_relaxed);
  logging::event(spdlog::level::debug, "client connected",
                 {{"client", clientId()}, {"user", user()}, {"transport", transport_.name()}});

  auto wait = std::make_shared<ConnectWait>();
  wait->cmdId = cmd.id;
  wait->syncSerial = SyncScope::currentSerial();
  protocol::ConnectResult& r = wait->result;
  r.client.assign(clientId());
  r.version = SB_VERSION;
  if (expiresAt() > 0) {
    r.expires = true;
    r.ttl = uint32_t(std::max<int64_t>(expiresAt() - now, 0));
  }
  r.ping = uint32_t(cfg.ping_interval.count() / 1000);
  r.pong = !transport_.unidirectional();
  r.node = node_.id();
  r.session.assign(transport_.emulationSession());

  // Server-side subscriptions from the token's "channels" claim; the client
  // may ask to recover them through connect.subs. The reply carries their
  // results, so it waits for their position reads (finishConnect).
  connectPending_ = true;
  for (const std::string& ch : serverChannels) {
    protocol::SubscribeRequest sreq;
    for (const auto& [name, s] : req.subs) {
      if (name == ch) sreq = s;
    }
    sreq.channel = ch;
    auto answer = std::make_shared<SubscribeAnswer>();
    answer->to = SubscribeAnswer::To::Connect;
    answer->connect = wait;
    answer->connectIndex = r.subs.size();
    r.subs.emplace_back(ch, protocol::SubscribeResult{});
    ++wait->outstanding;
    std::optional<ErrorCode> error;
    if (!subscribe(sreq, true, 0, {}, std::move(answer), error)) {
      --wait->outstanding;
      r.subs.pop_back();
      if (error && error->code == err::kAlreadySubscribed.code) continue;  // listed twice
      spdlog::info("client {}: server-side subscription to '{}' failed: {}", clientId(), ch,
                   error ? error->message : "unknown");
      disconnect(dis::kBadRequest);
      return;
    }
    if (state_ == State::Closed) return;  // its position read failed
  }
  if (--wait->outstanding == 0) finishConnect(*wait);
}

// Writes the connect reply once every server-side subscription has its
// result, then the events those subscriptions buffered meanwhile, and starts
// pinging. Into the connect command's message when everything answered
// inside its handling, else as a message of its own.
void ClientSession::finishConnect(ConnectWait& wait) {
  if (state_ != State::Connected || !connectPending_) return;
  connectPending_ = false;
  const auto& cfg = node_.config().client;
  std::string own;
  std::string* out = syncOut(wait.syncSerial);
  if (!out) out = &own;
  if (transport_.unidirectional()) protocol::writeConnectPush(*out, wait.result);
  else protocol::writeConnectReply(*out, wait.cmdId, wait.result);
  for (Subscription& s : subs_) {
    if (s.pending && s.pending->opId == 0) {
      s.channel->at(s.slot).flags &= uint8_t(~SubscriberEntry::kPending);
      flushPending(s, *out);
    }
  }

  uint64_t nowMs = net::monotonicMs();
  uint64_t interval = uint64_t(cfg.ping_interval.count());
  // The first ping at a random point in the second half of the interval, so
  // clients that connected together do not ping together.
  nextPingAt_ = nowMs + interval / 2 + randomBelow(interval / 2 + 1);
  scheduleTimer();
  if (out == &own) sendOwnMessage(own);
}

void ClientSession::handleRefresh(const Command& cmd, std::string& out) {
  if (cmd.token.empty()) {
    disconnect(dis::kBadRequest);
    return;
  }
  int64_t now = unixNow();
  auto v = node_.tokens().verifyConnect(cmd.token, now);
  if (v.status == auth::TokenStatus::Expired) {
    protocol::writeError(out, cmd.id, err::kTokenExpired);
    return;
  }
  if (v.status != auth::TokenStatus::Ok || v.claims.user != user()) {
    spdlog::info("client {}: invalid refresh token: {}", clientId(),
                 v.status != auth::TokenStatus::Ok ? v.reason : "user mismatch");
    disconnect(dis::kInvalidToken);
    return;
  }
  setIdentity(user(), v.claims.info.empty() ? connInfo() : std::move(v.claims.info), v.claims.exp);
  protocol::RefreshResult r;
  r.client.assign(clientId());
  r.version = SB_VERSION;
  if (expiresAt() > 0) {
    r.expires = true;
    r.ttl = uint32_t(std::max<int64_t>(expiresAt() - now, 0));
  }
  protocol::writeRefreshReply(out, cmd.id, r);
  scheduleTimer();
}

// ---- subscriptions ----------------------------------------------------------

ClientSession::Subscription* ClientSession::findSubscription(std::string_view channel, size_t* index) {
  for (size_t i = 0; i < subs_.size(); ++i) {
    if (subs_[i].channel->name() == channel) {
      if (index) *index = i;
      return &subs_[i];
    }
  }
  return nullptr;
}

protocol::ClientInfo ClientSession::clientInfo(const Subscription* sub) const {
  protocol::ClientInfo info;
  info.user = user();
  info.client.assign(clientId_.data(), clientId_.size());
  info.connInfo = connInfo();
  if (sub && sub->chanInfo) info.chanInfo = *sub->chanInfo;
  return info;
}

void ClientSession::handleSubscribe(const Command& cmd, std::string& out) {
  const auto& req = cmd.subscribe;
  if (req.channel.empty()) {
    disconnect(dis::kBadRequest);
    return;
  }
  int64_t tokenExp = 0;
  std::string chanInfo;
  bool tokenGranted = false;
  if (!req.token.empty()) {
    auto v = node_.tokens().verifySubscribe(req.token, unixNow());
    if (v.status == auth::TokenStatus::Expired) {
      protocol::writeError(out, cmd.id, err::kTokenExpired);
      return;
    }
    if (v.status != auth::TokenStatus::Ok) {
      spdlog::info("client {}: invalid subscription token for '{}': {}", clientId(), req.channel, v.reason);
      protocol::writeError(out, cmd.id, err::kPermissionDenied);
      return;
    }
    if (v.claims.channel != req.channel || v.claims.user != user() ||
        (!v.claims.client.empty() && v.claims.client != clientId())) {
      spdlog::info("client {}: subscription token for '{}' does not match channel, user or client", clientId(),
                   req.channel);
      disconnect(dis::kInvalidToken);
      return;
    }
    tokenExp = v.claims.exp;
    chanInfo = std::move(v.claims.info);
    tokenGranted = true;
  }
  auto answer = std::make_shared<SubscribeAnswer>();
  answer->to = SubscribeAnswer::To::Client;
  answer->cmdId = cmd.id;
  answer->syncSerial = SyncScope::currentSerial();
  std::optional<ErrorCode> error;
  if (!subscribe(req, tokenGranted, tokenExp, std::move(chanInfo), std::move(answer), error))
    protocol::writeError(out, cmd.id, error ? *error : err::kInternal);
}

bool ClientSession::subscribe(const protocol::SubscribeRequest& req, bool tokenGranted, int64_t tokenExp,
                              std::string chanInfo, std::shared_ptr<SubscribeAnswer> answer,
                              std::optional<ErrorCode>& error) {
  const auto& rules = node_.rules();
  const auto& ccfg = node_.config().client;
  if (auto e = rules.checkName(req.channel)) {
    error = *e;
    return false;
  }
  if (findSubscription(req.channel)) {
    error = err::kAlreadySubscribed;  // also while an earlier subscribe reads its position
    return false;
  }
  if (subs_.size() >= size_t(ccfg.channel_limit)) {
    error = err::kLimitExceeded;
    return false;
  }
  const config::ChannelOptions* opts = rules.options(req.channel);
  if (!opts) {
    error = err::kUnknownChannel;
    return false;
  }
  if (auto e = rules.check(auth::Action::Subscribe, req.channel, auth::Requester{user(), false, tokenGranted})) {
    error = *e;
    return false;
  }

  const bool history = opts->historyEnabled();
  const bool recoverable = history && (opts->force_recovery || (opts->allow_recovery && req.recoverable));
  const bool positioned = history && (recoverable || opts->force_positioning ||
                                      (opts->allow_positioning && req.positioned));
  const bool pushJoinLeave = opts->force_push_join_leave || (opts->join_leave && req.joinLeave);
  // Server-side subscriptions of a connect hold their events until the
  // connect reply has gone out, positioned or not.
  const bool hold = positioned || answer->to == SubscribeAnswer::To::Connect;

  uint8_t entryFlags = pushJoinLeave ? SubscriberEntry::kJoinLeave : 0;
  if (hold) entryFlags |= SubscriberEntry::kPending;
  Subscription sub;
  sub.flags = uint8_t((opts->presence ? Subscription::kPresence : 0) | (opts->join_leave ? Subscription::kJoinLeave : 0));
  sub.expiresAt = tokenExp;
  if (!chanInfo.empty()) sub.chanInfo = std::make_unique<std::string>(std::move(chanInfo));
  if (hold) sub.pending = std::make_unique<PendingSubscribe>();
  // Registered before the position is read: every publication after the read
  // reaches the entry (as pending, merged on completion), none falls in between.
  sub.channel = node_.hub().add(worker_, req.channel, this, entryFlags, 0, sub.slot);
  subs_.push_back(std::move(sub));

  if (tokenExp > 0) {
    answer->result.expires = true;
    answer->result.ttl = uint32_t(std::max<int64_t>(tokenExp - unixNow(), 0));
  }
  if (!positioned) {
    completeSubscribe(req.channel, 0, *answer, nullptr, nullptr);
    return true;
  }
  answer->recoverable = recoverable;
  answer->read.historyTtl = opts->history_ttl;
  answer->read.metaTtl = node_.config().broker.history_meta_ttl;
  if (recoverable && req.recover) {
    answer->recovering = true;
    answer->recoverEpoch = req.epoch;
    answer->recoverOffset = req.offset;
    answer->read.since = protocol::StreamPosition{req.offset, req.epoch};
    answer->read.limit = ccfg.recovery_max_publications + 1;  // one more tells "too many missed"
  }
  uint64_t opId = node_.sessionOps(worker_).nextOpId();
  subs_.back().pending->opId = opId;
  readPosition(req.channel, opId, std::move(answer));
  return true;
}

// Reads a positioned subscription's stream position: first subscribeReady
// (the broker must be certain to deliver every later publication, or one
// made between the read and the SUBSCRIBE would be lost), then history.
void ClientSession::readPosition(std::string channel, uint64_t opId, std::shared_ptr<SubscribeAnswer> answer) {
  OpTicket ready = beginOp();
  node_.broker().subscribeReady(
      channel, [ready, channel, opId, answer = std::move(answer)](bool, const broker::BrokerError* e) {
        ClientSession* self = endOp(ready);
        if (!self) return;
        Subscription* sub = self->findSubscription(channel);
        if (e || !sub || !sub->pending || sub->pending->opId != opId)
          return self->completeSubscribe(channel, opId, *answer, nullptr, e);
        OpTicket read = self->beginOp();
        self->node_.broker().history(
            channel, answer->read,
            [read, channel, opId, answer](broker::HistoryResult hist, const broker::BrokerError* e2) {
              if (ClientSession* s = endOp(read)) s->completeSubscribe(channel, opId, *answer, e2 ? nullptr : &hist, e2);
            });
      });
}

// The position read of `channel` is done (`hist`, or `error`; neither for a
// subscription that needs no read, opId 0): positions the subscription and
// answers. A stale answer (the subscription was removed, or replaced by a
// newer subscribe, meanwhile) touches no subscription; a client's subscribe
// command still gets its reply: the read's position, nothing recovered.
void ClientSession::completeSubscribe(const std::string& channel, uint64_t opId, SubscribeAnswer& answer,
                                      broker::HistoryResult* hist, const broker::BrokerError* error) {
  using To = SubscribeAnswer::To;
  const auto& ccfg = node_.config().client;
  protocol::SubscribeResult& result = answer.result;
  size_t index = 0;
  Subscription* sub = findSubscription(channel, &index);
  const bool current = opId == 0 || (sub && sub->pending && sub->pending->opId == opId);
  if (!current || error) {
    if (error) {
      spdlog::warn("client {}: reading the position of '{}' failed: {}", clientId(), channel, error->message);
      if (current) unsubscribeAt(index, false);
    }
    switch (answer.to) {
      case To::Client:
        if (error) {
          std::string own;
          std::string* out = syncOut(answer.syncSerial);
          if (!out) out = &own;
          protocol::writeError(*out, answer.cmdId, err::kInternal.code, error->message, error->temporary);
          if (out == &own) sendOwnMessage(own);
          return;
        }
        if (hist) {
          result.positioned = true;
          result.recoverable = answer.recoverable;
          result.epoch = hist->position.epoch;
          result.offset = hist->position.offset;
        }
        return answerSubscribe(answer, result, nullptr);
      case To::Connect:
        // The connect reply cannot go out without this subscription: the
        // client reconnects (3004) and subscribes anew.
        return disconnect(dis::kInternal);
      case To::Server:
        return;  // logged above when it failed; the backend's intent is undone, as for a refused one
    }
    return;
  }

  uint64_t lastOffset = 0;
  if (hist) {
    result.positioned = true;
    result.recoverable = answer.recoverable;
    result.epoch = hist->position.epoch;
    result.offset = hist->position.offset;
    lastOffset = hist->position.offset;
    if (answer.recovering) {
      result.wasRecovering = true;
      bool sameEpoch = answer.recoverEpoch == hist->position.epoch;
      bool tooMany = hist->publications.size() > size_t(ccfg.recovery_max_publications);
      result.recovered = sameEpoch && hist->sinceRetained && !tooMany;
      if (result.recovered) {
        std::vector<ChannelEventPtr> buffered;
        buffered.swap(sub->pending->events);
        uint64_t last = answer.recoverOffset;
        result.publications = mergeRecovery(hist->publications, buffered, last);
        lastOffset = std::max(last, lastOffset);
        result.offset = lastOffset;
      }
    }
    sub->channel->at(sub->slot).lastOffset = lastOffset;
    sub->channel->markPositioned(sub->slot, hist->position.epoch);
  }
  if (answer.to == To::Connect) {
    sub->pending->opId = 0;  // flushed after the connect reply (finishConnect)
  } else if (sub->pending) {
    sub->channel->at(sub->slot).flags &= uint8_t(~SubscriberEntry::kPending);
  }

  if (sub->flags & Subscription::kPresence) {
    node_.broker().addPresence(channel, clientInfo(sub), ccfg.presence_ttl, [](bool, const broker::BrokerError*) {});
  }
  if (sub->flags & Subscription::kJoinLeave) node_.broker().publishJoin(channel, clientInfo(sub));
  answerSubscribe(answer, result, sub);
}

// Sends a subscription's answer where it goes, then (Client, Server) the
// events `sub` buffered while its position was read.
void ClientSession::answerSubscribe(SubscribeAnswer& answer, protocol::SubscribeResult& result, Subscription* sub) {
  using To = SubscribeAnswer::To;
  switch (answer.to) {
    case To::Client: {
      std::string own;
      std::string* out = syncOut(answer.syncSerial);
      if (!out) out = &own;
      protocol::writeSubscribeReply(*out, answer.cmdId, result);
      // Events buffered while the position was read go after the reply, in
      // the same message.
      if (sub && sub->pending) flushPending(*sub, *out);
      if (out == &own) sendOwnMessage(own);
      return;
    }
    case To::Connect: {
      ConnectWait& wait = *answer.connect;
      wait.result.subs[answer.connectIndex].second = std::move(result);
      if (--wait.outstanding == 0) finishConnect(wait);
      return;
    }
    case To::Server: {
      if (!sub) return;
      std::string name = sub->channel->name();
      result.data = std::move(answer.serverData);
      std::string out;
      protocol::writeSubscribePush(out, name, result);
      // The push carries no publications: recovered ones follow as
      // publication pushes, then whatever arrived while the position was read.
      for (const auto& pub : result.publications) {
        out.push_back('\n');
        protocol::writePublicationPush(out, name, *pub);
      }
      if (sub->pending) flushPending(*sub, out);
      sendOwnMessage(out);
      scheduleTimer();
      return;
    }
  }
}

void ClientSession::flushPending(Subscription& sub, std::string& out) {
  if (!sub.pending) return;
  std::vector<ChannelEventPtr> events;
  events.swap(sub.pending->events);
  sub.pending.reset();
  SubscriberEntry& entry = sub.channel->at(sub.slot);
  for (const ChannelEventPtr& ev : events) {
    if (ev->kind == ChannelEvent::Kind::Publication && ev->offset != 0) {
      if (ev->offset <= entry.lastOffset) continue;
      entry.lastOffset = ev->offset;
    }
    out.push_back('\n');
    out += ev->push;
  }
}

void ClientSession::handleUnsubscribe(const Command& cmd, std::string& out) {
  size_t index;
  if (findSubscription(cmd.channel, &index)) unsubscribeAt(index, true);
  protocol::writeEmptyReply(out, cmd.id, Method::Unsubscribe);
}

void ClientSession::unsubscribeAt(size_t index, bool sendLeave) {
  Subscription& sub = subs_[index];
  std::string channel = sub.channel->name();
  protocol::ClientInfo info = clientInfo(&sub);
  uint8_t flags = sub.flags;
  node_.hub().remove(worker_, sub.channel, sub.slot);  // may destroy sub.channel
  if (index != subs_.size() - 1) subs_[index] = std::move(subs_.back());
  subs_.pop_back();
  if (flags & Subscription::kPresence) {
    node_.broker().removePresence(channel, info.client, info.user, [](bool, const broker::BrokerError*) {});
  }
  if (sendLeave && (flags & Subscription::kJoinLeave)) node_.broker().publishLeave(channel, info);
}

// ---- publish, presence, history --------------------------------------------

ClientSession::OpTicket ClientSession::beginOp() {
  inOpTable_ = true;
  return OpTicket{&node_, this, node_.sessionOps(worker_).begin(this), worker_};
}

ClientSession* ClientSession::endOp(const OpTicket& t) {
  switch (t.node->sessionOps(t.worker).end(t.session, t.incarnation)) {
    case SessionOpTable::End::Gone: return nullptr;
    case SessionOpTable::End::Alive: return t.session;
    case SessionOpTable::End::AliveLast: t.session->inOpTable_ = false; return t.session;
  }
  return nullptr;
}

std::string* ClientSession::syncOut(uint64_t serial) {
  if (serial == 0) return nullptr;
  for (SyncScope* s = SyncScope::current(); s; s = s->prev) {
    if (s->serial == serial) return &s->out;
  }
  return nullptr;
}

void ClientSession::sendOwnMessage(std::string_view text) {
  if (state_ == State::Closed) return;
  transport_.sendText(text);
  node_.stats().messagesOut.fetch_add(1, std::memory_order_relaxed);
}

template <class T, class Call, class Write>
void ClientSession::brokerCall(uint32_t id, Call&& call, Write write) {
  OpTicket t = beginOp();
  call([t, id, serial = SyncScope::currentSerial(), write = std::move(write)](T result, const broker::BrokerError* e) {
    ClientSession* self = endOp(t);
    if (!self) return;  // the session is gone: nothing to answer, nothing to undo for these calls
    std::string own;
    std::string* out = self->syncOut(serial);
    if (!out) out = &own;
    if (e) protocol::writeError(*out, id, err::kInternal.code, e->message, e->temporary);
    else write(*out, result);
    if (out == &own) self->sendOwnMessage(own);
  });
}

void ClientSession::handlePublish(const Command& cmd, std::string& out) {
  if (cmd.channel.empty() || cmd.data.empty()) {
    disconnect(dis::kBadRequest);
    return;
  }
  const auto& rules = node_.rules();
  if (auto e = rules.checkName(cmd.channel)) return protocol::writeError(out, cmd.id, *e);
  Subscription* sub = findSubscription(cmd.channel);
  if (auto e = rules.check(auth::Action::Publish, cmd.channel, auth::Requester{user(), sub != nullptr, false}))
    return protocol::writeError(out, cmd.id, *e);
  // Stored and re-sent to others: without the sender's whitespace.
  std::string data;
  if (!protocol::json::compact(cmd.data, data)) return disconnect(dis::kBadRequest);
  brokerCall<broker::PublishResult>(
      cmd.id,
      [&](auto cb) { node_.publish(cmd.channel, std::move(data), clientInfo(sub), {}, {}, std::move(cb)); },
      [id = cmd.id](std::string& o, const broker::PublishResult&) { protocol::writeEmptyReply(o, id, Method::Publish); });
}

// The common gate of presence, presence_stats and history: a channel name,
// a valid one, and the namespace's permission. False when it already answered.
bool ClientSession::allowRead(const Command& cmd, auth::Action action, std::string& out) {
  if (cmd.channel.empty()) {
    disconnect(dis::kBadRequest);
    return false;
  }
  const auto& rules = node_.rules();
  if (auto e = rules.checkName(cmd.channel)) {
    protocol::writeError(out, cmd.id, *e);
    return false;
  }
  bool subscribed = findSubscription(cmd.channel) != nullptr;
  if (auto e = rules.check(action, cmd.channel, auth::Requester{user(), subscribed, false})) {
    protocol::writeError(out, cmd.id, *e);
    return false;
  }
  return true;
}

void ClientSession::handlePresence(const Command& cmd, std::string& out) {
  if (!allowRead(cmd, auth::Action::Presence, out)) return;
  using Map = std::unordered_map<std::string, protocol::ClientInfo>;
  brokerCall<Map>(
      cmd.id, [&](auto cb) { node_.broker().presence(cmd.channel, std::move(cb)); },
      [id = cmd.id](std::string& o, const Map& m) { protocol::writePresenceReply(o, id, m); });
}

void ClientSession::handlePresenceStats(const Command& cmd, std::string& out) {
  if (!allowRead(cmd, auth::Action::Presence, out)) return;
  brokerCall<broker::PresenceStats>(
      cmd.id, [&](auto cb) { node_.broker().presenceStats(cmd.channel, std::move(cb)); },
      [id = cmd.id](std::string& o, const broker::PresenceStats& s) {
        protocol::writePresenceStatsReply(o, id, s.numClients, s.numUsers);
      });
}

void ClientSession::handleHistory(const Command& cmd, std::string& out) {
  if (!allowRead(cmd, auth::Action::History, out)) return;
  const config::ChannelOptions* opts = node_.rules().options(cmd.channel);
  int maxLimit = node_.config().client.history_max_publications;
  broker::HistoryRequest req;
  req.since = cmd.since;
  req.limit = (cmd.limit < 0 || cmd.limit > maxLimit) ? maxLimit : cmd.limit;
  req.reverse = cmd.reverse;
  req.historyTtl = opts->history_ttl;
  req.metaTtl = node_.config().broker.history_meta_ttl;
  brokerCall<broker::HistoryResult>(
      cmd.id, [&](auto cb) { node_.broker().history(cmd.channel, req, std::move(cb)); },
      [id = cmd.id, since = cmd.since](std::string& o, const broker::HistoryResult& h) {
        if (since && (since->epoch != h.position.epoch || !h.sinceRetained)) {
          protocol::writeError(o, id, err::kUnrecoverablePosition);
          return;
        }
        protocol::HistoryResult r;
        r.publications = h.publications;
        r.epoch = h.position.epoch;
        r.offset = h.position.offset;
        protocol::writeHistoryReply(o, id, r);
      });
}

void ClientSession::handleSubRefresh(const Command& cmd, std::string& out) {
  if (cmd.channel.empty() || cmd.token.empty()) return disconnect(dis::kBadRequest);
  Subscription* sub = findSubscription(cmd.channel);
  if (!sub) return protocol::writeError(out, cmd.id, err::kPermissionDenied);
  int64_t now = unixNow();
  auto v = node_.tokens().verifySubscribe(cmd.token, now);
  if (v.status == auth::TokenStatus::Expired) return protocol::writeError(out, cmd.id, err::kTokenExpired);
  if (v.status != auth::TokenStatus::Ok || v.claims.channel != cmd.channel || v.claims.user != user() ||
      (!v.claims.client.empty() && v.claims.client != clientId())) {
    spdlog::info("client {}: invalid subscription refresh token for '{}'", clientId(), cmd.channel);
    return disconnect(dis::kInvalidToken);
  }
  sub->expiresAt = v.claims.exp;
  bool expires = sub->expiresAt > 0;
  protocol::writeSubRefreshReply(out, cmd.id, expires, expires ? uint32_t(std::max<int64_t>(sub->expiresAt - now, 0)) : 0);
  scheduleTimer();
}

// ---- server API actions -----------------------------------------------------

void ClientSession::serverSubscribe(const ServerSubscribeRequest& req) {
  // While the connect reply waits for its position reads the client does
  // not know it is connected: API actions are ignored as before connect.
  if (state_ != State::Connected || connectPending_) return;
  protocol::SubscribeRequest sreq;
  sreq.channel = req.channel;
  if (req.recoverSince) {
    sreq.recover = true;
    sreq.epoch = req.recoverSince->epoch;
    sreq.offset = req.recoverSince->offset;
  }
  auto answer = std::make_shared<SubscribeAnswer>();
  answer->to = SubscribeAnswer::To::Server;
  answer->serverData = req.data;
  std::optional<ErrorCode> error;
  if (!subscribe(sreq, true, req.expireAt, req.info, std::move(answer), error)) {
    if (error && error->code == err::kLimitExceeded.code) {
      // As Centrifugo: a server-side subscription past client.channel_limit
      // closes the connection rather than leaving the backend's intent undone.
      spdlog::info("client {} (user '{}'): server API subscription to '{}' exceeds client.channel_limit",
                   clientId(), user(), req.channel);
      return disconnect(dis::kChannelLimit);
    }
    // Already subscribed (by the client or an earlier call) is the usual case: nothing to do.
    auto level = error && error->code == err::kAlreadySubscribed.code ? spdlog::level::debug : spdlog::level::info;
    spdlog::log(level, "client {} (user '{}'): server API subscription to '{}' not made: {}", clientId(), user(),
                req.channel, error ? error->message : "unknown");
    return;
  }
  // The subscribe push goes out when the position is read (answerSubscribe).
}

void ClientSession::serverUnsubscribe(std::string_view channel) {
  if (state_ != State::Connected || connectPending_) return;
  size_t index;
  if (!findSubscription(channel, &index)) return;
  std::string name(channel);  // `channel` may view the subscription's own name
  unsubscribeAt(index, true);
  std::string push;
  protocol::writeUnsubscribePush(push, name, protocol::unsubscribe::kServer);
  transport_.sendText(push);
  node_.stats().messagesOut.fetch_add(1, std::memory_order_relaxed);
}

void ClientSession::serverRefresh(bool expired, int64_t expireAt, std::string_view info) {
  if (state_ != State::Connected || connectPending_) return;
  int64_t now = unixNow();
  if (expired || (expireAt > 0 && expireAt <= now)) {
    spdlog::info("client {} (user '{}'): expired by the server API", clientId(), user());
    return disconnect(dis::kExpired);
  }
  setIdentity(user(), info.empty() ? connInfo() : std::string(info), expireAt);
  std::string push;
  protocol::writeRefreshPush(push, expiresAt() > 0, expiresAt() > 0 ? uint32_t(expiresAt() - now) : 0);
  transport_.sendText(push);
  node_.stats().messagesOut.fetch_add(1, std::memory_order_relaxed);
  scheduleTimer();
}

// ---- delivery ---------------------------------------------------------------

void ClientSession::deliver(ChannelSubscribers&, const ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) {
  transport_.sendShared(ev, wsFrame);
}

void ClientSession::deliverPending(ChannelSubscribers& ch, const ChannelEventPtr& ev) {
  Subscription* sub = findSubscription(ch.name());
  if (!sub) return;
  if (!sub->pending) sub->pending = std::make_unique<PendingSubscribe>();
  // Bounded: a position read that takes this long has failed anyway.
  if (sub->pending->events.size() >= size_t(node_.config().client.recovery_max_publications) * 4) {
    disconnect(dis::kInsufficientState);
    return;
  }
  sub->pending->events.push_back(ev);
}

void ClientSession::entryMoved(ChannelSubscribers& ch, uint32_t slot) {
  for (Subscription& s : subs_) {
    if (s.channel == &ch) {
      s.slot = slot;
      return;
    }
  }
}

// The hub can no longer keep this subscription in step with its stream:
// reconnecting makes the SDK resubscribe with recover, and recovery says
// whether the history still covers what was missed.
void ClientSession::positionLost(ChannelSubscribers&, uint32_t) { disconnect(dis::kInsufficientState); }

SessionTimer::SessionTimer(ClientSession& session) : session_(session) { TimerNode::fire = &SessionTimer::onFire; }

SessionTimer::~SessionTimer() { cancel(); }

void SessionTimer::arm(net::EventLoop& loop, uint64_t delayMs) {
  loop_ = &loop;
  loop.timers().schedule(static_cast<TimerNode*>(this), delayMs);
}

void SessionTimer::cancel() {
  if (loop_) loop_->timers().cancel(static_cast<TimerNode*>(this));
}

void SessionTimer::onFire(net::TimerNode* node) { static_cast<SessionTimer*>(node)->session_.timerFired(); }

std::vector<protocol::PublicationPtr> mergeRecovery(const std::vector<protocol::PublicationPtr>& history,
                                                    const std::vector<ChannelEventPtr>& buffered,
                                                    uint64_t& lastOffset) {
  std::vector<protocol::PublicationPtr> outPubs;
  outPubs.reserve(history.size() + buffered.size());
  for (const auto& p : history) {
    if (p->offset > lastOffset) {
      outPubs.push_back(p);
      lastOffset = p->offset;
    }
  }
  std::vector<const ChannelEvent*> live;
  for (const auto& ev : buffered) {
    if (ev->kind == ChannelEvent::Kind::Publication && ev->pub) live.push_back(ev.get());
  }
  std::stable_sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (const ChannelEvent* ev : live) {
    if (ev->offset > lastOffset) {
      outPubs.push_back(ev->pub);
      lastOffset = ev->offset;
    }
  }
  return outPubs;
}

// ---- timers -----------------------------------------------------------------

void ClientSession::scheduleTimer() {
  if (state_ == State::Closed || !started_) return;
  uint64_t next = UINT64_MAX;
  // The connect deadline also bounds a connect reply that waits for its
  // position reads (connectPending_).
  if (state_ == State::Connecting || connectPending_) next = deadline_;
  else if (state_ == State::Connected) {
    next = std::min(next, pingOutstanding_ ? deadline_ : nextPingAt_);
    uint64_t graceMs = uint64_t(node_.config().client.expired_close_delay.count());
    int64_t nowUnix = unixNow();
    uint64_t nowMs = net::monotonicMs();
    auto at = [&](int64_t unixExp) {
      int64_t secs = unixExp - nowUnix;
      return nowMs + uint64_t(std::max<int64_t>(secs, 0)) * 1000;
    };
    if (expiresAt() > 0) next = std::min(next, at(expiresAt()) + graceMs);
    for (const Subscription& s : subs_) {
      if (s.expiresAt > 0) next = std::min(next, at(s.expiresAt) + graceMs);
    }
  }
  if (next == UINT64_MAX) return;
  uint64_t now = net::monotonicMs();
  transport_.armTimer(next > now ? next - now : 0);
}

void ClientSession::timerFired() {
  if (state_ == State::Closed) return;
  uint64_t now = net::monotonicMs();
  if (state_ == State::Connecting || connectPending_) {
    if (now >= deadline_) {
      spdlog::info("client {}: no connect command within {} ms", clientId(),
                   node_.config().client.connect_timeout.count());
      return disconnect(dis::kStale);
    }
  } else if (state_ == State::Connected) {
    if (pingOutstanding_ && now >= deadline_) {
      spdlog::debug("client {}: no pong", clientId());
      return disconnect(dis::kNoPong);
    }
    int64_t graceS = node_.config().client.expired_close_delay.count() / 1000;
    int64_t nowUnix = unixNow();
    if (expiresAt() > 0 && nowUnix >= expiresAt() + graceS) {
      spdlog::info("client {} (user '{}'): connection token expired", clientId(), user());
      return disconnect(dis::kExpired);
    }
    for (size_t i = 0; i < subs_.size();) {
      if (subs_[i].expiresAt > 0 && nowUnix >= subs_[i].expiresAt + graceS) {
        std::string channel = subs_[i].channel->name();
        unsubscribeAt(i, true);
        std::string push;
        protocol::writeUnsubscribePush(push, channel, protocol::unsubscribe::kExpired);
        transport_.sendText(push);
        continue;
      }
      ++i;
    }
    if (!pingOutstanding_ && now >= nextPingAt_) sendPing();
  }
  scheduleTimer();
}

void ClientSession::sendPing() {
  const auto& cfg = node_.config().client;
  uint64_t now = net::monotonicMs();
  std::string ping;
  protocol::writePing(ping);
  transport_.sendText(ping);
  // A unidirectional client has no way to answer.
  if (!transport_.unidirectional()) {
    pingOutstanding_ = true;
    deadline_ = now + uint64_t(cfg.pong_timeout.count());
  }
  nextPingAt_ = now + uint64_t(cfg.ping_interval.count());
  // Presence entries expire unless refreshed; the ping cadence keeps them.
  for (const Subscription& s : subs_) {
    if (s.flags & Subscription::kPresence)
      node_.broker().addPresence(s.channel->name(), clientInfo(&s), cfg.presence_ttl,
                                 [](bool, const broker::BrokerError*) {});
  }
}

// ---- closing ----------------------------------------------------------------

void ClientSession::disconnect(uint16_t code, std::string_view reason) {
  if (state_ == State::Closed) return;
  node_.stats().disconnects.fetch_add(1, std::memory_order_relaxed);
  metrics::clientDisconnected(code);
  logging::event(spdlog::level::debug, "disconnecting client",
                 {{"client", clientId()}, {"user", user()}, {"transport", transport_.name()}, {"code", code},
                  {"reason", reason}});
  transport_.close(code, reason);
  transportClosed();
}

void ClientSession::transportClosed() {
  if (state_ == State::Closed) return;
  bool wasConnected = state_ == State::Connected;
  state_ = State::Closed;
  if (started_) transport_.cancelTimer();
  if (started_) metrics::sessionClosed(transport_.name());  // started sessions only
  logging::event(spdlog::level::debug, "client closed",
                 {{"client", clientId()}, {"user", user()}, {"transport", transport_.name()},
                  {"connected", wasConnected ? "yes" : "no"}});
  while (!subs_.empty()) unsubscribeAt(subs_.size() - 1, true);
  // Broker answers still outstanding find the session gone and are dropped.
  if (inOpTable_) {
    node_.sessionOps(worker_).forget(this);
    inOpTable_ = false;
  }
  if (attached_) {
    node_.detachSession(worker_, this);
    attached_ = false;
  }
  if (wasConnected) node_.stats().clients.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace sb::core
