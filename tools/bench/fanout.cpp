// `fanout` mode: N subscribers on one channel of a server, and a publisher
// that publishes R publications/s through its HTTP API. Subscribers speak
// the Centrifugo protocol, or (--protocol raw|sse) take their channels from
// the URL and receive publications as WebSocket messages or SSE events;
// publications then go to --publish-url. With --channels K every subscriber
// also has a channel of its own (c<i mod K>) and publications are spread
// round-robin over the K channels and the shared one. Every subscriber records publish→deliver latency from the publish time
// stamped into each publication (CLOCK_MONOTONIC; publisher and subscribers
// run on the same machine), and counts what it received against what was
// acknowledged, so loss and lag are visible.
//
// Subscribers live in forked child processes (one single-threaded epoll loop
// each, as many as the per-process open-file cap or --processes asks); the
// parent publishes, paces the steps (one per rate in --rate), and merges the
// children's counters and histograms, which they write back over a pipe.
// Each step: warm-up (published, not counted), a measured window, a drain
// until every acknowledged publication is delivered or --drain passes.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>

#include "centrifugo_worker.h"
#include "child_process.h"
#include "histogram.h"
#include "modes.h"
#include "options_common.h"
#include "publisher.h"
#include "stamp_scanner.h"

namespace sbbench {
namespace {

constexpr const char* kFanoutHelp =
    "usage: switchboard-bench fanout --url ws://127.0.0.1:PORT/connection/websocket --api http://127.0.0.1:PORT\n"
    "                                --api-key KEY [options]\n"
    "\n"
    "Opens --subscribers connections speaking the Centrifugo v2 JSON protocol, connects\n"
    "(anonymously, or with --token) and subscribes each to --channel, then publishes\n"
    "--rate publications/s of --size bytes through POST /api/publish. After a warm-up,\n"
    "every delivery in the --duration window is timed from publish to receipt. With a\n"
    "list of rates (--rate 10,50,100) the subscribers stay connected and each rate is\n"
    "one step with its own figures.\n"
    "\n"
    "Other servers: --protocol raw|sse with --url 'ws://127.0.0.1:P/sub?channel={channel}' (sse: http://)\n"
    "and --publish-url 'http://127.0.0.1:P/pub?channel={channel}' (POST, the body is the data).\n"
    "\n"
    "options:\n"
    "  --url ws://HOST:PORT/PATH      WebSocket endpoint (loopback only; sse: http://)\n"
    "  --api http://HOST:PORT         server HTTP API base (loopback only)\n"
    "  --api-key KEY                  X-API-Key for /api/publish\n"
    "  --publish-url URL              instead of --api: POST each publication's data to URL, {channel}\n"
    "                                 filled in (any 2xx answer is success)\n"
    "  --channels K                   every subscriber also subscribes to its own channel c<i mod K>;\n"
    "                                 publications go round-robin over c0..c<K-1> and --channel (default 0)\n"
    "  --shared-every S               with --channels: every S-th publication to --channel, the others\n"
    "                                 round-robin over c0..c<K-1> (default 0: plain round-robin)\n"
    "  --subscribers N                subscriber connections (default 1000)\n"
    "  --rate R[,R2,...]              publications per second, one step per value (default 100)\n"
    "  --duration D                   measured window per step (default 10s)\n"
    "  --warmup D                     publishing before each window, not counted (default 2s)\n"
    "  --drain D                      max wait after a window for late deliveries (default 5s)\n"
    "  --size BYTES                   JSON data size of each publication (default 100, min 64)\n"
    "  --channel NAME                 channel to subscribe and publish to (default bench)\n"
    "  --token JWT                    connection token (default: anonymous connect)\n"
    "  --connections-per-process N    subscribers per client process (default 18000; the\n"
    "                                 open-file cap is per process)\n"
    "  --processes P                  at least P subscriber processes (default: as few as fit)\n"
    "  --api-connections N            keep-alive connections for publishing (default 1)\n"
    "  --pipeline K                   publish requests in flight per API connection (default 128)\n"
    "  --server-pid PID[,PID..]       also report the server's CPU use and RSS (several: summed)\n"
    "  --connect-rate N               new subscriber connections per second (default 3000)\n"
    "  --also-url URL                 another node's endpoint (repeatable; Centrifugo protocol): subscriber\n"
    "                                 processes take --url, then each --also-url in turn (at least one\n"
    "                                 process per URL), so the subscribers spread over a cluster while\n"
    "                                 publications go to --api\n"
    "  --max-inflight N               simultaneous connects+handshakes per process (default 256)\n"
    "  --retries N                    retries per connection, exponential backoff (default 3)\n"
    "  --connect-timeout D            per attempt, connect + handshake (default 10s)\n"
    "  --timeout D                    hard deadline for the whole run (default: derived)\n"
    "  --header 'Name: value'         extra upgrade request header (repeatable)\n"
    "  --stop-unsustained             end the rate ladder after the first step not sustained: under 95 %\n"
    "                                 of the asked publications accepted, under 99 % of the expected\n"
    "                                 deliveries received, or p99 over 2 s (bench/run-peers' test)\n"
    "  --quiet                        no progress line\n";

constexpr double kSaturatedCpuPct = 90.0;

// ---- records between the parent and a subscriber process -------------------

enum class ControlType : uint32_t { kWindow = 1, kReport = 2 };
// Parent → child, 24 bytes (always written and read whole).
struct ControlMsg {
  ControlType type;
  uint32_t reserved = 0;
  int64_t a = 0;  // kWindow: window start (CLOCK_MONOTONIC ns)
  int64_t b = 0;  // kWindow: window end
};

// kChannelLive (--channels K only) precedes a kStep: K uint32 counts, the
// subscribers live on each channel c<j> when the window began.
enum class RecordType : uint32_t { kStatus = 1, kStep = 2, kFinal = 3, kChannelLive = 4 };
struct RecordHeader {
  RecordType type;
  uint32_t size;  // bytes following the header
};

// Every 100 ms (dropped when the pipe is full).
struct ChildStatus {
  uint64_t open = 0;
  uint64_t live = 0;
  uint64_t failed_final = 0;
  uint64_t setting_up = 0;
  uint64_t inflight = 0;
  uint64_t deliveries = 0;         // since start
  uint64_t window_deliveries = 0;  // of publications stamped in the current window
  uint64_t live_at_start = 0;      // live subscribers when the current window began (0 before)
  uint8_t setup_done = 0;
};

// After each step, on request.
struct StepReport {
  uint64_t window_deliveries = 0;  // publications stamped in the window, received by now
  uint64_t recv_in_window = 0;     // deliveries received during the window (any stamp)
  uint64_t seq_gaps = 0;           // sequence numbers skipped by a live subscriber
  uint64_t seq_repeats = 0;        // sequence numbers seen again or out of order
  uint64_t live_at_start = 0;
  uint64_t live_at_end = 0;
  uint64_t dropped = 0;            // connections lost during the step
  double cpu_s = 0;                // this process, over the window
  double cpu_wall_s = 0;
  double runq_wait_s = -1;         // runnable but waiting for a CPU, over the window (-1 = unknown)
  LatencyHistogram hist;
};

// Once, when the child ends.
struct FinalReport {
  uint64_t attempts = 0;
  uint64_t opened_total = 0;
  uint64_t failed_final = 0;
  uint64_t live_total = 0;
  uint64_t connect_errors = 0;
  uint64_t subscribe_errors = 0;
  uint64_t pings_answered = 0;
  uint64_t fails[size_t(FailKind::kCount)] = {};
  int32_t last_http_status = 0;
  char first_errors[size_t(FailKind::kCount)][200] = {};
};

static_assert(std::is_trivially_copyable_v<ChildStatus> && std::is_trivially_copyable_v<StepReport> &&
              std::is_trivially_copyable_v<FinalReport>);
static_assert(sizeof(RecordHeader) + sizeof(ChildStatus) <= PIPE_BUF, "status writes must be atomic");

void copy_text(char (&dst)[200], const std::string& s) {
  size_t n = std::min(s.size(), sizeof dst - 1);
  std::memcpy(dst, s.data(), n);
  dst[n] = 0;
}

template <class T>
bool write_record(int fd, RecordType type, const T& body, bool may_drop) {
  if (may_drop) {
    // Small record, one non-blocking write: whole (<= PIPE_BUF) or nothing.
    char buf[sizeof(RecordHeader) + sizeof(T)];
    RecordHeader h{type, uint32_t(sizeof(T))};
    std::memcpy(buf, &h, sizeof h);
    std::memcpy(buf + sizeof h, &body, sizeof body);
    [[maybe_unused]] ssize_t n = ::write(fd, buf, sizeof buf);
    return true;
  }
  RecordHeader h{type, uint32_t(sizeof(T))};
  return write_all(fd, &h, sizeof h) && write_all(fd, &body, sizeof body);
}

// ---- the subscriber process --------------------------------------------------

class FanoutWorker final : public CentrifugoWorker {
 public:
  FanoutWorker(ClientOptions opts, uint64_t seed, CentrifugoOptions proto, int control_fd)
      : CentrifugoWorker(std::move(opts), seed, std::move(proto)), control_fd_(control_fd), scanners_(size()),
        last_seq_(size(), 0), hist_(std::make_unique<LatencyHistogram>()),
        channel_live_(proto_options().channels, 0) {
    watch_extra_fd(control_fd_);
  }

