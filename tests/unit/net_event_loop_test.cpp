// EventLoop: urgent output leaves before the rest of a turn's output, and a
// long flush handles I/O that arrives meanwhile within the same turn.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "net/EventLoop.h"

using sb::net::EventLoop;
using sb::net::Flushable;
using sb::net::IoHandler;

namespace {

void spinMicros(long us) {
  timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 < us);
}

// Records its name in `log` when flushed, after `spinUs` of work (a socket
// write takes a few microseconds), then runs `then` if set.
struct Recorder : Flushable {
  Recorder(std::string n, std::vector<std::string>& l, long spin = 0) : name(std::move(n)), log(l), spinUs(spin) {}
  void flush() override {
    if (spinUs) spinMicros(spinUs);
    log.push_back(name);
    if (then) then();
  }
  std::string name;
  std::vector<std::string>& log;
  long spinUs;
  std::function<void()> then;
};

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(pipe(fds), 0); }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  void poke() const { ASSERT_EQ(write(fds[1], "x", 1), 1); }
  void drain() const {
    char buf[64];
    (void)!read(fds[0], buf, sizeof buf);
  }
};

struct Handler : IoHandler {
  std::function<void()> fn;
  void onIoEvent(uint32_t) override { fn(); }
};

// Runs `setup` as a posted task and the loop until the turn after it.
void runOneTurn(EventLoop& loop, std::function<void()> setup) {
  loop.post([&loop, setup] {
    setup();
    loop.stop();
  });
  loop.run();
}

}  // namespace

TEST(EventLoop, UrgentOutputLeavesBeforeTheTurnsOtherOutput) {
  EventLoop loop;
  std::vector<std::string> log;
  Recorder a("a", log), b("b", log), u("urgent", log);
  runOneTurn(loop, [&] {
    loop.queueFlush(&a);
    loop.queueFlush(&b);
    loop.queueFlush(&u, /*urgent=*/true);
    loop.queueFlush(&u, /*urgent=*/true);  // once per turn, like the others
  });
  EXPECT_EQ(log, (std::vector<std::string>{"urgent", "a", "b"}));
}

TEST(EventLoop, CancelledUrgentOutputIsNotFlushed) {
  EventLoop loop;
  std::vector<std::string> log;
  Recorder a("a", log), u("urgent", log);
  runOneTurn(loop, [&] {
    loop.queueFlush(&u, true);
    loop.queueFlush(&a);
    loop.cancelFlush(&u);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"a"}));
  EXPECT_FALSE(u.flushQueued);
}

// A fan-out's flush takes milliseconds; a publication that arrives during it
// (here: a pipe that becomes readable) is handled during the same flush and
// its output (queued by the handler) leaves in the same turn, ahead of the
// work the loop does after flushing.
TEST(EventLoop, LongFlushHandlesIoThatArrivesMeanwhile) {
  EventLoop loop;
  std::vector<std::string> log;
  constexpr int kMany = 300;  // 300 x 10 us = 3 ms, several mid-flush checks
  std::vector<std::unique_ptr<Recorder>> many;
  for (int i = 0; i < kMany; ++i) many.push_back(std::make_unique<Recorder>("c" + std::to_string(i), log, 10));
  Recorder late("late", log);
  Recorder urgent("late-urgent", log);
  Pipe p;
  Handler h;
  h.fn = [&] {
    p.drain();
    log.push_back("io");
    loop.queueFlush(&late);
    loop.queueFlush(&urgent, true);
    loop.queueFlush(many[0].get());  // flushed already this turn: flushed again
  };
  ASSERT_TRUE(loop.add(p.fds[0], EPOLLIN, &h));
  many[0]->then = [&] { p.poke(); };  // the data arrives while flushing
  uint64_t pollsBefore = loop.midFlushPolls();
  runOneTurn(loop, [&] {
    for (auto& r : many) loop.queueFlush(r.get());
    loop.deferred([&] { log.push_back("end-of-turn"); });
  });
  loop.remove(p.fds[0]);

  auto pos = [&](const std::string& name) {
    for (size_t i = 0; i < log.size(); ++i)
      if (log[i] == name) return long(i);
    return -1L;
  };
  ASSERT_GE(pos("io"), 0) << "the handler never ran";
  // Handled in the middle of the flush, not after it.
  EXPECT_LT(pos("io"), pos("c" + std::to_string(kMany - 1)));
  EXPECT_GT(pos("io"), pos("c0"));
  // Its urgent output left at once, its other output in the same turn.
  EXPECT_EQ(pos("late-urgent"), pos("io") + 1);
  EXPECT_LT(pos("late"), pos("end-of-turn"));
  EXPECT_GE(pos("late"), 0);
  long c0Count = 0;
  for (auto& e : log) c0Count += e == "c0";
  EXPECT_EQ(c0Count, 2) << "output queued again after its flush is flushed again in the turn";
  EXPECT_EQ(loop.midFlushPolls(), pollsBefore + 1);
}

// I/O that never stops (a socket always readable) cannot keep a turn from
// ending: the checks stop at the end of the output the turn started with.
TEST(EventLoop, EndlessIoDoesNotHoldTheFlush) {
  EventLoop loop;
  std::vector<std::string> log;
  constexpr int kMany = 200;
  std::vector<std::unique_ptr<Recorder>> many;
  for (int i = 0; i < kMany; ++i) many.push_back(std::make_unique<Recorder>("c", log, 10));
  std::vector<std::unique_ptr<Recorder>> extra;
  Pipe p;
  p.poke();  // never drained
  Handler h;
  int calls = 0;
  h.fn = [&] {
    ++calls;
    // Each call queues more output, as a busy connection would.
    extra.push_back(std::make_unique<Recorder>("x", log, 10));
    loop.queueFlush(extra.back().get());
  };
  ASSERT_TRUE(loop.add(p.fds[0], EPOLLIN, &h));
  bool ended = false;
  loop.post([&] {
    for (auto& r : many) loop.queueFlush(r.get());
    loop.deferred([&] {
      ended = true;
      loop.remove(p.fds[0]);
      loop.stop();
    });
  });
  loop.run();
  EXPECT_TRUE(ended);
  // At most one check per kMidFlushClockStride flushes of the planned list,
  // plus the turns' own epoll waits.
  EXPECT_LE(calls, kMany / int(EventLoop::kMidFlushClockStride) + 4);
  EXPECT_GT(calls, 1) << "the 2 ms flush should have looked for I/O at least once";
}
