#include "broker/RedisConnection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <utility>
#include <vector>

namespace sb::broker {

namespace {

constexpr int kDefaultPort = 6379;

std::optional<int> parsePort(std::string_view s) {
  int port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (ec != std::errc() || end != s.data() + s.size() || port < 1 || port > 65535) return std::nullopt;
  return port;
}

}  // namespace

std::string RedisAddress::text() const {
  if (!unixPath.empty()) return "unix:" + unixPath;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<RedisAddress> parseRedisAddress(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<RedisAddress> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  const std::string expected = "expected host:port, [ipv6]:port, host, /path or unix:/path, got \"" +
                               std::string(text) + "\"";
  const std::string_view original = text;
  RedisAddress a;
  if (text.starts_with("unix:")) text.remove_prefix(5);
  if (text.starts_with("/")) {
    if (text.size() < 2) return fail(expected);
    a.unixPath = std::string(text);
    return a;
  }
  if (text.empty()) return fail(expected);
  std::string_view host = text, port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) return fail(expected);
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(expected);
      port = rest.substr(1);
      if (port.empty()) return fail(expected);
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) return fail(expected + " (write an IPv6 address as [addr]:port)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty() || port.empty()) return fail(expected);
  }
  for (char c : host)
    if (c == ' ' || c == '/' || static_cast<unsigned char>(c) < 0x20) return fail(expected);
  a.host = std::string(host);
  a.port = kDefaultPort;
  if (!port.empty()) {
    auto p = parsePort(port);
    if (!p) return fail("the port must be a number from 1 to 65535, got \"" + std::string(port) + "\" in \"" +
                        std::string(original) + "\"");
    a.port = *p;
  }
  return a;
}

// One command waiting for its reply: hiredis holds it as the callback's
// private data and hands it back exactly once (with a NULL reply when the
// connection goes away).
struct RedisConnection::PendingCommand {
  RedisConnection* owner;
  ReplyFn done;
};

RedisConnection::RedisConnection(net::EventLoop& loop, RedisConnectionOptions options, Observer* observer)
    : loop_(loop), options_(std::move(options)), observer_(observer) {
  for (Timer* t : {&reconnectTimer_, &connectTimer_, &replyTimer_}) {
    t->owner = this;
    t->fire = &RedisConnection::fireTimer;
  }
  reconnectTimer_.action = &RedisConnection::connect;
  connectTimer_.action = &RedisConnection::connectTimedOut;
  replyTimer_.action = &RedisConnection::checkReplies;
  failure_ = BrokerError{"redis broker: not connected to Redis at " + options_.address.text() + " yet", true};
}

RedisConnection::~RedisConnection() {
  closing_ = true;
  for (Timer* t : {&reconnectTimer_, &connectTimer_, &replyTimer_}) loop_.timers().cancel(t);
  loop_.cancelFlush(this);
  if (ctx_) {
    redisAsyncContext* ac = ctx_;
    if (registered_) loop_.remove(fd_);
    registered_ = false;
    ac->ev = {};
    ac->onDisconnect = nullptr;
    ac->onConnect = nullptr;
    ctx_ = nullptr;
    redisAsyncFree(ac);  // runs the callbacks with NULL replies; closing_ keeps them quiet
  }
}

void RedisConnection::start() {
  if (!ctx_ && !reconnectTimer_.armed()) connect();
}

void RedisConnection::fireTimer(net::TimerNode* node) {
  auto* timer = static_cast<Timer*>(node);
  (timer->owner->*timer->action)();
}

void RedisConnection::armTimer(Timer& timer, std::chrono::milliseconds delay) {
  loop_.timers().schedule(&timer, uint64_t(std::max<int64_t>(delay.count(), 1)));
}

