// One single-threaded epoll event loop driving many client connections:
// non-blocking connect, upgrade handshake, streaming frame decoding, buffered
// writes, bounded-rate ramp, per-attempt timeouts and bounded retries with
// backoff. A connection is a WebSocket, or (Transport::kSse) an EventSource
// GET whose body (de-chunked) is handed on as data. Modes subclass it and
// react to open/data/message events; the loop allocates nothing per message.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"
#include "sse_proto.h"
#include "url.h"
#include "ws_proto.h"

namespace sbbench {

enum class Transport : uint8_t {
  kWebSocket,  // RFC 6455 upgrade, frames
  kSse,        // GET with Accept: text/event-stream; the body is the data
};

struct ClientOptions {
  WsUrl url;
  Transport transport = Transport::kWebSocket;
  // No ramp of its own: the subclass opens connections with open_slot()
  // (connect-rate mode). Retries still follow max_retries.
  bool manual_start = false;
  std::string subprotocol;
  std::vector<std::string> headers;
  uint32_t connections = 1;               // connections owned by this loop
  double rate_per_sec = 5000;             // first connection attempts per second
  uint32_t max_inflight = 256;            // simultaneous connects + handshakes
  uint32_t max_retries = 3;               // extra attempts per connection
  int64_t connect_timeout_ns = 10 * kNsPerSec;  // connect + handshake, per attempt
  size_t out_reserve = 256;               // per-connection write buffer pre-size
};

// Why an attempt (or an open connection) failed.
enum class FailKind : uint8_t {
  kRefused,              // ECONNREFUSED: nothing listening / listener gone
  kClosedInHandshake,    // TCP accepted, then EOF/RST before a 101 (server cap?)
  kTimeout,              // connect or handshake exceeded --connect-timeout
  kHttpStatus,           // server answered the upgrade with a non-101 status
  kBadHandshake,         // 101 but wrong Accept/Upgrade headers, or garbage
  kLocalLimit,           // EMFILE/ENFILE/EADDRNOTAVAIL/ENOBUFS on our side
  kDropped,              // an open connection was closed by the server
  kProtocol,             // the server sent an invalid frame
  kRejected,             // the server answered connect/subscribe with an error
  kOther,
  kCount
};
const char* fail_kind_name(FailKind k);

struct ClientStats {
  Counter open;           // currently open
  Counter opened_total;   // successful handshakes, including reconnects
  Counter failed_final;   // connections given up on after all retries
  Counter attempts;
  Counter messages;       // data messages received (echo replies)
  Counter pings_sent;
  Counter pongs_received;
  std::array<Counter, size_t(FailKind::kCount)> failures{};
  std::atomic<int> last_http_status{0};
};

// Write buffer with a stable pre-sized capacity: prepare()/commit() append in
// place; consumed bytes are reclaimed when it drains, so steady state never
// allocates.
class OutBuffer {
 public:
  void reserve(size_t n) {
    if (buf_.size() < n) buf_.resize(n);
  }
  uint8_t* prepare(size_t n) {
    if (tail_ + n > buf_.size()) {
      if (head_ > 0) {
        std::memmove(buf_.data(), buf_.data() + head_, tail_ - head_);
        tail_ -= head_;
        head_ = 0;
      }
      if (tail_ + n > buf_.size()) buf_.resize(std::max(buf_.size() * 2, tail_ + n));
    }
    return buf_.data() + tail_;
  }
  void commit(size_t n) { tail_ += n; }
  const uint8_t* data() const { return buf_.data() + head_; }
  size_t size() const { return tail_ - head_; }
  void consume(size_t n) {
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
  void clear() { head_ = tail_ = 0; }

 private:
  std::vector<uint8_t> buf_;
  size_t head_ = 0;
  size_t tail_ = 0;
};

enum class ConnState : uint8_t { kPending, kWaitRetry, kConnecting, kHandshaking, kOpen, kClosing, kFailed, kDone };

struct Conn {
  Fd fd;
  ConnState state = ConnState::kPending;
  uint8_t attempts = 0;
  bool want_out = false;     // EPOLLOUT currently in the interest set
  bool was_open = false;     // reached kOpen in the current attempt
  bool peer_closed = false;  // a Close frame arrived
  bool chunked = false;      // SSE: the body is Transfer-Encoding: chunked
  int64_t timer_ns = 0;      // retry time, attempt deadline or close deadline
  std::string hs;            // handshake response bytes (freed once open)
  std::string accept;        // expected Sec-WebSocket-Accept (freed once open)
  FrameDecoder dec;
  ChunkedDecoder chunks;     // SSE with chunked bodies only
  OutBuffer out;
};

class Worker {
 public:
  Worker(ClientOptions opts, uint64_t seed);
  virtual ~Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // One loop iteration: wait up to timeout_ms for events, handle them, run
  // timers (ramp, retries, timeouts) and the subclass tick.
  void step(int timeout_ms);

