#include "publisher.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace sbbench {
namespace {

constexpr size_t kMaxResponseBytes = 64 * 1024;
constexpr int64_t kReconnectDelayNs = 200 * kNsPerMs;

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t k = 0; k < name.size(); ++k) {
    char a = line[k], b = name[k];
    if (a >= 'A' && a <= 'Z') a = char(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  return out;
}

}  // namespace

struct Publisher::ApiConn {
  Fd fd;
  bool connecting = false;
  bool want_out = false;
  bool close_after = false;  // the server said Connection: close
  std::string out;
  size_t out_off = 0;
  std::vector<char> in = std::vector<char>(kMaxResponseBytes);
  size_t in_len = 0;
  std::vector<int64_t> sent_ts;  // ring of stamps of requests in flight, oldest first
  std::vector<uint32_t> sent_channel;  // ring of their target channels
  size_t head = 0;
  size_t count = 0;
  uint32_t index = 0;
};

Publisher::Publisher(PublisherOptions opts)
    : opts_(std::move(opts)), epoll_(epoll_create1(EPOLL_CLOEXEC)), api_latency_(std::make_unique<LatencyHistogram>()) {
  if (!epoll_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  if (opts_.channels.empty()) throw std::runtime_error("publisher: no channel");
  for (const auto& ch : opts_.channels) {
    std::string target = opts_.api.path + "/api/publish";
    if (opts_.plain) {
      target.clear();
      std::string_view tpl = opts_.api.path;
      for (size_t at; (at = tpl.find("{channel}")) != std::string_view::npos; tpl.remove_prefix(at + 9)) {
        target.append(tpl.substr(0, at));
        target += ch;
      }
      target.append(tpl);
    }
    head_prefix_.push_back("POST " + target + " HTTP/1.1\r\nHost: " + opts_.api.host_header +
                           (opts_.plain ? std::string() : "\r\nX-API-Key: " + opts_.api_key) +
                           "\r\nContent-Type: application/json\r\nUser-Agent: switchboard-bench\r\nContent-Length: ");
  }
  pad_.assign(opts_.size, 'x');
  for (uint32_t k = 0; k < opts_.connections; ++k) {
    auto c = std::make_unique<ApiConn>();
    c->index = k;
    c->sent_ts.resize(opts_.pipeline);
    c->sent_channel.resize(opts_.pipeline);
    c->out.reserve(size_t(opts_.pipeline) * (head_prefix_[0].size() + opts_.size + 128));
    conns_.push_back(std::move(c));
  }
}

Publisher::~Publisher() = default;

uint64_t Publisher::inflight() const {
  uint64_t n = 0;
  for (const auto& c : conns_) n += c->count;
  return n;
}

void Publisher::note_error(const std::string& why) {
  if (stats_.first_error.empty()) stats_.first_error = why;
}

void Publisher::connect(ApiConn& c) {
  int fd = ::socket(opts_.api.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++stats_.connect_failures;
    note_error(std::string("API socket(): ") + std::strerror(errno));
    return;
  }
  c.fd.reset(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.connecting = true;
  c.close_after = false;
  c.out.clear();
  c.out_off = 0;
  c.in_len = 0;
  c.head = c.count = 0;
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN;
  ev.data.u32 = c.index;
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  c.want_out = true;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&opts_.api.addr), opts_.api.addr_len) == 0) {
    finish_connect(c);
  } else if (errno != EINPROGRESS) {
    int err = errno;
    ++stats_.connect_failures;
    close_conn(c, std::string("API connect: ") + std::strerror(err));
  }
}

void Publisher::finish_connect(ApiConn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    ++stats_.connect_failures;
    close_conn(c, std::string("API connect: ") + std::strerror(err));
    return;
  }
  c.connecting = false;
  ++stats_.connects;
  flush(c);
}

void Publisher::close_conn(ApiConn& c, const std::string& why) {
  if (c.count > 0) {
    stats_.lost += c.count;
    note_error(why + " with " + std::to_string(c.count) + " request(s) in flight");
  } else if (c.connecting) {
    note_error(why);
  }
  c.fd.reset();
  c.connecting = false;
  c.want_out = false;
  c.out.clear();
  c.out_off = 0;
  c.in_len = 0;
  c.head = c.count = 0;
  next_connect_ns_ = now_ns() + kReconnectDelayNs;
}

