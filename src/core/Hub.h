#pragma once
// The hub routes what the broker delivers to the local subscribers of each
// channel (DESIGN.md, "the flow of one publication").
//
// Two levels:
//  - global: channel → bit mask of the workers that have local subscribers,
//    sharded under small mutexes; the broker is subscribed to a channel while
//    any worker has a subscriber;
//  - per worker (loop thread only, no locks): a SubscriberIndex from channel
//    to a contiguous array of subscriber entries.
//
// A publication is encoded once (the JSON push) when it leaves the broker and
// queued to the inbox of every interested worker. The worker frames it once
// into its own SharedBuffer (one per worker, so reference counting never
// bounces a cache line between cores) and appends a reference to that buffer
// to each subscriber's write queue: nothing is allocated per delivery.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/Broker.h"
#include "net/SharedBuffer.h"

namespace sb::net {
class EventLoop;
}

namespace sb::core {

// One broker event on its way to the workers: immutable, shared by all.
struct ChannelEvent {
  // PositionLost: the hub could not re-position the channel's subscribers
  // (after a broker reconnect); every positioned entry is told.
  enum class Kind : uint8_t { Publication, Join, Leave, PositionLost };
  Kind kind = Kind::Publication;
  std::string channel;
  protocol::PublicationPtr pub;  // Publication only
  uint64_t offset = 0;           // Publication only; 0 = the channel keeps no history
  std::string push;              // the protocol's JSON push, encoded once
  std::string epoch;             // Publication only: the stream's epoch (empty without history)
  // Publication only: read from history by the hub after a broker reconnect
  // (not live). Entries that follow no position and have seen nothing of
  // the stream skip it: it may be older than their subscription.
  bool fromHistory = false;
};
using ChannelEventPtr = std::shared_ptr<const ChannelEvent>;

// Builds one event in a wire encoding other than the WebSocket push frame
// (e.g. the `data:` part of an SSE event for the plain endpoints). Must be a
// plain function: the hub caches its result per event per worker, keyed by
// the function's address.
using EventEncoder = net::SharedBuffer::Ref (*)(const ChannelEvent& ev);

// Small per-subscriber byte runs (an SSE `id:` line) cut from one shared
// block: a delivery writes its bytes at the cursor and queues a slice of the
// block, so nothing is allocated per delivery. A full block is replaced; a
// block no write queue references any more is rewound and reused, so in a
// steady state the arena allocates nothing at all. Loop thread only.
class SliceArena {
 public:
  static constexpr size_t kBlockSize = 16 * 1024;

  // Room for at most `max` bytes (max <= kBlockSize): write them at the
  // returned pointer, then commit() how many were written.
  uint8_t* reserve(size_t max);
  // Ends the slice begun by reserve(); returns its offset in block().
  size_t commit(size_t len);
  // The block the last committed slice lives in.
  const net::SharedBuffer::Ref& block() const { return block_; }
  // Blocks allocated so far (tests: stays flat in a steady state).
  uint64_t blocksAllocated() const { return blocksAllocated_; }

 private:
  net::SharedBuffer::Ref block_;
  size_t used_ = 0;
  uint64_t blocksAllocated_ = 0;
};

class ChannelSubscribers;

// Something subscribed to channels on a worker: a client session, later the
// plain SSE/WebSocket/long-poll endpoints.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // A live event for `ch`. `wsFrame` is the push already framed as an
  // unmasked WebSocket text message (shared by every receiver on the worker).
  virtual void deliver(ChannelSubscribers& ch, const ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) = 0;
  // An event that arrived while the subscription was still pending (its
  // subscribe reply not sent yet): the subscriber buffers it for the merge.
  virtual void deliverPending(ChannelSubscribers& ch, const ChannelEventPtr& ev) = 0;
  // The entry moved to `slot` in ch's array (after another was removed).
  virtual void entryMoved(ChannelSubscribers& ch, uint32_t slot) = 0;
  // The positioned entry at `slot` can no longer follow the stream (its
  // epoch changed, publications were missed on the way, or the hub could not
  // recover them after a broker reconnect). The entry gets no more events;
  // the subscriber must end the subscription so that its client resumes
  // through recovery (which tells it plainly when it cannot). May remove
  // entries (including this one) from `ch`.
  virtual void positionLost(ChannelSubscribers& ch, uint32_t slot) = 0;
};

