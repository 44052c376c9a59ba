#include "client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sbbench {
namespace {

constexpr uint32_t kExtraTag = UINT32_MAX;
constexpr int64_t kMaintenanceEveryNs = 20 * kNsPerMs;
constexpr int64_t kCloseGraceNs = 1 * kNsPerSec;
constexpr size_t kScratchSize = 256 * 1024;

FailKind classify_errno(int err, bool connecting) {
  switch (err) {
    case ECONNREFUSED: return FailKind::kRefused;
    case ECONNRESET:
    case EPIPE: return connecting ? FailKind::kClosedInHandshake : FailKind::kDropped;
    case ETIMEDOUT: return FailKind::kTimeout;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
    case EAGAIN: return FailKind::kLocalLimit;  // EAGAIN from connect(): no ephemeral ports
    default: return FailKind::kOther;
  }
}

}  // namespace

const char* fail_kind_name(FailKind k) {
  switch (k) {
    case FailKind::kRefused: return "refused";
    case FailKind::kClosedInHandshake: return "closed_in_handshake";
    case FailKind::kTimeout: return "timeout";
    case FailKind::kHttpStatus: return "http_status";
    case FailKind::kBadHandshake: return "bad_handshake";
    case FailKind::kLocalLimit: return "local_limit";
    case FailKind::kDropped: return "dropped";
    case FailKind::kProtocol: return "protocol";
    case FailKind::kRejected: return "rejected";
    case FailKind::kOther: return "other";
    case FailKind::kCount: break;
  }
  return "?";
}

// Adapter handed to FrameDecoder::feed for one connection.
struct DecodeSink {
  Worker& w;
  uint32_t i;
  void on_data(const uint8_t* p, size_t n) {
    if (!w.conns_[i].peer_closed) w.on_data(i, p, n);
  }
  void on_message_end(uint8_t op) {
    if (!w.conns_[i].peer_closed) w.on_message_end(i, op);
  }
  void on_control(uint8_t op, const uint8_t* p, size_t n) { w.handle_control(i, op, p, n); }
};

// Adapter handed to ChunkedDecoder::feed for one SSE connection.
struct SseBodySink {
  Worker& w;
  uint32_t i;
  void on_body(const uint8_t* p, size_t n) { w.on_data(i, p, n); }
};

Worker::Worker(ClientOptions opts, uint64_t seed)
    : opts_(std::move(opts)), rng_(seed), epoll_(epoll_create1(EPOLL_CLOEXEC)), conns_(opts_.connections),
      scratch_(kScratchSize) {
  if (!epoll_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  for (auto& c : conns_) c.out.reserve(opts_.out_reserve);
  now_ = now_ns();
  ramp_start_ = now_;
  if (opts_.manual_start) cursor_ = uint32_t(conns_.size());  // no ramp: open_slot() starts attempts
}

bool Worker::open_slot(uint32_t i) {
  if (i >= conns_.size() || !slot_idle(i) || stopping_) return false;
  Conn& c = conns_[i];
  if (c.state == ConnState::kFailed) set_state(c, ConnState::kPending);
  c.attempts = 0;
  now_ = now_ns();
  start_connect(i);
  return true;
}

void Worker::close_now(uint32_t i) {
  Conn& c = conns_[i];
  if (c.fd && c.state == ConnState::kOpen && opts_.transport == Transport::kWebSocket) {
    static constexpr uint8_t kGoingAway[2] = {0x03, 0xE9};  // 1001
    c.out.clear();
    send_control(i, opcode::kClose, kGoingAway, 2);
    ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  c.fd.reset();
  c.want_out = false;
  c.out.clear();
  std::string().swap(c.hs);
  std::string().swap(c.accept);
  if (c.was_open) {
    c.was_open = false;
    stats_.open.sub();
    on_lost(i);
  }
  set_state(c, ConnState::kDone);
}

void Worker::watch_extra_fd(int fd) {
  extra_fd_ = fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = kExtraTag;
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
}

void Worker::unwatch_extra_fd() {
  if (extra_fd_ >= 0) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, extra_fd_, nullptr);
  extra_fd_ = -1;
}

void Worker::set_state(Conn& c, ConnState s) {
  auto counted = [](ConnState st, uint32_t& inflight, uint32_t& waiting, uint32_t& closing) -> uint32_t* {
    switch (st) {
      case ConnState::kConnecting:
      case ConnState::kHandshaking: return &inflight;
      case ConnState::kWaitRetry: return &waiting;
      case ConnState::kClosing: return &closing;
      default: return nullptr;
    }
  };
  if (auto* from = counted(c.state, inflight_, waiting_, closing_)) --*from;
  if (auto* to = counted(s, inflight_, waiting_, closing_)) ++*to;
  c.state = s;
}

void Worker::note_error(FailKind k, const std::string& why) {
  auto& slot = first_errors_[size_t(k)];
  if (slot.empty()) slot = why;
}

void Worker::set_interest(uint32_t i, uint32_t events, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u32 = i;
  epoll_ctl(epoll_.get(), add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, conns_[i].fd.get(), &ev);
  conns_[i].want_out = (events & EPOLLOUT) != 0;
}

void Worker::start_connect(uint32_t i) {
  Conn& c = conns_[i];
  ++c.attempts;
  stats_.attempts.add();
  c.was_open = false;
  c.peer_closed = false;
  c.chunked = false;
  c.dec.reset();
  c.chunks.reset();
  c.out.clear();
  int fd = ::socket(opts_.url.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    set_state(c, ConnState::kConnecting);
    fail(i, classify_errno(err, true), std::string("socket(): ") + std::strerror(err));
    return;
  }
  c.fd.reset(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_state(c, ConnState::kConnecting);
  c.timer_ns = now_ + opts_.connect_timeout_ns;
  set_interest(i, EPOLLOUT, /*add=*/true);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&opts_.url.addr), opts_.url.addr_len) == 0) {
    on_connected(i);
  } else if (errno != EINPROGRESS) {
    int err = errno;
    fail(i, classify_errno(err, true), std::string("connect(): ") + std::strerror(err));
  }
}