void RedisConnection::connect() {
  loop_.timers().cancel(&reconnectTimer_);
  state_ = State::Connecting;
  pushMode_ = false;
  const RedisAddress& addr = options_.address;
  redisAsyncContext* ac = addr.unixPath.empty() ? redisAsyncConnect(addr.host.c_str(), addr.port)
                                                : redisAsyncConnectUnix(addr.unixPath.c_str());
  if (!ac || ac->err) {
    std::string reason = ac ? std::string(ac->errstr) : std::string("out of memory");
    if (ac) redisAsyncFree(ac);
    goDown("connect failed: " + reason);
    return;
  }
  if (addr.unixPath.empty()) redisEnableKeepAlive(&ac->c);  // probes after 15 s idle
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = &RedisConnection::hookAddRead;
  ac->ev.delRead = &RedisConnection::hookDelRead;
  ac->ev.addWrite = &RedisConnection::hookAddWrite;
  ac->ev.delWrite = &RedisConnection::hookDelWrite;
  ac->ev.cleanup = &RedisConnection::hookCleanup;
  redisAsyncSetConnectCallback(ac, &RedisConnection::onConnected);
  redisAsyncSetDisconnectCallback(ac, &RedisConnection::onDisconnected);
  ctx_ = ac;
  fd_ = ac->c.fd;
  // hiredis 0.14 does not ask for the writability that signals the end of a
  // non-blocking connect; ask for it here.
  wantRead_ = false;
  wantWrite_ = true;
  updateInterest();
  armTimer(connectTimer_, options_.connectTimeout);
  sendHandshake();
}

void RedisConnection::sendHandshake() {
  handshakeLeft_ = 1 + (options_.password.empty() ? 0 : 1) + (options_.db != 0 ? 1 : 0);
  if (!options_.password.empty()) {
    std::string argv[] = {"AUTH", options_.password};
    sendCommand(argv, [this](const redisReply* r, const BrokerError* e) { handshakeStep(r, e, "AUTH"); });
  }
  if (options_.db != 0) {
    std::string argv[] = {"SELECT", std::to_string(options_.db)};
    sendCommand(argv, [this](const redisReply* r, const BrokerError* e) { handshakeStep(r, e, "SELECT"); });
  }
  std::string argv[] = {"PING"};
  sendCommand(argv, [this](const redisReply* r, const BrokerError* e) { handshakeStep(r, e, "PING"); });
}

void RedisConnection::handshakeStep(const redisReply* reply, const BrokerError* error, const char* what) {
  if (error || !ctx_) return;  // already Down
  if (reply->type == REDIS_REPLY_ERROR) {
    drop(std::string(what) + " failed: " + std::string(reply->str, reply->len));
    return;
  }
  if (--handshakeLeft_ > 0) return;
  loop_.timers().cancel(&connectTimer_);
  state_ = State::Ready;
  if (attempts_ > 0) spdlog::info("redis broker ({}): connected to {}", options_.label, options_.address.text());
  attempts_ = 0;
  if (observer_) observer_->onRedisReady(*this);
}

void RedisConnection::command(std::span<const std::string> argv, ReplyFn done) {
  if (state_ == State::Down || !ctx_) {
    failNow(done, failure_);
    return;
  }
  if (sentAt_.size() >= options_.maxPending) {
    failNow(done, BrokerError{"redis broker: " + std::to_string(sentAt_.size()) +
                                  " commands already wait for Redis at " + options_.address.text(),
                              true});
    return;
  }
  sendCommand(argv, std::move(done));
}

void RedisConnection::failNow(const ReplyFn& done, const BrokerError& error) {
  if (done) done(nullptr, &error);
}

void RedisConnection::sendCommand(std::span<const std::string> argv, ReplyFn done) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto pending = std::make_unique<PendingCommand>(PendingCommand{this, std::move(done)});
  if (redisAsyncCommandArgv(ctx_, &RedisConnection::onReply, pending.get(), int(args.size()), args.data(),
                            lens.data()) != REDIS_OK) {
    failNow(pending->done, BrokerError{"redis broker: hiredis refused the command (connection closing)", true});
    return;
  }
  pending.release();  // hiredis owns it until onReply
  sentAt_.push_back(loop_.now());
  if (!replyTimer_.armed()) armTimer(replyTimer_, options_.replyTimeout);
}

namespace {
// `verb` then `channels`, as hiredis's argv calls take them (pointers into
// the caller's strings).
struct VerbArgv {
  VerbArgv(std::string_view verb, std::span<const std::string> channels) {
    args.reserve(channels.size() + 1);
    lens.reserve(channels.size() + 1);
    args.push_back(verb.data());
    lens.push_back(verb.size());
    for (const auto& c : channels) {
      args.push_back(c.data());
      lens.push_back(c.size());
    }
  }
  int count() const { return int(args.size()); }
  std::vector<const char*> args;
  std::vector<size_t> lens;
};
}  // namespace

