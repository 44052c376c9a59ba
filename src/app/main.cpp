// switchboard: the server binary, plus its small helper commands.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "util/Logging.h"
#include "app/Server.h"
#include "auth/ChannelRules.h"
#include "auth/TokenVerifier.h"
#include "config/Config.h"
#include "net/Listener.h"
#include "net/TlsContext.h"

extern char** environ;

namespace {

int serve(const std::string& configPath) {
  sb::config::Config cfg;
  try {
    cfg = sb::config::loadConfig(configPath, environ);
  } catch (const sb::config::ConfigError& e) {
    std::fprintf(stderr, "switchboard: %s\n", e.what());
    return 2;
  }
  sb::app::setupLogging(cfg.log.level, cfg.log.format);

  // Signals are taken synchronously by this thread (sigwait); workers inherit
  // the blocked mask so a signal never interrupts them mid-turn.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  sb::app::Server server(std::move(cfg));
  try {
    server.start();
  } catch (const sb::net::ListenError& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const sb::net::TlsError& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const sb::config::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) continue;  // reserved for config reload
    spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  server.drain();
  server.join();
  spdlog::info("bye");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Switchboard: a real-time messaging server (WebSocket, SSE, HTTP streaming, long-polling)"};
  app.set_version_flag("--version", std::string("switchboard ") + SB_VERSION);
  std::string configPath;
  app.add_option("-c,--config", configPath, "TOML configuration file (default: built-in defaults)");
  app.require_subcommand(0, 1);

  auto* gen = app.add_subcommand("genconfig", "Print a commented default configuration file");
  auto* check = app.add_subcommand("checkconfig", "Validate the configuration (file and environment) and exit");
  check->add_option("-c,--config", configPath, "TOML configuration file");

  auto* gentoken = app.add_subcommand(
      "gentoken", "Print an HS256 connection token signed with client.token_hmac_secret (from --config or the environment)");
  std::string tokenUser, tokenInfo;
  std::vector<std::string> tokenChannels;
  int64_t tokenTtl = 604800;
  gentoken->add_option("-c,--config", configPath, "TOML configuration file");
  gentoken->add_option("-u,--user", tokenUser, "User id (the sub claim)")->required();
  gentoken->add_option("-t,--ttl", tokenTtl, "Seconds until the token expires (0 = never)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(10) * 365 * 86400));
  gentoken->add_option("--info", tokenInfo, "Connection info: a JSON value (the info claim)");
  gentoken->add_option("--channel", tokenChannels, "Server-side subscription (repeatable; the channels claim)");

  CLI11_PARSE(app, argc, argv);

  if (gentoken->parsed()) {
    sb::config::Config cfg;
    try {
      cfg = sb::config::loadConfig(configPath, environ);
    } catch (const sb::config::ConfigError& e) {
      std::fprintf(stderr, "switchboard: %s\n", e.what());
      return 2;
    }
    if (cfg.client.token_hmac_secret.empty()) {
      std::fprintf(stderr,
                   "switchboard: gentoken: client.token_hmac_secret is not set (config file or "
                   "SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET)\n");
      return 2;
    }
    try {
      auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
      std::cout << sb::auth::makeHs256Token(cfg.client.token_hmac_secret, tokenUser, now.count(), tokenTtl, tokenInfo,
                                            tokenChannels)
                << "\n";
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "switchboard: gentoken: %s\n", e.what());
      return 2;
    }
    return 0;
  }

  if (gen->parsed()) {
    std::cout << sb::config::generateDefaultConfig();
    return 0;
  }
  if (check->parsed()) {
    try {
      auto cfg = sb::config::loadConfig(configPath, environ);
      // Keys and channel patterns are only parsed by their users: try them.
      sb::auth::ChannelRules rules(cfg.channel);
      sb::auth::TokenVerifier tokens(cfg.client);
    } catch (const sb::config::ConfigError& e) {
      std::fprintf(stderr, "switchboard: %s\n", e.what());
      return 2;
    }
    std::puts("configuration OK");
    return 0;
  }
  return serve(configPath);
}
