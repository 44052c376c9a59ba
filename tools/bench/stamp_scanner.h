// Finds publication stamps in the bytes of pushes without parsing JSON: each
// `"ts":T` (optionally followed directly by `,"seq":S`) is one publication,
// T its publish time (CLOCK_MONOTONIC ns) and S its sequence number. The bench
// publisher writes exactly that prefix into the data it publishes, and no
// other part of a publication push contains `"ts":`.
//
// Fed chunk by chunk as the frame decoder hands payload bytes over: a read
// boundary may fall anywhere, even inside the pattern or the digits. State is
// a few bytes per connection; nothing is allocated. memmem() skips to the
// pattern, so most bytes are never looked at one by one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sbbench {

class StampScanner {
 public:
  // Calls emit(ts, seq, has_seq) for every stamp completed by these bytes.
  template <class Emit>
  void feed(const uint8_t* p, size_t n, Emit&& emit);
  // End of a WebSocket message: a number running to the very end completes.
  template <class Emit>
  void end_message(Emit&& emit);
  void reset() { *this = StampScanner{}; }

 private:
  static constexpr char kTsKey[] = "\"ts\":";      // 5 bytes
  static constexpr char kSeqKey[] = ",\"seq\":";   // 7 bytes
  static constexpr uint8_t kMaxDigits = 19;        // fits int64/uint64
  enum class State : uint8_t { kSearch, kTs, kSeqKey, kSeq };

  // Longest k < 5 such that the last k bytes of p[0..n) are a prefix of kTsKey.
  static uint8_t partial_ts_key(const uint8_t* p, size_t n);

  uint64_t ts_ = 0;
  uint64_t seq_ = 0;
  State state_ = State::kSearch;
  uint8_t matched_ = 0;  // bytes of kTsKey (kSearch) or kSeqKey (kSeqKey) matched so far
  uint8_t digits_ = 0;
};

inline uint8_t StampScanner::partial_ts_key(const uint8_t* p, size_t n) {
  for (size_t k = (n < 4 ? n : 4); k > 0; --k) {
    if (std::memcmp(p + n - k, kTsKey, k) == 0) return uint8_t(k);
  }
  return 0;
}

template <class Emit>
void StampScanner::feed(const uint8_t* p, size_t n, Emit&& emit) {
  const uint8_t* end = p + n;
  while (p < end) {
    switch (state_) {
      case State::kSearch: {
        if (matched_ > 0) {
          // Continue a key that started in an earlier chunk, byte by byte.
          // On a mismatch the byte is looked at again as a possible start;
          // after `"ts"` the last quote may itself start the key (KMP).
          uint8_t c = *p;
          if (c == uint8_t(kTsKey[matched_])) {
            ++p;
            if (++matched_ == 5) {
              state_ = State::kTs;
              matched_ = 0;
              ts_ = 0;
              digits_ = 0;
            }
          } else {
            matched_ = matched_ == 4 ? 1 : 0;
            if (matched_ == 0 && c == '"') {
              matched_ = 1;
              ++p;
            } else if (matched_ == 0) {
              ++p;
            }
          }
          break;
        }
        size_t left = size_t(end - p);
        const void* hit = memmem(p, left, kTsKey, 5);
        if (!hit) {
          matched_ = partial_ts_key(p, left);
          p = end;
          break;
        }
        p = static_cast<const uint8_t*>(hit) + 5;
        state_ = State::kTs;
        ts_ = 0;
        digits_ = 0;
        break;
      }
      case State::kTs:
        while (p < end && *p >= '0' && *p <= '9' && digits_ <= kMaxDigits) {
          ts_ = ts_ * 10 + uint64_t(*p - '0');
          ++digits_;
          ++p;
        }
        if (p == end) break;
        if (digits_ == 0 || digits_ > kMaxDigits) {
          state_ = State::kSearch;  // not one of ours (`"ts":"x"`, huge number)
          break;
        }
        state_ = State::kSeqKey;
        matched_ = 0;
        break;
      case State::kSeqKey:
        while (p < end && matched_ < 7 && *p == uint8_t(kSeqKey[matched_])) {
          ++matched_;
          ++p;
        }
        if (matched_ == 7) {
          state_ = State::kSeq;
          matched_ = 0;
          seq_ = 0;
          digits_ = 0;
        } else if (p < end) {
          emit(ts_, uint64_t(0), false);  // no sequence number after the stamp
          state_ = State::kSearch;
          // The mismatching byte is scanned again; after `,"` the quote may
          // have started a new key.
          matched_ = matched_ == 2 ? 1 : 0;
        }
        break;
      case State::kSeq:
        while (p < end && *p >= '0' && *p <= '9' && digits_ <= kMaxDigits) {
          seq_ = seq_ * 10 + uint64_t(*p - '0');
          ++digits_;
          ++p;
        }
        if (p == end) break;
        emit(ts_, seq_, digits_ > 0 && digits_ <= kMaxDigits);
        state_ = State::kSearch;
        break;
    }
  }
}

template <class Emit>
void StampScanner::end_message(Emit&& emit) {
  if ((state_ == State::kTs && digits_ > 0 && digits_ <= kMaxDigits) || state_ == State::kSeqKey) {
    emit(ts_, uint64_t(0), false);
  } else if (state_ == State::kSeq) {
    emit(ts_, seq_, digits_ > 0 && digits_ <= kMaxDigits);
  }
  reset();
}

}  // namespace sbbench
