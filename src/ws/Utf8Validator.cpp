#include "ws/Utf8Validator.h"

#include <array>
#include <cstring>

namespace sb::ws {

namespace {

// Byte classes: every byte value maps to the one fact the automaton needs.
enum : uint8_t {
  kAscii,    // 00..7F
  kCont8,    // 80..8F continuation
  kCont9,    // 90..9F continuation
  kContA,    // A0..BF continuation
  kInvalid,  // C0, C1 (always overlong), F5..FF (beyond U+10FFFF)
  kLead2,    // C2..DF
  kLeadE0,   // E0
  kLead3,    // E1..EC, EE..EF
  kLeadED,   // ED
  kLeadF0,   // F0
  kLead4,    // F1..F3
  kLeadF4,   // F4
  kClassCount
};

constexpr std::array<uint8_t, 256> makeClasses() {
  std::array<uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    uint8_t k = kInvalid;
    if (b <= 0x7F) k = kAscii;
    else if (b <= 0x8F) k = kCont8;
    else if (b <= 0x9F) k = kCont9;
    else if (b <= 0xBF) k = kContA;
    else if (b <= 0xC1) k = kInvalid;
    else if (b <= 0xDF) k = kLead2;
    else if (b == 0xE0) k = kLeadE0;
    else if (b == 0xED) k = kLeadED;
    else if (b <= 0xEF) k = kLead3;
    else if (b == 0xF0) k = kLeadF0;
    else if (b <= 0xF3) k = kLead4;
    else if (b == 0xF4) k = kLeadF4;
    c[b] = k;
  }
  return c;
}

using V = Utf8Validator;
using Table = std::array<std::array<uint8_t, kClassCount>, V::kStateCount>;

constexpr Table makeTransitions() {
  Table t{};
  for (auto& row : t)
    for (auto& cell : row) cell = V::kReject;  // everything not listed below is an error
  // At a boundary: ASCII stays, a lead byte says what must follow.
  t[V::kAccept][kAscii] = V::kAccept;
  t[V::kAccept][kLead2] = V::kNeed1;
  t[V::kAccept][kLeadE0] = V::kAfterE0;
  t[V::kAccept][kLead3] = V::kNeed2;
  t[V::kAccept][kLeadED] = V::kAfterED;
  t[V::kAccept][kLeadF0] = V::kAfterF0;
  t[V::kAccept][kLead4] = V::kNeed3;
  t[V::kAccept][kLeadF4] = V::kAfterF4;
  // Any continuation byte 80..BF counts down.
  for (uint8_t k : {kCont8, kCont9, kContA}) {
    t[V::kNeed1][k] = V::kAccept;
    t[V::kNeed2][k] = V::kNeed1;
    t[V::kNeed3][k] = V::kNeed2;
  }
  // Second bytes with a restricted range (RFC 3629 §4 UTF8-3 / UTF8-4 rules).
  t[V::kAfterE0][kContA] = V::kNeed1;
  t[V::kAfterED][kCont8] = V::kNeed1;
  t[V::kAfterED][kCont9] = V::kNeed1;
  t[V::kAfterF0][kCont9] = V::kNeed2;
  t[V::kAfterF0][kContA] = V::kNeed2;
  t[V::kAfterF4][kCont8] = V::kNeed2;
  return t;
}

constexpr std::array<uint8_t, 256> kClasses = makeClasses();
constexpr Table kTransitions = makeTransitions();

}  // namespace

bool Utf8Validator::feed(const uint8_t* data, size_t len) {
  uint8_t s = state_;
  if (s == kReject) return false;
  size_t i = 0;
  while (i < len) {
    if (s == kAccept) {
      // Fast path: skip runs of ASCII eight bytes at a time.
      while (len - i >= 8) {
        uint64_t w;
        std::memcpy(&w, data + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
      }
      if (i == len) break;
    }
    s = kTransitions[s][kClasses[data[i]]];
    ++i;
    if (s == kReject) {
      state_ = s;
      return false;  // fail fast: nothing after the bad byte is looked at
    }
  }
  state_ = s;
  return true;
}

bool Utf8Validator::isValid(const uint8_t* data, size_t len) {
  Utf8Validator v;
  return v.feed(data, len) && v.complete();
}

bool Utf8Validator::isValid(std::string_view s) {
  return isValid(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace sb::ws
