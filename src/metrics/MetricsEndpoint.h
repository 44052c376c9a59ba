#pragma once
// GET /metrics: the Prometheus text exposition of one server — its own
// counters (read from NetStats, the node's SessionStats and HubStats, the
// memory broker), the process-wide hook metrics (metrics/ServerMetrics.h) and
// process figures from /proc/self. docs/operations.md lists every metric.
#include <cstddef>
#include <functional>

#include "http/Router.h"

namespace sb::broker {
class MemoryBroker;
}
namespace sb::core {
class Node;
}
namespace sb::net {
struct NetStats;
}

namespace sb::metrics {

struct ProcessStats {
  double residentBytes = 0;
  double virtualBytes = 0;
  double openFds = 0;
  double maxFds = 0;
  double cpuSeconds = 0;
  double startTimeSeconds = 0;  // unix time
};
// Reads /proc/self (zeros for what cannot be read).
ProcessStats readProcessStats();

struct MetricsSources {
  net::NetStats& net;
  core::Node& node;
  const broker::MemoryBroker* memoryBroker = nullptr;  // history size; null = not shown
  std::function<bool()> draining;                      // null = never
};

// Registers GET /metrics on `router`. The sources must outlive the router.
void registerMetricsRoute(http::Router& router, MetricsSources sources);

}  // namespace sb::metrics
