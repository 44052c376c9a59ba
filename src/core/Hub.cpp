#include "core/Hub.h"

#include <cassert>
#include <cstring>
#include <functional>

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
      uint64_t& mask = sh.workerMask[std::string(channel)];
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
    auto mit = sh.workerMask.find(channel);
    if (mit != sh.workerMask.end()) {
      mit->second &= ~(uint64_t(1) << w);
      if (mit->second == 0) {
        sh.workerMask.erase(mit);
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
  uint64_t mask;
  {
    Shard& sh = shardFor(ev->channel);
    std::lock_guard lock(sh.mu);
    auto it = sh.workerMask.find(ev->channel);
    if (it == sh.workerMask.end()) return;
    mask = it->second;
  }
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

// The hot path: one frame per event per worker, one reference per subscriber.
void Hub::deliverLocal(size_t w, const ChannelEventPtr& ev) {
  Worker& wk = *workers_[w];
  auto it = wk.channels.find(ev->channel);
  if (it == wk.channels.end()) return;
  ChannelSubscribers& ch = *it->second;
  net::SharedBuffer::Ref frame = frameText(ev->push);
  stats_.framesEncoded.fetch_add(1, std::memory_order_relaxed);
  const bool isPub = ev->kind == ChannelEvent::Kind::Publication;
  if (wk.encodedEvent != ev) {
    for (auto& e : wk.encodings) e = {};
    wk.encodedEvent = ev;  // a reference count, no allocation
  }
  uint64_t delivered = 0;
  wk.delivering = &ch;
  // Index loop: a delivery may close its connection (slow consumer), which
  // removes entries; re-read the size every step.
  for (uint32_t i = 0; i < ch.entries().size(); ++i) {
    SubscriberEntry& e = ch.entries()[i];
    if (!isPub && !(e.flags & SubscriberEntry::kJoinLeave)) continue;
    if (e.flags & SubscriberEntry::kPending) {
      e.subscriber->deliverPending(ch, ev);
      continue;
    }
    if (isPub && ev->offset != 0) {
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

size_t Hub::channelCount() { return channelCounts({}).size(); }

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
