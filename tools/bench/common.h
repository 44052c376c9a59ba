// Small shared helpers for switchboard-bench: clocks, a cheap PRNG, an owning
// file descriptor, single-writer counters and readers for /proc figures.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <time.h>
#include <vector>

namespace sbbench {

// Thrown for anything the user typed wrong; main() prints it with a hint to --help.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

// xorshift64*: a few cycles per draw, good enough for frame masks, jitter and
// stagger. Never used for anything security-relevant.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  uint32_t next32() { return uint32_t(next() >> 32); }
  // Uniform-ish in [0, bound); bound > 0.
  uint64_t below(uint64_t bound) { return next() % bound; }

 private:
  uint64_t state_;
};

// Part k (from 0) of `total` split as evenly as possible into `parts`: the
// first total % parts parts get one more.
constexpr uint64_t share_of(uint64_t total, uint64_t parts, uint64_t k) {
  return total / parts + (k < total % parts ? 1 : 0);
}

// A seed from the kernel's CSPRNG (falls back to the clock).
uint64_t random_seed();

// Owning file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Counter written by exactly one thread and read by others (progress line).
// A relaxed load+store compiles to plain moves, unlike fetch_add.
class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
uint64_t raise_nofile_limit();

// VmRSS of a process in KiB, or nullopt when the process is gone/unreadable.
std::optional<uint64_t> read_vmrss_kb(int pid);

// CPU time (user + system, all threads) a process has used, in seconds, from
// /proc/PID/stat; nullopt when the process is gone/unreadable.
std::optional<double> read_process_cpu_s(int pid);
// CPU time (user + system) of the calling process, from getrusage.
double self_cpu_s();
// Time all threads of a process have spent runnable but waiting for a CPU,
// in seconds (sum of /proc/PID/task/*/schedstat field 2); pid 0 = this
// process. nullopt when unreadable (no schedstats in this kernel).
std::optional<double> read_runqueue_wait_s(int pid);

struct SockStat {
  uint64_t tcp_inuse = 0;
  uint64_t tcp_alloc = 0;
  uint64_t tcp_mem_pages = 0;  // kernel memory charged to TCP sockets, in pages
};
std::optional<SockStat> read_sockstat();

// Writes all of data to a (possibly non-blocking) pipe, waiting while it is
// full; false when the reader is gone.
bool write_all(int fd, const void* data, size_t len);

// The server under measurement (--server-pid PID[,PID...]): one process, or
// several measured as one (nginx's workers); every figure is their sum.
class ServerProcesses {
 public:
  // Parses the option's text; throws UsageError on a bad or vanished pid.
  static ServerProcesses parse(const std::string& text);
  std::optional<uint64_t> rss_kb() const;           // nullopt once any is gone
  std::optional<double> cpu_s() const;
  std::optional<double> runqueue_wait_s() const;
  const std::string& text() const { return text_; }  // "123" or "123,456"

 private:
  std::vector<int> pids_;
  std::string text_;
};

// "1.23s", "850ms", "12.0us": human duration for messages.
std::string format_duration(int64_t ns);

}  // namespace sbbench
