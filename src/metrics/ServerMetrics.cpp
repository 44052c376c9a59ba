#include "metrics/ServerMetrics.h"

#include <array>

namespace sb::metrics {

namespace {

constexpr std::array<std::string_view, 10> kTransports = {
    "websocket",     "sse",       "http_stream",     "uni_websocket", "uni_sse",
    "uni_http_stream", "plain_websocket", "plain_sse", "plain_longpoll", "other"};

constexpr std::array<std::string_view, 16> kApiMethods = {
    "publish", "broadcast",   "presence", "presence_stats", "history", "history_remove", "disconnect", "info",
    "subscribe", "unsubscribe", "refresh", "channels",        "batch",   "rpc",            "legacy",     "other"};
constexpr std::array<std::string_view, 5> kApiResults = {"ok", "error", "bad_request", "unauthorized", "not_found"};

constexpr std::array<std::string_view, size_t(BrokerOp::Count_)> kBrokerOps = {
    "publish", "history", "remove_history", "add_presence", "remove_presence", "presence", "presence_stats"};

template <size_t N>
size_t indexOf(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i + 1 < N; ++i) {
    if (names[i] == name) return i;
  }
  return N - 1;  // "other"
}

// Disconnect codes are 3000–4999 (applications choose 4000–4999 freely), so
// they are counted in a dense array and rendered when non-zero.
constexpr uint16_t kFirstCode = 3000;
constexpr size_t kCodes = 2000;

struct ServerMetrics {
  Registry registry;
  std::array<Gauge*, kTransports.size()> sessionsOpen{};
  std::array<Counter*, kTransports.size()> sessionsOpened{};
  std::array<std::atomic<uint64_t>, kCodes + 1> disconnects{};  // last = out of range
  std::array<std::array<Counter*, kApiResults.size()>, kApiMethods.size()> api{};
  std::array<Histogram*, kBrokerOps.size()> broker{};

  ServerMetrics() {
    for (size_t i = 0; i < kTransports.size(); ++i) {
      Labels l{{"transport", std::string(kTransports[i])}};
      sessionsOpen[i] = &registry.gauge("switchboard_client_connections",
                                        "Client protocol sessions open now, by transport.", l);
      sessionsOpened[i] = &registry.counter("switchboard_client_connections_total",
                                            "Client protocol sessions opened since start, by transport.", l);
    }
    registry.dynamicFamily(
        "switchboard_client_disconnects_total",
        "Clients disconnected by the server, by protocol disconnect code (3001 shutdown, 3012 no pong, ...).",
        "counter", [this](std::string& out, std::string_view name) {
          for (size_t i = 0; i <= kCodes; ++i) {
            uint64_t n = disconnects[i].load(std::memory_order_relaxed);
            if (n == 0) continue;
            std::string code = i < kCodes ? std::to_string(kFirstCode + i) : "other";
            appendSample(out, name, Labels{{"code", code}}, double(n));
          }
        });
    for (size_t m = 0; m < kApiMethods.size(); ++m) {
      for (size_t r = 0; r < kApiResults.size(); ++r) {
        Labels l{{"method", std::string(kApiMethods[m])}, {"result", std::string(kApiResults[r])}};
        api[m][r] = &registry.counter("switchboard_api_calls_total", "Server HTTP API calls, by method and result.", l);
      }
    }
    for (size_t i = 0; i < kBrokerOps.size(); ++i) {
      broker[i] = &registry.histogram("switchboard_broker_operation_duration_seconds",
                                      "Time from a broker call to its completion, by operation.",
                                      Histogram::latencyBuckets(), {{"op", std::string(kBrokerOps[i])}});
    }
  }
};

ServerMetrics& instance() {
  // Worker threads are joined before main() returns, so nothing reports
  // while this is destroyed at exit.
  static ServerMetrics m;
  return m;
}

}  // namespace

Registry& processRegistry() { return instance().registry; }

void sessionOpened(std::string_view transport) {
  size_t i = indexOf(kTransports, transport);
  instance().sessionsOpen[i]->add();
  instance().sessionsOpened[i]->inc();
}

void sessionClosed(std::string_view transport) { instance().sessionsOpen[indexOf(kTransports, transport)]->sub(); }

void clientDisconnected(uint16_t code) {
  size_t i = code >= kFirstCode && code < kFirstCode + kCodes ? size_t(code - kFirstCode) : kCodes;
  instance().disconnects[i].fetch_add(1, std::memory_order_relaxed);
}

void apiCall(std::string_view method, int status, std::string_view body) {
  size_t result = 0;
  if (status == 401 || status == 403) result = 3;
  else if (status == 404) result = 4;
  else if (status >= 400 && status < 500) result = 2;
  else if (status >= 500 || body.starts_with("{\"error\"")) result = 1;
  instance().api[indexOf(kApiMethods, method)][result]->inc();
}

void brokerOperation(BrokerOp op, double seconds) { instance().broker[size_t(op)]->observe(seconds); }

}  // namespace sb::metrics
