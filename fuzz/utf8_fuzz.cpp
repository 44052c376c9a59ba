// Fuzzes Utf8Validator: feeding the input in arbitrary pieces must give the
// same verdict as whole-buffer validation and as a plain reference decoder,
// and the byte at which feeding fails must not depend on the split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ws/Utf8Validator.h"
#include "../tests/support/Utf8Reference.h"

using sb::ws::Utf8Validator;

namespace {

using sb::testsupport::refValid;

// Feeds data in pieces whose sizes come from `seed`; returns the index of the
// piece end at which feed() first failed (or SIZE_MAX) and the final verdict.
bool feedSplit(const uint8_t* data, size_t size, uint32_t seed, size_t& failedBy) {
  Utf8Validator v;
  size_t pos = 0;
  failedBy = SIZE_MAX;
  while (pos < size) {
    seed = seed * 1664525u + 1013904223u;
    size_t n = 1 + (seed >> 24) % 9;  // 1..9 bytes: sequences split everywhere
    if (n > size - pos) n = size - pos;
    if (!v.feed(data + pos, n)) {
      failedBy = pos + n;
      return false;
    }
    pos += n;
  }
  return v.complete();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bool whole = Utf8Validator::isValid(data, size);
  if (whole != refValid(data, size)) abort();

  // Byte-at-a-time gives the exact fail position.
  Utf8Validator one;
  size_t failAt = SIZE_MAX;
  for (size_t i = 0; i < size; ++i)
    if (!one.feed(data + i, 1)) {
      failAt = i;
      break;
    }
  bool oneVerdict = failAt == SIZE_MAX && one.complete();
  if (oneVerdict != whole) abort();
  // Everything before the failing byte is a valid prefix (possibly ending mid-sequence),
  // everything up to and including it is not.
  if (failAt != SIZE_MAX) {
    Utf8Validator prefix;
    if (!prefix.feed(data, failAt)) abort();
    if (prefix.feed(data + failAt, 1)) abort();
    if (!prefix.failed()) abort();
  }

  for (uint32_t seed : {1u, 7u, 0xdeadbeefu, uint32_t(size)}) {
    size_t failedBy;
    bool split = feedSplit(data, size, seed, failedBy);
    if (split != whole) abort();
    // Fail-fast: the failing piece is the one containing the bad byte.
    if (failAt != SIZE_MAX && (failedBy == SIZE_MAX || failedBy <= failAt)) abort();
  }
  return 0;
}
