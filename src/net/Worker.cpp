#include "net/Worker.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace sb::net {

Worker::Worker(int index, int listenFd, SSL_CTX* tls, const WorkerOptions& opts, NetStats& stats,
               HandlerFactory factory)
    : index_(index),
      listenFd_(listenFd),
      tls_(tls),
      opts_(opts),
      stats_(stats),
      factory_(std::move(factory)),
      readBuf_(std::make_unique<uint8_t[]>(kReadBufferSize)) {
  if (listenFd_ >= 0) loop_.add(listenFd_, EPOLLIN, &acceptor_);
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  drainTimer_.worker = this;
  drainTimer_.fire = [](TimerNode* n) { static_cast<DrainTimer*>(n)->worker->drainDeadlinePassed(); };
  drainStepTimer_.worker = this;
  drainStepTimer_.fire = [](TimerNode* n) { static_cast<DrainTimer*>(n)->worker->drainStep(); };
}

Worker::~Worker() {
  // Connections first: their destructors touch the loop's timer wheel.
  conns_.clear();
  loop_.timers().cancel(&drainTimer_);
  loop_.timers().cancel(&drainStepTimer_);
  stopDrainClock();
  if (listenFd_ >= 0) ::close(listenFd_);
  if (reserveFd_ >= 0) ::close(reserveFd_);
}

