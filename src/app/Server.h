#pragma once
// The assembled server: listeners, workers, routes and shutdown. main() builds
// one from the configuration; integration tests can too.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <memory>
#include <vector>

#include "config/Config.h"
#include "core/Node.h"
#include "http/HttpSession.h"
#include "http/StaticFiles.h"
#include "net/TlsContext.h"
#include "net/Worker.h"
#include "ws/WebSocketConnection.h"

namespace sb::broker {
class RedisBroker;
}

namespace sb::app {

class Server {
 public:
  explicit Server(config::Config cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the workers. Throws net::ListenError / net::TlsError
  // with a message fit for the operator.
  void start();
  // Graceful shutdown: close the listeners, then disconnect clients (3001)
  // spread with jitter over ~80 % of drain_timeout so they do not all
  // reconnect at once; connections still open at drain_timeout are cut and the
  // workers stop. /health answers 503 "draining" meanwhile.
  void drain();
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  void stopNow();
  void join();

  uint16_t port() const { return port_; }
  // The port of the API's own listener ([api] listen), 0 when the API is on the main one.
  uint16_t apiPort() const { return apiPort_; }
  const config::Config& config() const { return cfg_; }
  net::NetStats& stats() { return stats_; }
  core::Node* node() { return node_.get(); }

 private:
  void buildRoutes();
  void runSweeper();

  config::Config cfg_;
  net::NetStats stats_;
  http::HttpServerContext http_;
  ws::WebSocketOptions wsOptions_;
  std::unique_ptr<http::StaticFiles> staticFiles_;
  std::unique_ptr<net::TlsContext> tls_;
  std::unique_ptr<core::Node> node_;
  broker::Broker* memoryBroker_ = nullptr;  // when [broker] type = "memory"
  broker::RedisBroker* redisBroker_ = nullptr;  // when [broker] type = "redis"
  // Expires history, stream meta and presence in the memory broker.
  std::thread sweeper_;
  std::mutex sweeperMu_;
  std::condition_variable sweeperCv_;
  bool sweeperStop_ = false;
  std::vector<std::unique_ptr<net::Worker>> workers_;
  uint16_t port_ = 0;
  // [api] listen: the API's routes and the one worker that serves them.
  http::HttpServerContext apiHttp_;
  std::unique_ptr<net::Worker> apiWorker_;
  uint16_t apiPort_ = 0;
  std::atomic<bool> draining_{false};
  std::chrono::steady_clock::time_point started_;
};

}  // namespace sb::app