void Worker::on_connected(uint32_t i) {
  Conn& c = conns_[i];
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    fail(i, classify_errno(err, true), std::string("connect: ") + std::strerror(err));
    return;
  }
  std::string req;
  if (opts_.transport == Transport::kSse) {
    req = build_sse_request(opts_.url, request_target(i), opts_.headers);
  } else {
    std::string key = make_ws_key(rng_.next(), rng_.next());
    c.accept = ws_accept_for(key);
    WsUrl target = opts_.url;
    target.path = request_target(i);
    req = build_upgrade_request(target, key, opts_.subprotocol, opts_.headers);
  }
  std::memcpy(c.out.prepare(req.size()), req.data(), req.size());
  c.out.commit(req.size());
  c.hs.clear();
  set_state(c, ConnState::kHandshaking);
  set_interest(i, EPOLLIN);
  flush(i);
}

void Worker::flush(uint32_t i) {
  Conn& c = conns_[i];
  if (!c.fd || c.state == ConnState::kConnecting) return;
  while (c.out.size() > 0) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.consume(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.want_out) set_interest(i, EPOLLIN | EPOLLOUT);
      return;
    }
    int err = errno;
    bool handshaking = c.state == ConnState::kHandshaking;
    fail(i, classify_errno(err, handshaking), std::string("send: ") + std::strerror(err));
    return;
  }
  if (c.want_out) set_interest(i, EPOLLIN);
}

void Worker::send_control(uint32_t i, uint8_t op, const uint8_t* payload, size_t len) {
  Conn& c = conns_[i];
  uint8_t* p = c.out.prepare(client_frame_size(len));
  c.out.commit(write_client_frame(p, op, true, payload, len, rng_.next32()));
}

void Worker::send_text(uint32_t i, std::string_view text) {
  Conn& c = conns_[i];
  uint8_t* p = c.out.prepare(client_frame_size(text.size()));
  c.out.commit(write_client_frame(p, opcode::kText, true, reinterpret_cast<const uint8_t*>(text.data()), text.size(),
                                  rng_.next32()));
}

void Worker::handle_control(uint32_t i, uint8_t op, const uint8_t* p, size_t n) {
  Conn& c = conns_[i];
  if (c.peer_closed) return;
  if (op == opcode::kPing) {
    send_control(i, opcode::kPong, p, n);
  } else if (op == opcode::kPong) {
    stats_.pongs_received.add();
  } else if (op == opcode::kClose) {
    c.peer_closed = true;
    // Keep the status and reason for the failure message ("3501 bad request").
    last_close_.clear();
    if (n >= 2) {
      last_close_ = " (" + std::to_string((unsigned(p[0]) << 8) | p[1]);
      for (size_t k = 2; k < n && k < 66; ++k) {
        char ch = char(p[k]);
        if (k == 2) last_close_ += ' ';
        last_close_ += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
      }
      last_close_ += ')';
    }
    if (c.state == ConnState::kOpen) {
      // Server-initiated close: echo its status code, as RFC 6455 asks.
      send_control(i, opcode::kClose, p, n >= 2 ? 2 : 0);
    }
  }
}

