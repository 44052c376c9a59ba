#include "broker/RedisBroker.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

#include "broker/RedisCodec.h"

namespace sb::broker {

namespace {

constexpr size_t kEpochLength = 8;
constexpr std::string_view kEpochAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr size_t kSubscribeBatch = 256;  // topics per SUBSCRIBE when resubscribing
constexpr std::string_view kTopicSuffix = "}:events";

// A subscribeReady caller whose subscription was released (unsubscribe)
// before Redis confirmed it.
const BrokerError kUnsubscribedMeanwhile{"redis broker: unsubscribed before Redis confirmed the subscription", false};

// ---- Lua scripts (docs/scaling.md describes the keys they touch) ----------

// Raises a key's TTL to at least `ttl` ms (never shortens it).
constexpr std::string_view kExtendFunction = R"lua(
local function extend(key, ttl)
  if redis.call('pttl', key) < ttl then redis.call('pexpire', key, ttl) end
end
)lua";

// KEYS: meta, history stream[, idempotency key]
// ARGV: publication JSON, history size (0 = none), history TTL ms, meta TTL
//       ms, epoch for a new stream, pub/sub topic, idempotency TTL ms,
//       "publish" (one Redis) or "spublish" (cluster: the topic shares the
//       keys' hash slot, which Redis requires of SPUBLISH in a script)
// Returns {duplicate (0/1), "<offset>:<epoch>"}.
constexpr std::string_view kPublishBody = R"lua(
if KEYS[3] then
  local first = redis.call('get', KEYS[3])
  if first then return {1, first} end
end
local offset, epoch = 0, ''
local size = tonumber(ARGV[2])
if size > 0 then
  epoch = redis.call('hget', KEYS[1], 'e')
  if not epoch then
    epoch = ARGV[5]
    redis.call('hset', KEYS[1], 'e', epoch, 's', 0)
    redis.call('del', KEYS[2])
  end
  offset = redis.call('hincrby', KEYS[1], 's', 1)
  redis.call('xadd', KEYS[2], 'MAXLEN', size, offset .. '-0', 'p', ARGV[1])
  redis.call('pexpire', KEYS[2], ARGV[3])
  extend(KEYS[1], math.max(tonumber(ARGV[3]), tonumber(ARGV[4])))
end
redis.call(ARGV[8], ARGV[6], '{"o":' .. offset .. ',"e":"' .. epoch .. '","p":' .. ARGV[1] .. '}')
local position = offset .. ':' .. epoch
if KEYS[3] then redis.call('set', KEYS[3], position, 'PX', ARGV[7]) end
return {0, position}
)lua";

// KEYS: meta, history stream
// ARGV: epoch for a new stream, meta TTL ms, limit (-1 all, 0 none),
//       reverse ("1"/"0"), since offset ("" = none)
// Returns {epoch, top offset, oldest kept offset (top + 1 when none),
//          entries as XRANGE returns them}.
constexpr std::string_view kHistoryBody = R"lua(
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('hset', KEYS[1], 'e', epoch, 's', 0)
  redis.call('del', KEYS[2])
end
extend(KEYS[1], tonumber(ARGV[2]))
local top = tonumber(redis.call('hget', KEYS[1], 's')) or 0
local oldest = top + 1
local head = redis.call('xrange', KEYS[2], '-', '+', 'COUNT', 1)
if head[1] then oldest = tonumber(string.match(head[1][1], '^%d+')) end
local limit = tonumber(ARGV[3])
local entries = {}
if limit ~= 0 and oldest <= top then
  local first, last = oldest, top
  local since = tonumber(ARGV[5])
  local reverse = ARGV[4] == '1'
  local any = true
  if since then
    if reverse then
      if since <= first then any = false else last = math.min(last, since - 1) end
    else
      if since >= last then any = false else first = math.max(first, since + 1) end
    end
  end
  if any and first <= last then
    local args
    if reverse then
      args = {'xrevrange', KEYS[2], last .. '-0', first .. '-0'}
    else
      args = {'xrange', KEYS[2], first .. '-0', last .. '-0'}
    end
    if limit > 0 then
      args[#args + 1] = 'COUNT'
      args[#args + 1] = limit
    end
    entries = redis.call(unpack(args))
  end
end
return {epoch, top, oldest, entries}
)lua";

// Presence: KEYS = client -> info hash, client -> expiry zset (Redis clock,
// ms), client -> user hash, user -> number of clients hash. Expired clients
// are dropped first by every script, so the counts stay exact.
constexpr std::string_view kPresenceFunctions = R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function uncount(user)
  if redis.call('hincrby', KEYS[4], user, -1) <= 0 then redis.call('hdel', KEYS[4], user) end
end
local function forget(client)
  redis.call('hdel', KEYS[1], client)
  redis.call('zrem', KEYS[2], client)
  local user = redis.call('hget', KEYS[3], client)
  if user then
    redis.call('hdel', KEYS[3], client)
    uncount(user)
  end
end
local function expire_due(now)
  for _, client in ipairs(redis.call('zrangebyscore', KEYS[2], '-inf', now)) do forget(client) end
end
)lua";

// ARGV: client, info JSON, user, ttl ms
constexpr std::string_view kAddPresenceBody = R"lua(
local now = now_ms()
expire_due(now)
local ttl = tonumber(ARGV[4])
local previous = redis.call('hget', KEYS[3], ARGV[1])
if previous ~= ARGV[3] then
  if previous then uncount(previous) end
  redis.call('hincrby', KEYS[4], ARGV[3], 1)
  redis.call('hset', KEYS[3], ARGV[1], ARGV[3])
end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[2], now + ttl, ARGV[1])
for i = 1, 4 do extend(KEYS[i], ttl) end
return 1
)lua";

// ARGV: client
constexpr std::string_view kRemovePresenceBody = R"lua(
forget(ARGV[1])
return 1
)lua";

constexpr std::string_view kPresenceBody = R"lua(
expire_due(now_ms())
return redis.call('hgetall', KEYS[1])
)lua";

constexpr std::string_view kPresenceStatsBody = R"lua(
expire_due(now_ms())
return {redis.call('hlen', KEYS[1]), redis.call('hlen', KEYS[4])}
)lua";

