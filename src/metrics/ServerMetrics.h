#pragma once
// The process-wide metrics that parts of the server feed through small hooks
// (client sessions, the server API, broker calls), and the one registry that
// holds them. Each hook is one or two relaxed atomic increments on a child
// chosen by a switch or an array index: no lookup by string on a hot path, no
// lock, no allocation.
//
// Values counted elsewhere already (connections, subscriptions, deliveries…)
// are not here: the /metrics endpoint reads them from their owners at scrape
// time (metrics/MetricsEndpoint.h).
#include <cstdint>
#include <string_view>

#include "metrics/Metrics.h"

namespace sb::metrics {

// The registry of the hooks below (created on first use, lives until exit).
Registry& processRegistry();

// A client protocol session opened / closed on a transport ("websocket",
// "sse", "http_stream", "uni_websocket", "uni_sse", "uni_http_stream",
// "plain_websocket", "plain_sse", "plain_longpoll"; anything else is counted
// as "other").
void sessionOpened(std::string_view transport);
void sessionClosed(std::string_view transport);

// The server disconnected a client with this protocol code (3000–4999;
// anything else is counted as code "other").
void clientDisconnected(uint16_t code);

// A server API call answered with `status` and `body` (result "ok", "error"
// for a {"error":...} body, "bad_request", "unauthorized", "not_found").
void apiCall(std::string_view method, int status, std::string_view body);

// Broker operations timed by metrics::TimedBroker.
enum class BrokerOp : uint8_t {
  Publish,
  History,
  RemoveHistory,
  AddPresence,
  RemovePresence,
  Presence,
  PresenceStats,
  Count_
};
void brokerOperation(BrokerOp op, double seconds);

}  // namespace sb::metrics
