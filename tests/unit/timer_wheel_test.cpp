#include <gtest/gtest.h>

#include <vector>

#include "net/TimerWheel.h"

using sb::net::TimerNode;
using sb::net::TimerWheel;

namespace {
struct Probe : TimerNode {
  int fired = 0;
  std::vector<int>* order = nullptr;
  int id = 0;
  Probe() {
    fire = [](TimerNode* n) {
      auto* p = static_cast<Probe*>(n);
      ++p->fired;
      if (p->order) p->order->push_back(p->id);
    };
  }
};
}  // namespace

TEST(TimerWheel, FiresNotBeforeDeadline) {
  TimerWheel w(1000, 100);
  Probe p;
  w.schedule(&p, 250);
  w.advance(1200);
  EXPECT_EQ(p.fired, 0);
  w.advance(1400);
  EXPECT_EQ(p.fired, 1);
  EXPECT_FALSE(p.armed());
  w.advance(5000);
  EXPECT_EQ(p.fired, 1);
}

TEST(TimerWheel, CancelAndRearm) {
  TimerWheel w(0, 100);
  Probe p;
  w.schedule(&p, 100);
  w.cancel(&p);
  w.advance(1000);
  EXPECT_EQ(p.fired, 0);
  w.schedule(&p, 500);
  w.schedule(&p, 2000);  // re-arm moves it
  EXPECT_EQ(w.size(), 1u);
  w.advance(1600);
  EXPECT_EQ(p.fired, 0);
  w.advance(3200);
  EXPECT_EQ(p.fired, 1);
}

TEST(TimerWheel, BeyondOneRevolution) {
  TimerWheel w(0, 10);
  Probe p;
  uint64_t far = TimerWheel::kSlots * 10 * 3 + 55;  // three laps and a bit
  w.schedule(&p, far);
  for (uint64_t t = 0; t < far; t += 10) w.advance(t);
  EXPECT_EQ(p.fired, 0);
  w.advance(far + 10);
  EXPECT_EQ(p.fired, 1);
}

TEST(TimerWheel, OrderAndManyTimers) {
  TimerWheel w(0, 10);
  std::vector<int> order;
  std::vector<Probe> probes(100);
  for (int i = 0; i < 100; ++i) {
    probes[size_t(i)].order = &order;
    probes[size_t(i)].id = i;
    w.schedule(&probes[size_t(i)], uint64_t((100 - i) * 10));
  }
  EXPECT_EQ(w.size(), 100u);
  w.advance(2000);
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[size_t(i)], 99 - i);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CallbackMayRearmItself) {
  TimerWheel w(0, 10);
  struct Repeater : TimerNode {
    TimerWheel* w;
    int count = 0;
  } r;
  r.w = &w;
  r.fire = [](TimerNode* n) {
    auto* self = static_cast<Repeater*>(n);
    if (++self->count < 5) self->w->schedule(self, 10);
  };
  w.schedule(&r, 10);
  for (uint64_t t = 0; t <= 200; t += 10) w.advance(t);
  EXPECT_EQ(r.count, 5);
}

TEST(TimerWheel, NextTickTimeout) {
  TimerWheel w(1000, 100);
  EXPECT_EQ(w.msUntilNextTick(1000), -1);
  Probe p;
  w.schedule(&p, 1000);
  int ms = w.msUntilNextTick(1050);
  EXPECT_GE(ms, 0);
  EXPECT_LE(ms, 100);
}

TEST(TimerWheel, DestructorDisarms) {
  Probe p;
  {
    TimerWheel w(0, 10);
    w.schedule(&p, 100);
    EXPECT_TRUE(p.armed());
  }
  EXPECT_FALSE(p.armed());
}

// The loop slept with no timer armed (epoll_wait without a timeout), then an
// I/O handler arms one: it counts from the wake-up, not from before the sleep.
TEST(TimerWheel, TimerArmedAfterAnIdleSleepCountsFromTheWakeUp) {
  TimerWheel w(0, 100);
  w.advance(50);
  w.skipIdle(60'000);  // woke a minute later
  Probe p;
  w.schedule(&p, 1000);
  w.advance(60'050);
  EXPECT_EQ(p.fired, 0) << "fired at once: counted from the tick before the sleep";
  w.advance(60'900);
  EXPECT_EQ(p.fired, 0);
  w.advance(61'200);
  EXPECT_EQ(p.fired, 1);
}

// With a timer armed the wheel ticks through the sleep as before.
TEST(TimerWheel, SkipIdleKeepsArmedTimers) {
  TimerWheel w(0, 100);
  Probe p;
  w.schedule(&p, 500);
  w.skipIdle(10'000);
  EXPECT_EQ(p.fired, 0);
  w.advance(10'000);
  EXPECT_EQ(p.fired, 1);
}