std::string sha1Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("redis broker: SHA-1 unavailable");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string_view text(const redisReply* r) { return r ? std::string_view(r->str ? r->str : "", r->len) : ""; }

bool isError(const redisReply* r) { return r && r->type == REDIS_REPLY_ERROR; }

BrokerError replyError(const redisReply* r) { return BrokerError{"redis broker: Redis answered " + std::string(text(r)), true}; }

BrokerError malformed(std::string_view what) {
  return BrokerError{"redis broker: unexpected reply to " + std::string(what), true};
}

// An integer element (Lua numbers arrive as integers).
std::optional<int64_t> integer(const redisReply* r) {
  if (!r) return std::nullopt;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) {
    int64_t v = 0;
    auto s = text(r);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) return v;
  }
  return std::nullopt;
}

// "<offset>:<epoch>" as the publish script stores and returns it.
std::optional<StreamPosition> parsePosition(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  uint64_t offset = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + colon, offset);
  if (ec != std::errc() || end != s.data() + colon) return std::nullopt;
  return StreamPosition{offset, std::string(s.substr(colon + 1))};
}

// A stream entry [id, [field, value, ...]] → the publication it holds.
PublicationPtr parseEntry(const redisReply* entry) {
  if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements < 2) return nullptr;
  std::string_view id = text(entry->element[0]);
  uint64_t offset = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), offset);
  if (ec != std::errc() || end == id.data()) return nullptr;
  const redisReply* fields = entry->element[1];
  if (!fields || fields->type != REDIS_REPLY_ARRAY) return nullptr;
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (text(fields->element[i]) != "p") continue;
    auto pub = std::make_shared<Publication>();
    if (!rediscodec::decodePublication(text(fields->element[i + 1]), *pub)) return nullptr;
    pub->offset = offset;
    return pub;
  }
  return nullptr;
}

// `done`, but run on `loop` (with a copy of the error).
template <class T>
Callback<T> onLoop(Callback<T> done, net::EventLoop& loop) {
  return [done = std::move(done), &loop](T value, const BrokerError* error) {
    std::optional<BrokerError> copy;
    if (error) copy = *error;
    loop.post([done, value = std::move(value), copy]() mutable { done(std::move(value), copy ? &*copy : nullptr); });
  };
}

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace

// ---- per-loop command connections ----------------------------------------

struct RedisBroker::LoopSlot final : RedisConnection::Observer {
  LoopSlot(RedisBroker& b, net::EventLoop& l, size_t i) : broker(b), loop(l), index(i) {}

  // Loop thread only: created on first use.
  RedisConnection& connection() {
    if (!conn) {
      conn = std::make_unique<RedisConnection>(
          loop, broker.connectionOptions(broker.address_, "loop " + std::to_string(index)), this);
      conn->start();
    }
    return *conn;
  }
  // Cluster: this loop's connection to one master, created on first use.
  RedisConnection& connectionTo(const RedisAddress& address) {
    auto& c = nodes[address.text()];
    if (!c) {
      c = std::make_unique<RedisConnection>(
          loop, broker.connectionOptions(address, "loop " + std::to_string(index) + " " + address.text()), this);
      c->start();
    }
    return *c;
  }
  void onRedisReady(RedisConnection& c) override { broker.loadScripts(c); }
  void onRedisLost(RedisConnection&, const std::string&) override {
    if (broker.options_.cluster) broker.refreshSlotMap();  // a master may have moved
  }

  RedisBroker& broker;
  net::EventLoop& loop;
  size_t index;
  std::unique_ptr<RedisConnection> conn;
  std::unordered_map<std::string, std::unique_ptr<RedisConnection>> nodes;  // cluster: address → connection
};

// ---- the pub/sub connection and the node's channel subscriptions ----------
//
// Per channel: how many local subscribe() calls hold it, and where Redis is
// with it. At most one SUBSCRIBE or UNSUBSCRIBE is in flight per channel; the
// next step is decided when Redis confirms (reconcile), so quick
// subscribe/unsubscribe sequences never confuse the two.
class RedisBroker::PubSub final : public RedisConnection::Observer {
 public:
  using Waiter = std::function<void(const BrokerError*)>;

  explicit PubSub(RedisBroker& broker) : broker_(broker) {}

  // Home loop thread.
  void start(net::EventLoop& home) {
    home_ = &home;
    if (!conn_) {
      conn_ = std::make_unique<RedisConnection>(home, broker_.connectionOptions(broker_.address_, "pub/sub"), this);
      conn_->start();
    }
  }
  void close() {
    conn_.reset();
    shards_.clear();
  }

  // Home loop, cluster: the slot map changed; channels not subscribed
  // anywhere are subscribed at their (new) master.
  void remap() {
    std::vector<std::string> pending;
    {
      std::lock_guard lock(mu_);
      for (auto& [name, c] : channels_)
        if (c.local > 0 && c.redis == RedisState::None) pending.push_back(name);
    }
    for (auto& name : pending) reconcile(name);
  }

  // Any thread. True when Redis already confirmed the channel (then `ready`
  // is not kept); else `ready` runs on the home loop once it is.
  bool subscribe(std::string_view channel, Waiter ready) {
    bool kick = false, confirmed = false;
    {
      std::lock_guard lock(mu_);
      auto it = channels_.find(channel);
      if (it == channels_.end()) it = channels_.emplace(std::string(channel), Channel{}).first;
      Channel& c = it->second;
      if (c.local++ == 0) {
        kick = true;
        broker_.subscribedChannels_.fetch_add(1, std::memory_order_relaxed);
      }
      confirmed = c.redis == RedisState::Subscribed;
      if (!confirmed && ready) c.waiters.push_back(std::move(ready));
    }
    if (kick) scheduleReconcile(channel);
    return confirmed;
  }

  void unsubscribe(std::string_view channel) {
    {
      std::lock_guard lock(mu_);
      auto it = channels_.find(channel);
      if (it == channels_.end() || it->second.local == 0) return;
      if (--it->second.local > 0) return;
      broker_.subscribedChannels_.fetch_sub(1, std::memory_order_relaxed);
    }
    scheduleReconcile(channel);
  }

