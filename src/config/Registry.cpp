// Every configuration key, its documentation and its constraints. To add a
// setting: add the field (with its default) to Config.h, then one field<>()
// entry below; the loader, the environment overlay, validation and genconfig
// pick it up. A new section also needs a SectionDef. A new channel option goes
// into kChannelOptionKeys only: it is lifted into [channel] and into every
// [[channel.namespace]] from there.
#include "config/Registry.h"

#include <fmt/format.h>

#include "broker/RedisConnection.h"
#include "http/OriginPolicy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>

namespace sb::config {

namespace {

// ---- value checks (messages name the problem, never the key) --------------

void checkListen(const Value& v) { parseListen(std::get<std::string>(v)); }

void checkOptionalListen(const Value& v) {
  if (!std::get<std::string>(v).empty()) checkListen(v);
}

// Each entry on its own, named by its index: the list may be long.
void checkOrigins(const Value& v) {
  const auto& items = std::get<std::vector<std::string>>(v);
  for (size_t i = 0; i < items.size(); ++i)
    if (std::string problem = http::originPatternProblem(items[i]); !problem.empty())
      throw ConfigError(fmt::format("element {}: {}", i, problem));
}

// "expected one of a, b, c, got "x"" unless `s` is one of `allowed`.
void checkOneOf(std::span<const std::string_view> allowed, const std::string& s) {
  if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  throw ConfigError(allowed.size() == 1 ? fmt::format("expected {}, got \"{}\"", list, s)
                                        : fmt::format("expected one of {}, got \"{}\"", list, s));
}

void checkLogLevel(const Value& v) {
  static constexpr std::array<std::string_view, 5> kLevels{"trace", "debug", "info", "warn", "error"};
  checkOneOf(kLevels, std::get<std::string>(v));
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

void checkBrokerType(const Value& v) {
  static constexpr std::array<std::string_view, 2> kTypes{"memory", "redis"};
  checkOneOf(kTypes, std::get<std::string>(v));
}

// One address, or (Redis Cluster) a comma-separated list of seeds; a bad
// entry of a list is named by its index.
void checkRedisAddress(const Value& v) {
  const auto& text = std::get<std::string>(v);
  std::string problem;
  if (text.find(',') == std::string::npos) {
    if (!broker::parseRedisAddress(text, &problem)) throw ConfigError(problem);
    return;
  }
  std::string_view rest = text;
  for (size_t index = 0;; ++index) {
    size_t comma = rest.find(',');
    std::string_view entry = rest.substr(0, comma);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.empty()) throw ConfigError(fmt::format("element {} of the address list is empty", index));
    auto address = broker::parseRedisAddress(entry, &problem);
    if (!address) throw ConfigError(fmt::format("element {} of the address list: {}", index, problem));
    if (!address->unixPath.empty())
      throw ConfigError(fmt::format("element {} of the address list: a cluster node is reached over TCP, got \"{}\"",
                                    index, entry));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

// The prefix starts every key, whose hash tag ({channel}) must be the first
// braces in it.
void checkRedisPrefix(const Value& v) {
  const auto& s = std::get<std::string>(v);
  if (s.empty()) throw ConfigError("expected a non-empty prefix");
  if (s.find_first_of("{}") != std::string::npos)
    throw ConfigError(fmt::format("'{{' and '}}' cannot be used (they would break the keys' hash tags), got \"{}\"", s));
}

// The connect reply tells clients the ping interval in whole seconds; any
// other value would make them expect pings at the wrong time.
void checkWholeSeconds(const Value& v) {
  auto d = std::get<std::chrono::milliseconds>(v);
  if (d.count() % 1000 != 0)
    throw ConfigError(fmt::format("expected whole seconds (clients are told the interval in seconds), got \"{}\"",
                                  formatDuration(d)));
}

// Compared with what the HTTP layer hands over (a trimmed header value), so a
// key with surrounding blanks or control characters could never match.
void checkApiKey(const Value& v) {
  const auto& s = std::get<std::string>(v);
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) throw ConfigError("control characters cannot be sent in an HTTP header");
  if (!s.empty() && (s.front() == ' ' || s.back() == ' '))
    throw ConfigError("leading or trailing spaces cannot be sent in an HTTP header");
}

// Same dialect as auth::ChannelRules, which compiles it again at startup;
// checking here puts the file and line in the message.
void checkRegex(const Value& v) {
  const auto& s = std::get<std::string>(v);
  if (s.empty()) return;
  try {
    std::regex compiled(s, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw ConfigError(fmt::format("invalid regular expression \"{}\": {}", s, e.what()));
  }
}

// Centrifugo's namespace rule ^[-a-zA-Z0-9_.]{2,}$, bounded to 64.
void checkNamespaceName(const Value& v) {
  const auto& s = std::get<std::string>(v);
  bool ok = s.size() >= 2 && s.size() <= 64;
  for (char c : s)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                c == '_' || c == '.');
  if (!ok)
    throw ConfigError(
        fmt::format("expected 2 to 64 characters from A-Z, a-z, 0-9, '-', '_' and '.', got \"{}\"", s));
}

// ---- the tables ------------------------------------------------------------

constexpr int64_t kSecond = 1000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = 24 * kHour;

const SectionDef kSections[] = {
    {"server", "Listening socket, connection limits, TLS and static files."},
    {"websocket", "WebSocket protocol settings (RFC 6455)."},
    {"plain", "The plain endpoints that need no SDK: GET /sse (EventSource), /ws and /poll (docs/plain.md)."},
    {"debug", "Development and conformance-testing aids; keep them off in production."},
    {"demo",
     "The demo chat served at / (web/). DEMO ONLY, never for production: with token_endpoint on,\n"
     "anyone who can reach the server gets a valid connection token."},
    {"log", "Logging to stderr."},
    {"client", "Client connections: authentication, heartbeats, timeouts and per-connection limits."},
    {"channel",
     "Channels. The options in this section apply to channels without a namespace (\"news\");\n"
     "a channel \"<namespace>:<rest>\" (\"chat:lobby\") takes the options of its [[channel.namespace]]\n"
     "entry instead (see below). Permissions default to closed: nothing is allowed unless an\n"
     "option here or a token allows it."},
    {"api", "The server HTTP API (POST /api/<method>), for your backend."},
    {"broker", "Where publications, history and presence live."},
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
        "On SIGTERM/SIGINT, how long open connections get to close before the process exits.\n"
        "Listeners close at once and /health answers 503; clients are disconnected (3001) in random\n"
        "order spread over the first 80 % of this time, so they do not all reconnect together;\n"
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
        "within another idle_timeout the connection is closed. \"0s\" disables both. Protocol clients\n"
        "(/connection/websocket) are checked by client.ping_interval/pong_timeout instead.")
        .range(0, 24 * kHour),
    field<&Config::websocket, &WebSocketConfig::close_timeout>(
        "websocket", "close_timeout",
        "After the server sent a close frame, how long it waits for the client's close frame\n"
        "before dropping the connection.")
        .range(1, kHour),

    // [plain]
    field<&Config::plain, &PlainConfig::heartbeat_interval>(
        "plain", "heartbeat_interval",
        "How often /sse writes a comment line (\": ping\") so proxies and load balancers do not close\n"
        "a quiet stream; each one also refreshes the stream's presence, so it must be shorter than\n"
        "client.presence_ttl. Whole seconds.")
        .range(1000, kHour),
    field<&Config::plain, &PlainConfig::retry>(
        "plain", "retry",
        "The reconnect delay /sse suggests to EventSource (its \"retry:\" field) after a drop.")
        .range(0, kHour),
    field<&Config::plain, &PlainConfig::max_channels>(
        "plain", "max_channels", "Channels one /sse, /ws or /poll request may name; more get 400.")
        .range(1, 1024),
    field<&Config::plain, &PlainConfig::poll_timeout>(
        "plain", "poll_timeout",
        "How long /poll holds a request with nothing new when it gives no ?timeout=. Whole seconds.")
        .range(0, kHour),
    field<&Config::plain, &PlainConfig::poll_max_timeout>(
        "plain", "poll_max_timeout",
        "The largest ?timeout= /poll accepts (a larger one gets 400); >= poll_timeout. Whole seconds.")
        .range(1000, kHour),

    // [debug]
    field<&Config::debug, &DebugConfig::echo_path>(
        "debug", "echo_path",
        "When set (e.g. \"/echo\"), a WebSocket endpoint at this path echoes every message back\n"
        "with its opcode, for conformance tests (Autobahn). \"\" = off.")
        .validate(checkUrlPath),

    // [demo]
    field<&Config::demo, &DemoConfig::token_endpoint>(
        "demo", "token_endpoint",
        "Serve POST /demo/token {\"name\": \"<nickname>\"}: it answers {\"token\", \"user\"}, an HS256\n"
        "connection token signed with client.token_hmac_secret for a fresh random user whose info\n"
        "is {\"name\": nickname}, valid 24 h. DEMO ONLY, never for production: it hands a token to\n"
        "anyone who asks. Needs client.token_hmac_secret; the server warns at startup when it is on."),

    // [log]
    field<&Config::log, &LogConfig::level>("log", "level", "Least severe level logged: trace, debug, info, warn or error.")
        .validate(checkLogLevel),
    field<&Config::log, &LogConfig::format>("log", "format",
                                            "\"text\" for people, \"json\" for one JSON object per line.")
        .validate(checkLogFormat),

    // [client]
    field<&Config::client, &ClientConfig::allow_anonymous>(
        "client", "allow_anonymous",
        "Accept connections without a token; they connect as the anonymous user \"\". What anonymous\n"
        "users may do in a channel is still up to its allow_*_for_anonymous options."),
    field<&Config::client, &ClientConfig::token_hmac_secret>(
        "client", "token_hmac_secret",
        "Secret that connection and subscription tokens signed with HMAC (HS256, HS384, HS512)\n"
        "are checked with; \"\" = such tokens are refused."),
    field<&Config::client, &ClientConfig::token_rsa_public_key>(
        "client", "token_rsa_public_key",
        "RSA public key that RS256/RS384/RS512 tokens are checked with: the PEM text itself, or the\n"
        "path of a PEM file. Read at startup; \"\" = such tokens are refused."),
    field<&Config::client, &ClientConfig::token_ecdsa_public_key>(
        "client", "token_ecdsa_public_key",
        "ECDSA public key that ES256/ES384/ES512 tokens are checked with: the PEM text itself, or the\n"
        "path of a PEM file. Read at startup; \"\" = such tokens are refused."),
    field<&Config::client, &ClientConfig::token_audience>(
        "client", "token_audience",
        "When set, a token must name this audience in its \"aud\" claim or it is refused; \"\" = not checked."),
    field<&Config::client, &ClientConfig::token_issuer>(
        "client", "token_issuer",
        "When set, a token must name this issuer in its \"iss\" claim or it is refused; \"\" = not checked."),
    field<&Config::client, &ClientConfig::ping_interval>(
        "client", "ping_interval",
        "How often the server pings each client; the client must answer within pong_timeout or it\n"
        "is disconnected (3012). Clients are told it in the connect reply, so whole seconds only.\n"
        "Pings also refresh presence (see presence_ttl).")
        .range(kSecond, kHour)
        .validate(checkWholeSeconds),
    field<&Config::client, &ClientConfig::pong_timeout>(
        "client", "pong_timeout",
        "How long the server waits for a client's answer to a ping before disconnecting it (3012);\n"
        "shorter than ping_interval.")
        .range(1, kHour),
    field<&Config::client, &ClientConfig::connect_timeout>(
        "client", "connect_timeout",
        "A new connection must send its connect command within this time, or it is closed (3502).")
        .range(kSecond, kHour),
    field<&Config::client, &ClientConfig::expired_close_delay>(
        "client", "expired_close_delay",
        "When a connection token expires, how long the client gets to send a fresh one before the\n"
        "connection is closed (3005); \"0s\" closes it at once.")
        .range(0, kHour),
    field<&Config::client, &ClientConfig::channel_limit>(
        "client", "channel_limit",
        "Channels one connection may be subscribed to at once; one more is refused (106 limit exceeded).")
        .range(1, 100000),
    field<&Config::client, &ClientConfig::recovery_max_publications>(
        "client", "recovery_max_publications",
        "Most publications a resubscribing client recovers in one channel. When it missed more, it\n"
        "gets none and is told it was not recovered, so it must reload its state another way.")
        .range(1, 100000),
    field<&Config::client, &ClientConfig::history_max_publications>(
        "client", "history_max_publications",
        "Most publications one history call returns; a larger limit asked by the client is lowered\n"
        "to this.")
        .range(1, 100000),
    field<&Config::client, &ClientConfig::command_rate>(
        "client", "command_rate",
        "Commands per second one connection may send, sustained (a token bucket refilled at this\n"
        "rate). A command over budget is answered with 111 (too many requests); a client that keeps\n"
        "going past command_burst refusals in a row is disconnected.")
        .range(1),
    field<&Config::client, &ClientConfig::command_burst>(
        "client", "command_burst",
        "Commands one connection may send in a burst (the token bucket's size); at least command_rate.")
        .range(1),
    field<&Config::client, &ClientConfig::presence_ttl>(
        "client", "presence_ttl",
        "How long a client's presence entry in a channel lives unless refreshed. Entries are\n"
        "refreshed at every ping, so it must be longer than ping_interval.")
        .range(kSecond),
    field<&Config::client, &ClientConfig::allowed_origins>(
        "client", "allowed_origins",
        "Web pages (by their Origin) that may open client connections, e.g.\n"
        "[\"https://example.com\", \"https://*.example.com\"]; '*' in an entry matches any run of\n"
        "characters, and [\"*\"] allows every page (unsafe: any site could connect with its\n"
        "visitors' cookies). Empty = only pages served from this server's own host:port.\n"
        "Clients that are not browsers send no Origin and are never refused. A refused page\n"
        "gets 403 naming its origin. The HTTP transports (SSE, HTTP streaming, /emulation,\n"
        "/sse, /poll) answer an allowed page's CORS requests (docs/transports.md).")
        .validate(checkOrigins),

    // [channel]: max_name_length; the options are lifted from kChannelOptionKeys in allKeys().
    field<&Config::channel, &ChannelConfig::max_name_length>(
        "channel", "max_name_length",
        "Longest channel name in bytes, in every namespace; a longer one is refused (107 bad request).")
        .range(1, 1024),

    // [api]
    field<&Config::api, &ApiConfig::key>(
        "api", "key",
        "Key your backend sends in the X-API-Key header (or \"Authorization: apikey <key>\")\n"
        "to call the server API; \"\" = the API refuses every call.")
        .validate(checkApiKey),
    field<&Config::api, &ApiConfig::listen>(
        "api", "listen",
        "When set (\"host:port\", e.g. \"127.0.0.1:8001\"), the API is served on its own listener\n"
        "only, and the main listener answers /api/* with 404: keep it on a private address.\n"
        "\"\" = the API is on server.listen. Same TLS setting as the main listener.")
        .validate(checkOptionalListen),

    // [broker]
    field<&Config::broker, &BrokerConfig::type>(
        "broker", "type",
        "Broker engine. \"memory\" keeps publications, history and presence inside this process:\n"
        "one node only. \"redis\" keeps them in Redis (redis_* below) and carries publications\n"
        "between nodes over Redis pub/sub, so that many nodes serve the same channels\n"
        "(docs/scaling.md).")
        .validate(checkBrokerType),
    field<&Config::broker, &BrokerConfig::history_meta_ttl>(
        "broker", "history_meta_ttl",
        "How long a channel's stream position (epoch and offset) is kept after its last\n"
        "publication, so that a client coming back after its history expired is still told\n"
        "correctly whether it missed anything. At least every history_ttl.")
        .range(kSecond),
    field<&Config::broker, &BrokerConfig::redis_address>(
        "broker", "redis_address",
        "Where Redis listens (type = \"redis\"): \"host:port\", \"[ipv6]:port\", \"host\" (port 6379),\n"
        "or a unix socket \"/path\" / \"unix:/path\". Prefer an IP address or a name in /etc/hosts:\n"
        "a DNS lookup at (re)connect time holds up the worker that makes it. With redis_cluster,\n"
        "a list of seed nodes, as an array ([\"10.0.0.1:7000\", \"10.0.0.2:7000\"]) or one string with\n"
        "commas (\"10.0.0.1:7000, 10.0.0.2:7000\", as the environment variable takes it): any one\n"
        "that answers tells where the others are.")
        .validate(checkRedisAddress)
        .orArray(),
    field<&Config::broker, &BrokerConfig::redis_cluster>(
        "broker", "redis_cluster",
        "Redis Cluster (Redis 7 or later): each channel's keys and pub/sub go to the master that\n"
        "owns the channel's hash slot, over sharded pub/sub (SPUBLISH/SSUBSCRIBE); redis_db must\n"
        "be 0. A list of addresses in redis_address needs it (docs/scaling.md, \"Redis Cluster\")."),
    field<&Config::broker, &BrokerConfig::redis_password>(
        "broker", "redis_password",
        "Password sent with AUTH on every Redis connection; \"\" = none. A wrong one shows in the\n"
        "log and in every broker error (\"AUTH failed: ...\")."),
    field<&Config::broker, &BrokerConfig::redis_db>(
        "broker", "redis_db",
        "Redis database number (SELECT); 0 is Redis's default.")
        .range(0, 1 << 20),
    field<&Config::broker, &BrokerConfig::redis_prefix>(
        "broker", "redis_prefix",
        "First part of every Redis key and pub/sub topic (\"<prefix>:{<channel>}:...\"), so that\n"
        "several applications can share one Redis. Nodes that serve the same channels must use\n"
        "the same prefix; no '{' or '}'.")
        .validate(checkRedisPrefix),
};

// The options of one namespace, written once: lifted onto [channel] (channels
// without a namespace) and onto each [[channel.namespace]] element.
constexpr KeyDefOf<ChannelOptions> kChannelOptionKeys[] = {
    field<&ChannelOptions::presence>("", "presence",
                                     "Keep presence (who is subscribed) for these channels; the presence and\n"
                                     "presence_stats calls need it."),
    field<&ChannelOptions::join_leave>(
        "", "join_leave",
        "Send join and leave events when clients subscribe and unsubscribe; a subscriber gets them\n"
        "when it asks for them on subscribe (or always, with force_push_join_leave)."),
    field<&ChannelOptions::force_push_join_leave>(
        "", "force_push_join_leave",
        "Push join and leave events to every subscriber, whether it asked or not. Needs join_leave."),
    field<&ChannelOptions::history_size>(
        "", "history_size",
        "Publications kept per channel; 0 = no history. Set together with history_ttl. History is\n"
        "what the history call, recovery and positioning read.")
        .range(0, 1000000),
    field<&ChannelOptions::history_ttl>(
        "", "history_ttl",
        "How long a channel's history is kept after its last publication; \"0s\" = no history. Set\n"
        "together with history_size; at most broker.history_meta_ttl.")
        .range(0, 365 * kDay),
    field<&ChannelOptions::force_positioning>(
        "", "force_positioning",
        "Positioning for every subscriber: the server tracks its place in the channel's stream and\n"
        "makes it resubscribe (and recover) when it missed publications. Needs history."),
    field<&ChannelOptions::allow_positioning>(
        "", "allow_positioning", "Positioning for the subscribers that ask for it on subscribe. Needs history."),
    field<&ChannelOptions::force_recovery>(
        "", "force_recovery",
        "Recovery for every subscriber: one that resubscribes with its last stream position gets\n"
        "the publications it missed from history (up to client.recovery_max_publications).\n"
        "Implies positioning. Needs history."),
    field<&ChannelOptions::allow_recovery>(
        "", "allow_recovery", "Recovery for the subscribers that ask for it on subscribe. Needs history."),
    field<&ChannelOptions::allow_subscribe_for_client>(
        "", "allow_subscribe_for_client",
        "Any authenticated client may subscribe without a subscription token. Private channels\n"
        "(\"$...\") always need one."),
    field<&ChannelOptions::allow_subscribe_for_anonymous>(
        "", "allow_subscribe_for_anonymous",
        "Extends allow_subscribe_for_client to anonymous clients; grants nothing alone."),
    field<&ChannelOptions::allow_publish_for_subscriber>(
        "", "allow_publish_for_subscriber", "Clients subscribed to a channel may publish into it."),
    field<&ChannelOptions::allow_publish_for_client>(
        "", "allow_publish_for_client", "Any authenticated client may publish, subscribed or not."),
    field<&ChannelOptions::allow_publish_for_anonymous>(
        "", "allow_publish_for_anonymous",
        "Extends allow_publish_for_client and allow_publish_for_subscriber to anonymous clients;\n"
        "grants nothing alone."),
    field<&ChannelOptions::allow_history_for_subscriber>(
        "", "allow_history_for_subscriber", "Clients subscribed to a channel may call history on it."),
    field<&ChannelOptions::allow_history_for_client>(
        "", "allow_history_for_client", "Any authenticated client may call history, subscribed or not."),
    field<&ChannelOptions::allow_history_for_anonymous>(
        "", "allow_history_for_anonymous",
        "Extends allow_history_for_client and allow_history_for_subscriber to anonymous clients;\n"
        "grants nothing alone."),
    field<&ChannelOptions::allow_presence_for_subscriber>(
        "", "allow_presence_for_subscriber",
        "Clients subscribed to a channel may call presence and presence_stats on it."),
    field<&ChannelOptions::allow_presence_for_client>(
        "", "allow_presence_for_client",
        "Any authenticated client may call presence and presence_stats, subscribed or not."),
    field<&ChannelOptions::allow_presence_for_anonymous>(
        "", "allow_presence_for_anonymous",
        "Extends allow_presence_for_client and allow_presence_for_subscriber to anonymous clients;\n"
        "grants nothing alone."),
    field<&ChannelOptions::allow_user_limited_channels>(
        "", "allow_user_limited_channels",
        "In a channel \"<name>#<user>,<user>\" (e.g. \"dialog#42,43\") the users listed after '#' may\n"
        "subscribe without a subscription token; nobody else may without one."),
    field<&ChannelOptions::channel_regex>(
        "", "channel_regex",
        "When set, the part of a channel name after \"<namespace>:\" (the whole name for channels\n"
        "without a namespace) must contain a match of this ECMAScript regular expression, else the\n"
        "name is refused (107 bad request); anchor it with ^...$ to match the whole part.\n"
        "\"\" = any ASCII name.")
        .validate(checkRegex),
};

constexpr std::string_view kNamespaceArray = "channel.namespace";

constexpr KeyDefOf<NamespaceConfig> kNamespaceNameKey =
    field<&NamespaceConfig::name>(kNamespaceArray, "name",
                                  "Channels \"<name>:<rest>\" use this namespace; 2 to 64 characters from A-Z, a-z,\n"
                                  "0-9, '-', '_' and '.', unique.")
        .validate(checkNamespaceName);

template <class T, size_t N>
void append(std::vector<T>& out, const T (&items)[N]) {
  out.insert(out.end(), std::begin(items), std::end(items));
}
template <class T, size_t N>
void append(std::vector<T>& out, const std::array<T, N>& items) {
  out.insert(out.end(), items.begin(), items.end());
}

// In genconfig order; built once, on first use.
const std::vector<KeyDef>& allKeys() {
  static const std::vector<KeyDef> all = [] {
    std::vector<KeyDef> v;
    append(v, kKeys);
    // The channel options right after max_name_length, so [channel] lists them together.
    auto at = std::find_if(v.begin(), v.end(), [](const KeyDef& d) { return d.section == "channel"; }) + 1;
    auto options = lift<Config, kChannelOptionKeys, &Config::channel, &ChannelConfig::options>("channel");
    v.insert(at, options.begin(), options.end());
    return v;
  }();
  return all;
}

const std::vector<KeyDefOf<NamespaceConfig>>& namespaceKeys() {
  static const std::vector<KeyDefOf<NamespaceConfig>> all = [] {
    std::vector<KeyDefOf<NamespaceConfig>> v{kNamespaceNameKey};
    append(v, lift<NamespaceConfig, kChannelOptionKeys, &NamespaceConfig::options>(kNamespaceArray));
    return v;
  }();
  return all;
}

// ---- checks across keys ----------------------------------------------------

// The rules every set of channel options obeys, wherever it lives. Messages
// name the keys but not the section (the caller prefixes it).
void checkChannelOptions(const ChannelOptions& o) {
  bool size = o.history_size > 0, ttl = o.history_ttl.count() > 0;
  if (size != ttl)
    throw ConfigError(fmt::format(
        "history_size and history_ttl must be set together (only {} is set; both zero = no history)",
        size ? "history_size" : "history_ttl"));
  if (!o.historyEnabled()) {
    const char* needy = o.force_recovery      ? "force_recovery"
                        : o.allow_recovery    ? "allow_recovery"
                        : o.force_positioning ? "force_positioning"
                        : o.allow_positioning ? "allow_positioning"
                                              : nullptr;
    if (needy)
      throw ConfigError(fmt::format(
          "{} needs history (set history_size and history_ttl): recovery and positioning work on the "
          "channel's history stream",
          needy));
  }
  if (o.force_push_join_leave && !o.join_leave)
    throw ConfigError("force_push_join_leave needs join_leave: without it no join or leave events are sent");
}

NamespaceConfig exampleNamespace() {
  NamespaceConfig ns;
  ns.name = "chat";
  ns.options.presence = true;
  ns.options.join_leave = true;
  ns.options.history_size = 100;
  ns.options.history_ttl = std::chrono::minutes(5);
  ns.options.force_recovery = true;
  ns.options.allow_subscribe_for_client = true;
  ns.options.allow_publish_for_subscriber = true;
  ns.options.allow_history_for_subscriber = true;
  ns.options.allow_presence_for_subscriber = true;
  return ns;
}

ArraySectionDef namespaceArray() {
  return {
    .section = "channel",
    .key = "namespace",
    .noun = "namespace",
    .doc = "Channel namespaces. A channel \"<name>:<rest>\" (\"chat:lobby\") takes its options from the\n"
           "[[channel.namespace]] entry of that name; a channel whose namespace has no entry is\n"
           "refused (102 unknown channel). Each entry needs a unique `name` and takes any option key\n"
           "of [channel] above except max_name_length. Options an entry leaves out keep their\n"
           "defaults (off), not the values set in [channel].\n"
           "Namespaces can only be set in this file: no environment variable sets them.\n"
           "For example (remove the leading '# ' to use it):",
    .idKey = "name",
    .keys = namespaceKeys(),
    .elements = [](Config& c) -> std::vector<NamespaceConfig>& { return c.channel.namespaces; },
    .elementsOf = [](const Config& c) -> const std::vector<NamespaceConfig>& { return c.channel.namespaces; },
    .check = [](const NamespaceConfig& ns) { checkChannelOptions(ns.options); },
    .example = exampleNamespace,
  };
}

void checkTlsPair(const Config& c) {
  if (c.server.tls_cert.empty() != c.server.tls_key.empty())
    throw ConfigError(fmt::format("config: server.tls_cert and server.tls_key must be set together (only {} is set)",
                                  c.server.tls_cert.empty() ? "server.tls_key" : "server.tls_cert"));
}

void checkPongTimeout(const Config& c) {
  if (c.client.pong_timeout >= c.client.ping_interval)
    throw ConfigError(fmt::format(
        "config: client.pong_timeout ({}) must be shorter than client.ping_interval ({}): the next ping is due "
        "before the answer to the last one",
        formatDuration(c.client.pong_timeout), formatDuration(c.client.ping_interval)));
}

void checkCommandBurst(const Config& c) {
  if (c.client.command_burst < c.client.command_rate)
    throw ConfigError(fmt::format("config: client.command_burst ({}) must be at least client.command_rate ({})",
                                  c.client.command_burst, c.client.command_rate));
}

void checkPresenceTtl(const Config& c) {
  if (c.client.presence_ttl <= c.client.ping_interval)
    throw ConfigError(fmt::format(
        "config: client.presence_ttl ({}) must be longer than client.ping_interval ({}): presence is refreshed "
        "at every ping, so entries would expire between refreshes",
        formatDuration(c.client.presence_ttl), formatDuration(c.client.ping_interval)));
  if (c.client.presence_ttl <= c.plain.heartbeat_interval)
    throw ConfigError(fmt::format(
        "config: client.presence_ttl ({}) must be longer than plain.heartbeat_interval ({}): a plain /sse "
        "stream refreshes its presence at every heartbeat, so entries would expire between refreshes",
        formatDuration(c.client.presence_ttl), formatDuration(c.plain.heartbeat_interval)));
}

// [channel]'s own options; each namespace's are checked as it is read, where
// the file line is known.
void checkChannelSection(const Config& c) {
  try {
    checkChannelOptions(c.channel.options);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("config: channel: {}", e.what()));
  }
}

void checkHistoryMetaTtl(const Config& c) {
  auto check = [&](const ChannelOptions& o, const std::string& where) {
    if (o.history_ttl > c.broker.history_meta_ttl)
      throw ConfigError(fmt::format(
          "config: {}.history_ttl ({}) is longer than broker.history_meta_ttl ({}): a stream's position must "
          "outlive its history",
          where, formatDuration(o.history_ttl), formatDuration(c.broker.history_meta_ttl)));
  };
  check(c.channel.options, "channel");
  for (const auto& ns : c.channel.namespaces) check(ns.options, fmt::format("channel.namespace[\"{}\"]", ns.name));
}

// Two listeners on one port would share its connections (both bind with
// SO_REUSEPORT) or fail at start with a misleading "address in use".
void checkApiListen(const Config& c) {
  if (c.api.listen.empty()) return;
  HostPort api = parseListen(c.api.listen), main = parseListen(c.server.listen);
  auto wildcard = [](const std::string& h) { return h == "0.0.0.0" || h == "::"; };
  if (api.port != 0 && api.port == main.port && (api.host == main.host || wildcard(api.host) || wildcard(main.host)))
    throw ConfigError(fmt::format(
        "config: api.listen ({}) overlaps server.listen ({}): give the API another port, or leave api.listen "
        "empty to serve the API on server.listen",
        c.api.listen, c.server.listen));
}

// /poll's default wait must be one it would accept as ?timeout=.
void checkPollTimeouts(const Config& c) {
  if (c.plain.poll_timeout > c.plain.poll_max_timeout)
    throw ConfigError(fmt::format("config: plain.poll_timeout ({}) is longer than plain.poll_max_timeout ({})",
                                  formatDuration(c.plain.poll_timeout), formatDuration(c.plain.poll_max_timeout)));
  for (auto [name, d] : {std::pair{"poll_timeout", c.plain.poll_timeout},
                         std::pair{"poll_max_timeout", c.plain.poll_max_timeout},
                         std::pair{"heartbeat_interval", c.plain.heartbeat_interval}})
    if (d.count() % 1000 != 0)
      throw ConfigError(fmt::format("config: plain.{}: whole seconds only, got {}", name, formatDuration(d)));
}

// [demo] token_endpoint signs with the HMAC secret; without one it could mint nothing.
void checkDemoTokenEndpoint(const Config& c) {
  if (c.demo.token_endpoint && c.client.token_hmac_secret.empty())
    throw ConfigError(
        "config: demo.token_endpoint is on but client.token_hmac_secret is not set: the demo tokens are signed "
        "with it");
}

const ConfigCheck kChecks[] = {checkTlsPair,        checkPongTimeout,    checkCommandBurst,     checkPresenceTtl,
                               checkChannelSection, checkHistoryMetaTtl, checkApiListen, checkDemoTokenEndpoint,
                               checkPollTimeouts};

}  // namespace

namespace detail {
std::string envWord(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = ch == '.' ? '_' : char(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}
}  // namespace detail

std::span<const SectionDef> sections() { return kSections; }
std::span<const KeyDef> keys() { return allKeys(); }
std::span<const ConfigCheck> configChecks() { return kChecks; }

std::span<const ArraySectionDef> arraySections() {
  static const ArraySectionDef all[] = {namespaceArray()};
  return all;
}

const KeyDef* findKey(std::string_view section, std::string_view key) {
  for (const auto& d : allKeys())
    if (d.section == section && d.key == key) return &d;
  return nullptr;
}

}  // namespace sb::config
