#include "metrics/MetricsEndpoint.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "broker/MemoryBroker.h"
#include "core/Node.h"
#include "http/HttpSession.h"
#include "http/Response.h"
#include "metrics/ServerMetrics.h"
#include "net/Worker.h"

namespace sb::metrics {

namespace {

// Reads a small /proc file whole (they report a size of 0, so read until EOF).
std::string readProcFile(const char* path) {
  std::string out;
  if (FILE* f = std::fopen(path, "re")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && out.size() < 65536) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

double bootTimeSeconds() {
  std::string stat = readProcFile("/proc/stat");
  size_t at = stat.find("\nbtime ");
  return at == std::string::npos ? 0 : std::strtod(stat.c_str() + at + 7, nullptr);
}

// The server's own figures: read from their owners at scrape time.
std::unique_ptr<Registry> serverRegistry(const MetricsSources& src) {
  auto r = std::make_unique<Registry>();
  net::NetStats& net = src.net;
  core::Node& node = src.node;
  auto load = [](const auto& atomic) { return [&atomic] { return double(atomic.load(std::memory_order_relaxed)); }; };

  r->gaugeFunction("switchboard_build_info", "Always 1; the version is in the label.", {{"version", SB_VERSION}},
                   [] { return 1.0; });
  r->gaugeFunction("switchboard_draining", "1 while the server drains connections before exiting (SIGTERM).", {},
                   [d = src.draining] { return d && d() ? 1.0 : 0.0; });
  r->gaugeFunction("switchboard_connections", "TCP connections open now (HTTP, WebSocket, all transports).", {},
                   load(net.connections));
  r->counterFunction("switchboard_connections_accepted_total", "TCP connections accepted since start.", {},
                     load(net.accepted));
  r->counterFunction("switchboard_connections_refused_total",
                     "Connections refused: over server.max_connections, or out of file descriptors.",
                     {{"reason", "over_limit"}}, load(net.refusedOverLimit));
  r->counterFunction("switchboard_connections_refused_total", "", {{"reason", "no_files"}}, load(net.refusedNoFiles));
  r->counterFunction("switchboard_slow_consumer_disconnects_total",
                     "Connections closed because their unsent data passed server.write_queue_limit.", {},
                     load(net.slowConsumers));
  r->counterFunction("switchboard_transport_bytes_received_total", "Bytes read from client sockets (after TLS).", {},
                     load(net.bytesIn));
  r->counterFunction("switchboard_transport_bytes_sent_total", "Bytes written to client sockets (before TLS).", {},
                     load(net.bytesOut));

  core::SessionStats& sessions = node.stats();
  r->gaugeFunction("switchboard_clients", "Clients connected now (sessions past the connect command).", {},
                   load(sessions.clients));
  r->counterFunction("switchboard_client_messages_received_total",
                     "Messages received from clients (one message may hold several commands).", {},
                     load(sessions.messagesIn));
  r->counterFunction("switchboard_client_commands_total", "Client protocol commands handled (pongs included).", {},
                     load(sessions.commands));
  r->counterFunction("switchboard_client_replies_sent_total",
                     "Reply messages sent to clients (publications pushed are counted by deliveries).", {},
                     load(sessions.messagesOut));

  core::HubStats& hub = node.hub().stats();
  r->gaugeFunction("switchboard_subscriptions", "Channel subscriptions of clients on this node.", {},
                   load(hub.subscriptions));
  r->gaugeFunction("switchboard_channels", "Channels with subscribers on this node.", {},
                   [&node] { return double(node.hub().channelCount()); });
  r->counterFunction("switchboard_publications_total",
                     "Channel events (publications, join, leave) the broker delivered to this node.", {},
                     load(hub.publications));
  r->counterFunction("switchboard_deliveries_total", "Channel events queued to subscribers (pushes).", {},
                     load(hub.deliveries));
  r->counterFunction("switchboard_frames_encoded_total",
                     "Push frames built (one per event per worker, shared by its subscribers).", {},
                     load(hub.framesEncoded));

  r->gaugeFunction("switchboard_broker_channels", "Channels for which the broker holds history or presence.", {},
                   [&node] { return double(node.broker().channelCount()); });
  if (const broker::MemoryBroker* memory = src.memoryBroker) {
    r->gaugeFunction("switchboard_history_publications", "Publications kept in the memory broker's history.", {},
                     [memory] { return double(memory->publicationsKept()); });
  }
  return r;
}

void appendFamily(std::string& out, const char* name, const char* type, const char* help, double value) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  appendHelp(out, help);
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += type;
  out.push_back('\n');
  appendSample(out, name, {}, value);
}

// The standard process_* metrics that Prometheus client libraries export,
// under the same names so existing dashboards work.
void appendProcessMetrics(std::string& out) {
  ProcessStats p = readProcessStats();
  appendFamily(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
               p.cpuSeconds);
  appendFamily(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.residentBytes);
  appendFamily(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.virtualBytes);
  appendFamily(out, "process_open_fds", "gauge", "Number of open file descriptors.", p.openFds);
  appendFamily(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.", p.maxFds);
  appendFamily(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
               p.startTimeSeconds);
}

}  // namespace

ProcessStats readProcessStats() {
  ProcessStats p;
  long page = sysconf(_SC_PAGESIZE);
  long ticks = sysconf(_SC_CLK_TCK);
  std::string statm = readProcFile("/proc/self/statm");
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(statm.c_str(), "%llu %llu", &size, &resident) == 2) {
    p.virtualBytes = double(size) * double(page);
    p.residentBytes = double(resident) * double(page);
  }
  // /proc/self/stat: "pid (comm) state ..."; comm may hold spaces and
  // parentheses, so fields are counted from the last ')'.
  std::string stat = readProcFile("/proc/self/stat");
  size_t close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    unsigned long long utime = 0, stime = 0, start = 0;
    // After ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
    // majflt cmajflt utime(14) stime(15) cutime cstime priority nice
    // num_threads itrealvalue starttime(22).
    if (std::sscanf(stat.c_str() + close + 1,
                    " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu", &utime,
                    &stime, &start) == 3) {
      p.cpuSeconds = double(utime + stime) / double(ticks);
      p.startTimeSeconds = bootTimeSeconds() + double(start) / double(ticks);
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    size_t n = 0;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    p.openFds = double(n > 0 ? n - 1 : 0);  // minus the directory's own fd
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.maxFds = double(rl.rlim_cur);
  return p;
}

void registerMetricsRoute(http::Router& router, MetricsSources sources) {
  std::shared_ptr<Registry> own = serverRegistry(sources);
  router.add("/metrics", {"GET"}, [own](http::HttpContext& ctx) {
    // This server's figures, then the process-wide ones.
    std::string body;
    body.reserve(24 * 1024);
    own->render(body);
    processRegistry().render(body);
    appendProcessMetrics(body);
    http::Response res;
    res.status = 200;
    res.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = std::move(body);
    ctx.session.respond(ctx.conn, ctx.req, std::move(res));
  });
}

}  // namespace sb::metrics
