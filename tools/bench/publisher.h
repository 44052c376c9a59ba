// Publishes at a fixed rate over a few keep-alive connections, pipelining up
// to `pipeline` requests on each so the rate does not depend on the round
// trip: through a Centrifugo-style HTTP API (`POST /api/publish`,
// `X-API-Key`, body {"channel":…,"data":…}), or, for servers without one,
// as `POST <publish URL with {channel} filled in>` whose body is the data
// itself. Publications go round-robin over the target channels (publication
// n, counted from 1, to channels[(n - 1) mod size]), or with shared_every = S
// every S-th to the last channel (the shared one) and the others round-robin
// over the rest. Every publication's data
// is exactly `size` bytes of JSON that starts with its publish time and
// sequence number:
//
//   {"ts":<CLOCK_MONOTONIC ns>,"seq":<n>,"pad":"xxxx…"}
//
// so a subscriber on the same machine can compute publish→deliver latency
// with StampScanner. Non-blocking; driven by the caller's poll loop through
// poll_fd(), process_events() and pump().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "histogram.h"
#include "url.h"

namespace sbbench {

struct PublisherOptions {
  WsUrl api;                // http://127.0.0.1:PORT[/base], or the publish URL (plain mode)
  bool plain = false;       // POST the data to api.path with {channel} replaced; any 2xx is success
  std::string api_key;      // API mode only
  std::vector<std::string> channels;  // targets, round-robin
  uint32_t shared_every = 0;  // > 0: every n-th publication to channels.back(), the rest over the others
  size_t size = 100;        // bytes of the published JSON data
  uint32_t connections = 1;
  uint32_t pipeline = 128;  // requests in flight per connection
};

// Smallest --size that still holds the stamp with room for any ts/seq.
constexpr size_t kMinPublicationSize = 64;

struct PublisherStats {
  uint64_t sent = 0;           // requests written
  uint64_t ok = 0;             // 200 with a "result"
  uint64_t failed = 0;         // any other answer
  uint64_t lost = 0;           // in flight when their connection closed
  uint64_t sent_in_window = 0;
  uint64_t ok_in_window = 0;   // acknowledged publications stamped inside the window
  std::vector<uint64_t> ok_in_window_by_channel;  // the same, per target channel
  uint64_t max_backlog = 0;    // publications due but not sendable (pipelines full), worst seen
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  int last_status = 0;
  std::string first_error;
};

class Publisher {
 public:
  explicit Publisher(PublisherOptions opts);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Readable (for poll) whenever a socket needs attention; then call process_events().
  int poll_fd() const { return epoll_.get(); }
  void process_events();

  // Begins a run of `rate` publications per second from `start`; those
  // stamped in [win_start, win_end) are counted as the window's. Clears the
  // statistics and the API latency histogram.
  void start(double rate, int64_t start, int64_t win_start, int64_t win_end);
  // No new publications; those in flight still complete.
  void stop() { running_ = false; }
  // Writes every publication due by `now`; returns ns until the next is due
  // (INT64_MAX when stopped).
  int64_t pump(int64_t now);

  // Index into the target channels of publication `seq` (counted from 1) out
  // of `channels` targets: round-robin, or with shared_every = S every S-th
  // to the last (shared) channel and the others round-robin over the rest.
  static constexpr uint32_t target_channel(uint64_t seq, size_t channels, uint64_t shared_every) {
    if (shared_every == 0 || channels == 1) return uint32_t((seq - 1) % channels);
    if (seq % shared_every == 0) return uint32_t(channels - 1);
    // The publications before this one that went to the other channels.
    const uint64_t others = (seq - 1) - (seq - 1) / shared_every;
    return uint32_t(others % (channels - 1));
  }

  uint64_t inflight() const;
  const PublisherStats& stats() const { return stats_; }
  // Request written → response parsed, for the acknowledged ones.
  const LatencyHistogram& api_latency() const { return *api_latency_; }

 private:
  struct ApiConn;
  void connect(ApiConn& c);
  void finish_connect(ApiConn& c);
  void close_conn(ApiConn& c, const std::string& why);
  void flush(ApiConn& c);
  void on_readable(ApiConn& c);
  // Parses and accounts every complete response in c's input; false if the
  // connection had to be closed.
  bool parse_responses(ApiConn& c);
  void write_publication(ApiConn& c, int64_t now);
  void note_error(const std::string& why);

  PublisherOptions opts_;
  Fd epoll_;
  std::vector<std::unique_ptr<ApiConn>> conns_;
  std::vector<std::string> head_prefix_;  // per channel: request line and headers, up to "Content-Length: "
  std::string pad_;
  PublisherStats stats_;
  std::unique_ptr<LatencyHistogram> api_latency_;
  bool running_ = false;
  double rate_ = 0;
  int64_t start_ = 0;
  int64_t win_start_ = 0;
  int64_t win_end_ = 0;
  uint64_t run_sent_ = 0;  // publications written in this run (schedule position)
  uint64_t seq_ = 0;       // across runs, so subscribers see no gap between runs
  uint32_t next_conn_ = 0;
  int64_t next_connect_ns_ = 0;
};

}  // namespace sbbench
