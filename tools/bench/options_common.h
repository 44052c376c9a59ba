// Options shared by every mode (target, handshake extras, connection pacing).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "args.h"
#include "centrifugo_worker.h"
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

// How subscribers talk to the server (--protocol): the Centrifugo v2 JSON
// protocol over WebSocket; a raw WebSocket whose every message is a
// publication (channels in the URL); or an EventSource stream (channels in
// the URL, publications in `data:` lines).
enum class Protocol { kCentrifugo, kRaw, kSse };

inline Protocol parse_protocol(const Args& a) {
  std::string p = a.str("protocol").value_or("centrifugo");
  if (p == "centrifugo") return Protocol::kCentrifugo;
  if (p == "raw") return Protocol::kRaw;
  if (p == "sse") return Protocol::kSse;
  throw UsageError("invalid --protocol '" + p + "': expected centrifugo, raw or sse");
}

inline const char* protocol_name(Protocol p) {
  return p == Protocol::kCentrifugo ? "centrifugo" : p == Protocol::kRaw ? "raw" : "sse";
}

inline constexpr const char* kProtocolHelp =
    "  --protocol centrifugo|raw|sse  centrifugo (default): Centrifugo v2 JSON over WebSocket, channel by\n"
    "                              command; raw: plain WebSocket, every message is a publication;\n"
    "                              sse: EventSource GET (http:// URL), publications in data: lines.\n"
    "                              raw/sse: {channel} (and {channel2}) in --url are filled in per connection\n";

// Fills the shared part of ClientOptions; throws UsageError. A mode whose
// flags differ (fanout: --subscribers, --connect-rate) passes their names.
// With Protocol::kSse --url is an http:// URL and connections are EventSource GETs.
inline ClientOptions common_client_options(const Args& a, uint64_t default_connections, double default_rate,
                                           std::string_view connections_key = "connections",
                                           std::string_view rate_key = "rate",
                                           Protocol protocol = Protocol::kCentrifugo) {
  ClientOptions o;
  auto url = a.str("url");
  if (!url) throw UsageError("--url is required (e.g. --url ws://127.0.0.1:8000/echo)");
  if (protocol == Protocol::kSse) {
    o.url = parse_loopback_http_target(*url, "--url");
    o.transport = Transport::kSse;
  } else {
    o.url = parse_loopback_ws_url(*url);
  }
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

// Channels and protocol of subscriber connections (idle, fanout,
// connect-rate): `channel` is the shared channel, K the per-connection
// channels (0 = none); --token for Centrifugo. For raw/sse the URL's path is
// the template: {channel} (and, with K > 0, {channel2}) are filled in per
// connection. Throws UsageError.
inline CentrifugoOptions subscriber_options(const Args& a, Protocol protocol, const ClientOptions& client,
                                            const std::string& channel, uint32_t channels) {
  CentrifugoOptions o;
  o.enabled = protocol == Protocol::kCentrifugo;
  o.channel = channel;
  o.channels = channels;
  o.token = a.str("token").value_or("");
  if (o.enabled) {
    validate_centrifugo_options(o);
    return o;
  }
  if (!o.token.empty()) throw UsageError("--token only applies to --protocol centrifugo");
  validate_url_channel(channel);
  const std::string& path = client.url.path;
  bool has_own = path.find("{channel}") != std::string::npos;
  bool has_shared = path.find("{channel2}") != std::string::npos;
  if (channels > 0 && (!has_own || !has_shared)) {
    throw UsageError("--channels K with --protocol raw/sse needs {channel} and {channel2} in --url "
                     "(e.g. /sub?channel={channel},{channel2})");
  }
  if (channels == 0 && has_shared) throw UsageError("{channel2} in --url needs --channels K > 0");
  o.path_template = path;
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
