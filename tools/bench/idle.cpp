// `idle` mode: hold many mostly-silent WebSocket connections open and measure
// what they cost the server: VmRSS growth per connection and the kernel's TCP
// socket memory. With --subscribe CHANNEL each connection speaks the
// Centrifugo v2 JSON protocol: connect, subscribe to CHANNEL, answer the
// server's `{}` pings, so the figure is the cost of an idle subscriber. With
// --protocol raw|sse each connection is a raw WebSocket or an EventSource
// stream whose channel is in the URL ({channel} filled in). Connections are spread over forked child processes so no
// process needs more than --per-process descriptors (the machine caps open
// files per process); each child is one single-threaded event loop that
// reports to the parent through a pipe.
#include <sys/resource.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "centrifugo_worker.h"
#include "child_process.h"
#include "modes.h"
#include "options_common.h"

namespace sbbench {
namespace {

constexpr const char* kIdleHelp =
    "usage: switchboard-bench idle --url ws://127.0.0.1:PORT/PATH --connections N --server-pid PID [options]\n"
    "\n"
    "Opens N WebSocket connections (over as many processes as the per-process\n"
    "open-file cap requires), keeps them alive with pings, and reports the\n"
    "server's RSS growth per connection and the kernel's TCP memory.\n"
    "\n"
    "options:\n"
    "  --server-pid PID[,PID..]    process(es) whose VmRSS is measured, summed (nginx: its workers)\n"
    "  --hold D                    hold time after all are connected, before measuring (default 10s)\n"
    "  --ping-interval D           ping each connection this often, 0 = never (default 20s)\n"
    "  --per-process N             connections per child process (default 9000)\n"
    "  --subscribe CHANNEL         Centrifugo v2 JSON: connect, then subscribe each connection to CHANNEL\n"
    "                              and answer the server's {} pings (URL: .../connection/websocket)\n"
    "  --token JWT                 with --subscribe: connect with this token (default anonymous)\n"
    "  --channel NAME              raw/sse: the channel put into {channel} (default: --subscribe, or bench)\n"
    "  --channels K                each connection i also on its own channel c<i mod K> (centrifugo: with\n"
    "                              --subscribe; raw/sse: {channel} is c<i mod K>, {channel2} the shared one)\n"
    "                              (EventSource streams get no pings)\n";

// Fixed-size report a child writes to its status pipe; well under PIPE_BUF,
// so each write is atomic and reads always see whole records.
struct ChildStatus {
  uint64_t open = 0;
  uint64_t opened_total = 0;
  uint64_t failed_final = 0;
  uint64_t attempts = 0;
  uint64_t inflight = 0;
  uint64_t pings_sent = 0;
  uint64_t pongs_received = 0;
  uint64_t live = 0;            // with --subscribe: connected and subscribed
  uint64_t setting_up = 0;      // open, waiting for the connect/subscribe reply
  uint64_t connect_errors = 0;
  uint64_t subscribe_errors = 0;
  uint64_t pings_answered = 0;  // the server's {} pings answered
  uint64_t fails[size_t(FailKind::kCount)] = {};
  int32_t last_http_status = 0;
  uint8_t ramp_done = 0;
  uint8_t final_report = 0;
};
static_assert(sizeof(ChildStatus) < 512);

class IdleWorker final : public CentrifugoWorker {
 public:
  IdleWorker(ClientOptions opts, uint64_t seed, CentrifugoOptions proto, int64_t ping_interval, int control_fd)
      : CentrifugoWorker(std::move(opts), seed, std::move(proto)), control_fd_(control_fd), ping_interval_(ping_interval),
        next_ping_(size(), INT64_MAX) {
    watch_extra_fd(control_fd_);
  }

  bool quit_requested() const { return quit_; }

 protected:
  void on_live(uint32_t i) override {
    // Stagger pings so they do not arrive at the server in one burst.
    if (ping_interval_ > 0) next_ping_[i] = now() + 1 + int64_t(rng().below(uint64_t(ping_interval_)));
  }

