#include "broker/MemoryBroker.h"

#include <algorithm>
#include <bit>
#include <deque>
#include <limits>
#include <unordered_set>
#include <utility>

namespace sb::broker {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr size_t kEpochLength = 8;
constexpr std::string_view kEpochAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

const BrokerError kTooManyChannels{"memory broker: too many channels with history or presence", true};
const BrokerError kBadPresenceTtl{"memory broker: presence ttl must be positive", false};

// t + d without overflow (a huge TTL means "practically never").
int64_t addMs(int64_t t, std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms <= 0) return t;
  return t > kNever - ms ? kNever : t + ms;
}

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class V>
using NameMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

// The newest publications of one stream, oldest first. Grows by doubling up
// to the history size, so a channel with a large history size but few
// publications stays small.
class PublicationRing {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  const PublicationPtr& at(size_t i) const { return slots_[(head_ + i) % slots_.size()]; }

  // Appends, dropping the oldest so that at most `limit` (> 0) are kept.
  void push(PublicationPtr pub, size_t limit) {
    while (count_ > 0 && count_ >= limit) popFront();
    if (count_ == slots_.size()) grow(std::min(std::max<size_t>(slots_.size() * 2, 4), limit));
    slots_[(head_ + count_) % slots_.size()] = std::move(pub);
    ++count_;
  }

  void clear() {
    std::vector<PublicationPtr>().swap(slots_);
    head_ = count_ = 0;
  }

 private:
  void popFront() {
    slots_[head_].reset();
    head_ = (head_ + 1) % slots_.size();
    --count_;
  }
  void grow(size_t capacity) {
    std::vector<PublicationPtr> next;
    next.reserve(capacity);
    for (size_t i = 0; i < count_; ++i) next.push_back(std::move(slots_[(head_ + i) % slots_.size()]));
    next.resize(capacity);
    slots_.swap(next);
    head_ = 0;
  }

  std::vector<PublicationPtr> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

// Idempotency key → the position of the first publish with it.
struct IdempotencyKeys {
  struct Remembered {
    StreamPosition position;
    int64_t expireAt = 0;
  };
  std::unordered_map<std::string, Remembered> byKey;
  // Keys in the order remembered (with their expiry, to tell a record from a
  // later one with the same key). May hold stale items; bounded below.
  std::deque<std::pair<int64_t, std::string>> order;

  const StreamPosition* find(const std::string& key, int64_t now) const {
    auto it = byKey.find(key);
    if (it == byKey.end() || now >= it->second.expireAt) return nullptr;
    return &it->second.position;
  }

  void popOldest() {
    auto& [expireAt, key] = order.front();
    auto it = byKey.find(key);
    if (it != byKey.end() && it->second.expireAt == expireAt) byKey.erase(it);
    order.pop_front();
  }

  void expire(int64_t now) {
    while (!order.empty() && order.front().first <= now) popOldest();
  }

  void remember(const std::string& key, const StreamPosition& pos, int64_t expireAt, int64_t now, size_t cap) {
    expire(now);
    cap = std::max<size_t>(cap, 1);
    while (!order.empty() && (byKey.size() >= cap || order.size() >= 2 * cap)) popOldest();
    byKey[key] = Remembered{pos, expireAt};
    order.emplace_back(expireAt, key);
  }

  int64_t nextExpiry() const { return order.empty() ? kNever : order.front().first; }
};

struct PresenceEntry {
  ClientInfo info;
  int64_t expireAt = 0;
};

}  // namespace

struct MemoryBroker::ChannelState {
  // Stream meta; absent until the first publish with history or history read.
  bool hasStream = false;
  std::string epoch;
  uint64_t top = 0;
  int64_t pubsExpireAt = 0;
  int64_t metaExpireAt = 0;
  PublicationRing pubs;
  std::unique_ptr<IdempotencyKeys> idempotency;  // created on first use
  std::unordered_map<std::string, PresenceEntry> presence;
  // Earliest deadline queued for sweep() (kNever = none queued).
  int64_t scheduledAt = kNever;