bool Worker::feed_frames(uint32_t i, const uint8_t* p, size_t n) {
  DecodeSink sink{*this, i};
  Conn& c = conns_[i];
  if (!c.dec.feed(p, n, sink)) {
    fail(i, FailKind::kProtocol, std::string("invalid frame from server: ") + c.dec.error());
    return false;
  }
  if (c.peer_closed) {
    if (c.state == ConnState::kClosing) {
      finish_close(i);
    } else {
      flush(i);
      if (c.fd) fail(i, FailKind::kDropped, "server sent a Close frame" + last_close_);
    }
    return false;
  }
  return true;
}

bool Worker::feed_sse_body(uint32_t i, const uint8_t* p, size_t n) {
  Conn& c = conns_[i];
  if (!c.chunked) {
    on_data(i, p, n);
    return bool(c.fd);
  }
  SseBodySink sink{*this, i};
  if (!c.chunks.feed(p, n, sink)) {
    fail(i, FailKind::kProtocol, std::string("invalid chunked body: ") + c.chunks.error());
    return false;
  }
  if (c.fd && c.chunks.end()) {
    fail(i, FailKind::kDropped, "server ended the event stream");
    return false;
  }
  return bool(c.fd);
}

void Worker::handle_handshake_bytes(uint32_t i, const uint8_t* p, size_t n) {
  Conn& c = conns_[i];
  c.hs.append(reinterpret_cast<const char*>(p), n);
  const bool sse = opts_.transport == Transport::kSse;
  HttpHeadResult r = sse ? parse_sse_response(c.hs) : parse_upgrade_response(c.hs, c.accept);
  switch (r.status) {
    case HttpHeadResult::kIncomplete: return;  // an oversized head is kBadHeaders, so c.hs stays bounded
    case HttpHeadResult::kBadStatus:
      stats_.last_http_status.store(r.http_status, std::memory_order_relaxed);
      fail(i, FailKind::kHttpStatus, (sse ? "event stream refused: " : "upgrade refused: ") + r.error);
      return;
    case HttpHeadResult::kBadHeaders:
      fail(i, FailKind::kBadHandshake, (sse ? "bad event-stream response: " : "bad upgrade response: ") + r.error);
      return;
    case HttpHeadResult::kOk: break;
  }
  // What followed the head is the start of the event stream or the first frames.
  std::string rest = c.hs.substr(r.consumed);
  std::string().swap(c.hs);  // handshake state is dead weight from now on
  std::string().swap(c.accept);
  c.chunked = r.chunked;
  set_state(c, ConnState::kOpen);
  c.was_open = true;
  stats_.open.add();
  stats_.opened_total.add();
  on_open(i);
  if (!rest.empty() && c.state == ConnState::kOpen) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(rest.data());
    if (!(sse ? feed_sse_body(i, bytes, rest.size()) : feed_frames(i, bytes, rest.size()))) return;
  }
  if (c.fd) flush(i);
}

void Worker::on_readable(uint32_t i) {
  Conn& c = conns_[i];
  // Bounded reads per wakeup keep one chatty connection from starving others.
  for (int round = 0; round < 4 && c.fd; ++round) {
    ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), 0);
    if (n > 0) {
      now_ = now_ns();
      if (c.state == ConnState::kHandshaking) {
        handle_handshake_bytes(i, scratch_.data(), size_t(n));
      } else if (opts_.transport == Transport::kSse) {
        if (c.state == ConnState::kOpen && !feed_sse_body(i, scratch_.data(), size_t(n))) return;
      } else if (c.state == ConnState::kOpen || c.state == ConnState::kClosing) {
        if (!feed_frames(i, scratch_.data(), size_t(n))) return;
      }
      if (size_t(n) < scratch_.size()) break;
      continue;
    }
    if (n == 0) {
      if (c.state == ConnState::kClosing) finish_close(i);
      else if (c.state == ConnState::kHandshaking)
        fail(i, FailKind::kClosedInHandshake, "server closed the connection before answering the upgrade");
      else fail(i, FailKind::kDropped, "server closed the TCP connection");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    int err = errno;
    if (c.state == ConnState::kClosing) finish_close(i);
    else fail(i, classify_errno(err, c.state == ConnState::kHandshaking), std::string("recv: ") + std::strerror(err));
    return;
  }
  if (c.fd && c.out.size() > 0) flush(i);
}