struct SubscriberEntry {
  Subscriber* subscriber;
  uint64_t lastOffset;  // newest offset delivered; older ones are duplicates
  uint8_t flags;
  static constexpr uint8_t kJoinLeave = 1;  // wants join/leave pushes
  static constexpr uint8_t kPending = 2;    // subscribe reply not sent yet
  // The subscriber was told a stream position (set by
  // ChannelSubscribers::markPositioned): a publication of another epoch, or
  // one that skips an offset, means its position is lost.
  static constexpr uint8_t kPositioned = 4;
  static constexpr uint8_t kStale = 8;  // marked lost (markPositioned), told at the next event
  static constexpr uint8_t kLost = 16;  // positionLost sent; gets nothing more
};

// The local subscribers of one channel on one worker.
class ChannelSubscribers {
 public:
  explicit ChannelSubscribers(std::string_view name) : name_(name) {}
  const std::string& name() const { return name_; }
  std::vector<SubscriberEntry>& entries() { return entries_; }
  SubscriberEntry& at(uint32_t slot) { return entries_[slot]; }
  // The epoch of the stream the positioned entries follow (empty until a
  // position or a publication with history is seen).
  const std::string& epoch() const { return epoch_; }
  // A caller that told the subscriber at `slot` a stream position (read after
  // the entry was added, the entry's lastOffset set to it) calls this with
  // the epoch it read: from then on the entry is checked for epoch changes
  // and gaps (kPositioned). Entries never marked are not checked. When the
  // stream has moved to a new epoch, the other positioned entries follow the
  // old one: they are marked kStale and told positionLost at the channel's
  // next event.
  void markPositioned(uint32_t slot, std::string_view epoch);

 private:
  friend class Hub;
  std::string name_;
  std::vector<SubscriberEntry> entries_;
  std::string epoch_;
  bool staleMarked_ = false;  // some entry has kStale
};

struct HubStats {
  std::atomic<int64_t> subscriptions{0};  // entries across all workers
  std::atomic<int64_t> channels{0};       // channels with a local subscriber
  std::atomic<uint64_t> publications{0};  // broker events received
  std::atomic<uint64_t> deliveries{0};    // events queued to subscribers
  std::atomic<uint64_t> framesEncoded{0}; // frames built (one per event per worker)
  std::atomic<uint64_t> eventsEncoded{0}; // other encodings built (Hub::encoded, one per event per worker)
  std::atomic<uint64_t> positionsLost{0}; // subscribers told positionLost
};

class Hub final : public broker::BrokerEventHandler {
 public:
  Hub(broker::Broker& broker, size_t workers);
  ~Hub() override;
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Before the workers start: the loop that runs worker `w`'s inbox.
  void attachLoop(size_t w, net::EventLoop* loop);
  size_t workerCount() const { return workers_.size(); }

  // Worker `w`'s thread only. Adds `s` to the channel's local array and
  // returns the channel with the new entry's slot; the first local subscriber
  // marks the worker in the global map (and the first in the node subscribes
  // the broker), so every publication after this call reaches the entry.
  ChannelSubscribers* add(size_t w, std::string_view channel, Subscriber* s, uint8_t flags, uint64_t lastOffset,
                          uint32_t& slot);
  // Removes the entry at `slot` (the last entry moves into it and its
  // subscriber is told). The last local subscriber unmarks the worker.
  void remove(size_t w, ChannelSubscribers* ch, uint32_t slot);

  // Runs `fn(worker index)` on every worker's loop thread (API actions that
  // look for connections, e.g. disconnect by user).
  void forEachWorker(const std::function<void(size_t w)>& fn);

