// Options shared by every mode (target, handshake extras, connection pacing).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "args.h"
#include "client.h"

namespace sbbench {

inline constexpr OptSpec kCommonOpts[] = {
    {"url", true},         {"connections", true}, {"subprotocol", true}, {"header", true, true},
    {"rate", true},        {"max-inflight", true}, {"retries", true},    {"connect-timeout", true},
    {"timeout", true},     {"quiet", false},       {"help", false},
};

inline constexpr const char* kCommonHelp =
    "  --url ws://HOST:PORT/PATH   target; HOST must be 127.0.0.0/8, [::1] or localhost\n"
    "  --connections N             number of WebSocket connections (echo: 100, idle: 1000)\n"
    "  --subprotocol NAME          send Sec-WebSocket-Protocol: NAME\n"
    "  --header 'Name: value'      extra upgrade request header (repeatable)\n"
    "  --rate N                    new connections per second while ramping (echo: 5000, idle: 3000)\n"
    "  --max-inflight N            simultaneous connects+handshakes per process (default 256)\n"
    "  --retries N                 retries per connection, exponential backoff (default 3)\n"
    "  --connect-timeout D         per attempt, connect + handshake (default 10s)\n"
    "  --timeout D                 hard deadline for the whole run (default: derived)\n"
    "  --quiet                     no progress line\n";

// Fills the shared part of ClientOptions; throws UsageError. A mode whose
// flags differ (fanout: --subscribers, --connect-rate) passes their names.
inline ClientOptions common_client_options(const Args& a, uint64_t default_connections, double default_rate,
                                           std::string_view connections_key = "connections",
                                           std::string_view rate_key = "rate") {
  ClientOptions o;
  auto url = a.str("url");
  if (!url) throw UsageError("--url is required (e.g. --url ws://127.0.0.1:8000/echo)");
  o.url = parse_loopback_ws_url(*url);
  o.connections = uint32_t(a.u64(connections_key, default_connections, 1, 1'000'000));
  if (auto s = a.str("subprotocol")) {
    if (s->empty() || s->find_first_of("\r\n") != std::string::npos) throw UsageError("bad --subprotocol");
    o.subprotocol = *s;
  }
  for (const auto& h : a.all("header")) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos) {
      throw UsageError("bad --header '" + h + "': expected 'Name: value'");
    }
    o.headers.push_back(h);
  }
  o.rate_per_sec = a.number(rate_key, default_rate, 1, 1e7);
  o.max_inflight = uint32_t(a.u64("max-inflight", 256, 1, 100'000));
  o.max_retries = uint32_t(a.u64("retries", 3, 0, 20));
  o.connect_timeout_ns = a.duration_ns("connect-timeout", 10 * kNsPerSec, 100 * kNsPerMs, 600 * kNsPerSec);
  return o;
}

// Human summary of failures, e.g. "refused=12 timeout=3"; empty when none.
std::string failure_summary(const std::array<uint64_t, size_t(FailKind::kCount)>& counts);
// Attempts the server turned away: closed before answering, or a non-101 status.
inline uint64_t server_refusals(const std::array<uint64_t, size_t(FailKind::kCount)>& counts) {
  return counts[size_t(FailKind::kClosedInHandshake)] + counts[size_t(FailKind::kHttpStatus)];
}
// Explains refusals in plain words (server caps), or "" when nothing to say.
std::string failure_advice(const std::array<uint64_t, size_t(FailKind::kCount)>& counts, int last_http_status);

// Progress line helper: "\r...." on a TTY, plain lines otherwise.
void progress(const std::string& line, bool quiet);
void progress_done(bool quiet);

}  // namespace sbbench
