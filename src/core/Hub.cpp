#include "core/Hub.h"

#include <cassert>
#include <algorithm>
#include <cstring>
#include <functional>

#include <spdlog/spdlog.h>

#include "net/EventLoop.h"
#include "protocol/Codec.h"
#include "ws/FrameWriter.h"

namespace sb::core {

// Per-worker state. `index` and the channel map are touched only by the
// worker's loop thread; the inbox is filled by any thread.
struct Hub::Worker {
  net::EventLoop* loop = nullptr;
  // Heterogeneous lookup by string_view without building a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<ChannelSubscribers>, Hash, std::equal_to<>> channels;

  std::mutex inboxMu;
  std::vector<ChannelEventPtr> inbox;  // guarded by inboxMu
  bool wakeQueued = false;             // guarded by inboxMu
  std::vector<ChannelEventPtr> draining;  // loop thread: the batch being delivered
  // The channel whose subscribers are being visited: if its last subscriber
  // leaves meanwhile, it is erased after the visit, not under the loop.
  ChannelSubscribers* delivering = nullptr;
  // Subscribers per channel, for channelCounts() on other threads; changed
  // only on subscribe and unsubscribe, never on delivery.
  std::mutex countsMu;
  std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>> counts;  // guarded by countsMu
  // Hub::encoded's cache: encodings of `encodedEvent`, the event being
  // delivered (held so its address cannot be reused by another event).
  static constexpr size_t kCachedEncodings = 8;  // plain (5), emulation, uni stream, uni WebSocket
  ChannelEventPtr encodedEvent;
  std::array<std::pair<EventEncoder, net::SharedBuffer::Ref>, kCachedEncodings> encodings{};
  net::SharedBuffer::Ref uncached;  // Hub::encoded's answer outside a delivery
  SliceArena arena;
};

Hub::Hub(broker::Broker& broker, size_t workers) : broker_(broker) {
  assert(workers > 0 && workers <= 64);
  for (size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  broker_.setEventHandler(this);
}

Hub::~Hub() { broker_.setEventHandler(nullptr); }

void Hub::attachLoop(size_t w, net::EventLoop* loop) { workers_[w]->loop = loop; }

Hub::Shard& Hub::shardFor(std::string_view channel) {
  return shards_[std::hash<std::string_view>{}(channel) % kShards];
}

ChannelSubscribers* Hub::add(size_t w, std::string_view channel, Subscriber* s, uint8_t flags, uint64_t lastOffset,
                             uint32_t& slot) {
  Worker& wk = *workers_[w];
  auto it = wk.channels.find(channel);
  if (it == wk.channels.end()) {
    it = wk.channels.emplace(std::string(channel), std::make_unique<ChannelSubscribers>(channel)).first;
    stats_.channels.fetch_add(1, std::memory_order_relaxed);
    bool firstOnNode;
    {
      Shard& sh = shardFor(channel);
      std::lock_guard lock(sh.mu);
      uint64_t& mask = sh.channels[std::string(channel)].workerMask;
      firstOnNode = mask == 0;
      mask |= uint64_t(1) << w;
    }
    // Outside the shard lock: the broker calls onPublication (which takes
    // shard locks) while holding its own locks.
    if (firstOnNode) broker_.subscribe(channel);
  }
  ChannelSubscribers* ch = it->second.get();
  slot = uint32_t(ch->entries().size());
  ch->entries().push_back(SubscriberEntry{s, lastOffset, flags});
  stats_.subscriptions.fetch_add(1, std::memory_order_relaxed);
  countSubscriber(w, channel, +1);
  return ch;
}

void Hub::remove(size_t w, ChannelSubscribers* ch, uint32_t slot) {
  auto& entries = ch->entries();
  assert(slot < entries.size());
  countSubscriber(w, ch->name(), -1);
  uint32_t last = uint32_t(entries.size() - 1);
  if (slot != last) {
    entries[slot] = entries[last];
    entries[slot].subscriber->entryMoved(*ch, slot);
  }
  entries.pop_back();
  stats_.subscriptions.fetch_sub(1, std::memory_order_relaxed);
  if (!entries.empty()) return;
  if (workers_[w]->delivering == ch) return;  // deliverLocal erases it afterwards
  eraseChannel(w, ch);
}

void Hub::eraseChannel(size_t w, ChannelSubscribers* ch) {
  Worker& wk = *workers_[w];
  std::string channel = ch->name();
  wk.channels.erase(channel);  // destroys *ch
  stats_.channels.fetch_sub(1, std::memory_order_relaxed);
  bool lastOnNode = false;
  {
    Shard& sh = shardFor(channel);
    std::lock_guard lock(sh.mu);
    auto mit = sh.channels.find(channel);
    if (mit != sh.channels.end()) {
      mit->second.workerMask &= ~(uint64_t(1) << w);
      if (mit->second.workerMask == 0) {
        sh.channels.erase(mit);
        lastOnNode = true;
      }
    }
  }
  if (lastOnNode) broker_.unsubscribe(channel);
}

void Hub::forEachWorker(const std::function<void(size_t w)>& fn) {
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i]->loop) workers_[i]->loop->post([fn, i] { fn(i); });
  }
}

