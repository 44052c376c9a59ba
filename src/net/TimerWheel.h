#pragma once
// A hashed timer wheel (Varghese & Lauck) for connection timeouts: idle,
// ping, pong, close. Timers are intrusive nodes embedded in their owners, so
// arming, re-arming and cancelling are O(1) and never allocate. Resolution is
// one tick (100 ms by default); a deadline further than one revolution waits
// in its slot for the right turn.
#include <cstddef>
#include <cstdint>

namespace sb::net {

struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t deadline = 0;                  // absolute tick
  void (*fire)(TimerNode*) = nullptr;     // called once when the deadline passes
  bool armed() const { return prev != nullptr; }
};

class TimerWheel {
 public:
  static constexpr size_t kSlots = 512;

  explicit TimerWheel(uint64_t nowMs, uint32_t tickMs = 100);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  ~TimerWheel();

  // Arms (or re-arms) `node` to fire after at least `delayMs`.
  void schedule(TimerNode* node, uint64_t delayMs);
  void cancel(TimerNode* node);
  // Fires every timer whose deadline is at or before `nowMs`. A callback may
  // schedule or cancel any timer, including its own.
  void advance(uint64_t nowMs);
  // Call when the loop wakes, before anything may schedule: with no timer
  // armed the loop slept without ticking, and a timer armed now must count
  // from now, not from the tick before the sleep (else it fires at once).
  void skipIdle(uint64_t nowMs);
  // Milliseconds until the next tick boundary (epoll_wait's timeout), or -1
  // when no timer is armed.
  int msUntilNextTick(uint64_t nowMs) const;
  size_t size() const { return count_; }
  uint32_t tickMs() const { return tickMs_; }

 private:
  void link(TimerNode* node);
  TimerNode slots_[kSlots];  // sentinels of circular lists
  uint64_t currentTick_;     // every tick < currentTick_ has been processed
  uint32_t tickMs_;
  size_t count_ = 0;
};

}  // namespace sb::net