  bool confirmed(std::string_view channel) const {
    std::lock_guard lock(mu_);
    auto it = channels_.find(channel);
    return it != channels_.end() && it->second.redis == RedisState::Subscribed;
  }

  void onRedisReady(RedisConnection& conn) override {
    broker_.pubsubReady_.store(true, std::memory_order_relaxed);
    if (&conn == conn_.get()) {
      // Control messages between nodes (publishControl) on a topic of their
      // own, plain pub/sub (in a cluster it reaches every node).
      std::string control[] = {broker_.controlTopic()};
      conn_->pubsub("SUBSCRIBE", control);
      if (cluster()) return;  // cluster: the plain pub/sub connection carries no channel
    }
    const std::string node = conn.options().address.text();
    std::vector<std::string> topics;
    std::vector<Waiter> cancelled;
    {
      std::lock_guard lock(mu_);
      for (auto it = channels_.begin(); it != channels_.end();) {
        Channel& c = it->second;
        if (c.local == 0 && c.redis == RedisState::None) {
          for (auto& w : c.waiters) cancelled.push_back(std::move(w));
          it = channels_.erase(it);
          continue;
        }
        if (c.local > 0 && c.redis == RedisState::None && ownedBy(it->first, node)) {
          topics.push_back(broker_.topic(it->first));
          c.redis = RedisState::Subscribing;
          c.node = node;
        }
        ++it;
      }
      // One SSUBSCRIBE names topics of one slot only (else CROSSSLOT), so a
      // cluster resubscribes topic by topic, pipelined.
      const size_t batch = cluster() ? 1 : kSubscribeBatch;
      for (size_t i = 0; i < topics.size(); i += batch) {
        size_t n = std::min(batch, topics.size() - i);
        subscribeOn(conn, "SUBSCRIBE", std::span<const std::string>(topics.data() + i, n));
      }
    }
    if (!topics.empty())
      spdlog::info("redis broker: subscribing {} channel(s) on the pub/sub connection", topics.size());
    for (auto& w : cancelled) w(&kUnsubscribedMeanwhile);
  }

  void onRedisLost(RedisConnection& conn, const std::string&) override {
    if (cluster()) {
      if (&conn == conn_.get()) {  // the plain pub/sub connection carries no channel
        nextSeed(conn);
        return;
      }
      broker_.refreshSlotMap();
    } else {
      broker_.pubsubReady_.store(false, std::memory_order_relaxed);
    }
    const std::string node = conn.options().address.text();
    std::vector<Waiter> failed;
    {
      std::lock_guard lock(mu_);
      for (auto it = channels_.begin(); it != channels_.end();) {
        Channel& c = it->second;
        const bool affected = c.redis == RedisState::None ? ownedBy(it->first, node) : c.node == node;
        if (!affected) {
          ++it;
          continue;
        }
        c.redis = RedisState::None;
        for (auto& w : c.waiters) failed.push_back(std::move(w));
        c.waiters.clear();
        if (c.local == 0) {
          it = channels_.erase(it);
          continue;
        }
        c.gap = true;  // publications from now on are missed until resubscribed
        ++it;
      }
    }
    BrokerError error{conn.lastFailure(), true};
    for (auto& w : failed) w(&error);
  }