  // --channels K: subscribers live on each c<j> when the window began.
  const std::vector<uint32_t>& channel_live() const { return channel_live_; }

  bool quit_requested() const { return quit_; }
  bool report_requested() const { return report_requested_; }

  ChildStatus status() {
    ChildStatus s;
    s.open = stats().open.get();
    s.live = proto_stats().live.get();
    s.failed_final = stats().failed_final.get();
    s.setting_up = setting_up();
    s.inflight = inflight();
    s.deliveries = deliveries_;
    s.window_deliveries = window_deliveries_;
    s.live_at_start = cpu_started_ ? live_at_start_ : 0;
    s.setup_done = setup_done();
    return s;
  }

  // Fills the step's figures and starts a fresh step.
  void take_step_report(StepReport& r) {
    sample_window_edges(true);
    r.window_deliveries = window_deliveries_;
    r.recv_in_window = recv_in_window_;
    r.seq_gaps = seq_gaps_;
    r.seq_repeats = seq_repeats_;
    r.live_at_start = live_at_start_;
    r.live_at_end = live_at_end_;
    r.dropped = stats().failures[size_t(FailKind::kDropped)].get() - dropped_at_step_start_;
    r.cpu_s = cpu_end_ - cpu_start_;
    r.cpu_wall_s = double(t_end_ - t_start_) / 1e9;
    r.runq_wait_s = wait_start_ && wait_end_ ? *wait_end_ - *wait_start_ : -1;
    r.hist = *hist_;
    *hist_ = LatencyHistogram{};
    window_deliveries_ = recv_in_window_ = seq_gaps_ = seq_repeats_ = 0;
    report_requested_ = false;
    win_start_ = win_end_ = INT64_MAX;
    cpu_started_ = cpu_ended_ = false;
  }

  FinalReport final_report() {
    FinalReport f;
    f.attempts = stats().attempts.get();
    f.opened_total = stats().opened_total.get();
    f.failed_final = stats().failed_final.get();
    f.live_total = proto_stats().live_total.get();
    f.connect_errors = proto_stats().connect_errors.get();
    f.subscribe_errors = proto_stats().subscribe_errors.get();
    f.pings_answered = proto_stats().pings_answered.get();
    for (size_t k = 0; k < size_t(FailKind::kCount); ++k) {
      f.fails[k] = stats().failures[k].get();
      copy_text(f.first_errors[k], first_errors()[k]);
    }
    f.last_http_status = stats().last_http_status.load();
    return f;
  }

 protected:
  void on_live(uint32_t i) override {
    scanners_[i].reset();
    last_seq_[i] = 0;
  }

  void on_live_data(uint32_t i, const uint8_t* p, size_t n) override {
    scanners_[i].feed(p, n, [this, i](uint64_t ts, uint64_t seq, bool has_seq) { deliver(i, ts, seq, has_seq); });
  }

  void on_live_message_end(uint32_t i) override {
    scanners_[i].end_message([this, i](uint64_t ts, uint64_t seq, bool has_seq) { deliver(i, ts, seq, has_seq); });
  }

  void on_connection_lost(uint32_t i, bool) override { scanners_[i].reset(); }

