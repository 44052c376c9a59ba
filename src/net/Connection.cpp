#include "net/Connection.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/Worker.h"

namespace sb::net {

// Every open socket carries one: see bench/profiles.md, "idle memory".
static_assert(sizeof(Connection) <= 136, "Connection grew: 136 bytes is one 144-byte malloc chunk");

void ProtocolHandler::onShutdown(Connection& c) { c.closeAfterFlush(); }

Connection::Connection(Worker& worker, int fd, SSL* ssl)
    : state_(ssl ? State::TlsHandshake : State::Open), worker_(worker), fd_(fd), ssl_(ssl) {
  TimerNode::fire = &Connection::onTimerFired;
}

Connection::~Connection() {
  worker_.loop().timers().cancel(static_cast<TimerNode*>(this));
  worker_.loop().cancelFlush(this);
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

EventLoop& Connection::loop() const { return worker_.loop(); }

void Connection::onTimerFired(TimerNode* node) {
  auto* c = static_cast<Connection*>(node);
  if (c->state_ == State::Closed) return;
  if (c->state_ == State::TlsHandshake || c->state_ == State::Draining || c->state_ == State::Flushing) {
    c->close();  // handshake too slow, or the peer never finished closing
    return;
  }
  c->handler_->onTimer(*c);
}

void Connection::armTimer(uint64_t delayMs) { loop().timers().schedule(static_cast<TimerNode*>(this), delayMs); }
void Connection::cancelTimer() { loop().timers().cancel(static_cast<TimerNode*>(this)); }

void Connection::send(const SharedBuffer::Ref& buf, size_t offset, size_t len) {
  if (state_ != State::Open && state_ != State::TlsHandshake) return;
  if (overflow_ != 0) {
    // Over the limit already: nothing more, but the handler's goodbye (a
    // disconnect message, a close frame) while it runs: past the limit, each
    // piece short.
    if ((overflow_ == 1 || overflow_ == 4) && len <= kGoodbyeBytes) {
      out_.push(buf, offset, len);
      loop().queueFlush(this);
      overflow_ = 4;
    }
    return;
  }
  if (out_.bytes() + len > worker_.options().writeQueueLimit) {
    // The peer does not read fast enough: drop it rather than grow memory,
    // after a goodbye if the handler has one.
    worker_.stats().slowConsumers.fetch_add(1, std::memory_order_relaxed);
    overflow_ = 1;
    if (handler_ && state_ == State::Open) handler_->onSlowConsumer(*this);
    const bool saidGoodbye = overflow_ == 4;
    overflow_ = saidGoodbye ? 3 : 2;
    // Neither a goodbye nor a close started: closed now. After a goodbye the
    // handler's own closing (a WebSocket close timeout) bounds the wait.
    if (!saidGoodbye && state_ == State::Open) close();
    return;
  }
  out_.push(buf, offset, len);
  loop().queueFlush(this);
}

void Connection::sendCopy(std::string_view bytes) {
  if (bytes.empty()) return;
  send(SharedBuffer::copyOf(bytes));
}

void Connection::closeAfterFlush() {
  if (state_ == State::Closed || state_ == State::Flushing || state_ == State::Draining) return;
  state_ = State::Flushing;
  // Bound the whole goodbye: a peer that neither reads nor closes is dropped.
  armTimer(worker_.options().lingerMs);
  loop().queueFlush(this);
}

void Connection::close() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  cancelTimer();
  loop().cancelFlush(this);
  loop().remove(fd_);
  out_.clear();
  if (handler_) handler_->onDisconnect(*this);
  worker_.release(this);
}

void Connection::shutdownServer() {
  if (state_ == State::Open && handler_) {
    handler_->onShutdown(*this);
    applyPendingHandler();
  } else if (state_ == State::TlsHandshake) {
    close();
  }
}

void Connection::replaceHandler(std::unique_ptr<ProtocolHandler> next, std::string leftover) {
  if (!handler_) {
    handler_ = std::move(next);
    return;
  }
  next_ = std::make_unique<PendingHandler>(PendingHandler{std::move(next), std::move(leftover)});
}

void Connection::applyPendingHandler() {
  while (next_ && state_ == State::Open) {
    // Kept alive while its leftover bytes are dispatched (which may queue
    // yet another handler).
    std::unique_ptr<PendingHandler> pending = std::move(next_);
    handler_ = std::move(pending->handler);
    if (!pending->leftover.empty()) {
      dispatch(reinterpret_cast<uint8_t*>(pending->leftover.data()), pending->leftover.size());
    }
  }
  next_.reset();
}

void Connection::dispatch(uint8_t* data, size_t len) {
  handler_->onData(*this, data, len);
  applyPendingHandler();
}

void Connection::onIoEvent(uint32_t events) {
  if (state_ == State::Closed) return;
  if (state_ == State::TlsHandshake) {
    handleTlsHandshake();
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) handleRead();
  if (state_ == State::Closed) return;
  if ((events & EPOLLOUT) && !out_.empty()) flush();
  else if ((events & EPOLLOUT) && state_ == State::Flushing) finishFlushing();
}

void Connection::handleRead() {
  uint8_t* buf = worker_.readBuffer();
  size_t cap = worker_.readBufferSize();
  if (ssl_) {
    // SSL may hold decrypted bytes beyond what one read returns; drain it so
    // level-triggered epoll does not leave data stranded inside OpenSSL.
    for (int rounds = 0; rounds < 16 && state_ != State::Closed; ++rounds) {
      int n = SSL_read(ssl_, buf, int(cap));
      if (n > 0) {
        worker_.stats().bytesIn.fetch_add(size_t(n), std::memory_order_relaxed);
        if (state_ == State::Open) dispatch(buf, size_t(n));
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ) return;
      if (err == SSL_ERROR_WANT_WRITE) {
        wantWrite_ = true;
        updateInterest();
        return;
      }
      ERR_clear_error();
      close();  // peer closed (close_notify or EOF) or TLS error
      return;
    }
    return;
  }
  ssize_t n = ::read(fd_, buf, cap);
  if (n > 0) {
    worker_.stats().bytesIn.fetch_add(size_t(n), std::memory_order_relaxed);
    if (state_ == State::Open) dispatch(buf, size_t(n));
    // While Flushing/Draining, input is read and discarded until the FIN.
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  close();  // EOF or reset
}

void Connection::handleTlsHandshake() {
  int r = SSL_accept(ssl_);
  if (r == 1) {
    state_ = State::Open;
    cancelTimer();
    wantWrite_ = false;
    updateInterest();
    if (!out_.empty()) loop().queueFlush(this);
    // Application data may already be buffered inside OpenSSL.
    handleRead();
    return;
  }
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ) {
    if (wantWrite_) { wantWrite_ = false; updateInterest(); }
    return;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    if (!wantWrite_) { wantWrite_ = true; updateInterest(); }
    return;
  }
  ERR_clear_error();
  close();
}

void Connection::updateInterest() {
  uint32_t ev = EPOLLIN | EPOLLRDHUP;
  if (wantWrite_) ev |= EPOLLOUT;
  loop().modify(fd_, ev, this);
}

bool Connection::writePlain() {
  constexpr int kMaxIov = 64;
  struct iovec iov[kMaxIov];
  while (!out_.empty()) {
    int cnt = out_.gather(iov, kMaxIov);
    ssize_t n = ::writev(fd_, iov, cnt);
    if (n > 0) {
      worker_.stats().bytesOut.fetch_add(size_t(n), std::memory_order_relaxed);
      out_.consume(size_t(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

bool Connection::writeTls() {
  // Coalesce small queued pieces into full TLS records: one SSL_write per
  // 16 KiB rather than one per frame.
  constexpr size_t kRecord = 16 * 1024;
  uint8_t record[kRecord];
  while (!out_.empty()) {
    size_t len = out_.copyHead(record, kRecord);
    int n = SSL_write(ssl_, record, int(len));
    if (n > 0) {
      worker_.stats().bytesOut.fetch_add(size_t(n), std::memory_order_relaxed);
      out_.consume(size_t(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return true;
    ERR_clear_error();
    return false;
  }
  return true;
}

void Connection::flush() {
  if (state_ == State::Closed || state_ == State::TlsHandshake) return;
  if (!out_.empty()) {
    bool ok = ssl_ ? writeTls() : writePlain();
    if (!ok) {
      close();
      return;
    }
  }
  bool pending = !out_.empty();
  if (pending != wantWrite_) {
    wantWrite_ = pending;
    updateInterest();
  }
  if (!pending && state_ == State::Flushing) finishFlushing();
}

void Connection::finishFlushing() {
  // Everything is written: half-close and wait (bounded by the linger timer)
  // for the peer's FIN, discarding input, so the peer reads our last bytes
  // instead of a reset.
  state_ = State::Draining;
  if (ssl_) {
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_WR);
}

}  // namespace sb::net