  bool empty() const { return !hasStream && (!idempotency || idempotency->byKey.empty()) && presence.empty(); }

  void dropStream() {
    hasStream = false;
    epoch.clear();
    top = 0;
    pubsExpireAt = metaExpireAt = 0;
    pubs.clear();
  }

  void expireStream(int64_t now) {
    if (!hasStream) return;
    if (now >= metaExpireAt) {
      dropStream();
    } else if (!pubs.empty() && now >= pubsExpireAt) {
      pubs.clear();
    }
  }

  void expireIdempotency(int64_t now) {
    if (!idempotency) return;
    idempotency->expire(now);
    if (idempotency->byKey.empty()) idempotency.reset();
  }

  void expirePresence(int64_t now) {
    std::erase_if(presence, [now](const auto& kv) { return now >= kv.second.expireAt; });
  }

  // When something in the entry expires next (scans presence: only sweep()
  // calls it, once per due entry).
  int64_t nextDeadline() const {
    int64_t next = kNever;
    if (hasStream) {
      next = std::min(next, metaExpireAt);
      if (!pubs.empty()) next = std::min(next, pubsExpireAt);
    }
    if (idempotency) next = std::min(next, idempotency->nextExpiry());
    for (const auto& [client, entry] : presence) next = std::min(next, entry.expireAt);
    return next;
  }
};

struct MemoryBroker::Shard {
  struct Deadline {
    int64_t at;
    std::string channel;
    bool operator>(const Deadline& other) const { return at > other.at; }
  };

  std::mutex mu;
  NameMap<ChannelState> channels;
  NameMap<uint32_t> subscribers;  // subscribe() count minus unsubscribe() count, > 0
  std::vector<Deadline> deadlines;  // min-heap on `at`; items whose `at` != the entry's scheduledAt are stale
  std::mt19937_64 rng;
};

MemoryBroker::MemoryBroker(MemoryBrokerOptions options) : options_(std::move(options)) {
  if (options_.historyMetaTtl.count() <= 0) options_.historyMetaTtl = std::chrono::hours(24);
  if (options_.idempotencyTtl.count() <= 0) options_.idempotencyTtl = std::chrono::minutes(5);
  size_t count = std::bit_ceil(std::max<size_t>(options_.shards, 1));
  shardMask_ = count - 1;
  std::random_device entropy;  // the OS CSPRNG on Linux
  shards_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto shard = std::make_unique<Shard>();
    std::seed_seq seed{entropy(), entropy(), entropy(), entropy(), entropy(), entropy(), entropy(), entropy()};
    shard->rng.seed(seed);
    shards_.push_back(std::move(shard));
  }
}

MemoryBroker::~MemoryBroker() = default;

MemoryBroker::Shard& MemoryBroker::shardFor(std::string_view channel) {
  // Mix the hash so the shard index and the shard's own buckets use
  // different bits.
  uint64_t h = NameHash{}(channel) * 0x9E3779B97F4A7C15ull;
  return *shards_[(h >> 32) & shardMask_];
}

