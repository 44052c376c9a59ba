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
#include <vector>

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

// [demo]: helpers for the demo chat served at / (web/). Demo-only: they hand
// out credentials to anyone who asks, so never turn them on in production.
// The plain endpoints /sse, /ws and /poll (docs/plain.md).
struct PlainConfig {
  std::chrono::milliseconds heartbeat_interval{15000};  // /sse comment line ": ping"
  std::chrono::milliseconds retry{3000};                // /sse "retry:" reconnect hint for EventSource
  size_t max_channels = 16;                             // channel parameters per request
  std::chrono::milliseconds poll_timeout{25000};        // /poll wait without ?timeout=
  std::chrono::milliseconds poll_max_timeout{60000};    // largest ?timeout= accepted
};

struct DemoConfig {
  bool token_endpoint = false;  // POST /demo/token mints connection tokens (needs client.token_hmac_secret)
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";
};

// Options of one channel namespace ([channel] holds those of channels without
// a namespace; each [[channel.namespace]] its own). Permissions default to
// closed, as in Centrifugo: nothing is allowed unless a key or a token says so.
struct ChannelOptions {
  bool presence = false;               // keep presence; enables presence/presence_stats
  bool join_leave = false;             // publish join/leave events
  bool force_push_join_leave = false;  // push them to every subscriber (else only to those asking)
  // History needs both set (the loader refuses one without the other, and
  // recovery/positioning without history).
  int history_size = 0;                      // publications kept per channel (0 = no history)
  std::chrono::milliseconds history_ttl{0};  // how long kept after the last publication (0 = no history)
  bool force_positioning = false;
  bool allow_positioning = false;
  bool force_recovery = false;
  bool allow_recovery = false;
  bool allow_subscribe_for_client = false;
  bool allow_subscribe_for_anonymous = false;
  bool allow_publish_for_subscriber = false;
  bool allow_publish_for_client = false;
  bool allow_publish_for_anonymous = false;
  bool allow_history_for_subscriber = false;
  bool allow_history_for_client = false;
  bool allow_history_for_anonymous = false;
  bool allow_presence_for_subscriber = false;
  bool allow_presence_for_client = false;
  bool allow_presence_for_anonymous = false;
  bool allow_user_limited_channels = false;  // "chat#42,43": only users 42 and 43
  // When set, searched (ECMAScript, not anchored) in the part after "<namespace>:"
  // (the whole name without a namespace); checked when loading and by auth::ChannelRules.
  std::string channel_regex;

  bool historyEnabled() const { return history_size > 0 && history_ttl.count() > 0; }
};

struct NamespaceConfig {
  std::string name;  // ^[-a-zA-Z0-9_.]{2,64}$, unique (checked when loading)
  ChannelOptions options;
};

struct ChannelConfig {
  ChannelOptions options;  // channels without a namespace
  size_t max_name_length = 255;  // bytes, 1..1024
  std::vector<NamespaceConfig> namespaces;  // [[channel.namespace]], file only (no env variables), in file order
};

struct ClientConfig {
  bool allow_anonymous = false;  // connect without a token (user "")
  std::string token_hmac_secret;       // HS256/384/512
  std::string token_rsa_public_key;    // PEM text or path to a PEM file: RS256/384/512
  std::string token_ecdsa_public_key;  // PEM text or path to a PEM file: ES256/384/512
  std::string token_audience;          // when set, tokens must carry this "aud"
  std::string token_issuer;            // when set, tokens must carry this "iss"
  std::chrono::milliseconds ping_interval{25000};  // whole seconds, 1s..1h
  std::chrono::milliseconds pong_timeout{8000};    // < ping_interval
  std::chrono::milliseconds connect_timeout{10000};      // no connect command → 3502
  std::chrono::milliseconds expired_close_delay{25000};  // grace after token expiry → 3005
  int channel_limit = 128;                 // subscriptions per connection (106 beyond)
  int recovery_max_publications = 300;     // more missed than this → not recovered
  int history_max_publications = 300;      // cap on a history call's limit
  int command_rate = 100;                  // commands per second, sustained
  int command_burst = 200;                 // bucket size, >= command_rate
  // Presence entry expiry unless refreshed (at each ping): > ping_interval.
  std::chrono::milliseconds presence_ttl{60000};
  // Origins of the web pages that may connect (http/OriginPolicy.h); empty =
  // same origin only.
  std::vector<std::string> allowed_origins;
};

struct ApiConfig {
  std::string key;  // X-API-Key; empty = the HTTP API refuses every call
  std::string listen;  // "host:port" of a listener of its own; empty = on server.listen
};

struct BrokerConfig {
  std::string type = "memory";  // one of the engines listed in Registry.cpp (checkBrokerType)
  // Epoch/offset kept after history expires; >= every history_ttl.
  std::chrono::milliseconds history_meta_ttl{86400000};
  // type = "redis" (broker::RedisBroker, docs/scaling.md).
  // host:port, [ipv6]:port or a unix socket path; with redis_cluster a
  // comma-separated list of seed nodes.
  std::string redis_address = "127.0.0.1:6379";
  bool redis_cluster = false;                     // Redis Cluster: slot routing, sharded pub/sub
  std::string redis_password;                     // "" = no AUTH
  int redis_db = 0;
  std::string redis_prefix = "switchboard";       // first part of every key and topic
};

struct Config {
  ServerConfig server;
  WebSocketConfig websocket;
  DebugConfig debug;
  PlainConfig plain;
  DemoConfig demo;
  LogConfig log;
  ClientConfig client;
  ChannelConfig channel;
  ApiConfig api;
  BrokerConfig broker;
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