bool RedisConnection::pubsub(std::string_view verb, std::span<const std::string> channels) {
  if (state_ != State::Ready || !ctx_ || channels.empty()) return false;
  VerbArgv argv(verb, channels);
  return redisAsyncCommandArgv(ctx_, &RedisConnection::onPush, this, argv.count(), argv.args.data(),
                               argv.lens.data()) == REDIS_OK;
}

bool RedisConnection::shardedPubsub(std::string_view verb, std::span<const std::string> channels) {
  if (state_ != State::Ready || !ctx_ || channels.empty() || !sentAt_.empty()) return false;
  VerbArgv argv(verb, channels);
  // Appended to the output buffer without a hiredis callback: the replies
  // are ours (readPushes), hiredis's reply queue never sees them.
  if (redisAppendCommandArgv(&ctx_->c, argv.count(), argv.args.data(), argv.lens.data()) != REDIS_OK) return false;
  pushMode_ = true;
  hookAddWrite(this);
  hookAddRead(this);
  return true;
}

void RedisConnection::readPushes() {
  redisAsyncContext* ac = ctx_;
  if (redisBufferRead(&ac->c) != REDIS_OK) {
    drop(ac->c.errstr[0] ? std::string(ac->c.errstr) : std::string("connection closed"));
    return;
  }
  while (ctx_ == ac) {
    void* reply = nullptr;
    if (redisReaderGetReply(ac->c.reader, &reply) != REDIS_OK) {
      drop("unreadable reply from Redis");
      return;
    }
    if (!reply) break;
    std::unique_ptr<redisReply, void (*)(void*)> owned(static_cast<redisReply*>(reply), &freeReplyObject);
    if (observer_) observer_->onRedisPush(*this, *owned);
  }
}

void RedisConnection::onReply(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<PendingCommand> pending(static_cast<PendingCommand*>(privdata));
  RedisConnection* self = pending->owner;
  if (self->closing_) return;
  if (reply) {
    if (!self->sentAt_.empty()) self->sentAt_.pop_front();
    if (pending->done) pending->done(static_cast<redisReply*>(reply), nullptr);
    return;
  }
  // The context is going away: the first NULL reply names the reason.
  self->lost(ac, ac->err ? std::string(ac->errstr) : std::string("connection closed"));
  BrokerError error = self->failure_;
  if (pending->done) pending->done(nullptr, &error);
}

void RedisConnection::onPush(redisAsyncContext*, void* reply, void* privdata) {
  auto* self = static_cast<RedisConnection*>(privdata);
  if (!reply || self->closing_) return;  // a NULL reply: the loss is reported by onDisconnected
  if (self->observer_) self->observer_->onRedisPush(*self, *static_cast<redisReply*>(reply));
}

void RedisConnection::onConnected(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (!self || self->closing_ || status == REDIS_OK) return;  // Ready comes with the handshake's last reply
  self->lost(ac, "connect failed: " + std::string(ac->errstr));
}

void RedisConnection::onDisconnected(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (!self || self->closing_) return;
  self->lost(ac, status == REDIS_OK || !ac->err ? std::string("connection closed") : std::string(ac->errstr));
}

void RedisConnection::drop(const std::string& reason) {
  if (!ctx_) return;
  redisAsyncContext* ac = ctx_;
  lost(ac, reason);
  redisAsyncFree(ac);  // deferred by hiredis when called from inside one of its callbacks
}

void RedisConnection::lost(const redisAsyncContext* ac, std::string reason) {
  if (!ctx_ || ac != ctx_) return;  // that context was already given up
  // Detach the dying context: hiredis frees it on its own schedule, and its
  // remaining callbacks must not touch the next context's registration.
  ctx_->ev = {};
  ctx_->onDisconnect = nullptr;
  ctx_->onConnect = nullptr;
  if (registered_) loop_.remove(fd_);
  registered_ = false;
  loop_.cancelFlush(this);
  ctx_ = nullptr;
  goDown(std::move(reason));
}

