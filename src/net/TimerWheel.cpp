#include "net/TimerWheel.h"

namespace sb::net {

TimerWheel::TimerWheel(uint64_t nowMs, uint32_t tickMs) : currentTick_(nowMs / tickMs), tickMs_(tickMs) {
  for (auto& s : slots_) s.prev = s.next = &s;
}

TimerWheel::~TimerWheel() {
  // Detach remaining nodes so their owners see them as disarmed.
  for (auto& s : slots_) {
    TimerNode* n = s.next;
    while (n != &s) {
      TimerNode* next = n->next;
      n->prev = n->next = nullptr;
      n = next;
    }
    s.prev = s.next = &s;
  }
}

void TimerWheel::link(TimerNode* node) {
  TimerNode& head = slots_[node->deadline % kSlots];
  node->prev = head.prev;
  node->next = &head;
  head.prev->next = node;
  head.prev = node;
  ++count_;
}

void TimerWheel::schedule(TimerNode* node, uint64_t delayMs) {
  cancel(node);
  // Round up: a timer never fires early. The current tick is being (or has
  // been) processed, so the earliest slot is the next one.
  uint64_t ticks = (delayMs + tickMs_ - 1) / tickMs_;
  if (ticks == 0) ticks = 1;
  node->deadline = currentTick_ + ticks;
  link(node);
}

void TimerWheel::cancel(TimerNode* node) {
  if (!node->armed()) return;
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = nullptr;
  --count_;
}

void TimerWheel::skipIdle(uint64_t nowMs) {
  if (count_ != 0) return;
  // Nothing is due in any tick up to now, so they all count as processed.
  const uint64_t tick = nowMs / tickMs_;
  if (currentTick_ <= tick) currentTick_ = tick + 1;
}

void TimerWheel::advance(uint64_t nowMs) {
  skipIdle(nowMs);
  uint64_t target = nowMs / tickMs_;
  while (currentTick_ <= target) {
    TimerNode& head = slots_[currentTick_ % kSlots];
    // Move this slot's due nodes to a private list first so callbacks that
    // re-arm into the same slot are not visited again in this pass.
    TimerNode due;
    due.prev = due.next = &due;
    TimerNode* n = head.next;
    while (n != &head) {
      TimerNode* next = n->next;
      if (n->deadline <= currentTick_) {
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = due.prev;
        n->next = &due;
        due.prev->next = n;
        due.prev = n;
      }
      n = next;
    }
    ++currentTick_;
    while (due.next != &due) {
      TimerNode* t = due.next;
      t->prev->next = t->next;
      t->next->prev = t->prev;
      t->prev = t->next = nullptr;
      --count_;
      t->fire(t);
    }
  }
}

int TimerWheel::msUntilNextTick(uint64_t nowMs) const {
  if (count_ == 0) return -1;
  uint64_t next = currentTick_ * tickMs_;
  return next > nowMs ? int(next - nowMs) : 0;
}

}  // namespace sb::net
