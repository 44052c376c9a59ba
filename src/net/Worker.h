#pragma once
// A worker thread: its own event loop, its own SO_REUSEPORT listener, the
// connections it accepted, and one shared receive buffer for all of them
// (an idle connection owns no I/O buffer).
#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <random>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/Connection.h"
#include "net/EventLoop.h"

namespace sb::net {

struct WorkerOptions {
  size_t writeQueueLimit = 1 << 20;
  uint64_t lingerMs = 2000;          // wait for the peer's FIN after our half-close
  uint64_t tlsHandshakeTimeoutMs = 10000;
  int maxConnections = 100000;       // across all workers
};

// Counters shared by all workers (relaxed atomics: statistics, not control).
struct NetStats {
  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refusedOverLimit{0};
  std::atomic<uint64_t> refusedNoFiles{0};
  std::atomic<uint64_t> slowConsumers{0};
  std::atomic<uint64_t> bytesIn{0};
  std::atomic<uint64_t> bytesOut{0};
};

class Worker {
 public:
  using HandlerFactory = std::function<std::unique_ptr<ProtocolHandler>(Connection&)>;

  Worker(int index, int listenFd, SSL_CTX* tls, const WorkerOptions& opts, NetStats& stats,
         HandlerFactory factory);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();   // spawns the thread
  void join();
  // Thread-safe: close the listener now, then ask the connections to close
  // gracefully (a client session sends disconnect 3001) one at a time, in
  // random order at random moments (uniform over the window), so that all
  // have been asked by `spreadEndMs` and clients do not reconnect elsewhere
  // in one burst. The loop stops once all are gone or at `deadlineMs`, when
  // the rest are cut. Times are monotonicMs().
  void beginDrain(uint64_t spreadEndMs, uint64_t deadlineMs);
  // Thread-safe: stop the loop now.
  void stop() { loop_.stop(); }

  int index() const { return index_; }
  EventLoop& loop() { return loop_; }
  uint8_t* readBuffer() { return readBuf_.get(); }
  size_t readBufferSize() const { return kReadBufferSize; }
  const WorkerOptions& options() const { return opts_; }
  NetStats& stats() { return stats_; }
  size_t connectionCount() const { return conns_.size(); }

  // Called by Connection::close(); destroys it at the end of the loop turn.
  void release(Connection* c);
  static constexpr size_t kReadBufferSize = 256 * 1024;

 private:
  class Acceptor : public IoHandler {
   public:
    explicit Acceptor(Worker& w) : w_(w) {}
    void onIoEvent(uint32_t events) override { w_.acceptReady(); }
   private:
    Worker& w_;
  };
  // Fires the drain's next steps with millisecond precision (the timer wheel
  // ticks every 100 ms, which would bunch the disconnects up).
  class DrainClock : public IoHandler {
   public:
    explicit DrainClock(Worker& w) : w_(w) {}
    void onIoEvent(uint32_t events) override { w_.drainClockFired(); }
   private:
    Worker& w_;
  };
  void acceptReady();
  void checkDrained();
  void drainStep();
  uint64_t nextDrainAskAt(uint64_t from);
  void armDrainClock(uint64_t delayMs);
  void drainClockFired();
  void stopDrainClock();
  void drainDeadlinePassed();
  void swapSlots(size_t a, size_t b);

  int index_;
  int listenFd_;
  SSL_CTX* tls_;
  WorkerOptions opts_;
  NetStats& stats_;
  HandlerFactory factory_;
  EventLoop loop_;
  Acceptor acceptor_{*this};
  std::unique_ptr<uint8_t[]> readBuf_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::thread thread_;
  int reserveFd_ = -1;       // released to accept-and-close when out of fds
  bool draining_ = false;
  struct DrainTimer : TimerNode {
    Worker* worker = nullptr;
  } drainTimer_, drainStepTimer_;
  // While draining, conns_[0, drainAsked_) have been asked to close and the
  // rest have not (release() keeps the two ranges apart).
  size_t drainAsked_ = 0;
  uint64_t drainSpreadEnd_ = 0;
  uint64_t drainNextAt_ = 0;    // when the next connection is asked
  DrainClock drainClock_{*this};
  int drainClockFd_ = -1;       // timerfd, created by the drain
  std::mt19937_64 drainRng_{std::random_device{}()};
  uint64_t lastNoFilesLog_ = 0;
  uint64_t lastOverLimitLog_ = 0;
  uint64_t overLimitSinceLog_ = 0;
};

}  // namespace sb::net
