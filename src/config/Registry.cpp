// Every configuration key, its documentation and its constraints. To add a
// setting: add the field (with its default) to Config.h, then one field<>()
// entry below; the loader, the environment overlay, validation and genconfig
// pick it up. A new section also needs a SectionDef.
#include "config/Registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace sb::config {

namespace {

// ---- value checks (messages name the problem, never the key) --------------

void checkListen(const Value& v) { parseListen(std::get<std::string>(v)); }

void checkLogLevel(const Value& v) {
  static constexpr std::array<std::string_view, 5> kLevels{"trace", "debug", "info", "warn", "error"};
  const auto& s = std::get<std::string>(v);
  if (std::find(kLevels.begin(), kLevels.end(), s) == kLevels.end())
    throw ConfigError(fmt::format("expected one of trace, debug, info, warn, error, got \"{}\"", s));
}

void checkLogFormat(const Value& v) {
  const auto& s = std::get<std::string>(v);
  if (s != "text" && s != "json") throw ConfigError(fmt::format("expected text or json, got \"{}\"", s));
}

void checkUrlPath(const Value& v) {
  const auto& s = std::get<std::string>(v);
  if (!s.empty() && s.front() != '/')
    throw ConfigError(fmt::format("expected a path starting with '/' (or \"\" for off), got \"{}\"", s));
}

// ---- the tables ------------------------------------------------------------

constexpr int64_t kHour = 3600 * 1000;

const SectionDef kSections[] = {
    {"server", "Listening socket, connection limits, TLS and static files."},
    {"websocket", "WebSocket protocol settings (RFC 6455)."},
    {"debug", "Development and conformance-testing aids; keep them off in production."},
    {"log", "Logging to stderr."},
};

const KeyDef kKeys[] = {
    // [server]
    field<&Config::server, &ServerConfig::listen>(
        "server", "listen",
        "Address and port to listen on: \"host:port\", or \"[ipv6]:port\" (e.g. \"[::]:8000\").\n"
        "Port 0 picks a free port (for tests).")
        .validate(checkListen),
    field<&Config::server, &ServerConfig::workers>("server", "workers",
                                                   "Worker threads, each with its own event loop; 0 = one per CPU core.")
        .range(0, 1024),
    field<&Config::server, &ServerConfig::max_connections>(
        "server", "max_connections",
        "Client connections accepted by this node; beyond it new connections are refused.\n"
        "Each needs a file descriptor: raise `ulimit -n` to match.")
        .range(1),
    field<&Config::server, &ServerConfig::tls_cert>(
        "server", "tls_cert",
        "TLS certificate chain (PEM file). With tls_key set too, the server speaks https/wss only;\n"
        "set both or neither."),
    field<&Config::server, &ServerConfig::tls_key>("server", "tls_key", "TLS private key (PEM file) for tls_cert."),
    field<&Config::server, &ServerConfig::drain_timeout>(
        "server", "drain_timeout",
        "On SIGTERM/SIGINT, how long open connections get to close before the process exits;\n"
        "\"0s\" closes them at once.")
        .range(0, 24 * kHour),
    field<&Config::server, &ServerConfig::max_body_size>(
        "server", "max_body_size", "Largest HTTP request body in bytes; larger requests get 413 Payload Too Large."),
    field<&Config::server, &ServerConfig::write_queue_limit>(
        "server", "write_queue_limit",
        "Unsent bytes queued for one connection before it is closed as a slow consumer."),
    field<&Config::server, &ServerConfig::web_root>(
        "server", "web_root",
        "Directory of static files served at / (relative to the working directory); \"\" = off."),

    // [websocket]
    field<&Config::websocket, &WebSocketConfig::max_message_size>(
        "websocket", "max_message_size",
        "Largest incoming message in bytes (after reassembling fragments and decompressing);\n"
        "a larger one closes the connection with 1009. At least 125.")
        .range(125),
    field<&Config::websocket, &WebSocketConfig::compression>(
        "websocket", "compression", "Negotiate permessage-deflate compression (RFC 7692) when the client offers it."),
    field<&Config::websocket, &WebSocketConfig::idle_timeout>(
        "websocket", "idle_timeout",
        "After this long without a frame from the client the server sends a ping; with no answer\n"
        "within another idle_timeout the connection is closed. \"0s\" disables both.")
        .range(0, 24 * kHour),
    field<&Config::websocket, &WebSocketConfig::close_timeout>(
        "websocket", "close_timeout",
        "After the server sent a close frame, how long it waits for the client's close frame\n"
        "before dropping the connection.")
        .range(1, kHour),

    // [debug]
    field<&Config::debug, &DebugConfig::echo_path>(
        "debug", "echo_path",
        "When set (e.g. \"/echo\"), a WebSocket endpoint at this path echoes every message back\n"
        "with its opcode, for conformance tests (Autobahn). \"\" = off.")
        .validate(checkUrlPath),

    // [log]
    field<&Config::log, &LogConfig::level>("log", "level", "Least severe level logged: trace, debug, info, warn or error.")
        .validate(checkLogLevel),
    field<&Config::log, &LogConfig::format>("log", "format",
                                            "\"text\" for people, \"json\" for one JSON object per line.")
        .validate(checkLogFormat),
};

void checkTlsPair(const Config& c) {
  if (c.server.tls_cert.empty() != c.server.tls_key.empty())
    throw ConfigError(fmt::format("config: server.tls_cert and server.tls_key must be set together (only {} is set)",
                                  c.server.tls_cert.empty() ? "server.tls_key" : "server.tls_cert"));
}

const ConfigCheck kChecks[] = {checkTlsPair};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace

std::string KeyDef::name() const { return fmt::format("{}.{}", section, key); }

std::string KeyDef::envName() const { return "SWITCHBOARD_" + upper(section) + "_" + upper(key); }

std::span<const SectionDef> sections() { return kSections; }
std::span<const KeyDef> keys() { return kKeys; }
std::span<const ConfigCheck> configChecks() { return kChecks; }

const KeyDef* findKey(std::string_view section, std::string_view key) {
  for (const auto& d : kKeys)
    if (d.section == section && d.key == key) return &d;
  return nullptr;
}

}  // namespace sb::config
