// `echo` mode: every connection sends a `size`-byte message and waits for its
// echo (or keeps `pipeline` in flight), measuring throughput and round-trip
// latency over a fixed window that starts once every connection is up.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <thread>

#include "histogram.h"
#include "modes.h"
#include "options_common.h"

namespace sbbench {
namespace {

constexpr const char* kEchoHelp =
    "usage: switchboard-bench echo --url ws://127.0.0.1:PORT/PATH [options]\n"
    "\n"
    "Each connection sends a message and waits for the server to echo it, then\n"
    "repeats; messages/s and round-trip latency are measured over --duration,\n"
    "starting once all connections are open.\n"
    "\n"
    "options:\n"
    "  --size BYTES                payload size (default 20; k/m suffixes)\n"
    "  --duration D                measurement window (default 10s)\n"
    "  --pipeline K                messages in flight per connection (default 1)\n"
    "  --threads T                 event-loop threads, connections split evenly (default 1)\n"
    "  --text                      send text frames instead of binary\n";

// Shared between the monitor (main thread) and the event-loop threads.
struct RunControl {
  std::atomic<int64_t> start_ns{0};  // 0 until every connection is up
  std::atomic<int64_t> end_ns{INT64_MAX};
  std::atomic<bool> stop{false};
};

struct EchoConfig {
  size_t size;
  uint32_t pipeline;
  uint8_t op;
};

class EchoWorker final : public Worker {
 public:
  EchoWorker(ClientOptions opts, uint64_t seed, const EchoConfig& cfg, const RunControl& ctl)
      : Worker(std::move(opts), seed), cfg_(cfg), ctl_(ctl), payload_(cfg.size),
        sent_ts_(size_t(size()) * cfg.pipeline), st_(size()), hist_(std::make_unique<LatencyHistogram>()) {
    // Printable bytes so the same payload is valid as a text frame.
    for (size_t k = 0; k < payload_.size(); ++k) payload_[k] = uint8_t(33 + (k * 31 + 7) % 94);
    frame_size_ = client_frame_size(cfg.size);
  }

  void run() {
    while (!ctl_.stop.load(std::memory_order_relaxed)) {
      step(10);
      if (now() >= end_ns_) break;
    }
    close_all();
    int64_t give_up = now_ns() + 2 * kNsPerSec;
    while (!all_closed() && now_ns() < give_up) step(10);
  }

  const LatencyHistogram& histogram() const { return *hist_; }
  uint64_t window_messages() const { return window_msgs_; }
  uint64_t bad_echoes() const { return bad_echoes_; }

 protected:
  void on_open(uint32_t i) override {
    st_[i] = {};
    for (uint32_t k = 0; k < cfg_.pipeline && sending_; ++k) send_one(i);
  }

  void on_data(uint32_t i, const uint8_t* p, size_t n) override {
    PerConn& s = st_[i];
    // The echo must be byte-identical to what we sent (before masking).
    if (!s.bad && (s.received + n > payload_.size() || std::memcmp(p, payload_.data() + s.received, n) != 0)) {
      s.bad = true;
    }
    s.received += n;
  }

  void on_message_end(uint32_t i, uint8_t op) override {
    PerConn& s = st_[i];
    if (s.bad || s.received != payload_.size() || op != cfg_.op) ++bad_echoes_;
    s.bad = false;
    s.received = 0;
    if (s.inflight == 0) {  // unsolicited message: nothing to match it with
      ++bad_echoes_;
      return;
    }
    int64_t sent = sent_ts_[size_t(i) * cfg_.pipeline + s.head];
    s.head = (s.head + 1) % cfg_.pipeline;
    --s.inflight;
    int64_t t = now();
    stats().messages.add();
    if (sent >= start_ns_ && t <= end_ns_) {
      hist_->record(uint64_t(t - sent));
      ++window_msgs_;
    }
    if (sending_) send_one(i);
  }

  void on_lost(uint32_t i) override { st_[i] = {}; }

  void on_tick() override {
    if (start_ns_ == INT64_MAX) {
      int64_t s = ctl_.start_ns.load(std::memory_order_acquire);
      if (s != 0) {
        start_ns_ = s;
        end_ns_ = ctl_.end_ns.load(std::memory_order_relaxed);
      }
    }
    if (now() >= end_ns_) sending_ = false;
  }

 private:
  struct PerConn {
    uint32_t head = 0;      // oldest in-flight slot in the timestamp ring
    uint32_t inflight = 0;
    uint64_t received = 0;  // bytes of the current echo so far
    bool bad = false;
  };

