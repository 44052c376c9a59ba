// `connect-rate` mode: how many new connections per second a server accepts
// (and, for Centrifugo, connects and subscribes) before it falls behind.
// New connections are opened at a fixed rate for a step, the rate grows step
// by step (--start, --step or --factor, up to --max), and each connection is
// timed from connect() until it is usable: the WebSocket upgrade answered
// (raw), the event stream's 200 head (sse), or the subscribe reply
// (centrifugo). At most --hold connections stay open: the oldest is closed
// as a new one becomes usable, so the server always holds a steady set.
//
// A step is sustained when at most 1 % of its attempts failed (refused,
// reset, timed out after --connect-timeout), at most 1 % took longer than
// --slow (1 s: an overflowing accept queue drops SYNs, and the client's
// retransmission comes a second later), and the client started at least
// 95 % of the connections the rate asked for. The run stops at the first
// step that is not sustained; max_rate is the highest sustained rate.
//
// Connections are opened by forked processes (one epoll loop each, --processes,
// each under the per-process open-file cap); the parent paces the steps and
// merges the processes' reports, which they write back over a pipe.
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <type_traits>

#include "centrifugo_worker.h"
#include "child_process.h"
#include "histogram.h"
#include "modes.h"
#include "options_common.h"

namespace sbbench {
namespace {

constexpr const char* kConnectRateHelp =
    "usage: switchboard-bench connect-rate --url URL [--protocol centrifugo|raw|sse] [options]\n"
    "\n"
    "Opens new connections at a rate that grows step by step and times each one until it is usable\n"
    "(centrifugo: connected and subscribed to --channel; raw: upgraded; sse: 200 received). Keeps at\n"
    "most --hold open by closing the oldest. Stops at the first step with more than 1 % failures, more\n"
    "than 1 % of connections slower than --slow, or less than 95 % of the asked rate started.\n"
    "\n"
    "options:\n"
    "  --url URL                  ws://127.0.0.1:PORT/PATH (sse: http://), loopback only\n"
    "  --start R                  first step, connections/s (default 1000)\n"
    "  --step R                   added to the rate after each step (default 1000)\n"
    "  --factor F                 instead of --step: multiply the rate by F after each step\n"
    "  --max R                    last step (default 20000)\n"
    "  --step-duration D          opening time per step (default 3s)\n"
    "  --hold N                   connections kept open, oldest closed first (default 5000)\n"
    "  --slow D                   a connection slower than this counts against the step (default 1s)\n"
    "  --connect-timeout D        an attempt not usable by then is a failure (default 3s)\n"
    "  --processes P              client processes (default 1)\n"
    "  --max-inflight N           attempts in progress per process (default 4096)\n"
    "  --channel NAME             channel to subscribe (centrifugo) or put into {channel} (default bench)\n"
    "  --channels K               also subscribe to an own channel c<i mod K> (as in fanout)\n"
    "  --token JWT                centrifugo: connect with this token (default anonymous)\n"
    "  --server-pid PID[,PID..]   also report the server's CPU use per step (several: summed)\n"
    "  --header 'Name: value'     extra request header (repeatable)\n"
    "  --subprotocol NAME         Sec-WebSocket-Protocol\n"
    "  --timeout D                hard deadline for the whole run (default: derived)\n"
    "  --quiet                    no progress line\n";

constexpr double kMaxFailedPct = 1.0;
constexpr double kMaxSlowPct = 1.0;
constexpr double kMinStartedPct = 95.0;
constexpr double kSaturatedCpuPct = 90.0;

// Parent → child: run one step (24 bytes, written whole).
struct StepOrder {
  double rate = 0;        // connections/s for this process
  int64_t start_ns = 0;   // CLOCK_MONOTONIC
  int64_t end_ns = 0;
};

// Child → parent after each step.
struct StepReport {
  uint64_t asked = 0;     // attempts the rate asked for
  uint64_t attempts = 0;  // attempts started
  uint64_t usable = 0;    // became usable within --connect-timeout
  uint64_t slow = 0;      // usable, but slower than --slow
  uint64_t failed = 0;
  uint64_t fails[size_t(FailKind::kCount)] = {};
  uint64_t held = 0;      // connections open at the end of the step
  uint64_t dropped_held = 0;  // held connections the server closed during the step
  double cpu_s = 0;
  double wall_s = 0;
  char first_error[200] = {};
  LatencyHistogram hist;
};
static_assert(std::is_trivially_copyable_v<StepReport>);

class ConnectRateWorker final : public CentrifugoWorker {
 public:
  ConnectRateWorker(ClientOptions opts, uint64_t seed, CentrifugoOptions proto, uint32_t hold, int64_t slow_ns)
      : CentrifugoWorker(std::move(opts), seed, std::move(proto)), hold_(hold), slow_ns_(slow_ns), started_at_(size(), 0),
        pending_(size(), 0), generation_(size(), 0), report_(std::make_unique<StepReport>()) {
    free_.reserve(size());
    for (uint32_t i = size(); i > 0; --i) free_.push_back(i - 1);
  }