size_t Hub::localSubscribers(size_t w, std::string_view channel) const {
  const Worker& wk = *workers_[w];
  auto it = wk.channels.find(channel);
  return it == wk.channels.end() ? 0 : it->second->entries().size();
}

void Hub::onPublication(std::string_view channel, const protocol::PublicationPtr& pub,
                        const protocol::StreamPosition& pos) {
  auto ev = std::make_shared<ChannelEvent>();
  ev->kind = ChannelEvent::Kind::Publication;
  ev->channel = channel;
  ev->pub = pub;
  ev->offset = pos.offset;
  ev->epoch = pos.epoch;
  protocol::writePublicationPush(ev->push, channel, *pub);
  dispatch(std::move(ev));
}

void Hub::onJoin(std::string_view channel, const protocol::ClientInfo& info) {
  auto ev = std::make_shared<ChannelEvent>();
  ev->kind = ChannelEvent::Kind::Join;
  ev->channel = channel;
  protocol::writeJoinPush(ev->push, channel, info);
  dispatch(std::move(ev));
}

void Hub::onLeave(std::string_view channel, const protocol::ClientInfo& info) {
  auto ev = std::make_shared<ChannelEvent>();
  ev->kind = ChannelEvent::Kind::Leave;
  ev->channel = channel;
  protocol::writeLeavePush(ev->push, channel, info);
  dispatch(std::move(ev));
}

// Called with the broker's channel lock held, so the inbox order of every
// worker is the channel's offset order.
void Hub::dispatch(ChannelEventPtr ev) {
  stats_.publications.fetch_add(1, std::memory_order_relaxed);
  Shard& sh = shardFor(ev->channel);
  std::lock_guard lock(sh.mu);
  auto it = sh.channels.find(ev->channel);
  if (it == sh.channels.end()) return;
  ChannelState& st = it->second;
  if (st.recovering) {
    // Held until the recovery read answers; beyond the bound the order
    // cannot be kept, so the positioned subscribers are told instead.
    if (st.held.size() < kMaxHeldEvents) st.held.push_back(std::move(ev));
    else st.heldOverflow = true;
    return;
  }
  if (ev->kind == ChannelEvent::Kind::Publication && ev->offset != 0) {
    st.offset = ev->offset;
    if (st.epoch != ev->epoch) st.epoch = ev->epoch;
  }
  // Queued under the shard lock: a recovery that finishes on another thread
  // cannot interleave its events with these.
  enqueue(ev, st.workerMask);
}

void Hub::enqueue(const ChannelEventPtr& ev, uint64_t mask) {
  for (size_t w = 0; w < workers_.size(); ++w) {
    if (!(mask & (uint64_t(1) << w))) continue;
    Worker& wk = *workers_[w];
    if (!wk.loop) continue;
    bool wake = false;
    {
      std::lock_guard lock(wk.inboxMu);
      wk.inbox.push_back(ev);
      if (!wk.wakeQueued) wake = wk.wakeQueued = true;
    }
    // One wake-up per batch: a burst of publications costs one post.
    if (wake) wk.loop->post([this, w] { drainInbox(w); });
  }
}