  void on_tick() override {
    if (ping_interval_ <= 0 || now() < next_scan_ || stopping()) return;
    next_scan_ = now() + 100 * kNsPerMs;
    for (uint32_t i = 0; i < size(); ++i) {
      if (next_ping_[i] > now() || conn(i).state != ConnState::kOpen) continue;
      int64_t t = now();
      send_control(i, opcode::kPing, reinterpret_cast<const uint8_t*>(&t), sizeof t);
      flush(i);
      stats().pings_sent.add();
      next_ping_[i] = now() + ping_interval_;
    }
  }

  void on_extra_readable() override {
    // The parent closes our control pipe (EOF) or writes 'q' to end the run.
    char buf[16];
    ssize_t n = ::read(control_fd_, buf, sizeof buf);
    if (n == 0 || (n > 0 && std::memchr(buf, 'q', size_t(n))) || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      quit_ = true;
      unwatch_extra_fd();  // EOF stays readable: stop the loop from spinning on it
    }
  }

 private:
  int control_fd_;
  int64_t ping_interval_;
  std::vector<int64_t> next_ping_;
  int64_t next_scan_ = 0;
  bool quit_ = false;
};

ChildStatus snapshot(IdleWorker& w) {
  ChildStatus s;
  ClientStats& st = w.stats();
  s.open = st.open.get();
  s.opened_total = st.opened_total.get();
  s.failed_final = st.failed_final.get();
  s.attempts = st.attempts.get();
  s.inflight = w.inflight();
  s.pings_sent = st.pings_sent.get();
  s.pongs_received = st.pongs_received.get();
  for (size_t k = 0; k < size_t(FailKind::kCount); ++k) s.fails[k] = st.failures[k].get();
  s.last_http_status = st.last_http_status.load();
  s.live = w.proto_stats().live.get();
  s.setting_up = w.setting_up();
  s.connect_errors = w.proto_stats().connect_errors.get();
  s.subscribe_errors = w.proto_stats().subscribe_errors.get();
  s.pings_answered = w.proto_stats().pings_answered.get();
  s.ramp_done = w.setup_done();
  return s;
}

void write_status(int fd, const ChildStatus& s) {
  // Non-blocking write; if the parent is slow we just skip an update.
  [[maybe_unused]] ssize_t n = ::write(fd, &s, sizeof s);
}

// A child process: runs its share of the connections until the parent
// closes the control pipe, reporting its status every 200 ms.
int idle_child(uint32_t index, ClientOptions opts, CentrifugoOptions proto, int64_t ping_interval, int status_fd,
               int control_fd) {
  IdleWorker w(std::move(opts), child_seed(index), std::move(proto), ping_interval, control_fd);
  int64_t next_status = 0;
  while (!w.quit_requested()) {
    w.step(50);
    if (now_ns() >= next_status) {
      write_status(status_fd, snapshot(w));
      next_status = now_ns() + 200 * kNsPerMs;
    }
  }
  w.close_all_and_wait(3 * kNsPerSec);
  ChildStatus fin = snapshot(w);
  fin.final_report = 1;
  write_status(status_fd, fin);
  for (size_t k = 0; k < size_t(FailKind::kCount); ++k) {
    if (!w.first_errors()[k].empty()) {
      std::fprintf(stderr, "[idle process %u] first %s error: %s\n", index, fail_kind_name(FailKind(k)),
                   w.first_errors()[k].c_str());
    }
  }
  if (!w.first_reply_error().empty()) {
    std::fprintf(stderr, "[idle process %u] first refusal: %s\n", index, w.first_reply_error().c_str());
  }
  return 0;
}

struct Child : ChildProcess {
  ChildStatus last;
  bool got_status = false;
};

// Keeps the newest status record of what the child's pipe brought.
void take_status(Child& ch) {
  const size_t records = ch.buf.size() / sizeof(ChildStatus);
  if (records == 0) return;
  std::memcpy(&ch.last, ch.buf.data() + (records - 1) * sizeof(ChildStatus), sizeof(ChildStatus));
  ch.got_status = true;
  ch.buf.erase(ch.buf.begin(), ch.buf.begin() + ptrdiff_t(records * sizeof(ChildStatus)));
}

std::string kb_or_na(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "na"; }

}  // namespace

int run_idle(std::span<char* const> argv) {
  static constexpr OptSpec kOwn[] = {
      {"server-pid", true}, {"hold", true},      {"ping-interval", true}, {"per-process", true},
      {"subscribe", true},  {"token", true},     {"protocol", true},      {"channel", true},
      {"channels", true}};
  std::vector<OptSpec> specs(std::begin(kCommonOpts), std::end(kCommonOpts));
  specs.insert(specs.end(), std::begin(kOwn), std::end(kOwn));
  Args a("idle", argv, specs);
  if (a.has("help")) {
    std::printf("%s%s%s", kIdleHelp, kCommonHelp, kProtocolHelp);
    return kExitOk;
  }
  const Protocol protocol = parse_protocol(a);
  ClientOptions base = common_client_options(a, 1000, 3000, "connections", "rate", protocol);
  int64_t hold = a.duration_ns("hold", 10 * kNsPerSec, 0, 3600 * kNsPerSec);
  int64_t ping_interval = a.duration_ns("ping-interval", 20 * kNsPerSec, 0, 3600 * kNsPerSec);
  if (protocol == Protocol::kSse) ping_interval = 0;  // nothing to ping on an event stream
  const uint32_t channels = uint32_t(a.u64("channels", 0, 0, 1'000'000));
  uint64_t per_process = a.u64("per-process", 9000, 1, 1'000'000);
  bool quiet = a.has("quiet");
  CentrifugoOptions proto;
  if (protocol != Protocol::kCentrifugo) {
    std::string channel = a.str("channel").value_or(a.str("subscribe").value_or("bench"));
    proto = subscriber_options(a, protocol, base, channel, channels);
  } else if (auto ch = a.str("subscribe")) {
    if (ch->empty()) throw UsageError("--subscribe needs a channel name");
    proto = subscriber_options(a, protocol, base, *ch, channels);
  } else if (a.has("token") || channels > 0) {
    throw UsageError("--token and --channels only make sense with --subscribe (or --protocol raw/sse)");
  }
  // Raw/SSE connections are subscribed by their URL: live as soon as open.
  const bool subscribing = proto.enabled || protocol != Protocol::kCentrifugo;
  std::optional<ServerProcesses> server_pid;
  if (auto text = a.str("server-pid")) server_pid = ServerProcesses::parse(*text);

  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (per_process + 64 > rl.rlim_max) {
    throw UsageError("--per-process " + std::to_string(per_process) + " exceeds the open-file hard limit " +
                     std::to_string(rl.rlim_max) + " (minus 64 spare); lower it");
  }
  const uint64_t total = base.connections;
  const uint32_t nproc = uint32_t((total + per_process - 1) / per_process);

  int64_t ramp_budget = int64_t(double(total) / base.rate_per_sec * 1e9) * 3 + 30 * kNsPerSec;
  int64_t deadline_len = a.duration_ns("timeout", ramp_budget + hold + 30 * kNsPerSec, kNsPerSec, 86400 * kNsPerSec);
  alarm(unsigned(deadline_len / kNsPerSec + 20));  // backstop; children die with us (PDEATHSIG)

  auto rss_before = server_pid ? server_pid->rss_kb() : std::nullopt;
  auto sock_before = read_sockstat();
  long page = sysconf(_SC_PAGESIZE);

  std::printf("idle: %" PRIu64 " connections (protocol %s) to %s over %u process(es), hold %s, ping every %s%s\n",
              total, protocol_name(protocol), base.url.text.c_str(), nproc, format_duration(hold).c_str(),
              ping_interval > 0 ? format_duration(ping_interval).c_str() : "never",
              subscribing ? (", channel '" + proto.channel + "'" +
                             (channels ? " + own of " + std::to_string(channels) + " channels" : std::string()))
                                .c_str()
                          : "");
  std::vector<Child> children(nproc);
  std::fflush(stdout);
  std::fflush(stderr);
  uint64_t first_index = 0;
  for (uint32_t c = 0; c < nproc; ++c) {
    ClientOptions o = base;
    o.connections = uint32_t(share_of(total, nproc, c));
    o.rate_per_sec = base.rate_per_sec / nproc;
    CentrifugoOptions child_proto = proto;
    child_proto.first_index = first_index;
    first_index += o.connections;
    spawn_child(children, c, "idle", [&](int status_fd, int control_fd) {
      return idle_child(c, std::move(o), std::move(child_proto), ping_interval, status_fd, control_fd);
    });
  }

  auto drain = [&](int timeout_ms) {
    poll_children(children, timeout_ms);
    for (auto& ch : children) take_status(ch);
  };
  auto totals = [&] {
    ChildStatus t;
    for (auto& ch : children) {
      t.open += ch.last.open;
      t.opened_total += ch.last.opened_total;
      t.failed_final += ch.last.failed_final;
      t.attempts += ch.last.attempts;
      t.inflight += ch.last.inflight;
      t.pings_sent += ch.last.pings_sent;
      t.pongs_received += ch.last.pongs_received;
      t.live += ch.last.live;
      t.setting_up += ch.last.setting_up;
      t.connect_errors += ch.last.connect_errors;
      t.subscribe_errors += ch.last.subscribe_errors;
      t.pings_answered += ch.last.pings_answered;
      for (size_t k = 0; k < size_t(FailKind::kCount); ++k) t.fails[k] += ch.last.fails[k];
      if (ch.last.last_http_status) t.last_http_status = ch.last.last_http_status;
    }
    return t;
  };

  const int64_t t0 = now_ns();
  const int64_t deadline = t0 + deadline_len;
  int64_t hold_start = 0;
  int64_t last_report = 0;
  bool ramp_timed_out = false, deadline_hit = false, child_died = false;
  while (true) {
    drain(100);
    int64_t now = now_ns();
    ChildStatus t = totals();
    bool all_done = true;
    for (auto& ch : children) {
      if (ch.eof) child_died = true;
      all_done = all_done && ch.got_status && ch.last.ramp_done;
    }
    if (child_died) break;
    if (!hold_start && (all_done || now - t0 >= ramp_budget)) {
      ramp_timed_out = !all_done;
      hold_start = now;
      if ((subscribing ? t.live : t.open) == 0) break;
    }
    if (hold_start && now - hold_start >= hold) break;
    if (now >= deadline) {
      deadline_hit = true;
      break;
    }
    if (now - last_report >= kNsPerSec) {
      last_report = now;
      char line[256];
      if (!hold_start && subscribing) {
        std::snprintf(line, sizeof line,
                      "[idle] subscribed %" PRIu64 "/%" PRIu64 " (open %" PRIu64 ", setting up %" PRIu64 ") failed %" PRIu64
                      " in-flight %" PRIu64 " | %u process(es) | ramping %llds",
                      t.live, total, t.open, t.setting_up, t.failed_final, t.inflight, nproc,
                      (long long)((now - t0) / kNsPerSec));
      } else if (!hold_start) {
        std::snprintf(line, sizeof line,
                      "[idle] connected %" PRIu64 "/%" PRIu64 " failed %" PRIu64 " in-flight %" PRIu64
                      " | %u process(es) | ramping %llds",
                      t.open, total, t.failed_final, t.inflight, nproc, (long long)((now - t0) / kNsPerSec));
      } else {
        std::snprintf(line, sizeof line,
                      "[idle] connected %" PRIu64 "/%" PRIu64 " failed %" PRIu64 " | holding %llds/%llds | pongs %" PRIu64,
                      t.open, total, t.failed_final, (long long)((now - hold_start) / kNsPerSec),
                      (long long)(hold / kNsPerSec), t.pongs_received);
      }
      progress(line, quiet);
    }
  }
  progress_done(quiet);

  // Measure while every connection is still held.
  ChildStatus at_measure = totals();
  auto rss_after = server_pid ? server_pid->rss_kb() : std::nullopt;
  auto sock_after = read_sockstat();
  bool server_gone = server_pid && !rss_after;

  // Tell children to close (EOF on their control pipes), collect final reports.
  finish_children(children, 6 * kNsPerSec, [&] {
    for (auto& ch : children) take_status(ch);
  });
  ChildStatus fin = totals();

  std::array<uint64_t, size_t(FailKind::kCount)> fails{};
  for (size_t k = 0; k < fails.size(); ++k) fails[k] = fin.fails[k];
  if (auto f = failure_summary(fails); !f.empty()) {
    std::fprintf(stderr, "failures (per attempt): %s\n%s", f.c_str(), failure_advice(fails, fin.last_http_status).c_str());
  }
  if (child_died) std::fprintf(stderr, "error: a client process exited unexpectedly\n");
  if (ramp_timed_out) std::fprintf(stderr, "warning: ramp did not finish within %s\n", format_duration(ramp_budget).c_str());
  if (deadline_hit) std::fprintf(stderr, "error: global deadline reached; results are partial\n");
  if (server_gone) std::fprintf(stderr, "error: server process %s disappeared during the run\n", server_pid->text().c_str());

  // With --subscribe the cost is per idle subscriber: only subscribed connections count.
  uint64_t conns = subscribing ? at_measure.live : at_measure.open;
  std::optional<double> per_conn;
  if (rss_before && rss_after && conns > 0) {
    per_conn = (double(*rss_after) - double(*rss_before)) * 1024.0 / double(conns);
  }
  std::optional<double> tcp_per_conn;
  if (sock_before && sock_after && conns > 0) {
    tcp_per_conn = (double(sock_after->tcp_mem_pages) - double(sock_before->tcp_mem_pages)) * double(page) / double(conns);
  }

  std::printf("connections: %" PRIu64 " requested over %u process(es), %" PRIu64 " open when measured, %" PRIu64
              " given up, %" PRIu64 " attempts\n",
              total, nproc, at_measure.open, fin.failed_final, fin.attempts);
  if (subscribing) {
    std::printf("subscribed:  %" PRIu64 " to '%s' when measured (connect refused %" PRIu64 ", subscribe refused %" PRIu64
                "), %" PRIu64 " server pings answered\n",
                conns, proto.channel.c_str(), fin.connect_errors, fin.subscribe_errors, fin.pings_answered);
  }
  if (server_pid) {
    std::printf("server RSS:  pid %s  before %s KiB  after %s KiB", server_pid->text().c_str(), kb_or_na(rss_before).c_str(),
                kb_or_na(rss_after).c_str());
    if (per_conn) std::printf("  => %.0f bytes per %s", *per_conn, subscribing ? "subscribed connection" : "connection");
    std::printf("\n");
  }
  if (sock_before && sock_after) {
    std::printf("kernel TCP:  sockets %" PRIu64 " -> %" PRIu64 ", mem %" PRIu64 " -> %" PRIu64
                " pages (%ld B/page; both ends of each loopback connection)\n",
                sock_before->tcp_alloc, sock_after->tcp_alloc, sock_before->tcp_mem_pages, sock_after->tcp_mem_pages,
                page);
  }
  std::printf("keepalive:   %" PRIu64 " pings sent, %" PRIu64 " pongs received\n", fin.pings_sent, fin.pongs_received);
  std::printf("RESULT idle protocol=%s connections=%" PRIu64 " connected=%" PRIu64 " failed=%" PRIu64 " processes=%u rss_before_kb=%s "
              "rss_after_kb=%s bytes_per_conn=%s tcp_mem_pages_before=%s tcp_mem_pages_after=%s tcp_bytes_per_conn=%s "
              "server_refusals=%" PRIu64 " pings=%" PRIu64 " pongs=%" PRIu64 " subscribed=%s pings_answered=%" PRIu64 "\n",
              protocol_name(protocol), total, at_measure.open, fin.failed_final, nproc, kb_or_na(rss_before).c_str(), kb_or_na(rss_after).c_str(),
              per_conn ? std::to_string(int64_t(*per_conn)).c_str() : "na",
              sock_before ? std::to_string(sock_before->tcp_mem_pages).c_str() : "na",
              sock_after ? std::to_string(sock_after->tcp_mem_pages).c_str() : "na",
              tcp_per_conn ? std::to_string(int64_t(*tcp_per_conn)).c_str() : "na", server_refusals(fails), fin.pings_sent,
              fin.pongs_received, subscribing ? std::to_string(conns).c_str() : "na", fin.pings_answered);
  std::fflush(stdout);
  if (conns == 0 || child_died || deadline_hit || server_gone) return kExitFailure;
  return conns < total ? kExitPartial : kExitOk;
}

}  // namespace sbbench