  void begin_step(const StepOrder& o) {
    order_ = o;
    opened_in_step_ = 0;
    *report_ = StepReport{};
    cpu0_ = self_cpu_s();
    t0_ = now_ns();
    in_step_ = true;
  }

  // The step's opening time is over and every attempt it started resolved
  // (usable or failed; a failure includes --connect-timeout).
  bool step_finished() const { return in_step_ && now() >= order_.end_ns && inflight_attempts_ == 0; }

  const StepReport& end_step() {
    in_step_ = false;
    double secs = double(order_.end_ns - order_.start_ns) / 1e9;
    report_->asked = uint64_t(std::floor(secs * order_.rate + 0.5));
    report_->held = held_.size() - stale_in_fifo_;
    report_->cpu_s = self_cpu_s() - cpu0_;
    report_->wall_s = double(now_ns() - t0_) / 1e9;
    return *report_;
  }

  bool in_step() const { return in_step_; }

 protected:
  void on_tick() override {
    if (!in_step_) return;
    const int64_t t = now_ns();
    if (t < order_.start_ns || t >= order_.end_ns) return;
    // Attempts due by now at the step's rate; those that cannot start (no
    // free slot: too many in progress) are simply not started, and count
    // against the step as "not started".
    uint64_t due = uint64_t(double(t - order_.start_ns) / 1e9 * order_.rate) + 1;
    while (opened_in_step_ < due && !free_.empty() && inflight_attempts_ < options().max_inflight) {
      uint32_t i = free_.back();
      free_.pop_back();
      ++generation_[i];
      started_at_[i] = t;
      pending_[i] = 1;
      ++inflight_attempts_;
      ++opened_in_step_;
      ++report_->attempts;
      if (!open_slot(i)) {  // cannot happen for a free slot; keep the books straight anyway
        pending_[i] = 0;
        --inflight_attempts_;
        ++report_->failed;
        ++report_->fails[size_t(FailKind::kOther)];
        free_.push_back(i);
        break;
      }
    }
  }

  void on_live(uint32_t i) override {
    if (!pending_[i]) return;
    pending_[i] = 0;
    --inflight_attempts_;
    int64_t took = now_ns() - started_at_[i];
    report_->hist.record(uint64_t(std::max<int64_t>(0, took)));
    ++report_->usable;
    if (took > slow_ns_) ++report_->slow;
    held_.push_back({i, generation_[i]});
    while (held_.size() - stale_in_fifo_ > hold_) {
      Held oldest = held_.front();
      held_.pop_front();
      if (oldest.generation != generation_[oldest.slot] || !is_live(oldest.slot)) {
        --stale_in_fifo_;  // dropped by the server meanwhile; its slot was freed then
        continue;
      }
      close_now(oldest.slot);
      free_.push_back(oldest.slot);
    }
  }

  void on_attempt_failed(uint32_t i, FailKind kind) override {
    if (pending_[i]) {
      pending_[i] = 0;
      --inflight_attempts_;
      ++report_->failed;
      ++report_->fails[size_t(kind)];
      if (!report_->first_error[0]) {
        const std::string& why = first_errors()[size_t(kind)];
        std::snprintf(report_->first_error, sizeof report_->first_error, "%s: %s", fail_kind_name(kind), why.c_str());
      }
    } else {
      // A held connection the server closed: it stays in held_ until it reaches the front.
      ++report_->dropped_held;
      ++stale_in_fifo_;
    }
    free_.push_back(i);
  }