  void on_tick() override { sample_window_edges(false); }

  void on_extra_readable() override {
    // Control messages are 24 bytes, written whole; EOF means "finish".
    ssize_t n = ::read(control_fd_, ctl_buf_ + ctl_len_, sizeof ctl_buf_ - ctl_len_);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      quit_ = true;
      unwatch_extra_fd();
      return;
    }
    if (n < 0) return;
    ctl_len_ += size_t(n);
    size_t used = 0;
    while (ctl_len_ - used >= sizeof(ControlMsg)) {
      ControlMsg m;
      std::memcpy(&m, ctl_buf_ + used, sizeof m);
      used += sizeof m;
      if (m.type == ControlType::kWindow) {
        win_start_ = m.a;
        win_end_ = m.b;
        dropped_at_step_start_ = stats().failures[size_t(FailKind::kDropped)].get();
      } else if (m.type == ControlType::kReport) {
        report_requested_ = true;
      }
    }
    std::memmove(ctl_buf_, ctl_buf_ + used, ctl_len_ - used);
    ctl_len_ -= used;
  }

 private:
  // The hot path: one call per publication received.
  void deliver(uint32_t i, uint64_t ts_u, uint64_t seq, bool has_seq) {
    const int64_t t = now();
    const int64_t ts = int64_t(ts_u);
    ++deliveries_;
    if (ts >= win_start_ && ts < win_end_) {
      ++window_deliveries_;
      hist_->record(uint64_t(t > ts ? t - ts : 0));
    }
    if (t >= win_start_ && t < win_end_) ++recv_in_window_;
    if (has_seq && proto_options().channels == 0) {  // with K channels each subscriber sees a subset
      uint64_t& last = last_seq_[i];
      if (last != 0 && seq > last + 1) seq_gaps_ += seq - last - 1;
      else if (last != 0 && seq <= last) ++seq_repeats_;
      if (seq > last) last = seq;
    }
  }

  // CPU time and live subscribers when the window opens and closes (first
  // loop turn past each edge; `force` closes an edge not yet seen).
  void sample_window_edges(bool force) {
    int64_t t = now_ns();
    if (!cpu_started_ && (t >= win_start_ || (force && win_start_ != INT64_MAX))) {
      cpu_started_ = true;
      cpu_start_ = self_cpu_s();
      wait_start_ = read_runqueue_wait_s(0);
      t_start_ = t;
      live_at_start_ = proto_stats().live.get();
      if (const uint32_t k = proto_options().channels; k > 0) {
        std::fill(channel_live_.begin(), channel_live_.end(), 0);
        for (uint32_t i = 0; i < size(); ++i) {
          if (is_live(i)) ++channel_live_[(proto_options().first_index + i) % k];
        }
      }
    }
    if (cpu_started_ && !cpu_ended_ && (t >= win_end_ || force)) {
      cpu_ended_ = true;
      cpu_end_ = self_cpu_s();
      wait_end_ = read_runqueue_wait_s(0);
      t_end_ = t;
      live_at_end_ = proto_stats().live.get();
    }
  }

  int control_fd_;
  char ctl_buf_[sizeof(ControlMsg) * 8];
  size_t ctl_len_ = 0;
  bool quit_ = false;
  bool report_requested_ = false;
  std::vector<StampScanner> scanners_;
  std::vector<uint64_t> last_seq_;
  std::unique_ptr<LatencyHistogram> hist_;
  int64_t win_start_ = INT64_MAX;
  int64_t win_end_ = INT64_MAX;
  uint64_t deliveries_ = 0;
  uint64_t window_deliveries_ = 0;
  uint64_t recv_in_window_ = 0;
  uint64_t seq_gaps_ = 0;
  uint64_t seq_repeats_ = 0;
  uint64_t dropped_at_step_start_ = 0;
  bool cpu_started_ = false;
  bool cpu_ended_ = false;
  double cpu_start_ = 0, cpu_end_ = 0;
  std::optional<double> wait_start_, wait_end_;
  int64_t t_start_ = 0, t_end_ = 0;
  uint64_t live_at_start_ = 0, live_at_end_ = 0;
  std::vector<uint32_t> channel_live_;
};

// A subscriber process: keeps its share of the subscribers live, opens and
// closes windows as told, and reports status, steps and a final report.
int fanout_child(uint32_t index, ClientOptions opts, CentrifugoOptions proto, int status_fd, int control_fd) {
  FanoutWorker w(std::move(opts), child_seed(index), std::move(proto), control_fd);
  auto report = std::make_unique<StepReport>();
  int64_t next_status = 0;
  while (!w.quit_requested()) {
    w.step(20);
    if (w.report_requested()) {
      w.take_step_report(*report);
      write_record(status_fd, RecordType::kStatus, w.status(), true);
      if (!w.channel_live().empty()) {  // before the step record, which the parent waits for
        RecordHeader h{RecordType::kChannelLive, uint32_t(w.channel_live().size() * sizeof(uint32_t))};
        if (!write_all(status_fd, &h, sizeof h) || !write_all(status_fd, w.channel_live().data(), h.size)) break;
      }
      if (!write_record(status_fd, RecordType::kStep, *report, false)) break;
    }
    if (now_ns() >= next_status) {
      write_record(status_fd, RecordType::kStatus, w.status(), true);
      next_status = now_ns() + 100 * kNsPerMs;
    }
  }
  w.close_all_and_wait(3 * kNsPerSec);
  auto fin = std::make_unique<FinalReport>(w.final_report());
  write_record(status_fd, RecordType::kFinal, *fin, false);
  return 0;
}

// ---- the parent ----------------------------------------------------------------

struct Child : ChildProcess {
  ChildStatus last;
  bool got_status = false;
  std::unique_ptr<StepReport> step;  // set when this step's report arrived
  std::unique_ptr<FinalReport> fin;
  std::vector<uint32_t> channel_live;  // --channels K: from the last kChannelLive record
};

// Takes every complete record out of c.buf.
void parse_records(Child& c) {
  size_t pos = 0;
  while (c.buf.size() - pos >= sizeof(RecordHeader)) {
    RecordHeader h;
    std::memcpy(&h, c.buf.data() + pos, sizeof h);
    if (c.buf.size() - pos - sizeof h < h.size) break;
    const uint8_t* body = c.buf.data() + pos + sizeof h;
    if (h.type == RecordType::kStatus && h.size == sizeof(ChildStatus)) {
      std::memcpy(&c.last, body, sizeof(ChildStatus));
      c.got_status = true;
    } else if (h.type == RecordType::kStep && h.size == sizeof(StepReport)) {
      c.step = std::make_unique<StepReport>();
      std::memcpy(static_cast<void*>(c.step.get()), body, sizeof(StepReport));
    } else if (h.type == RecordType::kFinal && h.size == sizeof(FinalReport)) {
      c.fin = std::make_unique<FinalReport>();
      std::memcpy(static_cast<void*>(c.fin.get()), body, sizeof(FinalReport));
    } else if (h.type == RecordType::kChannelLive && h.size % sizeof(uint32_t) == 0) {
      c.channel_live.resize(h.size / sizeof(uint32_t));
      std::memcpy(c.channel_live.data(), body, h.size);
    }
    pos += sizeof h + h.size;
  }
  c.buf.erase(c.buf.begin(), c.buf.begin() + ptrdiff_t(pos));
}

// One poll over the publisher's sockets and the children's status pipes.
void poll_once(std::vector<Child>& children, Publisher* pub, int timeout_ms) {
  const bool publisher_ready = poll_children(children, timeout_ms, pub ? pub->poll_fd() : -1);
  if (pub && publisher_ready) pub->process_events();
  for (auto& ch : children) parse_records(ch);
}

std::vector<double> parse_rates(const std::string& text) {
  std::vector<double> rates;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || errno != 0 || *end != 0 || !std::isfinite(v) || v <= 0 || v > 1e6) {
      throw UsageError("invalid --rate '" + text + "': expected publications per second (0 < R <= 1e6), e.g. 100 or 10,50,100");
    }
    rates.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (rates.empty() || rates.size() > 32) throw UsageError("--rate takes 1 to 32 values");
  return rates;
}