  void onRedisPush(RedisConnection& conn, const redisReply& reply) override {
    if (reply.type == REDIS_REPLY_ERROR) {
      movedWhileSubscribing(conn, text(&reply));
      return;
    }
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 3) return;
    std::string_view kind = text(reply.element[0]);
    if (text(reply.element[1]) == broker_.controlTopic()) {
      if (kind != "message") return;
      if (BrokerEventHandler* handler = broker_.handler_.load()) handler->onControl(text(reply.element[2]));
      return;
    }
    std::optional<std::string_view> channel = broker_.channelOfTopic(text(reply.element[1]));
    if (!channel) return;
    if (kind == "message" || kind == "smessage") {
      deliver(*channel, text(reply.element[2]));
    } else if (kind == "subscribe" || kind == "ssubscribe") {
      confirmedByRedis(std::string(*channel));
    } else if (kind == "unsubscribe" || kind == "sunsubscribe") {
      bool moved = false;
      {
        std::lock_guard lock(mu_);
        auto it = channels_.find(*channel);
        if (it != channels_.end()) {
          // Redis unsubscribes a shard channel by itself when its slot
          // moves: publications go elsewhere now, some may be missed.
          moved = it->second.redis == RedisState::Subscribed && it->second.local > 0;
          if (moved) it->second.gap = true;
          it->second.redis = RedisState::None;
        }
      }
      if (moved && cluster()) {
        broker_.refreshSlotMap();  // remap() subscribes it at the new master
        return;
      }
      reconcile(std::string(*channel));
    }
  }

 private:
  enum class RedisState : uint8_t { None, Subscribing, Subscribed, Unsubscribing };
  struct Channel {
    uint32_t local = 0;  // subscribe() calls minus unsubscribe() calls
    RedisState redis = RedisState::None;
    bool gap = false;    // publications were missed: tell the handler once subscribed
    std::vector<Waiter> waiters;  // subscribeReady callers waiting for Redis
    std::string node;    // cluster: the master the last SSUBSCRIBE went to
  };

  bool cluster() const { return broker_.options_.cluster; }

  // Cluster: the plain pub/sub connection (`lost`) moves on to the next seed
  // node, since the one it used may be gone for good; whatever it subscribes
  // to is subscribed again from onRedisReady. Replaced from a posted task:
  // `lost` is still running the callback that reported the loss.
  void nextSeed(RedisConnection& lost) {
    const auto& seeds = broker_.seeds_;
    if (seeds.size() < 2 || !home_) return;
    home_->post([this, lost = &lost] {
      if (broker_.closed_.load() || conn_.get() != lost || conn_->state() == RedisConnection::State::Ready) return;
      seedIndex_ = (seedIndex_ + 1) % broker_.seeds_.size();
      const RedisAddress& seed = broker_.seeds_[seedIndex_];
      conn_ = std::make_unique<RedisConnection>(*home_, broker_.connectionOptions(seed, "pub/sub"), this);
      conn_->start();
    });
  }

  // Whether `node` is where `channel` is subscribed when nothing is in
  // flight: always with one Redis; the slot's master in a cluster.
  bool ownedBy(std::string_view channel, const std::string& node) const {
    return !cluster() || broker_.ownerOf(broker_.channelSlot(channel)).text() == node;
  }

  // Home loop. The connection the channel's next step goes to: the one
  // pub/sub connection; in a cluster the master it is subscribed on, or the
  // slot's master when it is subscribed nowhere.
  RedisConnection* connectionFor(std::string_view channel, const Channel& c) {
    if (!cluster()) return conn_.get();
    if (c.redis != RedisState::None) {
      auto it = shards_.find(c.node);
      return it == shards_.end() ? nullptr : it->second.get();
    }
    RedisAddress owner = broker_.ownerOf(broker_.channelSlot(channel));
    auto& shard = shards_[owner.text()];
    if (!shard && home_) {
      shard = std::make_unique<RedisConnection>(*home_, broker_.connectionOptions(owner, "pub/sub " + owner.text()),
                                                this);
      shard->start();
    }
    return shard.get();
  }

  // SUBSCRIBE/UNSUBSCRIBE with one Redis; SSUBSCRIBE/SUNSUBSCRIBE in a cluster.
  bool subscribeOn(RedisConnection& conn, std::string_view verb, std::span<const std::string> topics) {
    if (!cluster()) return conn.pubsub(verb, topics);
    return conn.shardedPubsub(verb == "SUBSCRIBE" ? "SSUBSCRIBE" : "SUNSUBSCRIBE", topics);
  }

  // A -MOVED answer to an SSUBSCRIBE sent on `conn` (the map was stale): the
  // channels of that slot still in flight there go back to "nowhere" and are
  // subscribed again once the map is refreshed.
  void movedWhileSubscribing(RedisConnection& conn, std::string_view error) {
    auto redirect = rediscluster::parseRedirect(error);
    if (!redirect) {
      spdlog::warn("redis broker ({}): {}", conn.options().label, error);
      return;
    }
    const std::string node = conn.options().address.text();
    {
      std::lock_guard lock(mu_);
      for (auto& [name, c] : channels_)
        if (c.redis == RedisState::Subscribing && c.node == node && broker_.channelSlot(name) == redirect->slot)
          c.redis = RedisState::None;
    }
    broker_.refreshSlotMap();
  }

  void scheduleReconcile(std::string_view channel) {
    broker_.onHomeLoop([this, name = std::string(channel)] { reconcile(name); });
  }

  // Home loop: sends what brings Redis in line with the local count, unless
  // a confirmation is still awaited (then the confirmation reconciles).
  void reconcile(const std::string& channel) {
    std::vector<Waiter> failed, cancelled;
    std::string failure = "redis broker: pub/sub not started";
    {
      std::lock_guard lock(mu_);
      auto it = channels_.find(channel);
      if (it == channels_.end()) return;
      Channel& c = it->second;
      const bool want = c.local > 0;
      RedisConnection* conn = connectionFor(channel, c);
      const bool up = conn && conn->state() == RedisConnection::State::Ready;
      std::string topic[] = {broker_.topic(channel)};
      if (!up) {
        // Subscribed once the connection is ready. When Redis is known to be
        // away, waiting callers hear it now and the gap is reported later;
        // while (re)connecting they wait for the outcome (a loss reported by
        // onRedisLost already marked the gap).
        if (conn && conn->state() == RedisConnection::State::Down) {
          if (want) c.gap = true;
          failed.swap(c.waiters);
          failure = conn->lastFailure();
          if (c.redis == RedisState::Subscribed) c.redis = RedisState::None;  // that master went away
        }
      } else if (c.redis == RedisState::None && want) {
        if (subscribeOn(*conn, "SUBSCRIBE", topic)) {
          c.redis = RedisState::Subscribing;
          c.node = conn->options().address.text();
        }
      } else if (c.redis == RedisState::Subscribed && !want) {
        if (subscribeOn(*conn, "UNSUBSCRIBE", topic)) c.redis = RedisState::Unsubscribing;
      }
      if (!want && c.redis == RedisState::None) {
        for (auto& w : c.waiters) cancelled.push_back(std::move(w));
        channels_.erase(it);
      }
    }
    for (auto& w : cancelled) w(&kUnsubscribedMeanwhile);
    if (!failed.empty()) {
      BrokerError error{failure, true};
      for (auto& w : failed) w(&error);
    }
  }

  void confirmedByRedis(const std::string& channel) {
    std::vector<Waiter> ready;
    bool resubscribed = false;
    {
      std::lock_guard lock(mu_);
      auto it = channels_.find(channel);
      if (it == channels_.end()) it = channels_.emplace(channel, Channel{}).first;  // unsubscribed meanwhile
      Channel& c = it->second;
      c.redis = RedisState::Subscribed;
      ready.swap(c.waiters);
      resubscribed = c.gap && c.local > 0;
      c.gap = false;
    }
    for (auto& w : ready) w(nullptr);
    if (resubscribed) {
      if (BrokerEventHandler* handler = broker_.handler_.load()) handler->onResubscribed(channel);
    }
    reconcile(channel);
  }

  void deliver(std::string_view channel, std::string_view payload) {
    {
      std::lock_guard lock(mu_);
      auto it = channels_.find(channel);
      if (it == channels_.end() || it->second.local == 0) return;  // events only while subscribed
    }
    BrokerEventHandler* handler = broker_.handler_.load();
    if (!handler) return;
    rediscodec::Message message;
    if (!rediscodec::decodeMessage(payload, message)) {
      spdlog::warn("redis broker: dropped an unreadable message on channel {} ({} bytes)", channel, payload.size());
      return;
    }
    switch (message.kind) {
      case rediscodec::Message::Kind::Publication: {
        auto pub = std::make_shared<Publication>(std::move(message.publication));
        pub->offset = message.offset;
        StreamPosition position{message.offset, std::move(message.epoch)};
        handler->onPublication(channel, PublicationPtr(std::move(pub)), position);
        break;
      }
      case rediscodec::Message::Kind::Join: handler->onJoin(channel, message.info); break;
      case rediscodec::Message::Kind::Leave: handler->onLeave(channel, message.info); break;
    }
  }

  RedisBroker& broker_;
  net::EventLoop* home_ = nullptr;
  std::unique_ptr<RedisConnection> conn_;  // home loop; in a cluster only for plain (broadcast) pub/sub
  size_t seedIndex_ = 0;                   // cluster: the seed conn_ goes to
  std::unordered_map<std::string, std::unique_ptr<RedisConnection>> shards_;  // cluster: master → sharded pub/sub
  mutable std::mutex mu_;
  std::unordered_map<std::string, Channel, NameHash, std::equal_to<>> channels_;
};