void Publisher::flush(ApiConn& c) {
  if (!c.fd || c.connecting) return;
  while (c.out_off < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.want_out) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = c.index;
        epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
        c.want_out = true;
      }
      return;
    }
    close_conn(c, std::string("API send: ") + std::strerror(errno));
    return;
  }
  c.out.clear();
  c.out_off = 0;
  if (c.want_out) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = c.index;
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    c.want_out = false;
  }
}

void Publisher::process_events() {
  epoll_event events[64];
  int n = epoll_wait(epoll_.get(), events, 64, 0);
  for (int k = 0; k < n; ++k) {
    uint32_t idx = events[k].data.u32;
    if (idx >= conns_.size()) continue;
    ApiConn& c = *conns_[idx];
    if (!c.fd) continue;
    uint32_t ev = events[k].events;
    if (c.connecting) {
      if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) finish_connect(c);
      continue;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    if (c.fd && (ev & EPOLLOUT)) flush(c);
  }
}

void Publisher::on_readable(ApiConn& c) {
  while (c.fd) {
    if (c.in_len == c.in.size()) {
      close_conn(c, "API response larger than 64 KiB");
      return;
    }
    ssize_t n = ::recv(c.fd.get(), c.in.data() + c.in_len, c.in.size() - c.in_len, 0);
    if (n > 0) {
      c.in_len += size_t(n);
      if (!parse_responses(c)) return;
      continue;
    }
    if (n == 0) {
      close_conn(c, "API connection closed by the server");
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(c, std::string("API recv: ") + std::strerror(errno));
    return;
  }
}

bool Publisher::parse_responses(ApiConn& c) {
  size_t pos = 0;
  bool ok_to_continue = true;
  while (true) {
    std::string_view buf(c.in.data() + pos, c.in_len - pos);
    size_t head_end = buf.find("\r\n\r\n");
    if (head_end == std::string_view::npos) break;
    std::string_view head = buf.substr(0, head_end);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
      close_conn(c, "API answered with something that is not HTTP: " + printable(head, 80));
      return false;
    }
    int status = 0;
    for (size_t k = 9; k < 12; ++k) {
      if (head[k] < '0' || head[k] > '9') {
        close_conn(c, "API answered with a malformed status line");
        return false;
      }
      status = status * 10 + (head[k] - '0');
    }
    size_t content_length = 0;
    bool has_length = false, close_after = false;
    std::string_view rest = head;
    while (!rest.empty()) {
      size_t eol = rest.find("\r\n");
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
      if (iequals_prefix(line, "content-length:")) {
        std::string_view v = line.substr(15);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        content_length = 0;
        for (char ch : v) {
          if (ch < '0' || ch > '9' || content_length > kMaxResponseBytes) break;
          content_length = content_length * 10 + size_t(ch - '0');
        }
        has_length = true;
      } else if (iequals_prefix(line, "transfer-encoding:")) {
        close_conn(c, "API answered with Transfer-Encoding (not supported by the bench)");
        return false;
      } else if (iequals_prefix(line, "connection:") && line.find("close") != std::string_view::npos) {
        close_after = true;
      }
    }
    if (!has_length && status != 204 && status != 304) {
      close_conn(c, "API response without Content-Length");
      return false;
    }
    if (content_length > kMaxResponseBytes) {
      close_conn(c, "API response larger than 64 KiB");
      return false;
    }
    size_t total = head_end + 4 + content_length;
    if (buf.size() < total) break;
    std::string_view body = buf.substr(head_end + 4, content_length);
    pos += total;

    if (c.count == 0) {
      close_conn(c, "API sent a response nobody asked for");
      return false;
    }
    int64_t ts = c.sent_ts[c.head];
    uint32_t channel = c.sent_channel[c.head];
    c.head = (c.head + 1) % c.sent_ts.size();
    --c.count;
    stats_.last_status = status;
    bool ok = opts_.plain ? status >= 200 && status < 300
                          : status == 200 && body.find("\"result\"") != std::string_view::npos;
    if (ok) {
      ++stats_.ok;
      int64_t now = now_ns();
      api_latency_->record(uint64_t(std::max<int64_t>(0, now - ts)));
      if (ts >= win_start_ && ts < win_end_) {
        ++stats_.ok_in_window;
        ++stats_.ok_in_window_by_channel[channel];
      }
    } else {
      ++stats_.failed;
      note_error(std::string(opts_.plain ? "publish" : "API publish") + " answered HTTP " + std::to_string(status) + ": " +
                 printable(body, 200));
    }
    if (close_after) {
      c.close_after = true;
      ok_to_continue = false;
      break;
    }
  }
  if (pos > 0) {
    std::memmove(c.in.data(), c.in.data() + pos, c.in_len - pos);
    c.in_len -= pos;
  }
  if (!ok_to_continue) {
    close_conn(c, "API closed the keep-alive connection");
    return false;
  }
  return true;
}