  // Every connection is open or has been given up on.
  bool ramp_done() const;
  // Stops retrying; sends Close to open connections and drops the others.
  void close_all();
  bool all_closed() const { return closing_ == 0; }
  // close_all(), then runs the loop until every connection is closed or
  // grace_ns has passed.
  void close_all_and_wait(int64_t grace_ns);

  ClientStats& stats() { return stats_; }
  const ClientOptions& options() const { return opts_; }
  uint32_t inflight() const { return inflight_; }
  // First error text seen for each failure kind (for the final report).
  const std::array<std::string, size_t(FailKind::kCount)>& first_errors() const { return first_errors_; }

  // Watches an extra fd (e.g. a control pipe); on_extra_readable() fires.
  void watch_extra_fd(int fd);
  void unwatch_extra_fd();

 protected:
  virtual void on_open(uint32_t i) {}
  virtual void on_data(uint32_t i, const uint8_t* p, size_t n) {}
  virtual void on_message_end(uint32_t i, uint8_t op) {}
  virtual void on_lost(uint32_t i) {}
  virtual void on_tick() {}
  virtual void on_extra_readable() {}
  // An attempt failed (before or after opening); called before any retry is scheduled.
  virtual void on_attempt_failed(uint32_t i, FailKind kind) {}
  // Request target (path and query) for connection i; default: the URL's.
  virtual std::string request_target(uint32_t i) { return opts_.url.path; }

  // manual_start: begins a fresh attempt on slot i, which must be idle
  // (never used, closed, or given up on); false if it is not.
  bool open_slot(uint32_t i);
  // Closes connection i at once, whatever its state, without counting a
  // failure (a WebSocket gets a Close frame first); the slot becomes idle.
  void close_now(uint32_t i);
  bool slot_idle(uint32_t i) const {
    ConnState s = conns_[i].state;
    return s == ConnState::kPending || s == ConnState::kDone || s == ConnState::kFailed;
  }
  // Closes connection i as failed (counted under `kind`, retried like any
  // other failure). Safe to call from on_data/on_message_end: the decoder
  // loop stops once the fd is gone.
  void drop(uint32_t i, FailKind kind, const std::string& why) { fail(i, kind, why); }
  // Queues one masked text frame (flushed at the end of the current read, or by flush()).
  void send_text(uint32_t i, std::string_view text);

  uint8_t* out_prepare(uint32_t i, size_t n) { return conns_[i].out.prepare(n); }
  void out_commit(uint32_t i, size_t n) { conns_[i].out.commit(n); }
  void send_control(uint32_t i, uint8_t op, const uint8_t* payload, size_t len);
  void flush(uint32_t i);
  Conn& conn(uint32_t i) { return conns_[i]; }
  uint32_t size() const { return uint32_t(conns_.size()); }
  int64_t now() const { return now_; }
  Rng& rng() { return rng_; }
  bool stopping() const { return stopping_; }

 private:
  friend struct DecodeSink;
  friend struct SseBodySink;
  void set_state(Conn& c, ConnState s);
  void start_connect(uint32_t i);
  void on_connected(uint32_t i);
  void on_readable(uint32_t i);
  void handle_handshake_bytes(uint32_t i, const uint8_t* p, size_t n);
  bool feed_frames(uint32_t i, const uint8_t* p, size_t n);
  bool feed_sse_body(uint32_t i, const uint8_t* p, size_t n);
  void handle_control(uint32_t i, uint8_t op, const uint8_t* p, size_t n);
  void fail(uint32_t i, FailKind kind, const std::string& why);
  void finish_close(uint32_t i);
  void set_interest(uint32_t i, uint32_t events, bool add = false);
  void maintenance();
  void note_error(FailKind k, const std::string& why);

  ClientOptions opts_;
  Rng rng_;
  Fd epoll_;
  std::vector<Conn> conns_;
  std::vector<uint8_t> scratch_;
  int64_t now_ = 0;
  int64_t ramp_start_ = 0;
  int64_t next_maintenance_ = 0;
  uint32_t cursor_ = 0;  // next connection never attempted
  uint32_t inflight_ = 0;
  uint32_t waiting_ = 0;
  uint32_t closing_ = 0;
  bool stopping_ = false;
  int extra_fd_ = -1;
  ClientStats stats_;
  std::array<std::string, size_t(FailKind::kCount)> first_errors_;
  std::string last_close_;  // " (code reason)" of the last Close frame from the server
};

}  // namespace sbbench