void RedisConnection::goDown(std::string reason) {
  const bool wasReady = state_ == State::Ready;
  state_ = State::Down;
  failure_ = BrokerError{"redis broker: Redis at " + options_.address.text() + " unavailable (" + reason + ")", true};
  sentAt_.clear();
  loop_.timers().cancel(&connectTimer_);
  loop_.timers().cancel(&replyTimer_);
  wantRead_ = wantWrite_ = false;
  fd_ = -1;
  if (wasReady) {
    spdlog::warn("redis broker ({}): lost {}: {}; reconnecting", options_.label, options_.address.text(), reason);
  } else if (attempts_ == 0) {
    spdlog::warn("redis broker ({}): cannot connect to {}: {}; retrying", options_.label,
                 options_.address.text(), reason);
  } else {
    spdlog::debug("redis broker ({}): still cannot connect to {}: {}", options_.label, options_.address.text(),
                  reason);
  }
  scheduleReconnect();
  if (observer_) observer_->onRedisLost(*this, reason);
}

void RedisConnection::scheduleReconnect() {
  // Exponential backoff with jitter in [delay/2, delay], so that the nodes of
  // a cluster do not all come back in the same millisecond.
  const int64_t lo = std::max<int64_t>(options_.reconnectMin.count(), 1);
  const int64_t hi = std::max<int64_t>(options_.reconnectMax.count(), lo);
  int64_t delay = lo;
  for (unsigned i = 0; i < attempts_ && delay < hi; ++i) delay *= 2;
  delay = std::min(delay, hi);
  std::uniform_int_distribution<int64_t> pick(delay / 2, delay);
  ++attempts_;
  armTimer(reconnectTimer_, std::chrono::milliseconds(pick(jitter_)));
}

void RedisConnection::connectTimedOut() {
  if (state_ == State::Connecting)
    drop("no answer within " + std::to_string(options_.connectTimeout.count()) + " ms");
}

void RedisConnection::checkReplies() {
  if (sentAt_.empty() || !ctx_) return;
  const uint64_t age = loop_.now() - std::min(loop_.now(), sentAt_.front());
  const auto limit = uint64_t(options_.replyTimeout.count());
  if (age >= limit) {
    drop("no reply within " + std::to_string(limit) + " ms");
    return;
  }
  armTimer(replyTimer_, std::chrono::milliseconds(limit - age));
}

void RedisConnection::updateInterest() {
  if (!ctx_ || fd_ < 0) return;
  uint32_t events = (wantRead_ ? uint32_t(EPOLLIN) : 0u) | (wantWrite_ ? uint32_t(EPOLLOUT) : 0u);
  if (!registered_) {
    registered_ = loop_.add(fd_, events, this);
  } else {
    loop_.modify(fd_, events, this);
  }
}

void RedisConnection::setWant(bool& want, bool on) {
  if (want == on) return;
  want = on;
  updateInterest();
}

void RedisConnection::hookAddRead(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  c->setWant(c->wantRead_, true);
}

void RedisConnection::hookDelRead(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  c->setWant(c->wantRead_, false);
}

void RedisConnection::hookAddWrite(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  // Connected and not in the middle of a write: write with the urgent
  // output of this loop turn, together with every other command of the
  // turn, ahead of the turn's fan-out (a publication's own fan-out waits for
  // Redis's answer: see EventLoop). Otherwise (connecting, or a partial
  // write) wait for the socket to be writable.
  if (c->ctx_ && (c->ctx_->c.flags & REDIS_CONNECTED) && !c->writing_) {
    c->loop_.queueFlush(c, /*urgent=*/true);
    return;
  }
  c->setWant(c->wantWrite_, true);
}

void RedisConnection::hookDelWrite(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  c->setWant(c->wantWrite_, false);
}

void RedisConnection::hookCleanup(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  if (c->registered_) c->loop_.remove(c->fd_);
  c->registered_ = false;
  c->wantRead_ = c->wantWrite_ = false;
  c->loop_.cancelFlush(c);
}

void RedisConnection::flush() {
  if (!ctx_ || !(ctx_->c.flags & REDIS_CONNECTED)) return;
  writing_ = true;
  redisAsyncHandleWrite(ctx_);
  writing_ = false;
}

void RedisConnection::onIoEvent(uint32_t events) {
  if (!ctx_) return;
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && wantWrite_) {
    writing_ = true;
    redisAsyncHandleWrite(ctx_);
    writing_ = false;
    if (!ctx_) return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    if (pushMode_) {
      readPushes();
    } else {
      redisAsyncHandleRead(ctx_);
    }
  }
}

}  // namespace sb::broker
