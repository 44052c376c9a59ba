#pragma once
// Switchboard's configuration: a TOML file overlaid by SWITCHBOARD_<SECTION>_<KEY>
// environment variables, over built-in defaults.
//
// The structs below are plain data with their defaults as member initializers;
// every key's name, type, documentation and constraints live in one table
// (config/Registry.cpp) that drives the file loader, the environment overlay,
// validation and `switchboard genconfig`. Adding a setting = adding a field
// here and an entry there. Nothing is silently ignored: an unknown key, section
// or SWITCHBOARD_* variable, or a bad value, is a ConfigError naming it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sb::config {

struct ServerConfig {
  std::string listen = "0.0.0.0:8000";
  int workers = 0;  // 0 = one per core
  int max_connections = 100000;
  std::string tls_cert, tls_key;  // both or neither
  std::chrono::milliseconds drain_timeout{5000};
  size_t max_body_size = 1 << 20;
  size_t write_queue_limit = 1 << 20;
  std::string web_root = "web";  // empty = no static files
};

struct WebSocketConfig {
  size_t max_message_size = 65536;
  bool compression = false;
  std::chrono::milliseconds idle_timeout{60000};  // 0 = never ping
  std::chrono::milliseconds close_timeout{5000};
};

struct DebugConfig {
  std::string echo_path;  // empty = no echo endpoint
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";
};

struct Config {
  ServerConfig server;
  WebSocketConfig websocket;
  DebugConfig debug;
  LogConfig log;
};

// Every configuration problem. what() is a complete, user-facing message
// starting with "config: " and naming the key or variable at fault.
class ConfigError : public std::runtime_error {
  using runtime_error::runtime_error;
};

// Loads defaults, then the file (if path is non-empty), then the environment
// (an envp-style, nullptr-terminated list, so tests can pass their own;
// nullptr = no environment). Throws ConfigError naming the key.
Config loadConfig(const std::string& path, char** envp);
// Same, with the TOML given as text (for tests).
Config loadConfigFromString(std::string_view toml, char** envp);

// The commented default configuration printed by `switchboard genconfig`:
// valid TOML that loads back to exactly the defaults.
std::string generateDefaultConfig();

// "500ms", "25s", "2m", "1h", "1m30s"; "0" or "0s" is zero. Units go from the
// largest to the smallest, each at most once. Throws ConfigError whose
// message does not name a key (the caller prefixes it).
std::chrono::milliseconds parseDuration(std::string_view text);
// The inverse, in canonical compound form: 90000ms -> "1m30s", 0 -> "0s".
std::string formatDuration(std::chrono::milliseconds d);

struct HostPort {
  std::string host;  // IPv6 without its brackets: "[::]:80" -> "::"
  uint16_t port;     // 0 = ephemeral (tests)
};
// "host:port" or "[ipv6]:port". Throws ConfigError (message without key).
HostPort parseListen(std::string_view text);

}  // namespace sb::config
