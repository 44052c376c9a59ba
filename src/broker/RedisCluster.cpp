#include "broker/RedisCluster.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

namespace sb::broker::rediscluster {

namespace {

constexpr std::array<uint16_t, 256> makeCrcTable() {
  std::array<uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    uint16_t crc = uint16_t(byte << 8);
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) ? uint16_t((crc << 1) ^ 0x1021) : uint16_t(crc << 1);
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrcTable = makeCrcTable();

std::string_view text(const redisReply* r) { return r && r->str ? std::string_view(r->str, r->len) : ""; }

std::optional<int64_t> number(const redisReply* r) {
  if (r && r->type == REDIS_REPLY_INTEGER) return r->integer;
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

uint16_t crc16(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) crc = uint16_t((crc << 8) ^ kCrcTable[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

uint16_t keySlot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) & (kSlotCount - 1);
}

const RedisAddress* SlotMap::owner(uint16_t slot) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), slot,
                             [](uint16_t s, const Range& r) { return s < r.first; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  return slot <= it->last ? &it->master : nullptr;
}

std::vector<RedisAddress> SlotMap::masters() const {
  std::vector<RedisAddress> out;
  for (const auto& r : ranges_) {
    bool known = std::any_of(out.begin(), out.end(), [&](const RedisAddress& a) { return a.text() == r.master.text(); });
    if (!known) out.push_back(r.master);
  }
  return out;
}

void SlotMap::add(Range range) {
  auto at = std::upper_bound(ranges_.begin(), ranges_.end(), range.first,
                             [](uint16_t s, const Range& r) { return s < r.first; });
  ranges_.insert(at, std::move(range));
}

std::optional<SlotMap> parseClusterSlots(const redisReply& reply, const RedisAddress& answeredBy, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<SlotMap> {
    if (error) *error = "CLUSTER SLOTS: " + std::move(why);
    return std::nullopt;
  };
  if (reply.type == REDIS_REPLY_ERROR) return fail(std::string(text(&reply)));
  if (reply.type != REDIS_REPLY_ARRAY) return fail("not an array");
  SlotMap map;
  for (size_t i = 0; i < reply.elements; ++i) {
    const redisReply* range = reply.element[i];
    if (!range || range->type != REDIS_REPLY_ARRAY || range->elements < 3) return fail("a range is not [first, last, master, ...]");
    auto first = number(range->element[0]), last = number(range->element[1]);
    const redisReply* master = range->element[2];
    if (!first || !last || *first < 0 || *last < *first || *last >= kSlotCount) return fail("bad slot numbers");
    if (!master || master->type != REDIS_REPLY_ARRAY || master->elements < 2) return fail("a master is not [host, port, ...]");
    auto port = number(master->element[1]);
    if (!port || *port < 1 || *port > 65535) return fail("bad master port");
    RedisAddress address;
    address.host = std::string(text(master->element[0]));
    address.port = int(*port);
    if (address.host.empty() || address.host == "?") address.host = answeredBy.host;
    map.add(SlotMap::Range{uint16_t(*first), uint16_t(*last), std::move(address)});
  }
  return map;
}

std::optional<Redirect> parseRedirect(std::string_view errorText) {
  Redirect r;
  if (errorText.starts_with("MOVED ")) {
    errorText.remove_prefix(6);
  } else if (errorText.starts_with("ASK ")) {
    r.ask = true;
    errorText.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  size_t space = errorText.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  unsigned slot = 0;
  auto [end, ec] = std::from_chars(errorText.data(), errorText.data() + space, slot);
  if (ec != std::errc() || end != errorText.data() + space || slot >= kSlotCount) return std::nullopt;
  r.slot = uint16_t(slot);
  auto to = parseRedisAddress(trim(errorText.substr(space + 1)), nullptr);
  if (!to || !to->unixPath.empty()) return std::nullopt;
  r.to = std::move(*to);
  return r;
}

std::optional<std::vector<RedisAddress>> parseSeedList(std::string_view text, std::string* error) {
  std::vector<RedisAddress> seeds;
  while (true) {
    size_t comma = text.find(',');
    std::string_view entry = trim(text.substr(0, comma));
    std::string why;
    auto address = parseRedisAddress(entry, &why);
    if (!address) {
      if (error) *error = why;
      return std::nullopt;
    }
    seeds.push_back(std::move(*address));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return seeds;
}

}  // namespace sb::broker::rediscluster