  void send_one(uint32_t i) {
    PerConn& s = st_[i];
    uint8_t* dst = out_prepare(i, frame_size_);
    out_commit(i, write_client_frame(dst, cfg_.op, true, payload_.data(), payload_.size(), rng().next32()));
    sent_ts_[size_t(i) * cfg_.pipeline + (s.head + s.inflight) % cfg_.pipeline] = now();
    ++s.inflight;
  }

  EchoConfig cfg_;
  const RunControl& ctl_;
  std::vector<uint8_t> payload_;
  size_t frame_size_ = 0;
  std::vector<int64_t> sent_ts_;  // ring of send times, `pipeline` per connection
  std::vector<PerConn> st_;
  std::unique_ptr<LatencyHistogram> hist_;
  int64_t start_ns_ = INT64_MAX;  // window, copied from RunControl once set
  int64_t end_ns_ = INT64_MAX;
  bool sending_ = true;
  uint64_t window_msgs_ = 0;
  uint64_t bad_echoes_ = 0;
};

double us(uint64_t ns) { return double(ns) / 1000.0; }

}  // namespace

int run_echo(std::span<char* const> argv) {
  static constexpr OptSpec kOwn[] = {
      {"size", true}, {"duration", true}, {"pipeline", true}, {"threads", true}, {"text", false}};
  std::vector<OptSpec> specs(std::begin(kCommonOpts), std::end(kCommonOpts));
  specs.insert(specs.end(), std::begin(kOwn), std::end(kOwn));
  Args a("echo", argv, specs);
  if (a.has("help")) {
    std::printf("%s%s", kEchoHelp, kCommonHelp);
    return kExitOk;
  }

  ClientOptions base = common_client_options(a, 100, 5000);
  EchoConfig cfg{};
  cfg.size = a.size("size", 20, 0, 16 * 1024 * 1024);
  cfg.pipeline = uint32_t(a.u64("pipeline", 1, 1, 4096));
  cfg.op = a.has("text") ? opcode::kText : opcode::kBinary;
  int64_t duration = a.duration_ns("duration", 10 * kNsPerSec, 100 * kNsPerMs, 3600 * kNsPerSec);
  uint32_t threads = uint32_t(a.u64("threads", 1, 1, 256));
  bool quiet = a.has("quiet");
  if (threads > base.connections) threads = base.connections;
  base.out_reserve = size_t(cfg.pipeline) * client_frame_size(cfg.size) + 256;

  // Ramp budget: the paced connect time plus slack for retries; the whole run
  // is bounded by --timeout (default ramp budget + duration + 15 s).
  int64_t ramp_budget = int64_t(double(base.connections) / base.rate_per_sec * 1e9) * 2 + 20 * kNsPerSec;
  int64_t deadline_len = a.duration_ns("timeout", ramp_budget + duration + 15 * kNsPerSec, kNsPerSec, 86400 * kNsPerSec);
  uint64_t fds_needed = base.connections + 64;
  if (uint64_t lim = raise_nofile_limit(); lim < fds_needed) {
    throw UsageError("--connections " + std::to_string(base.connections) + " needs ~" + std::to_string(fds_needed) +
                     " open files but RLIMIT_NOFILE is " + std::to_string(lim) + " (use idle mode to spread over processes)");
  }
  // Backstop: even a wedged loop cannot outlive the deadline by much.
  alarm(unsigned(deadline_len / kNsPerSec + 10));

  RunControl ctl;
  std::vector<std::unique_ptr<EchoWorker>> workers;
  uint64_t seed = random_seed();
  for (uint32_t t = 0; t < threads; ++t) {
    ClientOptions o = base;
    o.connections = base.connections / threads + (t < base.connections % threads ? 1 : 0);
    o.rate_per_sec = base.rate_per_sec / threads;
    o.max_inflight = std::max<uint32_t>(1, base.max_inflight / threads);
    workers.push_back(std::make_unique<EchoWorker>(std::move(o), seed + t * 0x9E3779B97F4A7C15ull, cfg, ctl));
  }

  const int64_t t0 = now_ns();
  const int64_t deadline = t0 + deadline_len;
  std::vector<std::jthread> pool;
  for (auto& w : workers) pool.emplace_back([&w] { w->run(); });

  auto sum = [&](auto getter) {
    uint64_t s = 0;
    for (auto& w : workers) s += getter(w->stats());
    return s;
  };
  const uint64_t total = base.connections;
  bool started = false;
  bool timed_out = false;
  uint64_t last_msgs = 0;
  int64_t last_report = t0;
  int64_t ramp_deadline = t0 + ramp_budget;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int64_t now = now_ns();
    uint64_t open = sum([](ClientStats& s) { return s.open.get(); });
    uint64_t failed = sum([](ClientStats& s) { return s.failed_final.get(); });
    if (!started) {
      bool all_settled = open + failed >= total;
      if (all_settled || now >= ramp_deadline) {
        if (open == 0) break;  // nothing to measure
        ctl.end_ns.store(now + duration, std::memory_order_relaxed);
        ctl.start_ns.store(now, std::memory_order_release);
        started = true;
      }
    } else if (now >= ctl.end_ns.load(std::memory_order_relaxed)) {
      break;
    }
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (now - last_report >= kNsPerSec) {
      uint64_t msgs = sum([](ClientStats& s) { return s.messages.get(); });
      double rate = double(msgs - last_msgs) * 1e9 / double(now - last_report);
      last_msgs = msgs;
      last_report = now;
      char line[200];
      int64_t start = ctl.start_ns.load(std::memory_order_relaxed);
      std::snprintf(line, sizeof line, "[echo] connected %" PRIu64 "/%" PRIu64 " failed %" PRIu64 " | %.0f msgs/s | %s",
                    open, total, failed, rate,
                    started ? ("running " + std::to_string((now - start) / kNsPerSec) + "s/" +
                               std::to_string(duration / kNsPerSec) + "s").c_str()
                            : "ramping");
      progress(line, quiet);
    }
  }
  ctl.stop.store(true);
  pool.clear();  // joins
  progress_done(quiet);

