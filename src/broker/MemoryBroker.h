#pragma once
// The embedded broker: history, stream positions and presence in this
// process's memory, for a single node (no other node receives anything).
//
// Channels are spread over mutex-protected shards by the hash of their name,
// so publishers on unrelated channels do not contend; there is no global lock.
//
// What is kept per channel (one "entry", counted by channelCount()):
//   - the stream meta: epoch + top offset, created by the first publish with
//     history or by a history() read (so that the epoch a subscriber sees stays
//     the epoch of later publications). It lives until `metaTtl` after the last
//     publish/read, then the entry is freed; the next publish starts a new
//     epoch at offset 1.
//   - the newest `historySize` publications, dropped `historyTtl` after the
//     last publish (the meta stays).
//   - idempotency keys → first position, for the history TTL (or
//     `idempotencyTtl` when the channel keeps no history), at most
//     `maxIdempotencyKeysPerChannel` per channel (oldest forgotten first).
//   - presence: client id → ClientInfo, each expiring unless added again.
// Expired state is dropped lazily on access and by sweep(), which the server
// calls about once a second; sweep() costs O(expired entries), not O(all).
//
// Bound: at most `maxChannels` entries. A call that would create one more
// first sweeps its shard; if still at the bound it fails with a temporary
// BrokerError ("too many channels") and changes nothing. Channels without
// history, idempotency key or presence need no entry and are never refused.
//
// Events: publish/publishJoin/publishLeave call the event handler on the
// calling thread while holding the channel's shard lock, only when the channel
// is subscribed (subscribe() called more often than unsubscribe()). So one
// channel's publications reach the handler one at a time, in offset order. The
// handler must not call back into this broker from inside the callback (it
// would deadlock on the shard lock).
//
// Completion callbacks run before the method returns, outside the shard lock.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/Broker.h"

namespace sb::broker {

struct MemoryBrokerOptions {
  // How long a stream's epoch and top offset outlive the last publish (or
  // history read) when the history read does not say. 0 = the 24 h default:
  // meta is never kept forever, so memory stays bounded.
  std::chrono::milliseconds historyMetaTtl{std::chrono::hours(24)};
  // Milliseconds on a monotonic clock; empty = std::chrono::steady_clock.
  // Tests inject a fake clock (it must be safe to call from any thread).
  std::function<int64_t()> clockMs;
  // Upper bound on channels with state (see the file comment).
  size_t maxChannels = 1'000'000;
  // Mutex shards (rounded up to a power of two, at least 1).
  size_t shards = 64;
  // Idempotency window for publishes to channels that keep no history.
  std::chrono::milliseconds idempotencyTtl{std::chrono::minutes(5)};
  size_t maxIdempotencyKeysPerChannel = 1000;
};

class MemoryBroker final : public Broker {
 public:
  explicit MemoryBroker(MemoryBrokerOptions options = {});
  ~MemoryBroker() override;
  MemoryBroker(const MemoryBroker&) = delete;
  MemoryBroker& operator=(const MemoryBroker&) = delete;

  void setEventHandler(BrokerEventHandler* handler) override;
  void subscribe(std::string_view channel) override;
  void unsubscribe(std::string_view channel) override;

  void publish(std::string_view channel, Publication pub, const PublishOptions& opts,
               Callback<PublishResult> done) override;
  void publishJoin(std::string_view channel, const ClientInfo& info) override;
  void publishLeave(std::string_view channel, const ClientInfo& info) override;

  // Publications are chosen as the centrifuge Go memory broker does:
  //   no since:        the oldest kept first (reverse: the newest first).
  //   since, forward:  offsets > since.offset, oldest first; when the next one
  //                    is no longer kept, from the oldest kept (the caller
  //                    sees sinceRetained == false).
  //   since, reverse:  offsets < since.offset, newest first (paging backwards
  //                    from a position; since.offset 0 or 1 → none). The Go
  //                    memory broker returns nothing when since.offset >
  //                    top + 1; here (as in the Go Redis broker) such a since
  //                    starts at the top.
  // Publications are returned even when since.epoch differs; sinceRetained
  // tells whether they continue the caller's stream. sinceRetained is false
  // when since.epoch != the stream's epoch, since.offset > top, or offset
  // since.offset + 1 (<= top) is no longer kept. An unknown or expired channel
  // gets a new stream (offset 0, new epoch) that later publishes continue.
  void history(std::string_view channel, const HistoryRequest& req, Callback<HistoryResult> done) override;
  // Drops the kept publications; the epoch and top offset stay.
  void removeHistory(std::string_view channel, Callback<bool> done) override;

  // ttl must be positive (else a non-temporary error).
  void addPresence(std::string_view channel, const ClientInfo& info, std::chrono::milliseconds ttl,
                   Callback<bool> done) override;
  void removePresence(std::string_view channel, std::string_view clientId, std::string_view user,
                      Callback<bool> done) override;
  void presence(std::string_view channel, Callback<std::unordered_map<std::string, ClientInfo>> done) override;
  // numUsers counts distinct user ids; anonymous clients ("") count as one
  // user, as centrifuge does.
  void presenceStats(std::string_view channel, Callback<PresenceStats> done) override;

  size_t channelCount() const override;
  // Publications held in history across all channels (expired ones not yet
  // swept included). Visits every channel under its shard's lock: for a
  // metrics scrape, not for a hot path.
  size_t publicationsKept() const;
  const char* name() const override { return "memory"; }

  // Frees expired publications, stream meta, idempotency keys and presence
  // entries, and the entries left empty. Call periodically from one thread
  // (calls from several threads are safe but pointless).
  void sweep();

 private:
  struct Shard;
  struct ChannelState;

  Shard& shardFor(std::string_view channel);
  int64_t now() const;

  std::chrono::milliseconds defaultMetaTtl() const { return options_.historyMetaTtl; }
  // Finds the channel's entry, dropping expired stream state first; creates
  // it when `create` (nullptr + error when the channel bound is reached).
  ChannelState* entryLocked(Shard& shard, std::string_view channel, int64_t now, bool create,
                            const BrokerError** error);
  // Resets the stream meta to a new epoch at offset 0.
  void startStreamLocked(Shard& shard, ChannelState& state);
  // Makes sure sweep() revisits the entry at or before `deadline`.
  void scheduleLocked(Shard& shard, std::string_view channel, ChannelState& state, int64_t deadline);
  // Erases the entry when nothing is left in it.
  void eraseIfEmptyLocked(Shard& shard, std::string_view channel);
  void sweepShardLocked(Shard& shard, int64_t now);
  bool subscribedLocked(const Shard& shard, std::string_view channel) const;

  MemoryBrokerOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  size_t shardMask_ = 0;
  std::atomic<BrokerEventHandler*> handler_{nullptr};
  std::atomic<size_t> channels_{0};
};

}  // namespace sb::broker
