#pragma once
// What the Redis broker needs to know about Redis Cluster: which of the 16384
// hash slots a key belongs to (CRC16/XMODEM of the key's hash tag, as Redis
// computes it), which master owns a slot (the answer to CLUSTER SLOTS), and
// what a -MOVED / -ASK redirection says. No I/O here: RedisBroker asks, this
// file parses.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/RedisConnection.h"

struct redisReply;

namespace sb::broker::rediscluster {

constexpr uint16_t kSlotCount = 16384;

// CRC16/XMODEM (polynomial 0x1021, initial value 0), Redis's key hash.
uint16_t crc16(std::string_view data);

// The slot of `key`: the CRC16 of the text between the first '{' and the
// next '}' when that text is not empty, else of the whole key; modulo 16384.
uint16_t keySlot(std::string_view key);

// Which master owns each slot. Slots nobody owns have no entry.
class SlotMap {
 public:
  struct Range {
    uint16_t first = 0, last = 0;  // inclusive
    RedisAddress master;
  };
  // nullptr when no master owns `slot`.
  const RedisAddress* owner(uint16_t slot) const;
  const std::vector<Range>& ranges() const { return ranges_; }
  // The distinct masters, in the order of their first range.
  std::vector<RedisAddress> masters() const;
  void add(Range range);

 private:
  std::vector<Range> ranges_;  // sorted by first
};

// CLUSTER SLOTS's answer → the slot map; nullopt with `error` set when the
// reply is not what Redis 3+ sends. A master announced with an empty host is
// the node that answered (`answeredBy`).
std::optional<SlotMap> parseClusterSlots(const redisReply& reply, const RedisAddress& answeredBy, std::string* error);

// "-MOVED <slot> <host:port>" or "-ASK <slot> <host:port>".
struct Redirect {
  bool ask = false;  // ASK: this one command goes to `to`, after ASKING
  uint16_t slot = 0;
  RedisAddress to;
};
std::optional<Redirect> parseRedirect(std::string_view errorText);

// Seed addresses: "host:port,host:port" (spaces allowed around the commas).
// nullopt with `error` naming the bad entry.
std::optional<std::vector<RedisAddress>> parseSeedList(std::string_view text, std::string* error);

}  // namespace sb::broker::rediscluster