 private:
  uint32_t hold_;
  int64_t slow_ns_;
  std::vector<int64_t> started_at_;
  std::vector<uint8_t> pending_;  // attempt in progress on this slot
  struct Held {
    uint32_t slot;
    uint32_t generation;  // of the slot when it became usable
  };
  std::vector<uint32_t> free_;        // idle slots
  std::vector<uint32_t> generation_;  // bumped each time a slot is reused
  std::deque<Held> held_;             // usable connections, oldest first (may hold stale entries)
  size_t stale_in_fifo_ = 0;
  uint32_t inflight_attempts_ = 0;
  uint64_t opened_in_step_ = 0;
  StepOrder order_;
  bool in_step_ = false;
  double cpu0_ = 0;
  int64_t t0_ = 0;
  std::unique_ptr<StepReport> report_;
};

// A client process: runs each step the parent orders and answers with its
// report, until the parent closes the order pipe.
int connect_rate_child(uint32_t index, ClientOptions opts, CentrifugoOptions proto, uint32_t hold, int64_t slow_ns,
                       int report_fd, int order_fd) {
  ConnectRateWorker w(std::move(opts), child_seed(index), std::move(proto), hold, slow_ns);
  char buf[sizeof(StepOrder)];
  size_t have = 0;
  bool quit = false;
  while (!quit) {
    w.step(w.in_step() ? 1 : 20);
    if (w.step_finished()) {
      const StepReport& r = w.end_step();
      if (!write_all(report_fd, &r, sizeof r)) break;
    }
    if (!w.in_step()) {
      // Wait for the next order (or EOF = finish) without spinning.
      pollfd pfd{order_fd, POLLIN, 0};
      if (poll(&pfd, 1, 0) <= 0) continue;
      ssize_t n = ::read(order_fd, buf + have, sizeof buf - have);
      if (n == 0) quit = true;
      if (n < 0 && errno != EINTR && errno != EAGAIN) quit = true;
      if (n > 0) have += size_t(n);
      if (have == sizeof buf) {
        StepOrder o;
        std::memcpy(&o, buf, sizeof o);
        have = 0;
        w.begin_step(o);
      }
    }
  }
  w.close_all_and_wait(2 * kNsPerSec);
  return 0;
}

struct Child : ChildProcess {
  std::unique_ptr<StepReport> step;
};

// Takes the step report out of the child's pipe bytes once it is complete.
void take_step_report(Child& c) {
  if (c.buf.size() < sizeof(StepReport)) return;
  c.step = std::make_unique<StepReport>();
  std::memcpy(static_cast<void*>(c.step.get()), c.buf.data(), sizeof(StepReport));
  c.buf.erase(c.buf.begin(), c.buf.begin() + ptrdiff_t(sizeof(StepReport)));
}

double us(uint64_t ns) { return double(ns) / 1000.0; }

}  // namespace

int run_connect_rate(std::span<char* const> argv) {
  static constexpr OptSpec kOpts[] = {
      {"url", true},         {"protocol", true},   {"start", true},        {"step", true},
      {"factor", true},      {"max", true},        {"step-duration", true}, {"hold", true},
      {"slow", true},        {"connect-timeout", true}, {"processes", true}, {"max-inflight", true},
      {"channel", true},     {"channels", true},   {"token", true},        {"server-pid", true},
      {"header", true, true}, {"subprotocol", true}, {"timeout", true},    {"quiet", false},
      {"help", false},
  };
  Args a("connect-rate", argv, kOpts);
  if (a.has("help")) {
    std::fputs(kConnectRateHelp, stdout);
    std::fputs(kProtocolHelp, stdout);
    return kExitOk;
  }
  const Protocol protocol = parse_protocol(a);
  ClientOptions base = common_client_options(a, 1, 1000, "connections", "rate", protocol);
  base.manual_start = true;
  base.max_retries = 0;
  base.connect_timeout_ns = a.duration_ns("connect-timeout", 3 * kNsPerSec, 100 * kNsPerMs, 60 * kNsPerSec);
  base.max_inflight = uint32_t(a.u64("max-inflight", 4096, 1, 100'000));
  const std::string channel = a.str("channel").value_or("bench");
  if (channel.empty()) throw UsageError("--channel must not be empty");
  const uint32_t channels = uint32_t(a.u64("channels", 0, 0, 1'000'000));
  CentrifugoOptions proto = subscriber_options(a, protocol, base, channel, channels);

  const double start = a.number("start", 1000, 1, 1e6);
  const double step_add = a.number("step", 1000, 0, 1e6);
  const double factor = a.number("factor", 0, 0, 100);
  if (a.has("factor") && factor <= 1) throw UsageError("--factor must be above 1");
  if (a.has("factor") && a.has("step")) throw UsageError("--step and --factor exclude each other");
  if (!a.has("factor") && step_add <= 0) throw UsageError("--step must be above 0");
  const double max_rate = a.number("max", 20000, start, 1e6);
  const int64_t step_duration = a.duration_ns("step-duration", 3 * kNsPerSec, 200 * kNsPerMs, 600 * kNsPerSec);
  const uint64_t hold = a.u64("hold", 5000, 1, 1'000'000);
  const int64_t slow_ns = a.duration_ns("slow", kNsPerSec, kNsPerMs, 60 * kNsPerSec);
  const uint32_t nproc = uint32_t(a.u64("processes", 1, 1, 64));
  const bool quiet = a.has("quiet");
  std::optional<ServerProcesses> server_pid;
  if (auto text = a.str("server-pid")) server_pid = ServerProcesses::parse(*text);

  std::vector<double> rates;
  for (double r = start; r <= max_rate * (1 + 1e-9) && rates.size() < 1000;
       r = a.has("factor") ? r * factor : r + step_add) {
    rates.push_back(std::round(r));
  }

  // Slots per process: the held connections plus the attempts in progress.
  const uint64_t hold_per_proc = (hold + nproc - 1) / nproc;
  const uint64_t slots = hold_per_proc + base.max_inflight;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (slots + 64 > rl.rlim_max) {
    throw UsageError(std::to_string(slots) + " connections per process (--hold / --processes + --max-inflight) exceed "
                     "the open-file hard limit " + std::to_string(rl.rlim_max) + " (minus 64 spare); raise --processes");
  }
  raise_nofile_limit();
  base.connections = uint32_t(slots);

  const int64_t per_step = step_duration + base.connect_timeout_ns + 3 * kNsPerSec;
  const int64_t deadline_len =
      a.duration_ns("timeout", int64_t(rates.size()) * per_step + 30 * kNsPerSec, kNsPerSec, 86400 * kNsPerSec);
  alarm(unsigned(deadline_len / kNsPerSec + 20));  // backstop; children die with us (PDEATHSIG)

  std::printf("connect-rate: protocol %s, %s; steps %s%g from %g to %g connections/s, %s each; hold %" PRIu64
              "; slow > %s; attempt timeout %s; %u process(es), %u attempts in progress each at most\n",
              protocol_name(protocol), base.url.text.c_str(), a.has("factor") ? "x" : "+",
              a.has("factor") ? factor : step_add, start, rates.back(), format_duration(step_duration).c_str(), hold,
              format_duration(slow_ns).c_str(), format_duration(base.connect_timeout_ns).c_str(), nproc,
              base.max_inflight);
  std::fflush(stdout);
  std::fflush(stderr);

  std::vector<Child> children(nproc);
  uint64_t first_index = 0;
  for (uint32_t c = 0; c < nproc; ++c) {
    ClientOptions o = base;
    CentrifugoOptions child_proto = proto;
    child_proto.first_index = first_index;
    first_index += slots;
    uint32_t child_hold = uint32_t(share_of(hold, nproc, c));
    spawn_child(children, c, "connect-rate", [&](int report_fd, int order_fd) {
      return connect_rate_child(c, std::move(o), std::move(child_proto), child_hold, slow_ns, report_fd, order_fd);
    });
  }

  const int64_t deadline = now_ns() + deadline_len;
  bool child_died = false, deadline_hit = false;
  double best = 0;
  uint64_t best_p50 = 0, best_p99 = 0;
  double best_achieved = 0;
  std::string stop_reason = "max";  // the last step (--max) was sustained
  size_t steps_run = 0;
  std::array<uint64_t, size_t(FailKind::kCount)> all_fails{};
  double client_cpu_at_stop = 0;

  for (size_t s = 0; s < rates.size(); ++s) {
    const double rate = rates[s];
    const int64_t t_start = now_ns() + 20 * kNsPerMs;
    StepOrder order{rate / nproc, t_start, t_start + step_duration};
    for (auto& ch : children) {
      ch.step.reset();
      write_all(ch.control.get(), &order, sizeof order);
    }
    std::optional<double> server_cpu0 = server_pid ? server_pid->cpu_s() : std::nullopt;
    int64_t last_report = 0;
    while (true) {
      poll_children(children, 100);
      bool all = true;
      for (auto& ch : children) {
        take_step_report(ch);
        if (ch.eof && !ch.step) child_died = true;
        all = all && ch.step;
      }
      int64_t now = now_ns();
      if (all || child_died) break;
      if (now >= deadline) {
        deadline_hit = true;
        break;
      }
      if (now - last_report >= kNsPerSec) {
        last_report = now;
        char line[160];
        std::snprintf(line, sizeof line, "[connect-rate] step %zu/%zu: %g connections/s, %s", s + 1, rates.size(), rate,
                      now < order.end_ns ? "opening" : "waiting for the last attempts");
        progress(line, quiet);
      }
    }
    progress_done(quiet);
    if (child_died || deadline_hit) break;
    ++steps_run;
    std::optional<double> server_cpu1 = server_pid ? server_pid->cpu_s() : std::nullopt;

    StepReport total;
    double client_max = 0, wall = 0;
    for (auto& ch : children) {
      const StepReport& r = *ch.step;
      total.asked += r.asked;
      total.attempts += r.attempts;
      total.usable += r.usable;
      total.slow += r.slow;
      total.failed += r.failed;
      total.held += r.held;
      total.dropped_held += r.dropped_held;
      for (size_t k = 0; k < size_t(FailKind::kCount); ++k) {
        total.fails[k] += r.fails[k];
        all_fails[k] += r.fails[k];
      }
      total.hist.merge(r.hist);
      if (!total.first_error[0] && r.first_error[0]) std::memcpy(total.first_error, r.first_error, sizeof r.first_error);
      if (r.wall_s > 0) client_max = std::max(client_max, 100.0 * r.cpu_s / r.wall_s);
      wall = std::max(wall, r.wall_s);
    }
    const double secs = double(step_duration) / 1e9;
    const double achieved = double(total.usable) / secs;
    const double failed_pct = total.attempts ? 100.0 * double(total.failed) / double(total.attempts) : 0;
    const double slow_pct = total.attempts ? 100.0 * double(total.slow) / double(total.attempts) : 0;
    const double started_pct = total.asked ? 100.0 * double(total.attempts) / double(total.asked) : 0;
    std::optional<double> server_cpu;
    if (server_cpu0 && server_cpu1 && wall > 0) server_cpu = 100.0 * (*server_cpu1 - *server_cpu0) / wall;

    std::string reason;
    if (failed_pct > kMaxFailedPct) reason = "failures";
    else if (slow_pct > kMaxSlowPct) reason = "slow_connects";
    else if (started_pct < kMinStartedPct) reason = client_max >= kSaturatedCpuPct ? "client_saturated" : "too_many_in_progress";
    const bool sustained = reason.empty();

    std::array<uint64_t, size_t(FailKind::kCount)> step_fails{};
    for (size_t k = 0; k < step_fails.size(); ++k) step_fails[k] = total.fails[k];
    const std::string fail_text = failure_summary(step_fails);
    std::printf("\n== step %zu/%zu: %g connections/s for %.1fs\n", s + 1, rates.size(), rate, secs);
    std::printf("attempts:  %" PRIu64 " started of %" PRIu64 " asked (%.1f %%), %" PRIu64 " usable (%.0f/s), %" PRIu64
                " failed (%.2f %%%s%s), %" PRIu64 " slower than %s (%.2f %%)\n",
                total.attempts, total.asked, started_pct, total.usable, achieved, total.failed, failed_pct,
                fail_text.empty() ? "" : ": ", fail_text.c_str(), total.slow, format_duration(slow_ns).c_str(), slow_pct);
    std::printf("latency:   connect -> usable  p50 %.1fus  p90 %.1fus  p99 %.1fus  max %.1fus\n",
                us(total.hist.quantile(0.5)), us(total.hist.quantile(0.9)), us(total.hist.quantile(0.99)),
                us(total.hist.max()));
    std::printf("cpu:       client max %.0f%% of a core", client_max);
    if (server_cpu) std::printf(", server %.0f%% (pid %s)", *server_cpu, server_pid->text().c_str());
    std::printf("; held %" PRIu64 " open, %" PRIu64 " held connections dropped by the server\n", total.held,
                total.dropped_held);
    if (total.first_error[0]) std::printf("first failure: %s\n", total.first_error);
    if (!sustained) std::printf("step NOT sustained: %s\n", reason.c_str());
    std::printf("RESULT connect-rate-step protocol=%s rate=%g asked=%" PRIu64 " attempts=%" PRIu64 " usable=%" PRIu64
                " failed=%" PRIu64 " slow=%" PRIu64 " achieved_per_sec=%.0f failed_pct=%.2f slow_pct=%.2f p50_us=%.1f "
                "p90_us=%.1f p99_us=%.1f max_us=%.1f client_cpu_max_pct=%.0f server_cpu_pct=%s held=%" PRIu64
                " dropped_held=%" PRIu64 " sustained=%d reason=%s\n",
                protocol_name(protocol), rate, total.asked, total.attempts, total.usable, total.failed, total.slow,
                achieved, failed_pct, slow_pct, us(total.hist.quantile(0.5)), us(total.hist.quantile(0.9)),
                us(total.hist.quantile(0.99)), us(total.hist.max()), client_max,
                server_cpu ? std::to_string(int64_t(*server_cpu)).c_str() : "na", total.held, total.dropped_held,
                sustained ? 1 : 0, sustained ? "none" : reason.c_str());
    std::fflush(stdout);
    client_cpu_at_stop = client_max;
    if (!sustained) {
      stop_reason = reason;
      break;
    }
    best = rate;
    best_achieved = achieved;
    best_p50 = total.hist.quantile(0.5);
    best_p99 = total.hist.quantile(0.99);
  }

  // Finish: children close their connections.
  finish_children(children, 5 * kNsPerSec, [] {});
  if (child_died) std::fprintf(stderr, "error: a client process exited unexpectedly\n");
  if (deadline_hit) std::fprintf(stderr, "error: global deadline reached; results are partial\n");
  if (auto f = failure_summary(all_fails); !f.empty()) {
    std::fprintf(stderr, "failures (per attempt, all steps): %s\n%s", f.c_str(), failure_advice(all_fails, 0).c_str());
  }
  if (stop_reason == "client_saturated") {
    std::printf("note: the LOAD GENERATOR was the limit (a process at %.0f%% of a core): max_rate is a lower bound for "
                "the server (try --processes)\n", client_cpu_at_stop);
  }
  std::printf("RESULT connect-rate protocol=%s max_rate=%g achieved_per_sec=%.0f p50_us=%.1f p99_us=%.1f steps=%zu "
              "stopped_by=%s hold=%" PRIu64 " processes=%u\n",
              protocol_name(protocol), best, best_achieved, us(best_p50), us(best_p99), steps_run,
              child_died ? "client_died" : deadline_hit ? "deadline" : stop_reason.c_str(), hold, nproc);
  std::fflush(stdout);
  if (child_died || deadline_hit || steps_run == 0) return kExitFailure;
  return kExitOk;
}

}  // namespace sbbench