void Worker::fail(uint32_t i, FailKind kind, const std::string& why) {
  Conn& c = conns_[i];
  c.fd.reset();  // closing the fd also removes it from the epoll set
  c.want_out = false;
  c.out.clear();
  std::string().swap(c.hs);
  std::string().swap(c.accept);
  stats_.failures[size_t(kind)].add();
  note_error(kind, why);
  if (c.was_open) {
    c.was_open = false;
    stats_.open.sub();
    on_lost(i);
  }
  on_attempt_failed(i, kind);
  if (stopping_) {
    set_state(c, ConnState::kDone);
  } else if (c.attempts <= opts_.max_retries) {
    // Exponential backoff from 100 ms, capped at 2 s, with jitter so a
    // refused burst does not come back as one synchronized burst.
    int64_t base = std::min<int64_t>(2 * kNsPerSec, (100 * kNsPerMs) << std::min<int>(c.attempts - 1, 5));
    c.timer_ns = now_ + base + int64_t(rng_.below(uint64_t(base / 2) + 1));
    set_state(c, ConnState::kWaitRetry);
  } else {
    set_state(c, ConnState::kFailed);
    stats_.failed_final.add();
  }
}

void Worker::finish_close(uint32_t i) {
  Conn& c = conns_[i];
  c.fd.reset();
  c.want_out = false;
  c.out.clear();
  if (c.was_open) {
    c.was_open = false;
    stats_.open.sub();
  }
  set_state(c, ConnState::kDone);
}

bool Worker::ramp_done() const { return cursor_ == conns_.size() && inflight_ == 0 && waiting_ == 0; }

void Worker::close_all() {
  stopping_ = true;
  now_ = now_ns();
  static constexpr uint8_t kNormal[2] = {0x03, 0xE8};  // 1000
  for (uint32_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    switch (c.state) {
      case ConnState::kOpen:
        if (opts_.transport == Transport::kSse) {
          finish_close(i);  // an event stream ends by closing the connection
          break;
        }
        send_control(i, opcode::kClose, kNormal, 2);
        set_state(c, ConnState::kClosing);
        c.timer_ns = now_ + kCloseGraceNs;
        flush(i);
        break;
      case ConnState::kConnecting:
      case ConnState::kHandshaking:
      case ConnState::kWaitRetry:
      case ConnState::kPending:
        c.fd.reset();
        set_state(c, ConnState::kDone);
        break;
      default: break;
    }
  }
  cursor_ = uint32_t(conns_.size());
}

void Worker::close_all_and_wait(int64_t grace_ns) {
  close_all();
  const int64_t give_up = now_ns() + grace_ns;
  while (!all_closed() && now_ns() < give_up) step(10);
}

void Worker::maintenance() {
  // New first attempts, paced at rate_per_sec and bounded by max_inflight.
  if (!stopping_ && cursor_ < conns_.size()) {
    double elapsed = double(now_ - ramp_start_) / 1e9;
    uint64_t allowed = uint64_t(elapsed * opts_.rate_per_sec) + 1;
    while (cursor_ < conns_.size() && cursor_ < allowed && inflight_ < opts_.max_inflight) {
      start_connect(cursor_++);
    }
  }
  if (inflight_ == 0 && waiting_ == 0 && closing_ == 0) return;
  for (uint32_t i = 0; i < cursor_; ++i) {
    Conn& c = conns_[i];
    if (c.timer_ns > now_) continue;
    switch (c.state) {
      case ConnState::kConnecting:
      case ConnState::kHandshaking:
        fail(i, FailKind::kTimeout,
             std::string(c.state == ConnState::kConnecting ? "TCP connect" : "upgrade handshake") + " timed out after " +
                 format_duration(opts_.connect_timeout_ns));
        break;
      case ConnState::kWaitRetry:
        if (inflight_ < opts_.max_inflight) start_connect(i);
        break;
      case ConnState::kClosing: finish_close(i); break;
      default: break;
    }
  }
}

void Worker::step(int timeout_ms) {
  if (!stopping_ && cursor_ < conns_.size()) timeout_ms = std::min(timeout_ms, 5);
  epoll_event events[512];
  int n = epoll_wait(epoll_.get(), events, 512, timeout_ms);
  now_ = now_ns();
  for (int k = 0; k < n; ++k) {
    uint32_t i = events[k].data.u32;
    uint32_t ev = events[k].events;
    if (i == kExtraTag) {
      on_extra_readable();
      continue;
    }
    Conn& c = conns_[i];
    if (!c.fd) continue;
    if (c.state == ConnState::kConnecting) {
      if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(i);
      continue;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(i);
    if (c.fd && (ev & EPOLLOUT)) flush(i);
  }
  if (now_ >= next_maintenance_) {
    next_maintenance_ = now_ + kMaintenanceEveryNs;
    maintenance();
  }
  on_tick();
}

}  // namespace sbbench