int64_t MemoryBroker::now() const {
  if (options_.clockMs) return options_.clockMs();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

MemoryBroker::ChannelState* MemoryBroker::entryLocked(Shard& shard, std::string_view channel, int64_t now,
                                                      bool create, const BrokerError** error) {
  auto it = shard.channels.find(channel);
  if (it != shard.channels.end()) {
    it->second.expireStream(now);
    return &it->second;
  }
  if (!create) return nullptr;
  if (channels_.fetch_add(1, std::memory_order_relaxed) >= options_.maxChannels) {
    channels_.fetch_sub(1, std::memory_order_relaxed);
    sweepShardLocked(shard, now);
    if (channels_.fetch_add(1, std::memory_order_relaxed) >= options_.maxChannels) {
      channels_.fetch_sub(1, std::memory_order_relaxed);
      if (error) *error = &kTooManyChannels;
      return nullptr;
    }
  }
  return &shard.channels.emplace(std::string(channel), ChannelState{}).first->second;
}

void MemoryBroker::startStreamLocked(Shard& shard, ChannelState& state) {
  std::uniform_int_distribution<size_t> pick(0, kEpochAlphabet.size() - 1);
  std::string epoch(kEpochLength, ' ');
  for (char& c : epoch) c = kEpochAlphabet[pick(shard.rng)];
  state.dropStream();
  state.hasStream = true;
  state.epoch = std::move(epoch);
}

void MemoryBroker::scheduleLocked(Shard& shard, std::string_view channel, ChannelState& state, int64_t deadline) {
  if (deadline >= state.scheduledAt) return;  // sweep() visits earlier and re-queues then
  state.scheduledAt = deadline;
  shard.deadlines.push_back(Shard::Deadline{deadline, std::string(channel)});
  std::push_heap(shard.deadlines.begin(), shard.deadlines.end(), std::greater<>{});
  // Stale items pile up when entries are erased and recreated; rebuild the
  // heap from the live entries before it grows far beyond them.
  if (shard.deadlines.size() > 2 * shard.channels.size() + 1024) {
    shard.deadlines.clear();
    for (const auto& [name, st] : shard.channels) {
      if (st.scheduledAt != kNever) shard.deadlines.push_back(Shard::Deadline{st.scheduledAt, name});
    }
    std::make_heap(shard.deadlines.begin(), shard.deadlines.end(), std::greater<>{});
  }
}

void MemoryBroker::eraseIfEmptyLocked(Shard& shard, std::string_view channel) {
  auto it = shard.channels.find(channel);
  if (it == shard.channels.end() || !it->second.empty()) return;
  shard.channels.erase(it);
  channels_.fetch_sub(1, std::memory_order_relaxed);
}

void MemoryBroker::sweepShardLocked(Shard& shard, int64_t now) {
  auto& heap = shard.deadlines;
  while (!heap.empty() && heap.front().at <= now) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    Shard::Deadline due = std::move(heap.back());
    heap.pop_back();
    auto it = shard.channels.find(due.channel);
    if (it == shard.channels.end() || it->second.scheduledAt != due.at) continue;  // stale
    ChannelState& st = it->second;
    st.expireStream(now);
    st.expireIdempotency(now);
    st.expirePresence(now);
    st.scheduledAt = kNever;
    if (st.empty()) {
      shard.channels.erase(it);
      channels_.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    int64_t next = std::max(st.nextDeadline(), now + 1);
    st.scheduledAt = next;
    heap.push_back(Shard::Deadline{next, std::move(due.channel)});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  }
}

bool MemoryBroker::subscribedLocked(const Shard& shard, std::string_view channel) const {
  return shard.subscribers.find(channel) != shard.subscribers.end();
}

void MemoryBroker::setEventHandler(BrokerEventHandler* handler) { handler_.store(handler); }

void MemoryBroker::subscribe(std::string_view channel) {
  Shard& shard = shardFor(channel);
  std::lock_guard lock(shard.mu);
  auto it = shard.subscribers.find(channel);
  if (it == shard.subscribers.end()) {
    shard.subscribers.emplace(std::string(channel), 1);
  } else {
    ++it->second;
  }
}

void MemoryBroker::unsubscribe(std::string_view channel) {
  Shard& shard = shardFor(channel);
  std::lock_guard lock(shard.mu);
  auto it = shard.subscribers.find(channel);
  if (it == shard.subscribers.end()) return;
  if (--it->second == 0) shard.subscribers.erase(it);
}

void MemoryBroker::publish(std::string_view channel, Publication pub, const PublishOptions& opts,
                           Callback<PublishResult> done) {
  const bool withHistory = opts.historySize > 0 && opts.historyTtl.count() > 0;
  const bool keyed = !opts.idempotencyKey.empty();
  // Allocated outside the lock; the offset is filled in under it, before the
  // publication is shared.
  auto stored = std::make_shared<Publication>(std::move(pub));
  stored->offset = 0;
  const int64_t t = now();
  PublishResult result;
  const BrokerError* error = nullptr;
  Shard& shard = shardFor(channel);
  {
    std::lock_guard lock(shard.mu);
    bool suppressed = false;
    if (withHistory || keyed) {
      ChannelState* st = entryLocked(shard, channel, t, true, &error);
      if (!st) {
        suppressed = true;  // nothing published
      } else {
        if (keyed && st->idempotency) {
          if (const StreamPosition* first = st->idempotency->find(opts.idempotencyKey, t)) {
            result.position = *first;
            suppressed = true;
          }
        }
        if (!suppressed && withHistory) {
          if (!st->hasStream) startStreamLocked(shard, *st);
          stored->offset = ++st->top;
          st->pubs.push(stored, size_t(opts.historySize));
          st->pubsExpireAt = addMs(t, opts.historyTtl);
          // The meta outlives its publications.
          st->metaExpireAt = std::max(st->metaExpireAt, addMs(t, std::max(defaultMetaTtl(), opts.historyTtl)));
          result.position = StreamPosition{st->top, st->epoch};
          scheduleLocked(shard, channel, *st, std::min(st->pubsExpireAt, st->metaExpireAt));
        }
        if (!suppressed && keyed) {
          if (!st->idempotency) st->idempotency = std::make_unique<IdempotencyKeys>();
          int64_t expireAt = addMs(t, withHistory ? opts.historyTtl : options_.idempotencyTtl);
          st->idempotency->remember(opts.idempotencyKey, result.position, expireAt, t,
                                    options_.maxIdempotencyKeysPerChannel);
          scheduleLocked(shard, channel, *st, st->idempotency->nextExpiry());
        }
      }
    }
    if (!suppressed && subscribedLocked(shard, channel)) {
      if (BrokerEventHandler* handler = handler_.load()) {
        handler->onPublication(channel, PublicationPtr(stored), result.position);
      }
    }
  }
  if (done) done(std::move(result), error);
}

void MemoryBroker::publishJoin(std::string_view channel, const ClientInfo& info) {
  Shard& shard = shardFor(channel);
  std::lock_guard lock(shard.mu);
  if (!subscribedLocked(shard, channel)) return;
  if (BrokerEventHandler* handler = handler_.load()) handler->onJoin(channel, info);
}

void MemoryBroker::publishLeave(std::string_view channel, const ClientInfo& info) {
  Shard& shard = shardFor(channel);
  std::lock_guard lock(shard.mu);
  if (!subscribedLocked(shard, channel)) return;
  if (BrokerEventHandler* handler = handler_.load()) handler->onLeave(channel, info);
}

void MemoryBroker::history(std::string_view channel, const HistoryRequest& req, Callback<HistoryResult> done) {
  const int64_t t = now();
  const auto metaTtl = req.metaTtl.count() > 0 ? req.metaTtl : defaultMetaTtl();
  HistoryResult result;
  const BrokerError* error = nullptr;
  Shard& shard = shardFor(channel);
  {
    std::lock_guard lock(shard.mu);
    ChannelState* st = entryLocked(shard, channel, t, true, &error);
    if (st) {
      if (!st->hasStream) startStreamLocked(shard, *st);
      st->metaExpireAt = std::max(st->metaExpireAt, addMs(t, metaTtl));
      scheduleLocked(shard, channel, *st, st->metaExpireAt);
      result.position = StreamPosition{st->top, st->epoch};

      const uint64_t kept = st->pubs.size();
      const uint64_t oldestKept = st->top - kept + 1;  // top + 1 when none kept
      if (req.since) {
        const StreamPosition& since = *req.since;
        result.sinceRetained = since.epoch == st->epoch && since.offset <= st->top && since.offset + 1 >= oldestKept;
      }
      const size_t limit = req.limit < 0 ? std::numeric_limits<size_t>::max() : size_t(req.limit);
      // The publications to return are offsets [first, last] of the kept
      // range, walked from `last` down when reverse.
      uint64_t first = oldestKept;
      uint64_t last = st->top;
      bool any = limit > 0 && kept > 0;
      if (any && req.since) {
        const uint64_t sinceOffset = req.since->offset;
        if (!req.reverse) {
          if (sinceOffset >= last) any = false;
          else first = std::max(first, sinceOffset + 1);
        } else {
          if (sinceOffset <= first) any = false;
          else last = std::min(last, sinceOffset - 1);
        }
      }
      if (any && first <= last) {
        const size_t n = size_t(std::min<uint64_t>(last - first + 1, limit));
        result.publications.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          size_t index = req.reverse ? size_t(last - oldestKept) - i : size_t(first - oldestKept) + i;
          result.publications.push_back(st->pubs.at(index));
        }
      }
    }
  }
  if (done) done(std::move(result), error);
}