// ---- the broker ------------------------------------------------------------

RedisBroker::RedisBroker(RedisBrokerOptions options)
    : options_(std::move(options)), controlTopic_(options_.prefix + ":control") {
  std::string problem;
  if (options_.cluster) {
    auto seeds = rediscluster::parseSeedList(options_.address, &problem);
    if (!seeds) throw std::invalid_argument("redis broker: bad cluster seed address: " + problem);
    seeds_ = std::move(*seeds);
    address_ = seeds_.front();
  } else {
    if (options_.address.find(',') != std::string::npos)
      throw std::invalid_argument("redis broker: a list of addresses (\"" + options_.address +
                                  "\") needs cluster mode (redis_cluster = true)");
    auto address = parseRedisAddress(options_.address, &problem);
    if (!address) throw std::invalid_argument("redis broker: bad address: " + problem);
    address_ = std::move(*address);
  }
  if (options_.cluster && options_.db != 0)
    throw std::invalid_argument("redis broker: Redis Cluster has only db 0, got db " + std::to_string(options_.db));
  if (options_.prefix.find_first_of("{}") != std::string::npos)
    throw std::invalid_argument("redis broker: the prefix must not contain '{' or '}', got \"" + options_.prefix +
                                "\"");
  if (options_.db < 0) throw std::invalid_argument("redis broker: db must be >= 0");
  if (options_.historyMetaTtl.count() <= 0) options_.historyMetaTtl = std::chrono::hours(24);
  if (options_.idempotencyTtl.count() <= 0) options_.idempotencyTtl = std::chrono::minutes(5);
  auto script = [](std::string source) { return Script{source, sha1Hex(source)}; };
  publishScript_ = script(std::string(kExtendFunction) + std::string(kPublishBody));
  historyScript_ = script(std::string(kExtendFunction) + std::string(kHistoryBody));
  const std::string presencePrelude = std::string(kExtendFunction) + std::string(kPresenceFunctions);
  addPresenceScript_ = script(presencePrelude + std::string(kAddPresenceBody));
  removePresenceScript_ = script(presencePrelude + std::string(kRemovePresenceBody));
  presenceScript_ = script(presencePrelude + std::string(kPresenceBody));
  presenceStatsScript_ = script(presencePrelude + std::string(kPresenceStatsBody));
  pubsub_ = std::make_unique<PubSub>(*this);
}

RedisBroker::~RedisBroker() { close(); }

RedisConnectionOptions RedisBroker::connectionOptions(const RedisAddress& address, std::string label) const {
  RedisConnectionOptions o;
  o.address = address;
  o.password = options_.password;
  o.db = options_.db;
  o.connectTimeout = options_.connectTimeout;
  o.replyTimeout = options_.replyTimeout;
  o.reconnectMin = options_.reconnectMin;
  o.reconnectMax = options_.reconnectMax;
  o.maxPending = options_.maxPendingPerConnection;
  o.label = std::move(label);
  return o;
}

void RedisBroker::attachLoop(net::EventLoop& loop) {
  std::lock_guard lock(attachMu_);
  if (closed_.load()) throw std::logic_error("redis broker: attachLoop after close");
  if (slotFor(&loop)) return;
  const size_t index = slotCount_.load();
  if (index >= kMaxLoops) throw std::length_error("redis broker: too many event loops attached");
  ownedSlots_.push_back(std::make_unique<LoopSlot>(*this, loop, index));
  LoopSlot* slot = ownedSlots_.back().get();
  slots_[index].store(slot, std::memory_order_release);
  slotCount_.store(index + 1, std::memory_order_release);
  const bool home = index == 0;
  loop.post([this, slot, home] {
    if (closed_.load()) return;
    if (!options_.cluster) slot->connection();
    if (home) {
      pubsub_->start(slot->loop);
      if (options_.cluster) refreshSlotMap();
    }
  });
}

void RedisBroker::close() {
  if (closed_.exchange(true)) return;
  pubsubReady_.store(false);
  if (pubsub_) pubsub_->close();
  std::lock_guard lock(attachMu_);
  for (auto& slot : ownedSlots_) {
    slot->conn.reset();
    slot->nodes.clear();
  }
}

RedisBroker::LoopSlot* RedisBroker::slotFor(const net::EventLoop* loop) const {
  if (!loop) return nullptr;
  const size_t n = slotCount_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    LoopSlot* slot = slots_[i].load(std::memory_order_acquire);
    if (slot && &slot->loop == loop) return slot;
  }
  return nullptr;
}

RedisBroker::LoopSlot* RedisBroker::homeSlot() const {
  return slotCount_.load(std::memory_order_acquire) > 0 ? slots_[0].load(std::memory_order_acquire) : nullptr;
}

void RedisBroker::onHomeLoop(std::function<void()> task) {
  LoopSlot* home = homeSlot();
  if (!home || closed_.load()) return;
  if (net::EventLoop::current() == &home->loop) {
    task();
    return;
  }
  home->loop.post([this, task = std::move(task)] {
    if (!closed_.load()) task();
  });
}

template <class T>
void RedisBroker::dispatch(Callback<T> done, Operation<T> op) {
  if (!done) done = [](T, const BrokerError*) {};
  if (closed_.load()) {
    BrokerError error{"redis broker: closed", true};
    done(T{}, &error);
    return;
  }
  net::EventLoop* current = net::EventLoop::current();
  if (LoopSlot* slot = slotFor(current)) {
    op(*slot, std::move(done));
    return;
  }
  LoopSlot* home = homeSlot();
  if (!home) {
    BrokerError error{"redis broker: no event loop attached (RedisBroker::attachLoop)", false};
    done(T{}, &error);
    return;
  }
  Callback<T> reply = current ? onLoop(std::move(done), *current) : std::move(done);
  home->loop.post([this, home, op = std::move(op), reply = std::move(reply)]() mutable {
    if (!closed_.load()) op(*home, std::move(reply));
  });
}

