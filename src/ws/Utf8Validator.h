#pragma once
// Incremental, fail-fast UTF-8 validator (RFC 3629 §4 syntax; the RFC 6455
// §8.1 requirement for text messages).
//
// A deterministic automaton over byte classes: the whole state is one byte
// saying how many continuation bytes are still owed and which range the next
// one must fall in. That lets a text message be validated chunk by chunk as it
// arrives (sequences may be split across any number of feed() calls) and lets
// the caller fail the connection on the first bad byte instead of waiting for
// the end of the message. Rejected: stray continuation bytes, C0/C1 and F5-FF
// leads, overlong forms (E0 80-9F, F0 80-8F), UTF-16 surrogates (ED A0-BF) and
// code points above U+10FFFF (F4 90-BF). No allocation.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sb::ws {

class Utf8Validator {
 public:
  // Feeds more bytes. Returns false as soon as an invalid byte is seen; the
  // validator then stays failed (every later feed() returns false) until
  // reset().
  bool feed(const uint8_t* data, size_t len);
  bool feed(std::string_view s) { return feed(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

  // True when everything fed so far is valid and does not end in the middle
  // of a multi-byte sequence (i.e. the text could end here).
  bool complete() const { return state_ == kAccept; }
  // True once an invalid byte has been seen.
  bool failed() const { return state_ == kReject; }
  void reset() { state_ = kAccept; }

  // Whole-buffer validation.
  static bool isValid(std::string_view s);
  static bool isValid(const uint8_t* data, size_t len);

  // Automaton states, public so the transition table can be built at compile
  // time outside the class; callers should not depend on the values.
  enum : uint8_t {
    kAccept = 0,  // at a character boundary
    kNeed1,       // one more continuation byte 80..BF
    kNeed2,       // two more, next one 80..BF
    kNeed3,       // three more, next one 80..BF
    kAfterE0,     // next must be A0..BF (rules out overlong 3-byte forms), then one more
    kAfterED,     // next must be 80..9F (rules out surrogates D800-DFFF), then one more
    kAfterF0,     // next must be 90..BF (rules out overlong 4-byte forms), then two more
    kAfterF4,     // next must be 80..8F (rules out > U+10FFFF), then two more
    kReject,      // sticky failure
    kStateCount
  };

 private:
  uint8_t state_ = kAccept;
};

}  // namespace sb::ws