void MemoryBroker::removeHistory(std::string_view channel, Callback<bool> done) {
  const int64_t t = now();
  Shard& shard = shardFor(channel);
  {
    std::lock_guard lock(shard.mu);
    if (ChannelState* st = entryLocked(shard, channel, t, false, nullptr)) st->pubs.clear();
    eraseIfEmptyLocked(shard, channel);
  }
  if (done) done(true, nullptr);
}

void MemoryBroker::addPresence(std::string_view channel, const ClientInfo& info, std::chrono::milliseconds ttl,
                               Callback<bool> done) {
  if (ttl.count() <= 0) {
    if (done) done(false, &kBadPresenceTtl);
    return;
  }
  const int64_t t = now();
  const BrokerError* error = nullptr;
  Shard& shard = shardFor(channel);
  {
    std::lock_guard lock(shard.mu);
    if (ChannelState* st = entryLocked(shard, channel, t, true, &error)) {
      int64_t expireAt = addMs(t, ttl);
      st->presence.insert_or_assign(info.client, PresenceEntry{info, expireAt});
      scheduleLocked(shard, channel, *st, expireAt);
    }
  }
  if (done) done(error == nullptr, error);
}

void MemoryBroker::removePresence(std::string_view channel, std::string_view clientId, std::string_view /*user*/,
                                  Callback<bool> done) {
  const int64_t t = now();
  Shard& shard = shardFor(channel);
  {
    std::lock_guard lock(shard.mu);
    if (ChannelState* st = entryLocked(shard, channel, t, false, nullptr)) {
      auto it = st->presence.find(std::string(clientId));
      if (it != st->presence.end()) st->presence.erase(it);
      eraseIfEmptyLocked(shard, channel);
    }
  }
  if (done) done(true, nullptr);
}