  // BrokerEventHandler: any thread, in offset order per channel.
  void onPublication(std::string_view channel, const protocol::PublicationPtr& pub,
                     const protocol::StreamPosition& pos) override;
  void onJoin(std::string_view channel, const protocol::ClientInfo& info) override;
  void onLeave(std::string_view channel, const protocol::ClientInfo& info) override;
  // Reads the stream since the newest position this node delivered and
  // delivers what was missed through the normal path (entries skip what they
  // have), holding the channel's live events until the read answers; when
  // the history does not cover the gap, every positioned subscriber of the
  // channel is told positionLost. Any thread (the Redis broker: worker 0's).
  void onResubscribed(std::string_view channel) override;
  // The most publications onResubscribed recovers (client.recovery_max_publications).
  void setRecoveryLimit(int maxPublications) { recoveryLimit_ = maxPublications; }

  HubStats& stats() { return stats_; }
  // Local subscribers of `channel` on worker `w` (tests, counters).
  size_t localSubscribers(size_t w, std::string_view channel) const;

  // Frames `payload` as one unmasked WebSocket text message.
  static net::SharedBuffer::Ref frameText(std::string_view payload);

  // The channels with local subscribers on this node that `keep` accepts
  // (all when it is empty), each with its number of subscribers, in no
  // particular order (the server API's `channels`). Any thread; a snapshot
  // that takes each worker's count lock in turn.
  std::vector<std::pair<std::string, uint64_t>> channelCounts(const std::function<bool(std::string_view)>& keep);
  // Channels with local subscribers on this node, each once however many
  // workers hold some (HubStats::channels counts once per worker). Any
  // thread; takes each shard lock in turn and copies nothing (for /metrics
  // and /api/info, which ask often).
  size_t channelCount();

  // Worker `w`'s thread only. `ev` in the encoding `encode` builds. While `ev`
  // is being delivered on `w` (inside Subscriber::deliver) the result is built
  // once and shared by every subscriber that asks; the cache is dropped when
  // the worker's batch of events is done. Outside a delivery every call
  // encodes afresh.
  const net::SharedBuffer::Ref& encoded(size_t w, const ChannelEvent& ev, EventEncoder encode);
  // Worker `w`'s arena for small per-subscriber slices (loop thread only).
  SliceArena& sliceArena(size_t w);

 private:
  struct Worker;
  // What the node knows of one channel it is subscribed to.
  struct ChannelState {
    uint64_t workerMask = 0;  // workers with local subscribers
    // The newest stream position delivered (offset 0: none seen yet).
    uint64_t offset = 0;
    std::string epoch;
    // onResubscribed's stream read is out: live events wait here (bounded
    // by kMaxHeldEvents) so that they cannot overtake the recovered ones.
    bool recovering = false;
    bool heldOverflow = false;
    std::vector<ChannelEventPtr> held;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, ChannelState> channels;  // channels with subscribers
  };
  static constexpr size_t kMaxHeldEvents = 10000;
  static constexpr size_t kShards = 64;
  Shard& shardFor(std::string_view channel);
  void dispatch(ChannelEventPtr ev);
  // Queues `ev` to the inbox of every worker in `mask` (in call order).
  void enqueue(const ChannelEventPtr& ev, uint64_t mask);
  // onResubscribed's read answered: queue the recovered publications, then
  // the held live events, or positionLost when the read did not cover the gap.
  void finishResubscribe(const std::string& channel, const broker::HistoryResult* read, uint64_t sinceOffset,
                         const std::string& sinceEpoch);
  // Marks entry `i` lost and tells its subscriber; true when the call
  // removed entries (the caller revisits slot i).
  bool loseEntry(ChannelSubscribers& ch, uint32_t i);
  void drainInbox(size_t w);
  void deliverLocal(size_t w, const ChannelEventPtr& ev);
  void eraseChannel(size_t w, ChannelSubscribers* ch);
  // Keeps worker `w`'s subscriber count of `channel` for channelCounts().
  void countSubscriber(size_t w, std::string_view channel, int delta);

  broker::Broker& broker_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::array<Shard, kShards> shards_;
  HubStats stats_;
  int recoveryLimit_ = 300;
  // Broker callbacks hold a weak reference: one that answers after the hub
  // is gone does nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace sb::core