double us(uint64_t ns) { return double(ns) / 1000.0; }

std::string fmt_rate(double r) {
  char buf[32];
  if (r == std::floor(r)) std::snprintf(buf, sizeof buf, "%.0f", r);
  else std::snprintf(buf, sizeof buf, "%g", r);
  return buf;
}

struct StepResult {
  double rate = 0;
  uint64_t live_at_start = 0, live_at_end = 0;
  uint64_t published_ok = 0, published_sent = 0, api_failed = 0, api_lost = 0, max_backlog = 0;
  uint64_t expected = 0, received = 0, recv_in_window = 0, gaps = 0, repeats = 0, dropped = 0;
  std::vector<double> client_cpu_pct;
  double client_wait_pct = -1;  // worst subscriber process: % of the window spent waiting for a CPU
  double publisher_cpu_pct = 0;
  std::optional<double> server_cpu_pct;
  std::optional<double> server_wait_pct;  // summed over the server's threads
  LatencyHistogram hist;
  LatencyHistogram api;
  bool complete = true;  // every child reported
};

}  // namespace

int run_fanout(std::span<char* const> argv) {
  static constexpr OptSpec kOpts[] = {
      {"url", true},          {"api", true},           {"api-key", true},         {"subscribers", true},
      {"rate", true},         {"duration", true},      {"warmup", true},          {"drain", true},
      {"size", true},         {"channel", true},       {"token", true},           {"connections-per-process", true},
      {"processes", true},    {"api-connections", true}, {"pipeline", true},      {"server-pid", true},
      {"connect-rate", true}, {"max-inflight", true},  {"retries", true},         {"connect-timeout", true},
      {"timeout", true},      {"header", true, true},  {"subprotocol", true},     {"quiet", false},        {"stop-unsustained", false},
      {"help", false},        {"protocol", true},      {"publish-url", true},     {"channels", true},      {"shared-every", true},
      {"also-url", true, true},
  };
  Args a("fanout", argv, kOpts);
  if (a.has("help")) {
    std::fputs(kFanoutHelp, stdout);
    std::fputs(kProtocolHelp, stdout);
    return kExitOk;
  }

  const Protocol protocol = parse_protocol(a);
  ClientOptions base = common_client_options(a, 1000, 3000, "subscribers", "connect-rate", protocol);
  const std::string channel = a.str("channel").value_or("bench");
  if (channel.empty()) throw UsageError("--channel must not be empty");
  const uint32_t channels = uint32_t(a.u64("channels", 0, 0, 1'000'000));
  CentrifugoOptions proto = subscriber_options(a, protocol, base, channel, channels);

  PublisherOptions pub_opts;
  if (auto url = a.str("publish-url")) {
    pub_opts.api = parse_loopback_http_target(*url, "--publish-url");
    pub_opts.plain = true;
    if (a.has("api") || a.has("api-key")) throw UsageError("--publish-url replaces --api and --api-key");
  } else {
    auto api = a.str("api");
    if (!api) {
      throw UsageError(protocol == Protocol::kCentrifugo
                           ? "--api is required (e.g. --api http://127.0.0.1:8000), or --publish-url"
                           : "--publish-url is required with --protocol raw/sse (e.g. "
                             "--publish-url 'http://127.0.0.1:8000/pub?channel={channel}')");
    }
    pub_opts.api = parse_loopback_http_url(*api);
    auto key = a.str("api-key");
    if (!key || key->empty()) throw UsageError("--api-key is required (the server's api.key)");
    if (key->find_first_of("\r\n") != std::string::npos) throw UsageError("bad --api-key");
    pub_opts.api_key = *key;
  }
  for (uint32_t j = 0; j < channels; ++j) pub_opts.channels.push_back(per_connection_channel(j));
  pub_opts.channels.push_back(channel);
  pub_opts.shared_every = uint32_t(a.u64("shared-every", 0, 0, 1'000'000));
  if (pub_opts.shared_every > 0 && channels == 0) throw UsageError("--shared-every needs --channels K");
  pub_opts.size = a.size("size", 100, kMinPublicationSize, 512 * 1024);
  pub_opts.connections = uint32_t(a.u64("api-connections", 1, 1, 64));
  pub_opts.pipeline = uint32_t(a.u64("pipeline", 128, 1, 4096));

  std::vector<double> rates = parse_rates(a.str("rate").value_or("100"));
  int64_t duration = a.duration_ns("duration", 10 * kNsPerSec, 100 * kNsPerMs, 3600 * kNsPerSec);
  int64_t warmup = a.duration_ns("warmup", 2 * kNsPerSec, 0, 600 * kNsPerSec);
  int64_t drain = a.duration_ns("drain", 5 * kNsPerSec, 100 * kNsPerMs, 600 * kNsPerSec);
  uint64_t per_process = a.u64("connections-per-process", 18000, 1, 1'000'000);
  uint32_t min_processes = uint32_t(a.u64("processes", 1, 1, 64));
  bool quiet = a.has("quiet");
  const bool stop_unsustained = a.has("stop-unsustained");
  std::optional<ServerProcesses> server_pid;
  if (auto text = a.str("server-pid")) server_pid = ServerProcesses::parse(*text);

  // Subscriber endpoints: child c connects to urls[c % urls.size()].
  std::vector<WsUrl> urls{base.url};
  for (const std::string& u : a.all("also-url")) {
    if (protocol != Protocol::kCentrifugo) throw UsageError("--also-url needs the Centrifugo protocol");
    urls.push_back(parse_loopback_ws_url(u));
  }
  min_processes = std::max<uint32_t>(min_processes, uint32_t(urls.size()));

  const uint64_t total = base.connections;
  uint32_t nproc = uint32_t(std::max<uint64_t>(min_processes, (total + per_process - 1) / per_process));
  if (nproc > total) nproc = uint32_t(total);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  uint64_t share_max = (total + nproc - 1) / nproc;
  if (share_max + 64 > rl.rlim_max) {
    throw UsageError(std::to_string(share_max) + " subscribers per process exceed the open-file hard limit " +
                     std::to_string(rl.rlim_max) + " (minus 64 spare); lower --connections-per-process");
  }
  raise_nofile_limit();

  const int64_t ramp_budget = int64_t(double(total) / base.rate_per_sec * 1e9) * 3 + 30 * kNsPerSec;
  const int64_t step_budget = warmup + duration + drain + 15 * kNsPerSec;
  const int64_t deadline_len = a.duration_ns("timeout", ramp_budget + int64_t(rates.size()) * step_budget + 30 * kNsPerSec,
                                             kNsPerSec, 86400 * kNsPerSec);
  alarm(unsigned(deadline_len / kNsPerSec + 20));  // backstop; children die with us (PDEATHSIG)

  std::string rates_text;
  for (double r : rates) rates_text += (rates_text.empty() ? "" : ",") + fmt_rate(r);
  std::printf("fanout: %" PRIu64 " subscribers (protocol %s) on '%s'%s over %u process(es), %s; publishing %s pub/s "
              "of %zu B through %s%s (%u connection(s), pipeline %u)%s; each step %s warm-up + %s window "
              "(+ up to %s drain)\n",
              total, protocol_name(protocol), proto.channel.c_str(),
              channels ? (" and their own of " + std::to_string(channels) + " channels c<i mod K>").c_str() : "", nproc,
              base.url.text.c_str(), rates_text.c_str(), pub_opts.size, pub_opts.api.text.c_str(),
              pub_opts.plain ? "" : "/api/publish", pub_opts.connections, pub_opts.pipeline,
              !channels                 ? ""
              : pub_opts.shared_every ? (", every " + std::to_string(pub_opts.shared_every) +
                                         "th to the shared one, the rest round-robin over the K channels").c_str()
                                      : ", round-robin over the K channels and the shared one",
              format_duration(warmup).c_str(),
              format_duration(duration).c_str(), format_duration(drain).c_str());
  std::fflush(stdout);
  std::fflush(stderr);

  // ---- fork the subscriber processes ----
  std::vector<Child> children(nproc);
  uint64_t first_index = 0;
  for (uint32_t c = 0; c < nproc; ++c) {
    ClientOptions o = base;
    o.url = urls[c % urls.size()];
    o.connections = uint32_t(share_of(total, nproc, c));
    o.rate_per_sec = base.rate_per_sec / nproc;
    CentrifugoOptions child_proto = proto;
    child_proto.first_index = first_index;
    first_index += o.connections;
    // Unread reports never exceed a few step records; more means a broken child.
    children[c].max_buffer = 4 * (sizeof(StepReport) + sizeof(RecordHeader) + size_t(channels) * sizeof(uint32_t));
    spawn_child(children, c, "fanout", [&](int status_fd, int control_fd) {
      return fanout_child(c, std::move(o), std::move(child_proto), status_fd, control_fd);
    });
  }

  auto sum = [&](auto field) {
    uint64_t s = 0;
    for (auto& ch : children) s += field(ch.last);
    return s;
  };
  auto any_died = [&] {
    for (auto& ch : children) {
      if (ch.eof) return true;
    }
    return false;
  };
  auto send_control = [&](const ControlMsg& m) {
    for (auto& ch : children) {
      if (ch.control) write_all(ch.control.get(), &m, sizeof m);
    }
  };

  // Deliveries the window's acknowledged publications owe: one to the shared
  // channel reaches every live subscriber, one to c<j> those of c<j>.
  // live_by_channel comes from the children; null assumes every subscriber live.
  auto owed = [&](const PublisherStats& ps, uint64_t live0, const std::vector<uint64_t>* live_by_channel) -> uint64_t {
    if (channels == 0 || ps.ok_in_window_by_channel.size() != size_t(channels) + 1) return ps.ok_in_window * live0;
    uint64_t n = ps.ok_in_window_by_channel[channels] * live0;
    for (uint32_t j = 0; j < channels; ++j) {
      uint64_t on_j = live_by_channel ? (*live_by_channel)[j] : share_of(total, channels, j);
      n += ps.ok_in_window_by_channel[j] * on_j;
    }
    return n;
  };

  const int64_t t0 = now_ns();
  const int64_t deadline = t0 + deadline_len;
  bool deadline_hit = false, child_died = false, ramp_timed_out = false;
  int exit_code = kExitOk;

  // ---- ramp: connect and subscribe everyone ----
  int64_t last_report = 0;
  while (true) {
    poll_once(children, nullptr, 100);
    int64_t now = now_ns();
    if (any_died()) {
      child_died = true;
      break;
    }
    bool all_done = true;
    for (auto& ch : children) all_done = all_done && ch.got_status && ch.last.setup_done;
    if (all_done) break;
    if (now - t0 >= ramp_budget) {
      ramp_timed_out = true;
      break;
    }
    if (now - last_report >= kNsPerSec) {
      last_report = now;
      char line[256];
      std::snprintf(line, sizeof line,
                    "[fanout] subscribed %" PRIu64 "/%" PRIu64 " (open %" PRIu64 ", setting up %" PRIu64
                    ", connecting %" PRIu64 ") failed %" PRIu64 " | ramping %llds",
                    sum([](const ChildStatus& s) { return s.live; }), total, sum([](const ChildStatus& s) { return s.open; }),
                    sum([](const ChildStatus& s) { return s.setting_up; }),
                    sum([](const ChildStatus& s) { return s.inflight; }),
                    sum([](const ChildStatus& s) { return s.failed_final; }), (long long)((now - t0) / kNsPerSec));
      progress(line, quiet);
    }
  }
  progress_done(quiet);
  const uint64_t subscribed = sum([](const ChildStatus& s) { return s.live; });
  const double ramp_s = double(now_ns() - t0) / 1e9;
  std::optional<uint64_t> server_rss = server_pid ? server_pid->rss_kb() : std::nullopt;
  const std::string server_rss_text = server_rss ? std::to_string(*server_rss) : "na";
  if (!child_died) {
    std::printf("subscribers: %" PRIu64 " of %" PRIu64 " subscribed in %.1fs%s\n", subscribed, total, ramp_s,
                ramp_timed_out ? " (ramp budget exhausted)" : "");
    if (server_rss) std::printf("server RSS:  %.1f MiB with the subscribers (pid %s)\n", double(*server_rss) / 1024,
                                server_pid->text().c_str());
  }

  // ---- steps ----
  std::vector<StepResult> results;
  Publisher pub(pub_opts);
  if (!child_died && subscribed > 0) {
    // Open the API connection(s) before the first step.
    int64_t connect_until = now_ns() + 2 * kNsPerSec;
    while (pub.stats().connects < pub_opts.connections && now_ns() < connect_until) {
      pub.pump(now_ns());
      poll_once(children, &pub, 10);
    }
    if (pub.stats().connects == 0) {
      std::fprintf(stderr, "error: cannot connect to the API at %s: %s\n", pub_opts.api.text.c_str(),
                   pub.stats().first_error.c_str());
      exit_code = kExitFailure;
    }
  }
  for (size_t s = 0; exit_code == kExitOk && !child_died && !deadline_hit && subscribed > 0 && s < rates.size(); ++s) {
    const double rate = rates[s];
    for (auto& ch : children) ch.step.reset();
    const int64_t pub_start = now_ns() + 50 * kNsPerMs;  // children get the window first
    const int64_t win_start = pub_start + warmup;
    const int64_t win_end = win_start + duration;
    send_control(ControlMsg{ControlType::kWindow, 0, win_start, win_end});
    pub.start(rate, pub_start, win_start, win_end);

    StepResult r;
    r.rate = rate;
    std::optional<double> server_cpu0, server_cpu1, server_wait0, server_wait1;
    double self_cpu0 = 0, self_cpu1 = 0;
    int64_t self_t0 = 0, self_t1 = 0;
    bool started = false;
    bool api_broken = false;
    uint64_t last_deliveries = sum([](const ChildStatus& c) { return c.deliveries; });
    int64_t last_tick = now_ns();
    while (true) {
      int64_t now = now_ns();
      int64_t wait_ns = pub.pump(now);
      int timeout_ms = int(std::clamp<int64_t>((wait_ns + kNsPerMs - 1) / kNsPerMs, 0, 50));
      poll_once(children, &pub, timeout_ms);
      now = now_ns();
      if (!started && now >= win_start) {
        started = true;
        self_cpu0 = self_cpu_s();
        self_t0 = now;
        if (server_pid) {
          server_cpu0 = server_pid->cpu_s();
          server_wait0 = server_pid->runqueue_wait_s();
        }
      }
      if (now >= win_end) {
        self_cpu1 = self_cpu_s();
        self_t1 = now;
        if (server_pid) {
          server_cpu1 = server_pid->cpu_s();
          server_wait1 = server_pid->runqueue_wait_s();
        }
        break;
      }
      if (any_died()) {
        child_died = true;
        break;
      }
      if (now >= deadline) {
        deadline_hit = true;
        break;
      }
      if (pub.stats().ok == 0 && pub.stats().failed >= 5) {
        api_broken = true;  // wrong key or URL: no point in finishing the step
        break;
      }
      if (now - last_tick >= kNsPerSec) {
        uint64_t d = sum([](const ChildStatus& c) { return c.deliveries; });
        double dps = double(d - last_deliveries) * 1e9 / double(now - last_tick);
        last_deliveries = d;
        last_tick = now;
        char line[256];
        std::snprintf(line, sizeof line,
                      "[fanout] %s pub/s | %s %llds | subscribed %" PRIu64 " | published %" PRIu64 " ok %" PRIu64
                      " | %.0f deliveries/s",
                      fmt_rate(rate).c_str(), started ? "window" : "warm-up",
                      (long long)((now - (started ? win_start : pub_start)) / kNsPerSec),
                      sum([](const ChildStatus& c) { return c.live; }), pub.stats().sent, pub.stats().ok, dps);
        progress(line, quiet);
      }
    }
    pub.stop();
    if (child_died || deadline_hit) break;
    if (api_broken) {
      progress_done(quiet);
      std::fprintf(stderr, "error: the API refused every publication (%s); stopping\n", pub.stats().first_error.c_str());
      exit_code = kExitFailure;
      break;
    }

    // Drain: wait for the window's acknowledged publications to arrive
    // everywhere (or for --drain, or for a second without progress).
    uint64_t prev_window = 0;
    int64_t last_progress = now_ns();
    while (true) {
      poll_once(children, &pub, 20);
      pub.pump(now_ns());
      int64_t now = now_ns();
      uint64_t live0 = sum([](const ChildStatus& c) { return c.live_at_start; });
      uint64_t got = sum([](const ChildStatus& c) { return c.window_deliveries; });
      uint64_t want = owed(pub.stats(), live0, nullptr);
      if (got != prev_window) {
        prev_window = got;
        last_progress = now;
      }
      if (pub.inflight() == 0 && got >= want) break;
      if (now - win_end >= drain) break;
      if (pub.inflight() == 0 && now - last_progress >= kNsPerSec && now - win_end >= kNsPerSec) break;
      if (any_died() || now >= deadline) break;
    }

    // Collect the step reports.
    send_control(ControlMsg{ControlType::kReport, 0, 0, 0});
    int64_t collect_until = now_ns() + 10 * kNsPerSec;
    while (now_ns() < collect_until) {
      bool all = true;
      for (auto& ch : children) all = all && (ch.step || ch.eof);
      if (all) break;
      poll_once(children, &pub, 50);
    }
    progress_done(quiet);

    const PublisherStats& ps = pub.stats();
    r.published_ok = ps.ok_in_window;
    r.published_sent = ps.sent_in_window;
    r.api_failed = ps.failed;
    r.api_lost = ps.lost;
    r.max_backlog = ps.max_backlog;
    r.api = pub.api_latency();
    for (auto& ch : children) {
      if (!ch.step) {
        r.complete = false;
        continue;
      }
      const StepReport& sr = *ch.step;
      r.live_at_start += sr.live_at_start;
      r.live_at_end += sr.live_at_end;
      r.received += sr.window_deliveries;
      r.recv_in_window += sr.recv_in_window;
      r.gaps += sr.seq_gaps;
      r.repeats += sr.seq_repeats;
      r.dropped += sr.dropped;
      r.hist.merge(sr.hist);
      r.client_cpu_pct.push_back(sr.cpu_wall_s > 0 ? 100.0 * sr.cpu_s / sr.cpu_wall_s : 0);
      if (sr.runq_wait_s >= 0 && sr.cpu_wall_s > 0) {
        r.client_wait_pct = std::max(r.client_wait_pct, 100.0 * sr.runq_wait_s / sr.cpu_wall_s);
      }
    }
    std::vector<uint64_t> live_by_channel(channels, 0);
    bool have_channel_live = true;
    for (auto& ch : children) {
      if (ch.channel_live.size() != channels) {
        have_channel_live = false;
        continue;
      }
      for (uint32_t j = 0; j < channels; ++j) live_by_channel[j] += ch.channel_live[j];
    }
    r.expected = owed(ps, r.live_at_start, have_channel_live ? &live_by_channel : nullptr);
    double wall = double(self_t1 - self_t0) / 1e9;
    r.publisher_cpu_pct = wall > 0 ? 100.0 * (self_cpu1 - self_cpu0) / wall : 0;
    if (server_cpu0 && server_cpu1 && wall > 0) r.server_cpu_pct = 100.0 * (*server_cpu1 - *server_cpu0) / wall;
    if (server_wait0 && server_wait1 && wall > 0) r.server_wait_pct = 100.0 * (*server_wait1 - *server_wait0) / wall;

    // ---- this step's report ----
    const double secs = double(duration) / 1e9;
    double ratio = r.expected ? double(r.received) / double(r.expected) : 0;
    double client_max = r.client_cpu_pct.empty() ? 0 : *std::max_element(r.client_cpu_pct.begin(), r.client_cpu_pct.end());
    bool saturated = client_max >= kSaturatedCpuPct;
    std::string cpu_list;
    for (double c : r.client_cpu_pct) {
      char b[16];
      std::snprintf(b, sizeof b, "%s%.0f%%", cpu_list.empty() ? "" : " ", c);
      cpu_list += b;
    }
    std::printf("\n== step %zu/%zu: %s pub/s to %" PRIu64 " subscribers, %.2fs window\n", s + 1, rates.size(),
                fmt_rate(rate).c_str(), r.live_at_start, secs);
    std::printf("publications: %" PRIu64 " acknowledged in the window (%.1f/s; %" PRIu64 " sent), %" PRIu64
                " API errors, %" PRIu64 " lost; API round trip p50 %.1fus p99 %.1fus\n",
                r.published_ok, double(r.published_ok) / secs, r.published_sent, r.api_failed, r.api_lost,
                us(r.api.quantile(0.5)), us(r.api.quantile(0.99)));
    std::printf("deliveries:   %" PRIu64 " of %" PRIu64 " expected (%.3f %%), %" PRIu64 " missing after the drain; "
                "%.0f deliveries/s received during the window\n",
                r.received, r.expected, 100.0 * ratio, r.expected > r.received ? r.expected - r.received : 0,
                double(r.recv_in_window) / secs);
    std::printf("latency:      publish -> deliver  min %.1fus  p50 %.1fus  p90 %.1fus  p99 %.1fus  p99.9 %.1fus  max %.1fus\n",
                us(r.hist.min()), us(r.hist.quantile(0.5)), us(r.hist.quantile(0.9)), us(r.hist.quantile(0.99)),
                us(r.hist.quantile(0.999)), us(r.hist.max()));
    std::printf("cpu:          subscriber process(es) %s of a core, publisher %.0f%%", cpu_list.c_str(),
                r.publisher_cpu_pct);
    if (r.server_cpu_pct) std::printf(", server %.0f%% (pid %s)", *r.server_cpu_pct, server_pid->text().c_str());
    std::printf("\n");
    if (r.client_wait_pct >= 0 || r.server_wait_pct) {
      // Runnable but not running: time lost to other processes (or to each
      // other) on a machine with too few free cores.
      std::printf("cpu wait:     subscriber process %s of the window waiting for a CPU",
                  r.client_wait_pct >= 0 ? (std::to_string(int(r.client_wait_pct)) + "%").c_str() : "n/a");
      if (r.server_wait_pct) std::printf(", server threads %.0f%% (summed)", *r.server_wait_pct);
      std::printf("\n");
    }
    if (r.gaps || r.repeats || r.dropped || r.live_at_end != r.live_at_start) {
      std::printf("subscribers:  %" PRIu64 " live at the start, %" PRIu64 " at the end, %" PRIu64
                  " connections dropped; sequence gaps %" PRIu64 ", repeats %" PRIu64 "\n",
                  r.live_at_start, r.live_at_end, r.dropped, r.gaps, r.repeats);
    }
    if (saturated) {
      std::printf("warning: a subscriber process used %.0f%% of a core: the LOAD GENERATOR IS SATURATED, so these "
                  "figures are a lower bound for the server (spread it with --processes)\n",
                  client_max);
    }
    if (r.max_backlog > std::max<uint64_t>(1, uint64_t(rate / 10))) {
      std::printf("warning: the publisher fell behind its schedule by up to %" PRIu64
                  " publications (API answers slower than the rate; try --api-connections or --pipeline)\n",
                  r.max_backlog);
    }
    if (!r.complete) std::printf("warning: not every subscriber process reported; figures are partial\n");
    if (r.client_wait_pct >= 25 || (r.server_wait_pct && *r.server_wait_pct >= 25)) {
      std::printf("warning: the MACHINE IS OVERSUBSCRIBED: the server and/or the load generator spent a large part of "
                  "the window runnable but waiting for a CPU; the latencies include that scheduling delay\n");
    }
    std::printf("RESULT fanout protocol=%s channels=%u subscribers=%" PRIu64 " live=%" PRIu64 " processes=%u rate=%s size=%zu duration_s=%.2f "
                "published=%" PRIu64 " expected=%" PRIu64 " received=%" PRIu64 " delivery_ratio=%.5f "
                "deliveries_per_sec=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
                "client_cpu_max_pct=%.0f publisher_cpu_pct=%.0f server_cpu_pct=%s client_saturated=%d "
                "client_cpu_wait_pct=%s server_cpu_wait_pct=%s "
                "api_errors=%" PRIu64 " dropped=%" PRIu64 " gaps=%" PRIu64 " server_rss_kb=%s\n",
                protocol_name(protocol), channels, total, r.live_at_start, nproc, fmt_rate(rate).c_str(), pub_opts.size, secs, r.published_ok, r.expected,
                r.received, ratio, double(r.recv_in_window) / secs, us(r.hist.quantile(0.5)), us(r.hist.quantile(0.9)),
                us(r.hist.quantile(0.99)), us(r.hist.quantile(0.999)), us(r.hist.max()), client_max,
                r.publisher_cpu_pct, r.server_cpu_pct ? std::to_string(int64_t(*r.server_cpu_pct)).c_str() : "na",
                saturated ? 1 : 0,
                r.client_wait_pct >= 0 ? std::to_string(int64_t(r.client_wait_pct)).c_str() : "na",
                r.server_wait_pct ? std::to_string(int64_t(*r.server_wait_pct)).c_str() : "na", r.api_failed + r.api_lost,
                r.dropped, r.gaps, server_rss_text.c_str());
    std::fflush(stdout);
    if (r.api_failed + r.api_lost > 0) {
      std::fprintf(stderr, "first API error: %s\n", pub.stats().first_error.c_str());
    }
    if (r.published_ok == 0 && pub.stats().failed > 0) {
      std::fprintf(stderr, "error: the API acknowledged no publication; stopping\n");
      exit_code = kExitFailure;
    }
    const bool sustained = double(r.published_ok) >= 0.95 * rate * secs && ratio >= 0.99 &&
                           r.hist.quantile(0.99) <= 2 * kNsPerSec;
    results.push_back(std::move(r));
    if (stop_unsustained && !sustained && s + 1 < rates.size()) {
      std::printf("stopping the ladder: %s pub/s was not sustained (--stop-unsustained)\n", fmt_rate(rate).c_str());
      std::fflush(stdout);
      break;
    }
  }

  // ---- finish: children close their connections and send final reports ----
  finish_children(children, 6 * kNsPerSec, [&] {
    for (auto& ch : children) parse_records(ch);
  });

  std::array<uint64_t, size_t(FailKind::kCount)> fails{};
  uint64_t failed_final = 0, connect_errors = 0, subscribe_errors = 0, pings = 0;
  int last_http = 0;
  for (auto& ch : children) {
    if (!ch.fin) continue;
    for (size_t k = 0; k < fails.size(); ++k) fails[k] += ch.fin->fails[k];
    failed_final += ch.fin->failed_final;
    connect_errors += ch.fin->connect_errors;
    subscribe_errors += ch.fin->subscribe_errors;
    pings += ch.fin->pings_answered;
    if (ch.fin->last_http_status) last_http = ch.fin->last_http_status;
  }
  if (auto f = failure_summary(fails); !f.empty()) {
    std::fprintf(stderr, "failures (per attempt): %s\n%s", f.c_str(), failure_advice(fails, last_http).c_str());
    for (size_t k = 0; k < fails.size(); ++k) {
      for (auto& ch : children) {
        if (ch.fin && ch.fin->first_errors[k][0]) {
          std::fprintf(stderr, "  first %s error: %s\n", fail_kind_name(FailKind(k)), ch.fin->first_errors[k]);
          break;
        }
      }
    }
  }
  if (child_died) std::fprintf(stderr, "error: a subscriber process exited unexpectedly\n");
  if (deadline_hit) std::fprintf(stderr, "error: global deadline reached; results are partial\n");
  if (subscribed == 0 && !child_died) {
    std::fprintf(stderr, "error: no subscriber could connect and subscribe to %s; nothing measured\n",
                 base.url.text.c_str());
  }
  std::printf("\nsubscribers: %" PRIu64 " requested, %" PRIu64 " given up (connect refused %" PRIu64
              ", subscribe refused %" PRIu64 "), %" PRIu64 " server pings answered\n",
              total, failed_final, connect_errors, subscribe_errors, pings);
  // Last line, machine-readable: the run as a whole (steps have their own RESULT lines above).
  std::printf("RESULT fanout-summary protocol=%s channels=%u subscribers=%" PRIu64 " subscribed=%" PRIu64 " failed=%" PRIu64
              " connect_refused=%" PRIu64 " subscribe_refused=%" PRIu64 " server_refusals=%" PRIu64
              " pings_answered=%" PRIu64 " steps=%zu processes=%u ramp_s=%.1f\n",
              protocol_name(protocol), channels, total, subscribed, failed_final, connect_errors, subscribe_errors, server_refusals(fails), pings,
              results.size(), nproc, ramp_s);
  std::fflush(stdout);
  if (results.empty() || child_died || deadline_hit || exit_code == kExitFailure) return kExitFailure;
  bool partial = failed_final > 0;
  for (auto& r : results) partial = partial || r.api_failed + r.api_lost > 0 || !r.complete;
  return partial ? kExitPartial : kExitOk;
}

}  // namespace sbbench
