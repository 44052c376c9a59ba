// libFuzzer target for sb::ws::Inflater (RFC 7692 receive path).
//
// Input layout: byte 0 = flags (bit 0: client_no_context_takeover, bits 1-3:
// client_max_window_bits - 8), byte 1 = chunk size seed, bytes 2-3 = where the
// rest is split into two messages. The remainder is attacker-controlled
// compressed payload fed in chunks, as frames of a fragmented message would
// arrive. Invariants: no crash/UB, output never passes the 64 KiB limit (and
// neither does the buffer's capacity), and a failed inflater holds no state.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ws/PerMessageDeflate.h"

namespace {

constexpr size_t kLimit = 64 * 1024;

void check(bool ok) {
  if (!ok) std::abort();
}

// Returns false once the connection would be failed.
bool inflateMessage(sb::ws::Inflater& inf, const uint8_t* data, size_t size, size_t chunk) {
  std::string out;
  for (size_t pos = 0; pos < size; pos += chunk) {
    const size_t n = size - pos < chunk ? size - pos : chunk;
    const auto st = inf.feed(data + pos, n, out, kLimit);
    check(out.size() <= kLimit && out.capacity() <= kLimit);
    if (st != sb::ws::InflateStatus::Ok) {
      check(!inf.allocated());
      return false;
    }
  }
  const auto st = inf.finish(out, kLimit);
  check(out.size() <= kLimit && out.capacity() <= kLimit);
  if (st != sb::ws::InflateStatus::Ok) {
    check(!inf.allocated());
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  sb::ws::DeflateParams params;
  params.client_no_context_takeover = data[0] & 1;
  params.client_max_window_bits = 8 + ((data[0] >> 1) & 7);
  const size_t chunk = 1 + data[1] % 64;
  const size_t split = (size_t(data[2]) << 8) | data[3];
  data += 4;
  size -= 4;
  const size_t first = split < size ? split : size;

  sb::ws::Inflater inf(params);
  if (!inflateMessage(inf, data, first, chunk)) return 0;
  if (params.client_no_context_takeover) check(!inf.allocated());
  inflateMessage(inf, data + first, size - first, chunk);
  return 0;
}