void Publisher::start(double rate, int64_t start, int64_t win_start, int64_t win_end) {
  rate_ = rate;
  start_ = start;
  win_start_ = win_start;
  win_end_ = win_end;
  run_sent_ = 0;
  uint64_t connects = stats_.connects, connect_failures = stats_.connect_failures;
  stats_ = PublisherStats{};
  stats_.ok_in_window_by_channel.assign(opts_.channels.size(), 0);
  stats_.connects = connects;
  stats_.connect_failures = connect_failures;
  *api_latency_ = LatencyHistogram{};
  running_ = true;
}

void Publisher::write_publication(ApiConn& c, int64_t now) {
  // data = {"ts":T,"seq":S,"pad":"x…"} padded to exactly opts_.size bytes.
  char stamp[96];
  uint64_t seq = ++seq_;
  const uint32_t channel = target_channel(seq, opts_.channels.size(), opts_.shared_every);
  int stamp_len = std::snprintf(stamp, sizeof stamp, "{\"ts\":%lld,\"seq\":%llu,\"pad\":\"", (long long)now,
                                (unsigned long long)seq);
  size_t fixed = size_t(stamp_len) + 2;  // + `"}`
  size_t pad = opts_.size > fixed ? opts_.size - fixed : 0;
  const std::string& name = opts_.channels[channel];
  // API: {"channel":"…","data":…}; plain: the data alone.
  size_t body_len = opts_.plain ? fixed + pad : 12 + name.size() + 9 + fixed + pad + 1;
  char len_text[24];
  int len_len = std::snprintf(len_text, sizeof len_text, "%zu\r\n\r\n", body_len);
  c.out.append(head_prefix_[channel]);
  c.out.append(len_text, size_t(len_len));
  if (!opts_.plain) {
    c.out.append("{\"channel\":\"");
    c.out.append(name);
    c.out.append("\",\"data\":");
  }
  c.out.append(stamp, size_t(stamp_len));
  c.out.append(pad_.data(), pad);
  c.out.append(opts_.plain ? "\"}" : "\"}}");
  c.sent_ts[(c.head + c.count) % c.sent_ts.size()] = now;
  c.sent_channel[(c.head + c.count) % c.sent_ts.size()] = channel;
  ++c.count;
  ++stats_.sent;
  if (now >= win_start_ && now < win_end_) ++stats_.sent_in_window;
}

int64_t Publisher::pump(int64_t now) {
  // (Re)connect idle slots, at most every kReconnectDelayNs after a failure.
  if (now >= next_connect_ns_) {
    for (auto& c : conns_) {
      if (!c->fd) connect(*c);
    }
  }
  if (!running_) return INT64_MAX;
  const double ns_per_pub = 1e9 / rate_;
  uint64_t due = now < start_ ? 0 : uint64_t(double(now - start_) / ns_per_pub) + 1;
  uint64_t backlog = due > run_sent_ ? due - run_sent_ : 0;
  size_t n = conns_.size();
  while (backlog > 0) {
    ApiConn* target = nullptr;
    for (size_t k = 0; k < n && !target; ++k) {
      ApiConn& c = *conns_[(next_conn_ + k) % n];
      if (c.fd && !c.connecting && !c.close_after && c.count < c.sent_ts.size()) target = &c;
    }
    if (!target) break;
    next_conn_ = (target->index + 1) % uint32_t(n);
    write_publication(*target, now_ns());
    ++run_sent_;
    --backlog;
  }
  for (auto& c : conns_) {
    if (c->fd && c->out.size() > c->out_off) flush(*c);
  }
  stats_.max_backlog = std::max(stats_.max_backlog, backlog);
  // Pipelines full: the next response (a poll wake-up) frees a slot; the
  // timeout only bounds the wait.
  if (backlog > 0) return kNsPerMs;
  int64_t next_due = start_ + int64_t(std::ceil(double(run_sent_) * ns_per_pub));
  return std::max<int64_t>(0, next_due - now);
}

}  // namespace sbbench