void MemoryBroker::presence(std::string_view channel, Callback<std::unordered_map<std::string, ClientInfo>> done) {
  const int64_t t = now();
  std::unordered_map<std::string, ClientInfo> result;
  Shard& shard = shardFor(channel);
  {
    std::lock_guard lock(shard.mu);
    if (ChannelState* st = entryLocked(shard, channel, t, false, nullptr)) {
      st->expirePresence(t);
      result.reserve(st->presence.size());
      for (const auto& [client, entry] : st->presence) result.emplace(client, entry.info);
      eraseIfEmptyLocked(shard, channel);
    }
  }
  if (done) done(std::move(result), nullptr);
}

void MemoryBroker::presenceStats(std::string_view channel, Callback<PresenceStats> done) {
  const int64_t t = now();
  PresenceStats stats;
  Shard& shard = shardFor(channel);
  {
    std::lock_guard lock(shard.mu);
    if (ChannelState* st = entryLocked(shard, channel, t, false, nullptr)) {
      st->expirePresence(t);
      std::unordered_set<std::string_view> users;
      for (const auto& [client, entry] : st->presence) users.insert(entry.info.user);
      stats.numClients = uint32_t(st->presence.size());
      stats.numUsers = uint32_t(users.size());
      eraseIfEmptyLocked(shard, channel);
    }
  }
  if (done) done(stats, nullptr);
}

size_t MemoryBroker::channelCount() const { return channels_.load(std::memory_order_relaxed); }

size_t MemoryBroker::publicationsKept() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    for (const auto& [name, state] : shard->channels) total += state.pubs.size();
  }
  return total;
}

void MemoryBroker::sweep() {
  const int64_t t = now();
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    sweepShardLocked(*shard, t);
  }
}

}  // namespace sb::broker