void Hub::onResubscribed(std::string_view channel) {
  std::string name(channel);
  broker::HistoryRequest req;
  uint64_t sinceOffset = 0;
  std::string sinceEpoch;
  {
    Shard& sh = shardFor(channel);
    std::lock_guard lock(sh.mu);
    auto it = sh.channels.find(name);
    if (it == sh.channels.end() || it->second.recovering) return;
    ChannelState& st = it->second;
    st.recovering = true;
    sinceOffset = st.offset;
    sinceEpoch = st.epoch;
  }
  if (sinceOffset != 0) {
    req.since = protocol::StreamPosition{sinceOffset, sinceEpoch};
    req.limit = recoveryLimit_ + 1;  // one more tells "too many missed"
  } else {
    // No publication seen since the node subscribed: the newest ones, in
    // case subscribers were positioned meanwhile (each entry checks its
    // own gap).
    req.reverse = true;
    req.limit = recoveryLimit_ + 1;
  }
  std::weak_ptr<int> alive = alive_;
  broker_.history(name, req,
                  [this, alive, name, sinceOffset, sinceEpoch](broker::HistoryResult r, const broker::BrokerError* e) {
                    if (alive.expired()) return;
                    if (e) spdlog::warn("hub: reading '{}' after a broker reconnect failed: {}", name, e->message);
                    finishResubscribe(name, e ? nullptr : &r, sinceOffset, sinceEpoch);
                  });
}

void Hub::finishResubscribe(const std::string& channel, const broker::HistoryResult* read, uint64_t sinceOffset,
                            const std::string& sinceEpoch) {
  Shard& sh = shardFor(channel);
  std::lock_guard lock(sh.mu);
  auto it = sh.channels.find(channel);
  if (it == sh.channels.end()) return;  // the last subscriber left meanwhile
  ChannelState& st = it->second;
  std::vector<ChannelEventPtr> held;
  held.swap(st.held);
  const bool overflow = st.heldOverflow;
  st.recovering = false;
  st.heldOverflow = false;

  bool covered = read != nullptr && !overflow;
  std::vector<protocol::PublicationPtr> pubs;
  if (covered) {
    pubs = read->publications;
    if (sinceOffset != 0) {
      covered = read->sinceRetained && read->position.epoch == sinceEpoch &&
                pubs.size() <= size_t(recoveryLimit_);
    } else {
      std::reverse(pubs.begin(), pubs.end());  // read newest first
      if (pubs.empty() && read->position.offset == 0)
        spdlog::info("hub: '{}' keeps no history: what was published while the broker was away is lost", channel);
    }
  }
  if (!covered) {
    spdlog::info("hub: '{}' cannot be re-positioned after a broker reconnect: its subscribers resubscribe", channel);
    auto ev = std::make_shared<ChannelEvent>();
    ev->kind = ChannelEvent::Kind::PositionLost;
    ev->channel = channel;
    enqueue(ev, st.workerMask);
  } else {
    for (const protocol::PublicationPtr& p : pubs) {
      if (p->offset <= st.offset && read->position.epoch == st.epoch) continue;
      auto ev = std::make_shared<ChannelEvent>();
      ev->kind = ChannelEvent::Kind::Publication;
      ev->channel = channel;
      ev->pub = p;
      ev->offset = p->offset;
      ev->epoch = read->position.epoch;
      ev->fromHistory = true;
      protocol::writePublicationPush(ev->push, channel, *p);
      st.offset = p->offset;
      st.epoch = ev->epoch;
      stats_.publications.fetch_add(1, std::memory_order_relaxed);
      enqueue(ev, st.workerMask);
    }
  }
  // The live events that came during the read, after the recovered ones
  // (workers skip those they already have by offset).
  for (ChannelEventPtr& ev : held) {
    if (ev->kind == ChannelEvent::Kind::Publication && ev->offset != 0) {
      if (ev->epoch == st.epoch && ev->offset <= st.offset) continue;  // among the recovered ones
      st.offset = ev->offset;
      if (st.epoch != ev->epoch) st.epoch = ev->epoch;
    }
    enqueue(ev, st.workerMask);
  }
}

void Hub::drainInbox(size_t w) {
  Worker& wk = *workers_[w];
  {
    std::lock_guard lock(wk.inboxMu);
    wk.draining.swap(wk.inbox);
    wk.wakeQueued = false;
  }
  for (const ChannelEventPtr& ev : wk.draining) deliverLocal(w, ev);
  wk.draining.clear();  // keeps its capacity: no allocation in steady state
  // The queues hold what they need; the cache would only pin memory.
  if (wk.encodedEvent) {
    wk.encodedEvent.reset();
    for (auto& e : wk.encodings) e = {};
  }
}

