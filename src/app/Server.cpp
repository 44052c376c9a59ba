#include "app/Server.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "api/ServerApi.h"
#include "app/DemoTokens.h"
#include "app/EchoEndpoint.h"
#include "broker/MemoryBroker.h"
#include "broker/RedisBroker.h"
#include "transport/PlainRoutes.h"
#include "transport/SessionRoutes.h"
#include "transport/WebSocketTransport.h"
#include "http/StaticFiles.h"
#include "metrics/MetricsEndpoint.h"
#include "metrics/TimedBroker.h"
#include "net/Listener.h"

namespace sb::app {

Server::Server(config::Config cfg) : cfg_(std::move(cfg)) {
  http_.limits.headerLimit = 16 * 1024;
  http_.limits.bodyLimit = cfg_.server.max_body_size;
  http_.idleTimeoutMs = cfg_.websocket.idle_timeout.count() > 0 ? uint64_t(cfg_.websocket.idle_timeout.count()) : 60000;
  wsOptions_.maxMessageSize = cfg_.websocket.max_message_size;
  wsOptions_.compression = cfg_.websocket.compression;
  wsOptions_.idleTimeoutMs = uint64_t(cfg_.websocket.idle_timeout.count());
  wsOptions_.closeTimeoutMs = uint64_t(cfg_.websocket.close_timeout.count());
  staticFiles_ = std::make_unique<http::StaticFiles>(cfg_.server.web_root);
}

Server::~Server() {
  stopNow();
  join();
}

void Server::runSweeper() {
  auto* memory = static_cast<broker::MemoryBroker*>(memoryBroker_);
  std::unique_lock lock(sweeperMu_);
  while (!sweeperCv_.wait_for(lock, std::chrono::seconds(1), [this] { return sweeperStop_; })) {
    lock.unlock();
    memory->sweep();
    lock.lock();
  }
}

void Server::buildRoutes() {
  started_ = std::chrono::steady_clock::now();
  http_.router.add("/health", {"GET"}, [this](http::HttpContext& ctx) {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
    // While draining: 503, so load balancers stop routing here.
    bool draining = this->draining();
    const char* status = draining ? "draining" : "ok";
    std::string body = "{\"status\":\"" + std::string(status) + "\",\"version\":\"" SB_VERSION "\",\"connections\":" +
                       std::to_string(stats_.connections.load()) + ",\"workers\":" +
                       std::to_string(workers_.size()) + ",\"uptime_seconds\":" + std::to_string(uptime.count()) +
                       ",\"accepted\":" + std::to_string(stats_.accepted.load()) +
                       ",\"refused_over_limit\":" + std::to_string(stats_.refusedOverLimit.load()) +
                       ",\"refused_no_files\":" + std::to_string(stats_.refusedNoFiles.load()) +
                       ",\"slow_consumer_disconnects\":" + std::to_string(stats_.slowConsumers.load()) + "}\n";
    ctx.session.respond(ctx.conn, ctx.req, http::Response::json(draining ? 503 : 200, std::move(body)));
  });
  http_.router.add("/connection/websocket", {"GET"}, [this](http::HttpContext& ctx) {
    transport::acceptClientWebSocket(ctx, wsOptions_, *node_);
  });
  // SSE/HTTP-streaming emulation with /emulation, and the unidirectional transports.
  transport::registerSessionRoutes(http_.router, *node_, wsOptions_);
  // The API on the main listener, or on its own one ([api] listen).
  api::registerRoutes(cfg_.api.listen.empty() ? http_.router : apiHttp_.router, *node_);
  metrics::registerMetricsRoute(http_.router, {stats_, *node_, static_cast<broker::MemoryBroker*>(memoryBroker_),
                                               [this] { return draining(); }});
  // The demo chat's token endpoint (web/): demo-only, off by default.
  if (cfg_.demo.token_endpoint) {
    registerDemoTokenRoute(http_.router, cfg_.client.token_hmac_secret);
    spdlog::warn("demo.token_endpoint is on: POST /demo/token gives a connection token to anyone who asks; "
                 "it is for the demo only, never for production");
  }
  transport::PlainOptions plain;
  plain.heartbeatMs = uint64_t(cfg_.plain.heartbeat_interval.count());
  plain.retryMs = uint32_t(cfg_.plain.retry.count());
  plain.maxChannels = cfg_.plain.max_channels;
  plain.pollTimeoutS = uint64_t(cfg_.plain.poll_timeout.count() / 1000);
  plain.pollMaxTimeoutS = uint64_t(cfg_.plain.poll_max_timeout.count() / 1000);
  transport::registerPlainRoutes(http_.router, *node_, plain, wsOptions_);
  if (!cfg_.debug.echo_path.empty()) {
    http_.router.add(cfg_.debug.echo_path, {"GET"}, [this](http::HttpContext& ctx) {
      ws::acceptWebSocket(ctx, wsOptions_, std::make_unique<EchoEndpoint>());
    });
  }
  http_.router.setFallback([this](http::HttpContext& ctx) {
    if (ctx.req.path == "/api" || ctx.req.path.starts_with("/api/")) {
      std::string message = cfg_.api.listen.empty()
                                ? "unknown API method '" + http::jsonEscape(std::string_view(ctx.req.path).substr(std::min<size_t>(5, ctx.req.path.size()))) + "'"
                                : std::string("the server API is not served on this listener (see api.listen)");
      ctx.session.respond(ctx.conn, ctx.req,
                          http::Response::json(404, "{\"error\":{\"code\":104,\"message\":\"" + message + "\"}}"));
      return;
    }
    ctx.session.respond(ctx.conn, ctx.req, staticFiles_->serve(ctx.req));
  });
  apiHttp_.router.setFallback([](http::HttpContext& ctx) {
    std::string_view method = ctx.req.path;
    if (method.starts_with("/api/")) method.remove_prefix(5);
    ctx.session.respond(ctx.conn, ctx.req,
                        http::Response::json(404, "{\"error\":{\"code\":104,\"message\":\"unknown API method '" +
                                                      http::jsonEscape(method) + "'\"}}"));
  });
}

void Server::start() {
  if (!cfg_.server.tls_cert.empty()) tls_ = std::make_unique<net::TlsContext>(cfg_.server.tls_cert, cfg_.server.tls_key);
  if (!cfg_.server.web_root.empty() && !staticFiles_->enabled())
    spdlog::warn("server.web_root: directory '{}' not found; static files are off", cfg_.server.web_root);

  int workers = cfg_.server.workers > 0 ? cfg_.server.workers : int(std::thread::hardware_concurrency());
  if (workers <= 0) workers = 1;
  if (workers > 64) workers = 64;  // the hub's worker masks are 64 bits

  // Channel rules and token keys are parsed here: a bad one stops the start
  // with a ConfigError naming the key.
  std::unique_ptr<broker::Broker> broker;
  if (cfg_.broker.type == "redis") {
    broker::RedisBrokerOptions redisOptions;
    redisOptions.address = cfg_.broker.redis_address;
    redisOptions.cluster = cfg_.broker.redis_cluster;
    redisOptions.password = cfg_.broker.redis_password;
    redisOptions.db = cfg_.broker.redis_db;
    redisOptions.prefix = cfg_.broker.redis_prefix;
    redisOptions.historyMetaTtl = cfg_.broker.history_meta_ttl;
    auto redis = std::make_unique<broker::RedisBroker>(redisOptions);
    redisBroker_ = redis.get();
    broker = std::move(redis);
    spdlog::info("broker: redis{} at {} (prefix \"{}\", db {})", cfg_.broker.redis_cluster ? " cluster" : "",
                 cfg_.broker.redis_address, cfg_.broker.redis_prefix, cfg_.broker.redis_db);
  } else {
    broker::MemoryBrokerOptions brokerOptions;
    brokerOptions.historyMetaTtl = cfg_.broker.history_meta_ttl;
    broker = std::make_unique<broker::MemoryBroker>(brokerOptions);
    memoryBroker_ = broker.get();
  }
  // Every broker call is timed for /metrics (switchboard_broker_operation_duration_seconds).
  node_ = std::make_unique<core::Node>(cfg_, std::make_unique<metrics::TimedBroker>(std::move(broker)),
                                       size_t(workers));
  if (!node_->tokens().enabled() && !cfg_.client.allow_anonymous)
    spdlog::warn("no client.token_* key is set and client.allow_anonymous is off: no client can connect");
  buildRoutes();

  long files = net::raiseOpenFileLimit();
  if (files > 0 && files < long(cfg_.server.max_connections) + 64) {
    spdlog::warn("open-file limit is {} but server.max_connections is {}: at most about {} connections can be "
                 "accepted (each needs one file descriptor); raise the limit (`ulimit -n`) or lower "
                 "server.max_connections",
                 files, cfg_.server.max_connections, files > 64 ? files - 64 : 0);
  }

  net::WorkerOptions wopts;
  wopts.writeQueueLimit = cfg_.server.write_queue_limit;
  wopts.maxConnections = cfg_.server.max_connections;
  wopts.lingerMs = std::max<uint64_t>(1000, uint64_t(cfg_.websocket.close_timeout.count()));

  // The API's listener first: once the main port answers, both do. One
  // worker of its own serves it (API calls are few and short).
  if (!cfg_.api.listen.empty()) {
    apiHttp_.limits = http_.limits;
    apiHttp_.idleTimeoutMs = http_.idleTimeoutMs;
    auto apiHp = config::parseListen(cfg_.api.listen);
    auto apiListener = net::openListeners(apiHp.host, apiHp.port, 1);
    apiPort_ = apiListener.port;
    apiWorker_ = std::make_unique<net::Worker>(
        workers, apiListener.fds[0], tls_ ? tls_->get() : nullptr, wopts, stats_,
        [this](net::Connection&) { return std::make_unique<http::HttpSession>(apiHttp_); });
    spdlog::info("server API on {}://{}:{}", tls_ ? "https" : "http", apiHp.host, apiPort_);
  }

  auto hp = config::parseListen(cfg_.server.listen);
  auto listeners = net::openListeners(hp.host, hp.port, workers);
  port_ = listeners.port;
  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<net::Worker>(
        i, listeners.fds[size_t(i)], tls_ ? tls_->get() : nullptr, wopts, stats_,
        [this](net::Connection&) { return std::make_unique<http::HttpSession>(http_); }));
  }
  for (size_t i = 0; i < workers_.size(); ++i) node_->hub().attachLoop(i, &workers_[i]->loop());
  if (redisBroker_) {
    // Worker 0 first: its loop also carries the pub/sub connection.
    for (auto& w : workers_) redisBroker_->attachLoop(w->loop());
    if (apiWorker_) redisBroker_->attachLoop(apiWorker_->loop());
  }
  // Heartbeats to the other nodes (/api/info) from worker 0's loop.
  node_->control().start(workers_[0]->loop());
  for (auto& w : workers_) w->start();
  if (apiWorker_) apiWorker_->start();
  if (memoryBroker_) sweeper_ = std::thread([this] { runSweeper(); });
  spdlog::info("switchboard {} listening on {}://{}:{} with {} worker{}", SB_VERSION, tls_ ? "https" : "http",
               hp.host, port_, workers, workers == 1 ? "" : "s");
  if (!cfg_.debug.echo_path.empty()) spdlog::info("debug echo endpoint at {}", cfg_.debug.echo_path);
}