void Worker::start() {
  thread_ = std::thread([this] {
    std::string name = "sb-worker-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    loop_.run();
    // Whatever is left when the loop stops is closed here, on our thread.
    while (!conns_.empty()) conns_.back()->close(), conns_.pop_back();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::acceptReady() {
  // Bounded per turn so a connection storm cannot starve established clients.
  for (int i = 0; i < 256; ++i) {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of file descriptors: the pending connection would make epoll
        // report the listener forever. Spend the reserve fd to accept and
        // close it, so the client sees a refusal rather than a hang.
        stats_.refusedNoFiles.fetch_add(1, std::memory_order_relaxed);
        uint64_t now = loop_.now();
        if (now - lastNoFilesLog_ > 5000 || lastNoFilesLog_ == 0) {
          lastNoFilesLog_ = now;
          spdlog::warn("accept: out of file descriptors ({}) with {} connections open; "
                       "refusing new connections (raise `ulimit -n` or lower server.max_connections)",
                       std::strerror(errno), stats_.connections.load());
        }
        if (reserveFd_ >= 0) {
          ::close(reserveFd_);
          int c = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) ::close(c);
          reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        return;
      }
      return;  // EAGAIN or a transient error
    }
    if (draining_) {
      ::close(fd);
      continue;
    }
    if (stats_.connections.load(std::memory_order_relaxed) >= opts_.maxConnections) {
      stats_.refusedOverLimit.fetch_add(1, std::memory_order_relaxed);
      // At most one line per 5 s per worker, however hard the flood.
      ++overLimitSinceLog_;
      uint64_t now = loop_.now();
      if (lastOverLimitLog_ == 0 || now - lastOverLimitLog_ >= 5000) {
        spdlog::warn("accept: server.max_connections ({}) reached; refused {} connection(s) with 503 on worker {} "
                     "since the last report",
                     opts_.maxConnections, overLimitSinceLog_, index_);
        lastOverLimitLog_ = now;
        overLimitSinceLog_ = 0;
      }
      static const char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n"
          "Connection: close\r\nRetry-After: 5\r\n\r\nserver.max_connections reached";
      (void)!::write(fd, kBusy, sizeof kBusy - 1);
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = nullptr;
    if (tls_) {
      ssl = SSL_new(tls_);
      if (!ssl) {
        ::close(fd);
        continue;
      }
      SSL_set_fd(ssl, fd);
      SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    }
    auto conn = std::make_unique<Connection>(*this, fd, ssl);
    Connection* c = conn.get();
    c->slot = uint32_t(conns_.size());
    conns_.push_back(std::move(conn));
    stats_.connections.fetch_add(1, std::memory_order_relaxed);
    stats_.accepted.fetch_add(1, std::memory_order_relaxed);
    if (!loop_.add(fd, EPOLLIN | EPOLLRDHUP, c)) {
      c->close();
      continue;
    }
    c->replaceHandler(factory_(*c));
    if (ssl) c->armTimer(opts_.tlsHandshakeTimeoutMs);
  }
}

void Worker::release(Connection* c) {
  stats_.connections.fetch_sub(1, std::memory_order_relaxed);
  // Destroy at the end of the turn: the caller may still be inside one of the
  // connection's callbacks.
  loop_.deferred([this, c] {
    size_t slot = c->slot;
    if (slot >= conns_.size() || conns_[slot].get() != c) return;
    if (draining_ && slot < drainAsked_) {
      // Keep the asked ones contiguous: the last asked fills the hole and the
      // leaving connection becomes the first not asked.
      swapSlots(slot, drainAsked_ - 1);
      slot = --drainAsked_;
    }
    swapSlots(slot, conns_.size() - 1);
    conns_.pop_back();
    if (draining_) checkDrained();
  });
}

void Worker::swapSlots(size_t a, size_t b) {
  if (a == b) return;
  std::swap(conns_[a], conns_[b]);
  conns_[a]->slot = uint32_t(a);
  conns_[b]->slot = uint32_t(b);
}

void Worker::beginDrain(uint64_t spreadEndMs, uint64_t deadlineMs) {
  loop_.post([this, spreadEndMs, deadlineMs] {
    if (draining_) return;
    draining_ = true;
    // Listeners first: from now on new connections go to other nodes.
    if (listenFd_ >= 0) {
      loop_.remove(listenFd_);
      ::close(listenFd_);
      listenFd_ = -1;
    }
    uint64_t now = monotonicMs();
    drainSpreadEnd_ = std::min(spreadEndMs, deadlineMs);
    drainAsked_ = 0;
    if (!conns_.empty()) {
      loop_.timers().schedule(&drainTimer_, deadlineMs > now ? deadlineMs - now : 0);
      drainNextAt_ = nextDrainAskAt(now);
      drainStep();
    }
    checkDrained();
  });
}

// When the next connection is asked, given that the previous one was asked
// at `from`: the earliest of the remaining connections' moments, each drawn
// uniformly from [from, end of the spread window]. (The minimum of k uniform
// draws is end - (end - from) * U^(1/k), so no list of moments is kept.)
uint64_t Worker::nextDrainAskAt(uint64_t from) {
  size_t remaining = conns_.size() - drainAsked_;
  if (remaining == 0 || from >= drainSpreadEnd_) return from;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double span = double(drainSpreadEnd_ - from);
  return from + uint64_t(span * (1.0 - std::pow(u(drainRng_), 1.0 / double(remaining))));
}

// Asks every connection whose moment has come to close: each time one picked
// at random among those not asked yet. Releases happen at the end of the
// turn, so conns_ does not change while this runs.
void Worker::drainStep() {
  uint64_t now = monotonicMs();
  while (drainAsked_ < conns_.size() && drainNextAt_ <= now) {
    std::uniform_int_distribution<size_t> pick(drainAsked_, conns_.size() - 1);
    swapSlots(drainAsked_, pick(drainRng_));
    Connection* c = conns_[drainAsked_++].get();
    if (!c->isClosed()) c->shutdownServer();
    drainNextAt_ = nextDrainAskAt(drainNextAt_);
  }
  if (drainAsked_ < conns_.size()) armDrainClock(drainNextAt_ > now ? drainNextAt_ - now : 1);
  else stopDrainClock();
}

void Worker::armDrainClock(uint64_t delayMs) {
  if (drainClockFd_ < 0) {
    drainClockFd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (drainClockFd_ >= 0 && !loop_.add(drainClockFd_, EPOLLIN, &drainClock_)) {
      ::close(drainClockFd_);
      drainClockFd_ = -1;
    }
  }
  if (drainClockFd_ < 0) {
    // No descriptor to spare (the drain may start because fds ran out): the
    // timer wheel's 100 ms ticks are coarser but still spread the closes.
    loop_.timers().schedule(&drainStepTimer_, delayMs);
    return;
  }
  itimerspec spec{};
  spec.it_value.tv_sec = time_t(delayMs / 1000);
  spec.it_value.tv_nsec = long(delayMs % 1000) * 1000000L;
  ::timerfd_settime(drainClockFd_, 0, &spec, nullptr);
}

void Worker::drainClockFired() {
  uint64_t expirations;
  (void)!::read(drainClockFd_, &expirations, sizeof expirations);
  drainStep();
}

void Worker::stopDrainClock() {
  if (drainClockFd_ < 0) return;
  loop_.remove(drainClockFd_);
  ::close(drainClockFd_);
  drainClockFd_ = -1;
}

void Worker::drainDeadlinePassed() {
  loop_.timers().cancel(&drainStepTimer_);
  stopDrainClock();
  // Connections still open at the drain deadline are cut.
  std::vector<Connection*> rest;
  for (auto& c : conns_) rest.push_back(c.get());
  for (Connection* c : rest)
    if (!c->isClosed()) c->close();
  loop_.stop();
}

void Worker::checkDrained() {
  if (conns_.empty()) loop_.stop();
}

}  // namespace sb::net
