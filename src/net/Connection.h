#pragma once
// One accepted client socket, owned by the worker that accepted it. The
// Connection knows bytes, not protocols: what the bytes mean is up to its
// ProtocolHandler (HTTP first; a WebSocket session after an upgrade). It owns
// no input buffer (reads land in the worker's shared buffer), a bounded write
// queue, and one intrusive timer.
#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "net/EventLoop.h"
#include "net/SharedBuffer.h"
#include "net/TimerWheel.h"
#include "net/WriteQueue.h"

namespace sb::net {

class Connection;
class Worker;

class ProtocolHandler {
 public:
  virtual ~ProtocolHandler() = default;
  // Bytes received; `data` is the worker's shared buffer (writable, valid only
  // during the call).
  virtual void onData(Connection& c, uint8_t* data, size_t len) = 0;
  // The connection's timer fired.
  virtual void onTimer(Connection& c) {}
  // The server is shutting down: close gracefully (WebSocket: 1001).
  virtual void onShutdown(Connection& c);
  // The socket is gone (peer closed, error, or close()); no more sends.
  virtual void onDisconnect(Connection& c) {}
  // A send would pass the write queue limit (a slow consumer). The handler
  // may queue a short goodbye (pieces of at most Connection::kGoodbyeBytes,
  // e.g. a disconnect message and a WebSocket close frame: they go past the
  // limit, after what is queued),
  // and must then bound the wait itself (a close timeout), or start
  // closeAfterFlush(). The connection queues nothing else, and is closed at
  // once if the handler did neither.
  virtual void onSlowConsumer(Connection& c) {}
  virtual const char* name() const = 0;
};

// Base order and the first members are chosen for size: `state_` and
// `wantWrite_` fill the padding after Flushable::flushQueued (136 bytes in
// all, bench/profiles.md "idle memory").
class Connection final : public IoHandler, private TimerNode, public Flushable {
 public:
  Connection(Worker& worker, int fd, SSL* ssl);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues bytes for the end-of-turn flush. Over the worker's write queue
  // limit the connection is closed as a slow consumer (see
  // ProtocolHandler::onSlowConsumer).
  void send(const SharedBuffer::Ref& buf, size_t offset, size_t len);
  void send(const SharedBuffer::Ref& buf) { send(buf, 0, buf->size()); }
  void sendCopy(std::string_view bytes);

  // Stops reading new requests, flushes what is queued, then half-closes and
  // waits briefly for the peer's FIN before closing (so the last bytes are not
  // lost to a reset).
  void closeAfterFlush();
  // Closes the socket now; queued bytes are dropped.
  void close();

  // Switches protocol (HTTP → WebSocket). Takes effect when the current
  // onData returns; `leftover` bytes that followed the upgrade request are
  // fed to the new handler.
  void replaceHandler(std::unique_ptr<ProtocolHandler> next, std::string leftover = {});
  ProtocolHandler* handler() const { return handler_.get(); }

  void armTimer(uint64_t delayMs);
  void cancelTimer();

  bool isOpen() const { return state_ == State::Open; }
  bool isClosed() const { return state_ == State::Closed; }
  bool isTls() const { return ssl_ != nullptr; }
  size_t queuedBytes() const { return out_.bytes(); }
  // Gives back the write queue's spare array if the queue is empty (for an
  // owner that knows the connection has gone quiet).
  void trimWriteQueue() { out_.trim(); }
  Worker& worker() const { return worker_; }
  EventLoop& loop() const;
  int fd() const { return fd_; }

  void shutdownServer();  // called by the worker during drain

  // The largest piece of a slow consumer's goodbye (past the write queue
  // limit): a WebSocket close frame is 2 + 125 bytes at most.
  static constexpr size_t kGoodbyeBytes = 256;

 private:
  enum class State : uint8_t { TlsHandshake, Open, Flushing, Draining, Closed };
  void onIoEvent(uint32_t events) override;
  void flush() override;
  void handleRead();
  void dispatch(uint8_t* data, size_t len);
  void handleTlsHandshake();
  bool writePlain();
  bool writeTls();
  void updateInterest();
  void finishFlushing();
  void applyPendingHandler();
  static void onTimerFired(TimerNode* node);

  friend class Worker;
  State state_;
  bool wantWrite_ = false;     // EPOLLOUT registered
  // 0: under the limit; 1: in onSlowConsumer (a goodbye may pass the
  // limit), 4: the same with a goodbye queued; 2: over the limit, no
  // goodbye; 3: over the limit, goodbye queued. 2 and 3 queue nothing more.
  uint8_t overflow_ = 0;
  Worker& worker_;
  int fd_;
  uint32_t slot = 0;  // index in the worker's connection table (Worker's business)
  SSL* ssl_;
  WriteQueue out_;
  std::unique_ptr<ProtocolHandler> handler_;
  // A handler waiting to take over (replaceHandler during a callback) and
  // the bytes it is handed first. One pointer, null almost always: every
  // idle connection carries this member.
  struct PendingHandler {
    std::unique_ptr<ProtocolHandler> handler;
    std::string leftover;
  };
  std::unique_ptr<PendingHandler> next_;
};

}  // namespace sb::net