std::string RedisBroker::key(std::string_view channel, std::string_view suffix) const {
  std::string k;
  k.reserve(options_.prefix.size() + channel.size() + suffix.size() + 4);
  k += options_.prefix;
  k += ":{";
  k += channel;
  k += "}:";
  k += suffix;
  return k;
}

std::string RedisBroker::topic(std::string_view channel) const { return key(channel, "events"); }

std::optional<std::string_view> RedisBroker::channelOfTopic(std::string_view topic) const {
  const size_t head = options_.prefix.size() + 2;
  if (topic.size() < head + kTopicSuffix.size() || !topic.starts_with(options_.prefix) ||
      topic.substr(options_.prefix.size(), 2) != ":{" || !topic.ends_with(kTopicSuffix))
    return std::nullopt;
  return topic.substr(head, topic.size() - head - kTopicSuffix.size());
}

std::string RedisBroker::newEpoch() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, kEpochAlphabet.size() - 1);
  std::string epoch(kEpochLength, ' ');
  for (char& c : epoch) c = kEpochAlphabet[pick(rng)];
  return epoch;
}

void RedisBroker::loadScripts(RedisConnection& conn) {
  for (const Script* s : {&publishScript_, &historyScript_, &addPresenceScript_, &removePresenceScript_,
                          &presenceScript_, &presenceStatsScript_}) {
    std::string argv[] = {"SCRIPT", "LOAD", s->source};
    conn.command(argv, [](const redisReply* r, const BrokerError*) {
      if (isError(r)) spdlog::error("redis broker: SCRIPT LOAD failed: {}", text(r));
    });
  }
}

void RedisBroker::runScript(LoopSlot& slot, uint16_t hashSlot, const Script& script,
                            std::vector<std::string> keys, std::vector<std::string> args,
                            RedisConnection::ReplyFn done) {
  auto argv = std::make_shared<std::vector<std::string>>();
  argv->reserve(3 + keys.size() + args.size());
  argv->push_back("EVALSHA");
  argv->push_back(script.sha1);
  argv->push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv->push_back(std::move(k));
  for (auto& a : args) argv->push_back(std::move(a));
  send(slot, hashSlot, std::move(argv), &script, std::move(done), 1, std::nullopt, false);
}

void RedisBroker::command(LoopSlot& slot, uint16_t hashSlot, std::vector<std::string> argv,
                          RedisConnection::ReplyFn done) {
  send(slot, hashSlot, std::make_shared<std::vector<std::string>>(std::move(argv)), nullptr, std::move(done), 1,
       std::nullopt, false);
}

void RedisBroker::send(LoopSlot& slot, uint16_t hashSlot, Argv argv, const Script* script,
                       RedisConnection::ReplyFn done, int redirects, std::optional<RedisAddress> to, bool asking) {
  if (!options_.cluster) {
    to.reset();
  } else if (!to) {
    to = ownerOf(hashSlot);
  }
  RedisConnection& conn = to ? slot.connectionTo(*to) : slot.connection();
  if (asking) {
    std::string askingArgv[] = {"ASKING"};
    conn.command(askingArgv, nullptr);
  }
  conn.command(*argv, [this, &slot, hashSlot, argv, script, done, redirects, to, asking](const redisReply* r,
                                                                                        const BrokerError* e) {
    if (isError(r)) {
      std::string_view message = text(r);
      if (script && (*argv)[0] == "EVALSHA" && message.starts_with("NOSCRIPT")) {
        // Not executed: safe to send again with the source (which caches it).
        (*argv)[0] = "EVAL";
        (*argv)[1] = script->source;
        send(slot, hashSlot, argv, script, done, redirects, to, asking);
        return;
      }
      if (options_.cluster && redirects > 0) {
        if (auto redirect = rediscluster::parseRedirect(message)) {
          if (!redirect->ask) refreshSlotMap();
          send(slot, hashSlot, argv, script, done, redirects - 1, redirect->to, redirect->ask);
          return;
        }
      }
    }
    if (done) done(r, e);
  });
}

uint16_t RedisBroker::channelSlot(std::string_view channel) const {
  return rediscluster::keySlot(key(channel, "events"));
}

RedisAddress RedisBroker::ownerOf(uint16_t hashSlot) const {
  std::lock_guard lock(mapMu_);
  if (slotMap_) {
    if (const RedisAddress* owner = slotMap_->owner(hashSlot)) return *owner;
  }
  return address_;
}

void RedisBroker::refreshSlotMap() {
  if (!options_.cluster) return;
  onHomeLoop([this] {
    if (refreshing_.exchange(true)) return;
    auto candidates = std::make_shared<std::vector<RedisAddress>>(seeds_);
    {
      std::lock_guard lock(mapMu_);
      if (slotMap_) {
        for (auto& master : slotMap_->masters()) {
          bool known = std::any_of(candidates->begin(), candidates->end(),
                                   [&](const RedisAddress& a) { return a.text() == master.text(); });
          if (!known) candidates->push_back(master);
        }
      }
    }
    refreshFrom(std::move(candidates), 0);
  });
}

void RedisBroker::refreshFrom(std::shared_ptr<std::vector<RedisAddress>> candidates, size_t next) {
  LoopSlot* home = homeSlot();
  if (!home || closed_.load()) return;
  // Skip masters known to be away; try the rest in turn.
  while (next < candidates->size() &&
         home->connectionTo((*candidates)[next]).state() == RedisConnection::State::Down)
    ++next;
  if (next >= candidates->size()) {
    refreshing_.store(false);
    spdlog::warn("redis broker: no cluster node answered CLUSTER SLOTS; keeping the previous slot map");
    return;
  }
  const RedisAddress address = (*candidates)[next];
  std::string argv[] = {"CLUSTER", "SLOTS"};
  home->connectionTo(address).command(argv, [this, candidates, next, address](const redisReply* r,
                                                                              const BrokerError* e) {
    if (closed_.load()) return;
    std::string problem = e ? e->message : std::string();
    std::optional<rediscluster::SlotMap> map;
    if (r) map = rediscluster::parseClusterSlots(*r, address, &problem);
    if (!map) {
      spdlog::warn("redis broker: slot map from {}: {}", address.text(), problem);
      refreshFrom(candidates, next + 1);
      return;
    }
    {
      std::lock_guard lock(mapMu_);
      slotMap_ = std::make_shared<const rediscluster::SlotMap>(std::move(*map));
    }
    refreshing_.store(false);
    pubsub_->remap();
  });
}

