#pragma once
// One epoll reactor per worker thread. Each loop turn: wait for I/O, dispatch
// events, run tasks posted from other threads, fire due timers, then flush
// every connection that queued output during the turn (the "cork": a burst of
// sends becomes one writev per socket).
//
// A long flush (a fan-out to thousands of sockets takes milliseconds) looks
// for I/O again every kMidFlushPollUs: what arrived meanwhile (a publication
// from the broker, an API request) is handled at once and its output joins
// the same flush — the sockets not flushed yet carry it in the same writev —
// instead of waiting a whole turn. Output queued as urgent (a command to the
// broker, whose answer the turn is waiting for) goes out before the other
// output and again at each of those checks.
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "net/TimerWheel.h"

namespace sb::net {

// Anything registered with the loop: listeners, connections, the wake-up fd.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void onIoEvent(uint32_t events) = 0;
};

// Something that has output to flush at the end of the loop turn.
class Flushable {
 public:
  virtual ~Flushable() = default;
  virtual void flush() = 0;
  bool flushQueued = false;
};

uint64_t monotonicMs();

class EventLoop : private IoHandler {
 public:
  EventLoop();
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Registers/changes/removes interest in `fd`; events are EPOLLIN/EPOLLOUT/...
  bool add(int fd, uint32_t events, IoHandler* handler);
  bool modify(int fd, uint32_t events, IoHandler* handler);
  void remove(int fd);

  // Runs until stop(). Only the owning thread calls run().
  void run();
  // The loop whose run() is executing on this thread, or nullptr (a thread
  // that runs no loop). Lets a component that serves several loops answer
  // on the caller's own loop.
  static EventLoop* current();
  // Thread-safe: asks run() to return after the current turn.
  void stop();
  // Thread-safe: runs `task` on the loop thread during a later turn.
  void post(std::function<void()> task);

  // Loop-thread only: flush `f` at the end of this turn; `urgent`: before
  // the turn's other output (see the file comment).
  void queueFlush(Flushable* f, bool urgent = false) {
    if (!f->flushQueued) {
      f->flushQueued = true;
      (urgent ? urgentList_ : flushList_).push_back(f);
    }
  }
  // Loop-thread only: forget `f` (it is being destroyed).
  void cancelFlush(Flushable* f);
  // Loop-thread only: run `task` at the end of this turn, after flushing
  // (used to destroy objects whose callbacks may still be on the stack).
  void deferred(std::function<void()> task) { deferred_.push_back(std::move(task)); }

  TimerWheel& timers() { return timers_; }
  uint64_t now() const { return nowMs_; }

  // How often a long flush looks for I/O again (see the file comment), and
  // after how many flushes it reads the clock to know.
  static constexpr uint64_t kMidFlushPollUs = 500;
  static constexpr size_t kMidFlushClockStride = 16;
  // Loop turns whose flush looked for I/O again (tests, diagnostics).
  uint64_t midFlushPolls() const { return midFlushPolls_; }

 private:
  void onIoEvent(uint32_t events) override;  // the wake-up eventfd
  // Waits up to `timeoutMs` for I/O and dispatches what is ready (nothing
  // on an error: the turn's own epoll_wait reports it).
  void pollIo(int timeoutMs);
  void runPosted();
  void flushList(std::vector<Flushable*>& list);
  void flushAll();

  int epfd_ = -1;
  int wakefd_ = -1;
  uint64_t nowMs_;
  TimerWheel timers_;
  bool stopping_ = false;
  std::vector<Flushable*> flushList_;
  std::vector<Flushable*> urgentList_;
  uint64_t midFlushPolls_ = 0;
  std::vector<std::function<void()>> deferred_;
  std::mutex postedMu_;
  std::vector<std::function<void()>> posted_;
  bool stopRequested_ = false;  // guarded by postedMu_
};

}  // namespace sb::net