bool Hub::loseEntry(ChannelSubscribers& ch, uint32_t i) {
  SubscriberEntry& e = ch.entries()[i];
  e.flags = uint8_t((e.flags | SubscriberEntry::kLost) & ~SubscriberEntry::kStale);
  stats_.positionsLost.fetch_add(1, std::memory_order_relaxed);
  size_t before = ch.entries().size();
  e.subscriber->positionLost(ch, i);
  return ch.entries().size() < before;
}

void ChannelSubscribers::markPositioned(uint32_t slot, std::string_view epoch) {
  entries_[slot].flags |= SubscriberEntry::kPositioned;
  if (epoch_ == epoch) return;
  if (!epoch_.empty()) {
    for (uint32_t i = 0; i < entries_.size(); ++i) {
      SubscriberEntry& e = entries_[i];
      if (i == slot || !(e.flags & SubscriberEntry::kPositioned) || (e.flags & SubscriberEntry::kPending)) continue;
      e.flags |= SubscriberEntry::kStale;
      staleMarked_ = true;
    }
  }
  epoch_.assign(epoch);
}

// The hot path: one frame per event per worker, one reference per subscriber.
// A positioned entry costs two compares more (epoch once per event, offset
// per entry); losing a position is the rare path.
void Hub::deliverLocal(size_t w, const ChannelEventPtr& ev) {
  Worker& wk = *workers_[w];
  auto it = wk.channels.find(ev->channel);
  if (it == wk.channels.end()) return;
  ChannelSubscribers& ch = *it->second;
  wk.delivering = &ch;
  const bool lostAll = ev->kind == ChannelEvent::Kind::PositionLost;
  if (lostAll || ch.staleMarked_) {
    // Every positioned entry (PositionLost) or those markPositioned
    // marked is told; pending ones are reading their position right now.
    ch.staleMarked_ = false;
    for (uint32_t i = 0; i < ch.entries().size(); ++i) {
      SubscriberEntry& e = ch.entries()[i];
      constexpr uint8_t kPendingOrLost = SubscriberEntry::kPending | SubscriberEntry::kLost;
      if (!(e.flags & SubscriberEntry::kPositioned) || (e.flags & kPendingOrLost)) continue;
      if (!lostAll && !(e.flags & SubscriberEntry::kStale)) continue;
      if (loseEntry(ch, i)) {
        if (ch.entries().empty()) break;
        --i;
      }
    }
    if (lostAll || ch.entries().empty()) {
      wk.delivering = nullptr;
      if (ch.entries().empty()) eraseChannel(w, &ch);
      return;
    }
  }
  net::SharedBuffer::Ref frame = frameText(ev->push);
  stats_.framesEncoded.fetch_add(1, std::memory_order_relaxed);
  const bool isPub = ev->kind == ChannelEvent::Kind::Publication;
  const bool positioned = isPub && ev->offset != 0;
  bool newEpoch = false;
  if (positioned && ch.epoch_ != ev->epoch) {
    // The stream restarted (or this is the first position seen): offsets
    // begin again, so a position in the old epoch means nothing.
    newEpoch = !ch.epoch_.empty();
    ch.epoch_.assign(ev->epoch);
  }
  if (wk.encodedEvent != ev) {
    for (auto& e : wk.encodings) e = {};
    wk.encodedEvent = ev;  // a reference count, no allocation
  }
  uint64_t delivered = 0;
  // Index loop: a delivery may close its connection (slow consumer), which
  // removes entries; re-read the size every step.
  for (uint32_t i = 0; i < ch.entries().size(); ++i) {
    SubscriberEntry& e = ch.entries()[i];
    if (e.flags & SubscriberEntry::kLost) continue;
    if (!isPub && !(e.flags & SubscriberEntry::kJoinLeave)) continue;
    if (e.flags & SubscriberEntry::kPending) {
      e.subscriber->deliverPending(ch, ev);
      continue;
    }
    if (positioned) {
      if (e.flags & SubscriberEntry::kPositioned) {
        // Another epoch, or offsets skipped on the way: the subscriber's
        // position is lost; it must resubscribe (and recover) to go on.
        if (newEpoch || ev->offset > e.lastOffset + 1) {
          if (loseEntry(ch, i)) {
            if (ch.entries().empty()) break;
            --i;
          }
          continue;
        }
      } else if (newEpoch) {
        e.lastOffset = 0;  // not positioned: just follow the new stream
      } else if (ev->fromHistory && e.lastOffset == 0) {
        continue;  // nothing of the stream seen: it may predate the subscription
      }
      if (ev->offset <= e.lastOffset) continue;  // already sent (recovery overlap)
      e.lastOffset = ev->offset;
    }
    Subscriber* s = e.subscriber;
    size_t before = ch.entries().size();
    s->deliver(ch, *ev, frame);
    ++delivered;
    // The subscriber left during delivery (its entry was swapped with the
    // last one): visit this slot again.
    if (ch.entries().size() < before) {
      if (ch.entries().empty()) break;
      --i;
    }
  }
  wk.delivering = nullptr;
  if (ch.entries().empty()) eraseChannel(w, &ch);
  stats_.deliveries.fetch_add(delivered, std::memory_order_relaxed);
}