void RedisBroker::setEventHandler(BrokerEventHandler* handler) { handler_.store(handler); }

void RedisBroker::subscribe(std::string_view channel) { subscribeReady(channel, nullptr); }

void RedisBroker::subscribeReady(std::string_view channel, Callback<bool> ready) {
  if (closed_.load()) {
    if (ready) {
      BrokerError error{"redis broker: closed", true};
      ready(false, &error);
    }
    return;
  }
  PubSub::Waiter waiter;
  if (ready) {
    // Waiters run on the home loop; route them back to the caller's loop.
    net::EventLoop* current = net::EventLoop::current();
    LoopSlot* home = homeSlot();
    Callback<bool> routed = current && (!home || current != &home->loop) ? onLoop(ready, *current) : ready;
    waiter = [routed](const BrokerError* error) { routed(error == nullptr, error); };
  }
  if (pubsub_->subscribe(channel, std::move(waiter)) && ready) ready(true, nullptr);
}

void RedisBroker::unsubscribe(std::string_view channel) {
  if (!closed_.load()) pubsub_->unsubscribe(channel);
}

bool RedisBroker::subscriptionConfirmed(std::string_view channel) const { return pubsub_->confirmed(channel); }

void RedisBroker::publish(std::string_view channel, Publication pub, const PublishOptions& opts,
                          Callback<PublishResult> done) {
  const bool withHistory = opts.historySize > 0 && opts.historyTtl.count() > 0;
  std::vector<std::string> keys{key(channel, "meta"), key(channel, "history")};
  if (!opts.idempotencyKey.empty()) keys.push_back(key(channel, "idempotency:" + opts.idempotencyKey));
  std::vector<std::string> args{
      rediscodec::encodePublication(pub),
      std::to_string(withHistory ? opts.historySize : 0),
      std::to_string(std::max<int64_t>(opts.historyTtl.count(), 1)),
      std::to_string(options_.historyMetaTtl.count()),
      newEpoch(),
      topic(channel),
      std::to_string(withHistory ? opts.historyTtl.count() : options_.idempotencyTtl.count()),
      options_.cluster ? "spublish" : "publish",
  };
  dispatch<PublishResult>(std::move(done), [this, hs = channelSlot(channel), keys = std::move(keys), args = std::move(args)](
                                               LoopSlot& slot, Callback<PublishResult> reply) mutable {
    runScript(slot, hs, publishScript_, std::move(keys), std::move(args),
              [reply](const redisReply* r, const BrokerError* e) {
                if (e) return reply({}, e);
                if (isError(r)) {
                  BrokerError error = replyError(r);
                  return reply({}, &error);
                }
                std::optional<StreamPosition> position;
                if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) position = parsePosition(text(r->element[1]));
                if (!position) {
                  BrokerError error = malformed("the publish script");
                  return reply({}, &error);
                }
                reply(PublishResult{std::move(*position)}, nullptr);
              });
  });
}

void RedisBroker::publishJoin(std::string_view channel, const ClientInfo& info) {
  std::vector<std::string> argv{options_.cluster ? "SPUBLISH" : "PUBLISH", topic(channel), rediscodec::joinMessage(info)};
  dispatch<bool>(nullptr, [this, hs = channelSlot(channel), argv = std::move(argv)](LoopSlot& slot, Callback<bool>) mutable {
    command(slot, hs, std::move(argv), nullptr);
  });
}

void RedisBroker::publishLeave(std::string_view channel, const ClientInfo& info) {
  std::vector<std::string> argv{options_.cluster ? "SPUBLISH" : "PUBLISH", topic(channel), rediscodec::leaveMessage(info)};
  dispatch<bool>(nullptr, [this, hs = channelSlot(channel), argv = std::move(argv)](LoopSlot& slot, Callback<bool>) mutable {
    command(slot, hs, std::move(argv), nullptr);
  });
}

void RedisBroker::publishControl(std::string payload, Callback<bool> done) {
  // Plain PUBLISH: in a cluster any master broadcasts it to every node; the
  // topic's own slot picks which one.
  std::vector<std::string> argv{"PUBLISH", controlTopic(), std::move(payload)};
  dispatch<bool>(std::move(done), [this, hs = rediscluster::keySlot(controlTopic()), argv = std::move(argv)](
                                      LoopSlot& slot, Callback<bool> reply) mutable {
    command(slot, hs, std::move(argv), [reply](const redisReply* r, const BrokerError* e) {
      if (!reply) return;
      if (e) return reply(false, e);
      if (isError(r)) {
        BrokerError error{"redis broker: PUBLISH control: " + std::string(text(r)), true};
        return reply(false, &error);
      }
      reply(true, nullptr);
    });
  });
}