void Server::drain() {
  auto timeout = cfg_.server.drain_timeout;
  spdlog::info("draining {} connection(s), at most {} ms", stats_.connections.load(), timeout.count());
  draining_.store(true, std::memory_order_relaxed);
  uint64_t now = net::monotonicMs();
  // Every client is asked to leave by 80 % of the timeout; the rest is for
  // their close handshakes.
  uint64_t spreadEnd = now + uint64_t(timeout.count()) * 8 / 10;
  for (auto& w : workers_) w->beginDrain(spreadEnd, now + uint64_t(timeout.count()));
  if (apiWorker_) apiWorker_->beginDrain(spreadEnd, now + uint64_t(timeout.count()));
}

void Server::stopNow() {
  for (auto& w : workers_) w->stop();
  if (apiWorker_) apiWorker_->stop();
}

void Server::join() {
  for (auto& w : workers_) w->join();
  if (apiWorker_) apiWorker_->join();
  // The Redis broker's connections live on the workers' loops: closed once
  // the loops stopped, before they are destroyed.
  if (redisBroker_) redisBroker_->close();
  workers_.clear();
  apiWorker_.reset();
  {
    std::lock_guard lock(sweeperMu_);
    sweeperStop_ = true;
  }
  sweeperCv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

}  // namespace sb::app