net::SharedBuffer::Ref Hub::frameText(std::string_view payload) {
  uint8_t header[ws::kMaxServerHeaderSize];
  size_t hlen = ws::writeFrameHeader(header, ws::Opcode::Text, payload.size(), true, false);
  net::SharedBuffer::Ref buf = net::SharedBuffer::create(hlen + payload.size());
  std::memcpy(buf->data(), header, hlen);
  std::memcpy(buf->data() + hlen, payload.data(), payload.size());
  return buf;
}

void Hub::countSubscriber(size_t w, std::string_view channel, int delta) {
  Worker& wk = *workers_[w];
  std::lock_guard lock(wk.countsMu);
  auto it = wk.counts.find(channel);
  if (it == wk.counts.end()) it = wk.counts.emplace(std::string(channel), 0).first;
  it->second += uint64_t(int64_t(delta));
  if (it->second == 0) wk.counts.erase(it);
}

size_t Hub::channelCount() {
  // The shards hold exactly the channels with a subscriber on some worker.
  size_t n = 0;
  for (Shard& sh : shards_) {
    std::lock_guard lock(sh.mu);
    n += sh.channels.size();
  }
  return n;
}

std::vector<std::pair<std::string, uint64_t>> Hub::channelCounts(const std::function<bool(std::string_view)>& keep) {
  std::unordered_map<std::string, uint64_t> merged;
  for (auto& wk : workers_) {
    std::lock_guard lock(wk->countsMu);
    for (const auto& [name, n] : wk->counts)
      if (!keep || keep(name)) merged[name] += n;
  }
  return {merged.begin(), merged.end()};
}

const net::SharedBuffer::Ref& Hub::encoded(size_t w, const ChannelEvent& ev, EventEncoder encode) {
  Worker& wk = *workers_[w];
  if (wk.encodedEvent.get() == &ev) {
    for (auto& [fn, buf] : wk.encodings) {
      if (fn == encode) return buf;
      if (!fn) {
        fn = encode;
        buf = encode(ev);
        stats_.eventsEncoded.fetch_add(1, std::memory_order_relaxed);
        return buf;
      }
    }
  }
  // Not being delivered, or more encodings than the cache holds.
  wk.uncached = encode(ev);
  stats_.eventsEncoded.fetch_add(1, std::memory_order_relaxed);
  return wk.uncached;
}

SliceArena& Hub::sliceArena(size_t w) { return workers_[w]->arena; }

uint8_t* SliceArena::reserve(size_t max) {
  assert(max <= kBlockSize);
  if (block_ && block_->refCount() == 1) used_ = 0;  // no queue holds a slice: rewind
  if (!block_ || used_ + max > kBlockSize) {
    block_ = net::SharedBuffer::create(kBlockSize);
    used_ = 0;
    ++blocksAllocated_;
  }
  return block_->data() + used_;
}

size_t SliceArena::commit(size_t len) {
  size_t offset = used_;
  used_ += len;
  return offset;
}

}  // namespace sb::core