void RedisBroker::history(std::string_view channel, const HistoryRequest& req, Callback<HistoryResult> done) {
  const auto metaTtl = req.metaTtl.count() > 0 ? req.metaTtl : options_.historyMetaTtl;
  std::vector<std::string> keys{key(channel, "meta"), key(channel, "history")};
  std::vector<std::string> args{newEpoch(), std::to_string(metaTtl.count()),
                                std::to_string(req.limit < 0 ? -1 : req.limit), req.reverse ? "1" : "0",
                                req.since ? std::to_string(req.since->offset) : std::string()};
  std::optional<StreamPosition> since = req.since;
  dispatch<HistoryResult>(
      std::move(done), [this, hs = channelSlot(channel), keys = std::move(keys), args = std::move(args),
                        since = std::move(since)](
                           LoopSlot& slot, Callback<HistoryResult> reply) mutable {
        runScript(slot, hs, historyScript_, std::move(keys), std::move(args),
                  [reply, since](const redisReply* r, const BrokerError* e) {
                    if (e) return reply({}, e);
                    if (isError(r)) {
                      BrokerError error = replyError(r);
                      return reply({}, &error);
                    }
                    HistoryResult result;
                    std::optional<int64_t> top, oldest;
                    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
                      top = integer(r->element[1]);
                      oldest = integer(r->element[2]);
                    }
                    if (!top || !oldest || *top < 0 || r->element[3]->type != REDIS_REPLY_ARRAY) {
                      BrokerError error = malformed("the history script");
                      return reply({}, &error);
                    }
                    result.position = StreamPosition{uint64_t(*top), std::string(text(r->element[0]))};
                    if (since) {
                      result.sinceRetained = since->epoch == result.position.epoch &&
                                             since->offset <= uint64_t(*top) &&
                                             int64_t(since->offset) + 1 >= *oldest;
                    }
                    const redisReply* entries = r->element[3];
                    result.publications.reserve(entries->elements);
                    for (size_t i = 0; i < entries->elements; ++i) {
                      PublicationPtr pub = parseEntry(entries->element[i]);
                      if (!pub) {
                        BrokerError error = malformed("the history script (a stream entry)");
                        return reply({}, &error);
                      }
                      result.publications.push_back(std::move(pub));
                    }
                    reply(std::move(result), nullptr);
                  });
      });
}

void RedisBroker::removeHistory(std::string_view channel, Callback<bool> done) {
  std::vector<std::string> argv{"DEL", key(channel, "history")};
  dispatch<bool>(std::move(done), [this, hs = channelSlot(channel), argv = std::move(argv)](LoopSlot& slot, Callback<bool> reply) mutable {
    command(slot, hs, std::move(argv), [reply](const redisReply* r, const BrokerError* e) {
      if (e) return reply(false, e);
      if (isError(r)) {
        BrokerError error = replyError(r);
        return reply(false, &error);
      }
      reply(true, nullptr);
    });
  });
}

namespace {

std::vector<std::string> presenceKeys(const RedisBroker& broker, std::string_view channel) {
  return {broker.key(channel, "presence"), broker.key(channel, "presence:expiry"),
          broker.key(channel, "presence:client-user"), broker.key(channel, "presence:user-count")};
}

// A reply handler for scripts whose answer only says "done".
RedisConnection::ReplyFn acknowledged(Callback<bool> reply) {
  return [reply = std::move(reply)](const redisReply* r, const BrokerError* e) {
    if (e) return reply(false, e);
    if (isError(r)) {
      BrokerError error = replyError(r);
      return reply(false, &error);
    }
    reply(true, nullptr);
  };
}

}  // namespace

void RedisBroker::addPresence(std::string_view channel, const ClientInfo& info, std::chrono::milliseconds ttl,
                              Callback<bool> done) {
  if (ttl.count() <= 0) {
    BrokerError error{"redis broker: presence ttl must be positive", false};
    if (done) done(false, &error);
    return;
  }
  std::vector<std::string> args{info.client, rediscodec::encodeClientInfo(info), info.user,
                                std::to_string(ttl.count())};
  dispatch<bool>(std::move(done), [this, hs = channelSlot(channel), keys = presenceKeys(*this, channel), args = std::move(args)](
                                      LoopSlot& slot, Callback<bool> reply) mutable {
    runScript(slot, hs, addPresenceScript_, std::move(keys), std::move(args), acknowledged(std::move(reply)));
  });
}

void RedisBroker::removePresence(std::string_view channel, std::string_view clientId, std::string_view /*user*/,
                                 Callback<bool> done) {
  std::vector<std::string> args{std::string(clientId)};
  dispatch<bool>(std::move(done), [this, hs = channelSlot(channel), keys = presenceKeys(*this, channel), args = std::move(args)](
                                      LoopSlot& slot, Callback<bool> reply) mutable {
    runScript(slot, hs, removePresenceScript_, std::move(keys), std::move(args), acknowledged(std::move(reply)));
  });
}

void RedisBroker::presence(std::string_view channel, Callback<std::unordered_map<std::string, ClientInfo>> done) {
  using Clients = std::unordered_map<std::string, ClientInfo>;
  dispatch<Clients>(std::move(done), [this, hs = channelSlot(channel), keys = presenceKeys(*this, channel)](
                                         LoopSlot& slot, Callback<Clients> reply) mutable {
    runScript(slot, hs, presenceScript_, std::move(keys), {}, [reply](const redisReply* r, const BrokerError* e) {
      if (e) return reply({}, e);
      if (isError(r) || r->type != REDIS_REPLY_ARRAY) {
        BrokerError error = isError(r) ? replyError(r) : malformed("the presence script");
        return reply({}, &error);
      }
      Clients clients;
      clients.reserve(r->elements / 2);
      for (size_t i = 0; i + 1 < r->elements; i += 2) {
        ClientInfo info;
        if (!rediscodec::decodeClientInfo(text(r->element[i + 1]), info)) continue;  // not ours: skip it
        clients.emplace(std::string(text(r->element[i])), std::move(info));
      }
      reply(std::move(clients), nullptr);
    });
  });
}

void RedisBroker::presenceStats(std::string_view channel, Callback<PresenceStats> done) {
  dispatch<PresenceStats>(std::move(done), [this, hs = channelSlot(channel), keys = presenceKeys(*this, channel)](
                                               LoopSlot& slot, Callback<PresenceStats> reply) mutable {
    runScript(slot, hs, presenceStatsScript_, std::move(keys), {}, [reply](const redisReply* r, const BrokerError* e) {
      if (e) return reply({}, e);
      std::optional<int64_t> clients, users;
      if (!isError(r) && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        clients = integer(r->element[0]);
        users = integer(r->element[1]);
      }
      if (!clients || !users) {
        BrokerError error = isError(r) ? replyError(r) : malformed("the presence stats script");
        return reply({}, &error);
      }
      reply(PresenceStats{uint32_t(*clients), uint32_t(*users)}, nullptr);
    });
  });
}

}  // namespace sb::broker