  LatencyHistogram hist;
  uint64_t window_msgs = 0, bad = 0;
  std::array<uint64_t, size_t(FailKind::kCount)> fails{};
  int last_http = 0;
  for (auto& w : workers) {
    hist.merge(w->histogram());
    window_msgs += w->window_messages();
    bad += w->bad_echoes();
    for (size_t k = 0; k < fails.size(); ++k) fails[k] += w->stats().failures[k].get();
    if (int h = w->stats().last_http_status.load()) last_http = h;
  }
  uint64_t failed_final = sum([](ClientStats& s) { return s.failed_final.get(); });
  uint64_t opened = sum([](ClientStats& s) { return s.opened_total.get(); });

  if (auto f = failure_summary(fails); !f.empty()) {
    std::fprintf(stderr, "failures (per attempt): %s\n%s", f.c_str(), failure_advice(fails, last_http).c_str());
    for (size_t k = 0; k < fails.size(); ++k) {
      for (auto& w : workers) {
        if (!w->first_errors()[k].empty()) {
          std::fprintf(stderr, "  first %s error: %s\n", fail_kind_name(FailKind(k)), w->first_errors()[k].c_str());
          break;
        }
      }
    }
  }
  if (!started) {
    std::fprintf(stderr, "error: no connection to %s could be opened; nothing measured\n", base.url.text.c_str());
    return kExitFailure;
  }
  if (timed_out) std::fprintf(stderr, "error: global deadline reached; results are partial\n");
  if (bad) std::fprintf(stderr, "warning: %" PRIu64 " echoes did not match what was sent\n", bad);

  double secs = double(duration) / 1e9;
  double rate = double(window_msgs) / secs;
  std::printf("connections: %" PRIu64 " requested, %" PRIu64 " opened, %" PRIu64 " failed\n", total, opened,
              failed_final);
  std::printf("messages:    %" PRIu64 " echoed in %.2fs = %.0f msgs/s (%.2f MB/s payload each way)\n", window_msgs,
              secs, rate, rate * double(cfg.size) / 1e6);
  std::printf("latency:     min %.1fus  mean %.1fus  p50 %.1fus  p90 %.1fus  p99 %.1fus  p99.9 %.1fus  max %.1fus\n",
              us(hist.min()), hist.mean() / 1000.0, us(hist.quantile(0.5)), us(hist.quantile(0.9)),
              us(hist.quantile(0.99)), us(hist.quantile(0.999)), us(hist.max()));
  std::printf("RESULT echo connections=%" PRIu64 " size=%zu pipeline=%u threads=%u duration_s=%.2f msgs_per_sec=%.0f "
              "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f failed=%" PRIu64 " server_refusals=%" PRIu64
              " bad_echoes=%" PRIu64 "\n",
              total, cfg.size, cfg.pipeline, threads, secs, rate, us(hist.quantile(0.5)), us(hist.quantile(0.99)),
              us(hist.quantile(0.999)), us(hist.max()), failed_final, server_refusals(fails), bad);
  std::fflush(stdout);
  if (timed_out || window_msgs == 0) return kExitFailure;
  return (failed_final || bad) ? kExitPartial : kExitOk;
}

}  // namespace sbbench
