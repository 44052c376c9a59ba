#include "net/Worker.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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
}

Worker::~Worker() {
  // Connections first: their destructors touch the loop's timer wheel.
  conns_.clear();
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
    uint32_t slot = c->slot;
    if (slot >= conns_.size() || conns_[slot].get() != c) return;
    if (slot != conns_.size() - 1) {
      std::swap(conns_[slot], conns_.back());
      conns_[slot]->slot = slot;
    }
    conns_.pop_back();
    if (draining_) checkDrained();
  });
}

void Worker::beginDrain(uint64_t deadlineMs) {
  loop_.post([this, deadlineMs] {
    draining_ = true;
    if (listenFd_ >= 0) {
      loop_.remove(listenFd_);
      ::close(listenFd_);
      listenFd_ = -1;
    }
    // Snapshot: shutting one down may close (and later release) others.
    std::vector<Connection*> snapshot;
    snapshot.reserve(conns_.size());
    for (auto& c : conns_) snapshot.push_back(c.get());
    for (Connection* c : snapshot)
      if (!c->isClosed()) c->shutdownServer();
    checkDrained();
    if (!conns_.empty()) {
      uint64_t now = monotonicMs();
      loop_.timers().schedule(&drainTimer_, deadlineMs > now ? deadlineMs - now : 0);
    }
  });
}

void Worker::drainDeadlinePassed() {
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
