// Configuration: defaults, file and environment layering, every error naming
// its key, the duration and listen syntaxes, and genconfig round-tripping.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "config/Config.h"
#include "config/Registry.h"

using namespace std::chrono_literals;
using sb::config::Config;
using sb::config::ConfigError;
using sb::config::loadConfig;
using sb::config::loadConfigFromString;
using sb::config::parseDuration;
using testing::HasSubstr;

namespace {

// An envp-style list owning its strings.
class Env {
 public:
  Env(std::initializer_list<std::string> vars) : vars_(vars) {
    for (auto& v : vars_) ptrs_.push_back(v.data());
    ptrs_.push_back(nullptr);
  }
  char** get() { return ptrs_.data(); }

 private:
  std::vector<std::string> vars_;
  std::vector<char*> ptrs_;
};

// The message of the ConfigError thrown by `fn`, or "" (and a failure) if none.
template <class Fn>
std::string errorOf(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

std::string fileError(std::string_view toml) {
  return errorOf([&] { loadConfigFromString(toml, nullptr); });
}

std::string envError(std::initializer_list<std::string> vars) {
  Env env(vars);
  return errorOf([&] { loadConfigFromString("", env.get()); });
}

// Every option of a namespace at its default: closed, no history, no presence.
void expectClosed(const sb::config::ChannelOptions& o) {
  EXPECT_FALSE(o.presence);
  EXPECT_FALSE(o.join_leave);
  EXPECT_FALSE(o.force_push_join_leave);
  EXPECT_EQ(o.history_size, 0);
  EXPECT_EQ(o.history_ttl, 0ms);
  EXPECT_FALSE(o.historyEnabled());
  EXPECT_FALSE(o.force_positioning);
  EXPECT_FALSE(o.allow_positioning);
  EXPECT_FALSE(o.force_recovery);
  EXPECT_FALSE(o.allow_recovery);
  EXPECT_FALSE(o.allow_subscribe_for_client);
  EXPECT_FALSE(o.allow_subscribe_for_anonymous);
  EXPECT_FALSE(o.allow_publish_for_subscriber);
  EXPECT_FALSE(o.allow_publish_for_client);
  EXPECT_FALSE(o.allow_publish_for_anonymous);
  EXPECT_FALSE(o.allow_history_for_subscriber);
  EXPECT_FALSE(o.allow_history_for_client);
  EXPECT_FALSE(o.allow_history_for_anonymous);
  EXPECT_FALSE(o.allow_presence_for_subscriber);
  EXPECT_FALSE(o.allow_presence_for_client);
  EXPECT_FALSE(o.allow_presence_for_anonymous);
  EXPECT_FALSE(o.allow_user_limited_channels);
  EXPECT_EQ(o.channel_regex, "");
}

void expectDefaults(const Config& c) {
  EXPECT_EQ(c.server.listen, "0.0.0.0:8000");
  EXPECT_EQ(c.server.workers, 0);
  EXPECT_EQ(c.server.max_connections, 100000);
  EXPECT_EQ(c.server.tls_cert, "");
  EXPECT_EQ(c.server.tls_key, "");
  EXPECT_EQ(c.server.drain_timeout, 5s);
  EXPECT_EQ(c.server.max_body_size, 1048576u);
  EXPECT_EQ(c.server.write_queue_limit, 1048576u);
  EXPECT_EQ(c.server.web_root, "web");
  EXPECT_EQ(c.websocket.max_message_size, 65536u);
  EXPECT_FALSE(c.websocket.compression);
  EXPECT_EQ(c.websocket.idle_timeout, 60s);
  EXPECT_EQ(c.websocket.close_timeout, 5s);
  EXPECT_EQ(c.debug.echo_path, "");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, "text");

  EXPECT_FALSE(c.client.allow_anonymous);
  EXPECT_EQ(c.client.token_hmac_secret, "");
  EXPECT_EQ(c.client.token_rsa_public_key, "");
  EXPECT_EQ(c.client.token_ecdsa_public_key, "");
  EXPECT_EQ(c.client.token_audience, "");
  EXPECT_EQ(c.client.token_issuer, "");
  EXPECT_EQ(c.client.ping_interval, 25s);
  EXPECT_EQ(c.client.pong_timeout, 8s);
  EXPECT_EQ(c.client.connect_timeout, 10s);
  EXPECT_EQ(c.client.expired_close_delay, 25s);
  EXPECT_EQ(c.client.channel_limit, 128);
  EXPECT_EQ(c.client.recovery_max_publications, 300);
  EXPECT_EQ(c.client.history_max_publications, 300);
  EXPECT_EQ(c.client.command_rate, 100);
  EXPECT_EQ(c.client.command_burst, 200);
  EXPECT_EQ(c.client.presence_ttl, 60s);
  EXPECT_TRUE(c.client.allowed_origins.empty());
  EXPECT_EQ(c.channel.max_name_length, 255u);
  expectClosed(c.channel.options);
  EXPECT_TRUE(c.channel.namespaces.empty());
  EXPECT_EQ(c.api.key, "");
  EXPECT_EQ(c.api.listen, "");
  EXPECT_EQ(c.broker.type, "memory");
  EXPECT_EQ(c.broker.history_meta_ttl, 24h);
}

// ctest runs each test in its own process, two at a time: the pid keeps their
// files apart.
std::string writeTempFile(const std::string& name, std::string_view text) {
  std::string path = testing::TempDir() + std::to_string(::getpid()) + "-" + name;
  std::ofstream f(path);
  f << text;
  return path;
}

// The message of loading `toml` from a file (so messages carry file and line).
std::string fileErrorWithLines(std::string_view toml) {
  std::string path = writeTempFile("switchboard_config_lines.toml", toml);
  std::string err = errorOf([&] { loadConfig(path, nullptr); });
  std::remove(path.c_str());
  return err;
}

// Every registered key of `a` and `b`, and every key of every namespace, agree.
void expectSameConfig(const Config& a, const Config& b) {
  for (const auto& k : sb::config::keys()) EXPECT_TRUE(k.get(a) == k.get(b)) << k.name();
  const auto& ns = sb::config::arraySections()[0];
  ASSERT_EQ(a.channel.namespaces.size(), b.channel.namespaces.size());
  for (size_t i = 0; i < a.channel.namespaces.size(); ++i)
    for (const auto& k : ns.keys)
      EXPECT_TRUE(k.get(a.channel.namespaces[i]) == k.get(b.channel.namespaces[i])) << i << " " << k.key;
}

}  // namespace

// ---- layering --------------------------------------------------------------

TEST(Config, DefaultsWithoutFileOrEnv) {
  expectDefaults(loadConfig("", nullptr));
  expectDefaults(loadConfigFromString("", nullptr));
  Env empty({});
  expectDefaults(loadConfig("", empty.get()));
}

TEST(Config, OtherEnvironmentVariablesAreIgnored) {
  Env env({"PATH=/usr/bin", "HOME=/root", "SWITCHBOARDX=1", "MY_SWITCHBOARD_SERVER_LISTEN=x"});
  expectDefaults(loadConfig("", env.get()));
}

TEST(Config, FileOverridesEveryKind) {
  Config c = loadConfigFromString(R"(
[server]
listen = "127.0.0.1:9000"
workers = 4
max_connections = 10
tls_cert = "cert.pem"
tls_key = "key.pem"
drain_timeout = "1m30s"
max_body_size = 4096
write_queue_limit = 8192
web_root = ""

[websocket]
max_message_size = 125
compression = true
idle_timeout = "0s"
close_timeout = "500ms"

[debug]
echo_path = "/echo"

[log]
level = "debug"
format = "json"
)",
                                  nullptr);
  EXPECT_EQ(c.server.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.server.workers, 4);
  EXPECT_EQ(c.server.max_connections, 10);
  EXPECT_EQ(c.server.tls_cert, "cert.pem");
  EXPECT_EQ(c.server.tls_key, "key.pem");
  EXPECT_EQ(c.server.drain_timeout, 90s);
  EXPECT_EQ(c.server.max_body_size, 4096u);
  EXPECT_EQ(c.server.write_queue_limit, 8192u);
  EXPECT_EQ(c.server.web_root, "");
  EXPECT_EQ(c.websocket.max_message_size, 125u);
  EXPECT_TRUE(c.websocket.compression);
  EXPECT_EQ(c.websocket.idle_timeout, 0ms);
  EXPECT_EQ(c.websocket.close_timeout, 500ms);
  EXPECT_EQ(c.debug.echo_path, "/echo");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, "json");
}

TEST(Config, PartialFileKeepsOtherDefaults) {
  Config c = loadConfigFromString("[websocket]\ncompression = true\n", nullptr);
  EXPECT_TRUE(c.websocket.compression);
  c.websocket.compression = false;
  expectDefaults(c);
}

TEST(Config, DottedKeysAndInlineTablesWork) {
  Config c = loadConfigFromString("server.workers = 2\nlog = { level = \"warn\" }\n", nullptr);
  EXPECT_EQ(c.server.workers, 2);
  EXPECT_EQ(c.log.level, "warn");
}

TEST(Config, EnvOverridesEveryKind) {
  Env env({"SWITCHBOARD_SERVER_LISTEN=[::1]:0", "SWITCHBOARD_SERVER_WORKERS=3",
           "SWITCHBOARD_SERVER_DRAIN_TIMEOUT=250ms", "SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE=2097152",
           "SWITCHBOARD_WEBSOCKET_COMPRESSION=1", "SWITCHBOARD_DEBUG_ECHO_PATH=/echo",
           "SWITCHBOARD_SERVER_WEB_ROOT="});
  Config c = loadConfigFromString("", env.get());
  EXPECT_EQ(c.server.listen, "[::1]:0");
  EXPECT_EQ(c.server.workers, 3);
  EXPECT_EQ(c.server.drain_timeout, 250ms);
  EXPECT_EQ(c.websocket.max_message_size, 2097152u);
  EXPECT_TRUE(c.websocket.compression);
  EXPECT_EQ(c.debug.echo_path, "/echo");
  EXPECT_EQ(c.server.web_root, "");
}

TEST(Config, EnvWinsOverFile) {
  Env env({"SWITCHBOARD_SERVER_LISTEN=127.0.0.1:9001", "SWITCHBOARD_WEBSOCKET_COMPRESSION=false",
           "SWITCHBOARD_LOG_LEVEL=error"});
  Config c = loadConfigFromString(R"(
[server]
listen = "127.0.0.1:9000"
workers = 2
[websocket]
compression = true
)",
                                  env.get());
  EXPECT_EQ(c.server.listen, "127.0.0.1:9001");
  EXPECT_EQ(c.server.workers, 2);  // from the file: no env override
  EXPECT_FALSE(c.websocket.compression);
  EXPECT_EQ(c.log.level, "error");
}

TEST(Config, EnvBooleans) {
  for (auto [text, want] : std::vector<std::pair<std::string, bool>>{
           {"true", true}, {"1", true}, {"TRUE", true}, {"false", false}, {"0", false}, {"False", false}}) {
    Env env({"SWITCHBOARD_WEBSOCKET_COMPRESSION=" + text});
    EXPECT_EQ(loadConfig("", env.get()).websocket.compression, want) << text;
  }
  EXPECT_THAT(envError({"SWITCHBOARD_WEBSOCKET_COMPRESSION=yes"}),
              HasSubstr("websocket.compression: expected true, false, 1 or 0, got \"yes\""));
}

TEST(Config, TlsBothTogether) {
  Env env({"SWITCHBOARD_SERVER_TLS_KEY=key.pem"});
  Config c = loadConfigFromString("[server]\ntls_cert = \"cert.pem\"\n", env.get());
  EXPECT_EQ(c.server.tls_cert, "cert.pem");
  EXPECT_EQ(c.server.tls_key, "key.pem");
}

// ---- files -----------------------------------------------------------------

TEST(Config, LoadsFromFile) {
  std::string path = testing::TempDir() + std::to_string(::getpid()) + "-switchboard_config_test.toml";
  {
    std::ofstream f(path);
    f << "[server]\nlisten = \"127.0.0.1:0\"\n";
  }
  Env env({"SWITCHBOARD_SERVER_WORKERS=1"});
  Config c = loadConfig(path, env.get());
  EXPECT_EQ(c.server.listen, "127.0.0.1:0");
  EXPECT_EQ(c.server.workers, 1);

  {
    std::ofstream f(path);
    f << "[server]\n\nworkers = \"many\"\n";
  }
  std::string err = errorOf([&] { loadConfig(path, nullptr); });
  EXPECT_THAT(err, HasSubstr("config: server.workers: expected an integer from 0 to 1024, got \"many\""));
  EXPECT_THAT(err, HasSubstr("(in " + path + ", line 3)"));
  std::remove(path.c_str());
}

TEST(Config, FileNotFound) {
  std::string err = errorOf([] { loadConfig("/nonexistent/switchboard.toml", nullptr); });
  EXPECT_EQ(err, "config: cannot read /nonexistent/switchboard.toml: No such file or directory");
}

TEST(Config, FileIsADirectory) {
  std::string err = errorOf([] { loadConfig(testing::TempDir(), nullptr); });
  EXPECT_THAT(err, HasSubstr("config: cannot read "));
}

TEST(Config, MalformedTomlNamesLine) {
  std::string err = fileError("[server]\nworkers = 1\nlisten = \"unterminated\n");
  EXPECT_THAT(err, HasSubstr("config: invalid TOML at line 3"));
  err = fileError("[server\n");
  EXPECT_THAT(err, HasSubstr("config: invalid TOML at line 1"));
  err = fileError("[server]\nworkers = 1\nworkers = 2\n");
  EXPECT_THAT(err, HasSubstr("line 3"));
}

TEST(Config, MalformedTomlFileNamesFileAndLine) {
  std::string path = testing::TempDir() + std::to_string(::getpid()) + "-switchboard_config_bad.toml";
  {
    std::ofstream f(path);
    f << "# comment\n[server]\nlisten = 0.0.0.0:8000\n";
  }
  std::string err = errorOf([&] { loadConfig(path, nullptr); });
  EXPECT_THAT(err, HasSubstr("config: invalid TOML in " + path + " at line 3"));
  std::remove(path.c_str());
}

// ---- errors name the key ---------------------------------------------------

TEST(ConfigErrors, UnknownKey) {
  EXPECT_THAT(fileError("[server]\nlisten = \"0.0.0.0:1\"\nlisen = \"x\"\n"),
              HasSubstr("config: unknown key server.lisen (did you mean server.listen?)"));
  EXPECT_THAT(fileError("[server]\nfrobnicate = 1\n"), HasSubstr("config: unknown key server.frobnicate"));
  // A key in the wrong section says where it belongs.
  EXPECT_THAT(fileError("[server]\ncompression = true\n"),
              HasSubstr("config: unknown key server.compression (it belongs in [websocket])"));
  // Nested tables inside a section are unknown keys too.
  EXPECT_THAT(fileError("[server.tls]\ncert = \"x\"\n"), HasSubstr("config: unknown key server.tls"));
  // Top-level keys are not settings.
  EXPECT_THAT(fileError("listen = \"0.0.0.0:1\"\n"), HasSubstr("config: unknown key listen"));
}

TEST(ConfigErrors, UnknownSection) {
  EXPECT_THAT(fileError("[sever]\nlisten = \"x\"\n"),
              HasSubstr("config: unknown section [sever] (did you mean server?)"));
  EXPECT_THAT(fileError("[metrics]\nenabled = true\n"), HasSubstr("config: unknown section [metrics]"));
  EXPECT_THAT(fileError("[[server]]\nlisten = \"x\"\n"), HasSubstr("config: server: expected a section"));
}

TEST(ConfigErrors, WrongType) {
  EXPECT_THAT(fileError("[websocket]\nmax_message_size = \"abc\"\n"),
              HasSubstr("config: websocket.max_message_size: expected an integer of at least 125 (bytes), got \"abc\""));
  EXPECT_THAT(fileError("[server]\nmax_body_size = \"abc\"\n"),
              HasSubstr("config: server.max_body_size: expected a positive integer (bytes), got \"abc\""));
  EXPECT_THAT(fileError("[server]\nlisten = 8000\n"), HasSubstr("config: server.listen: expected a string, got 8000"));
  EXPECT_THAT(fileError("[websocket]\ncompression = \"yes\"\n"),
              HasSubstr("config: websocket.compression: expected true or false, got \"yes\""));
  EXPECT_THAT(fileError("[server]\nworkers = 1.5\n"), HasSubstr("config: server.workers: expected an integer"));
  EXPECT_THAT(fileError("[server]\nweb_root = [\"a\"]\n"),
              HasSubstr("config: server.web_root: expected a string, got an array"));
  EXPECT_THAT(fileError("[server]\ndrain_timeout = 5\n"),
              HasSubstr("config: server.drain_timeout: expected a duration with a unit, like \"25s\""));
  EXPECT_THAT(fileError("[server]\nmax_connections = 0\n"),
              HasSubstr("config: server.max_connections: expected a positive integer, got 0"));
  EXPECT_THAT(fileError("[server]\nworkers = 5000\n"),
              HasSubstr("config: server.workers: expected an integer from 0 to 1024, got 5000"));
  EXPECT_THAT(fileError("[server]\nworkers = -1\n"), HasSubstr("config: server.workers: expected an integer from"));
}

TEST(ConfigErrors, BadDuration) {
  EXPECT_THAT(fileError("[websocket]\nidle_timeout = \"25\"\n"),
              HasSubstr("config: websocket.idle_timeout: invalid duration \"25\": missing unit"));
  EXPECT_THAT(fileError("[websocket]\nidle_timeout = \"-5s\"\n"),
              HasSubstr("config: websocket.idle_timeout: invalid duration \"-5s\": negative"));
  EXPECT_THAT(fileError("[websocket]\nclose_timeout = \"0s\"\n"),
              HasSubstr("config: websocket.close_timeout: expected a duration with a unit, like \"25s\", from 1ms to "
                        "1h, got \"0s\""));
  EXPECT_THAT(envError({"SWITCHBOARD_SERVER_DRAIN_TIMEOUT=soon"}),
              HasSubstr("config: server.drain_timeout: invalid duration \"soon\""));
  EXPECT_THAT(envError({"SWITCHBOARD_SERVER_DRAIN_TIMEOUT=soon"}), HasSubstr("(from SWITCHBOARD_SERVER_DRAIN_TIMEOUT)"));
}

TEST(ConfigErrors, BadSize) {
  EXPECT_THAT(envError({"SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE=abc"}),
              HasSubstr("config: websocket.max_message_size: expected an integer of at least 125 (bytes), got \"abc\" "
                        "(from SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE)"));
  EXPECT_THAT(envError({"SWITCHBOARD_SERVER_MAX_BODY_SIZE=abc"}),
              HasSubstr("config: server.max_body_size: expected a positive integer (bytes), got \"abc\""));
  for (std::string bad : {"", "-1", "+5", "1k", " 5", "1.5", "0", "99999999999999999999999"})
    EXPECT_THAT(envError({"SWITCHBOARD_SERVER_WRITE_QUEUE_LIMIT=" + bad}),
                HasSubstr("config: server.write_queue_limit: expected a positive integer (bytes)"))
        << bad;
  EXPECT_THAT(fileError("[websocket]\nmax_message_size = 124\n"),
              HasSubstr("config: websocket.max_message_size: expected an integer of at least 125 (bytes), got 124"));
  EXPECT_THAT(fileError("[server]\nmax_body_size = -1\n"), HasSubstr("config: server.max_body_size: expected"));
  EXPECT_THAT(envError({"SWITCHBOARD_SERVER_WORKERS=two"}), HasSubstr("config: server.workers: expected"));
}

TEST(ConfigErrors, TlsOneSided) {
  EXPECT_THAT(fileError("[server]\ntls_cert = \"cert.pem\"\n"),
              HasSubstr("config: server.tls_cert and server.tls_key must be set together (only server.tls_cert is set)"));
  EXPECT_THAT(envError({"SWITCHBOARD_SERVER_TLS_KEY=key.pem"}),
              HasSubstr("(only server.tls_key is set)"));
}

TEST(ConfigErrors, BadListen) {
  EXPECT_THAT(fileError("[server]\nlisten = \"8000\"\n"),
              HasSubstr("config: server.listen: invalid listen address \"8000\": missing \":port\""));
  EXPECT_THAT(envError({"SWITCHBOARD_SERVER_LISTEN=0.0.0.0:70000"}),
              HasSubstr("config: server.listen: invalid listen address \"0.0.0.0:70000\": port must be at most 65535"));
}

TEST(ConfigErrors, BadEnumsAndPaths) {
  EXPECT_THAT(fileError("[log]\nlevel = \"verbose\"\n"),
              HasSubstr("config: log.level: expected one of trace, debug, info, warn, error, got \"verbose\""));
  EXPECT_THAT(envError({"SWITCHBOARD_LOG_FORMAT=xml"}),
              HasSubstr("config: log.format: expected text or json, got \"xml\""));
  EXPECT_THAT(fileError("[debug]\necho_path = \"echo\"\n"),
              HasSubstr("config: debug.echo_path: expected a path starting with '/'"));
}

TEST(ConfigErrors, UnknownEnvVar) {
  EXPECT_THAT(envError({"SWITCHBOARD_SERVER_LISTN=127.0.0.1:1"}),
              HasSubstr("config: unknown environment variable SWITCHBOARD_SERVER_LISTN (did you mean "
                        "SWITCHBOARD_SERVER_LISTEN?)"));
  EXPECT_THAT(envError({"SWITCHBOARD_FOO=1"}), HasSubstr("config: unknown environment variable SWITCHBOARD_FOO"));
  EXPECT_THAT(envError({"SWITCHBOARD_=1"}), HasSubstr("unknown environment variable SWITCHBOARD_"));
}

TEST(ConfigErrors, FileErrorsCarryLocation) {
  std::string err = fileError("[server]\nworkers = 1\n\n[websocket]\nmax_message_size = \"abc\"\n");
  EXPECT_THAT(err, HasSubstr("config: websocket.max_message_size: expected"));
}

// ---- durations -------------------------------------------------------------

TEST(Duration, ParsesValidForms) {
  struct Case {
    const char* text;
    std::chrono::milliseconds want;
  };
  for (const Case& c : std::vector<Case>{{"0", 0ms},
                                         {"0s", 0ms},
                                         {"0ms", 0ms},
                                         {"500ms", 500ms},
                                         {"25s", 25s},
                                         {"2m", 2min},
                                         {"1h", 1h},
                                         {"1m30s", 90s},
                                         {"1h2m3s4ms", 1h + 2min + 3s + 4ms},
                                         {"1s500ms", 1500ms},
                                         {"90s", 90s},
                                         {"1500ms", 1500ms},
                                         {"007s", 7s},
                                         {"48h", 48h}})
    EXPECT_EQ(parseDuration(c.text), c.want) << c.text;
}

TEST(Duration, RejectsInvalidForms) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{{"", "empty"},
                                         {"25", "missing unit"},
                                         {"1m30", "missing unit"},
                                         {"-5s", "negative"},
                                         {"s", "expected a number"},
                                         {"5x", "unknown unit \"x\""},
                                         {"5sec", "unknown unit \"sec\""},
                                         {"5S", "unknown unit \"S\""},
                                         {"1.5s", "fractions are not supported"},
                                         {"5 s", "unexpected \" s\""},
                                         {" 5s", "expected a number"},
                                         {"5s ", "expected a number"},
                                         {"30s1m", "largest to smallest"},
                                         {"1s1s", "largest to smallest"},
                                         {"+5s", "expected a number"},
                                         {"abc", "expected a number"},
                                         {"99999999999999999999h", "too large"},
                                         {"9999999999999999h", "too large"}}) {
    std::string err = errorOf([&] { parseDuration(c.text); });
    EXPECT_THAT(err, HasSubstr(c.why)) << c.text;
    EXPECT_THAT(err, HasSubstr(std::string("invalid duration \"") + c.text + "\"")) << c.text;
  }
}

TEST(Duration, FormatsCanonically) {
  using sb::config::formatDuration;
  EXPECT_EQ(formatDuration(0ms), "0s");
  EXPECT_EQ(formatDuration(500ms), "500ms");
  EXPECT_EQ(formatDuration(5s), "5s");
  EXPECT_EQ(formatDuration(90s), "1m30s");
  EXPECT_EQ(formatDuration(1h), "1h");
  EXPECT_EQ(formatDuration(1h + 1ms), "1h1ms");
  for (auto d : {0ms, 1ms, 999ms, 1001ms, 61000ms, 3661001ms, 86400000ms})
    EXPECT_EQ(parseDuration(formatDuration(d)), d) << formatDuration(d);
}

// ---- listen addresses ------------------------------------------------------

TEST(Listen, ParsesValidForms) {
  using sb::config::parseListen;
  auto hp = parseListen("0.0.0.0:8000");
  EXPECT_EQ(hp.host, "0.0.0.0");
  EXPECT_EQ(hp.port, 8000);
  hp = parseListen("[::]:8000");
  EXPECT_EQ(hp.host, "::");
  EXPECT_EQ(hp.port, 8000);
  hp = parseListen("[::1]:0");
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 0);
  hp = parseListen("localhost:65535");
  EXPECT_EQ(hp.host, "localhost");
  EXPECT_EQ(hp.port, 65535);
  hp = parseListen("[fe80::1%eth0]:1");
  EXPECT_EQ(hp.host, "fe80::1%eth0");
}

TEST(Listen, RejectsInvalidForms) {
  using sb::config::parseListen;
  for (const char* bad : {"", "8000", ":8000", "0.0.0.0:", "0.0.0.0:65536", "0.0.0.0:-1", "0.0.0.0:80x",
                          "0.0.0.0:+80", "::1:8000", "[::1]8000", "[::1", "[]:80", "[1.2.3.4]:80",
                          "host name:80", "0.0.0.0:99999999999999999999", "[::1]:", "[fe80::1%]:80", "[%eth0]:80"}) {
    std::string err = errorOf([&] { parseListen(bad); });
    EXPECT_THAT(err, HasSubstr(std::string("invalid listen address \"") + bad + "\"")) << bad;
  }
}

// ---- genconfig and the registry ----------------------------------------------

TEST(GenConfig, RoundTripsToDefaults) {
  std::string text = sb::config::generateDefaultConfig();
  expectDefaults(loadConfigFromString(text, nullptr));
}

TEST(GenConfig, DocumentsEveryKeyAndSection) {
  std::string text = sb::config::generateDefaultConfig();
  EXPECT_EQ(text.rfind("# ", 0), 0u) << "starts with a header comment";
  for (const auto& s : sb::config::sections()) EXPECT_THAT(text, HasSubstr("\n[" + std::string(s.name) + "]\n"));
  for (const auto& k : sb::config::keys()) {
    // The doc comment sits right above the key.
    std::string keyLine = "\n" + std::string(k.key) + " = ";
    size_t at = text.find(keyLine);
    ASSERT_NE(at, std::string::npos) << k.name();
    size_t prevLineStart = text.rfind('\n', at - 1);
    EXPECT_EQ(text.substr(prevLineStart + 1, 2), "# ") << k.name();
  }
  EXPECT_THAT(text, HasSubstr("listen = \"0.0.0.0:8000\"\n"));
  EXPECT_THAT(text, HasSubstr("drain_timeout = \"5s\"\n"));
  EXPECT_THAT(text, HasSubstr("idle_timeout = \"1m\"\n"));
  EXPECT_THAT(text, HasSubstr("max_message_size = 65536\n"));
  EXPECT_THAT(text, HasSubstr("compression = false\n"));
}

TEST(GenConfig, EditedOutputLoads) {
  // The generated file is a template people edit: changing a value there works.
  std::string text = sb::config::generateDefaultConfig();
  std::string from = "compression = false";
  text.replace(text.find(from), from.size(), "compression = true");
  EXPECT_TRUE(loadConfigFromString(text, nullptr).websocket.compression);
}

TEST(Registry, IsConsistent) {
  std::set<std::string> names, envNames;
  for (const auto& k : sb::config::keys()) {
    EXPECT_TRUE(names.insert(k.name()).second) << "duplicate key " << k.name();
    EXPECT_TRUE(envNames.insert(k.envName()).second) << "two keys share " << k.envName();
    EXPECT_FALSE(k.doc.empty()) << k.name();
    EXPECT_NE(k.doc.back(), '\n') << k.name();
    bool sectionKnown = false;
    for (const auto& s : sb::config::sections()) sectionKnown |= s.name == k.section;
    EXPECT_TRUE(sectionKnown) << k.name();
    EXPECT_EQ(sb::config::findKey(k.section, k.key), &k);
  }
  EXPECT_TRUE(envNames.count("SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE"));
  // 16 server/websocket/debug/log + 5 plain + 17 client + max_name_length + 22 channel options + 2 api
  // + 7 broker + 1 demo.
  EXPECT_EQ(names.size(), 71u);
}

TEST(Registry, EnvCoversEveryKey) {
  // Every key can be set from the environment, with its default's text.
  Config defaults;
  std::vector<std::string> vars;
  for (const auto& k : sb::config::keys()) {
    auto v = k.get(defaults);
    std::string text;
    if (auto* s = std::get_if<std::string>(&v)) text = *s;
    else if (auto* n = std::get_if<int64_t>(&v)) text = std::to_string(*n);
    else if (auto* b = std::get_if<bool>(&v)) text = *b ? "true" : "false";
    else if (auto* list = std::get_if<std::vector<std::string>>(&v))
      for (const auto& item : *list) text += (text.empty() ? "" : ",") + item;
    else text = sb::config::formatDuration(std::get<std::chrono::milliseconds>(v));
    vars.push_back(k.envName() + "=" + text);
  }
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  expectDefaults(loadConfig("", envp.data()));
}

// ---- [client], [channel], [api], [broker] ------------------------------------

TEST(ConfigSections, FileSetsEveryClientChannelApiBrokerKey) {
  Config c = loadConfigFromString(R"(
[client]
allow_anonymous = true
token_hmac_secret = "secret"
token_rsa_public_key = "/etc/rsa.pem"
token_ecdsa_public_key = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----"
token_audience = "aud"
token_issuer = "iss"
ping_interval = "10s"
pong_timeout = "3s"
connect_timeout = "2s"
expired_close_delay = "0s"
channel_limit = 7
recovery_max_publications = 11
history_max_publications = 12
command_rate = 5
command_burst = 5
presence_ttl = "17s"
allowed_origins = ["https://example.com", "https://*.example.org"]

[channel]
max_name_length = 1024
presence = true
join_leave = true
force_push_join_leave = true
history_size = 10
history_ttl = "30s"
force_positioning = true
allow_positioning = true
force_recovery = true
allow_recovery = true
allow_subscribe_for_client = true
allow_subscribe_for_anonymous = true
allow_publish_for_subscriber = true
allow_publish_for_client = true
allow_publish_for_anonymous = true
allow_history_for_subscriber = true
allow_history_for_client = true
allow_history_for_anonymous = true
allow_presence_for_subscriber = true
allow_presence_for_client = true
allow_presence_for_anonymous = true
allow_user_limited_channels = true
channel_regex = "^[a-z]+$"

[api]
key = "api-key"
listen = "127.0.0.1:8001"

[broker]
type = "memory"
history_meta_ttl = "1h"
)",
                                  nullptr);
  EXPECT_TRUE(c.client.allow_anonymous);
  EXPECT_EQ(c.client.token_hmac_secret, "secret");
  EXPECT_EQ(c.client.token_rsa_public_key, "/etc/rsa.pem");
  EXPECT_EQ(c.client.token_ecdsa_public_key, "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----");
  EXPECT_EQ(c.client.token_audience, "aud");
  EXPECT_EQ(c.client.token_issuer, "iss");
  EXPECT_EQ(c.client.ping_interval, 10s);
  EXPECT_EQ(c.client.pong_timeout, 3s);
  EXPECT_EQ(c.client.connect_timeout, 2s);
  EXPECT_EQ(c.client.expired_close_delay, 0ms);
  EXPECT_EQ(c.client.channel_limit, 7);
  EXPECT_EQ(c.client.recovery_max_publications, 11);
  EXPECT_EQ(c.client.history_max_publications, 12);
  EXPECT_EQ(c.client.command_rate, 5);
  EXPECT_EQ(c.client.command_burst, 5);
  EXPECT_EQ(c.client.presence_ttl, 17s);
  EXPECT_EQ(c.client.allowed_origins, (std::vector<std::string>{"https://example.com", "https://*.example.org"}));

  const auto& o = c.channel.options;
  EXPECT_EQ(c.channel.max_name_length, 1024u);
  EXPECT_TRUE(o.presence);
  EXPECT_TRUE(o.join_leave);
  EXPECT_TRUE(o.force_push_join_leave);
  EXPECT_EQ(o.history_size, 10);
  EXPECT_EQ(o.history_ttl, 30s);
  EXPECT_TRUE(o.historyEnabled());
  EXPECT_TRUE(o.force_positioning);
  EXPECT_TRUE(o.allow_positioning);
  EXPECT_TRUE(o.force_recovery);
  EXPECT_TRUE(o.allow_recovery);
  EXPECT_TRUE(o.allow_subscribe_for_client);
  EXPECT_TRUE(o.allow_subscribe_for_anonymous);
  EXPECT_TRUE(o.allow_publish_for_subscriber);
  EXPECT_TRUE(o.allow_publish_for_client);
  EXPECT_TRUE(o.allow_publish_for_anonymous);
  EXPECT_TRUE(o.allow_history_for_subscriber);
  EXPECT_TRUE(o.allow_history_for_client);
  EXPECT_TRUE(o.allow_history_for_anonymous);
  EXPECT_TRUE(o.allow_presence_for_subscriber);
  EXPECT_TRUE(o.allow_presence_for_client);
  EXPECT_TRUE(o.allow_presence_for_anonymous);
  EXPECT_TRUE(o.allow_user_limited_channels);
  EXPECT_EQ(o.channel_regex, "^[a-z]+$");
  EXPECT_TRUE(c.channel.namespaces.empty());

  EXPECT_EQ(c.api.key, "api-key");
  EXPECT_EQ(c.api.listen, "127.0.0.1:8001");
  EXPECT_EQ(c.broker.type, "memory");
  EXPECT_EQ(c.broker.history_meta_ttl, 1h);
}

TEST(ConfigSections, EnvOverridesClientChannelApiBroker) {
  Env env({"SWITCHBOARD_CLIENT_ALLOW_ANONYMOUS=true", "SWITCHBOARD_CLIENT_TOKEN_HMAC_SECRET=s3cret",
           "SWITCHBOARD_CLIENT_PING_INTERVAL=5s", "SWITCHBOARD_CLIENT_PONG_TIMEOUT=2s",
           "SWITCHBOARD_CLIENT_CHANNEL_LIMIT=9", "SWITCHBOARD_CHANNEL_PRESENCE=1",
           "SWITCHBOARD_CHANNEL_HISTORY_TTL=1m", "SWITCHBOARD_CHANNEL_MAX_NAME_LENGTH=64",
           "SWITCHBOARD_CHANNEL_CHANNEL_REGEX=^[a-z]+$", "SWITCHBOARD_CHANNEL_ALLOW_SUBSCRIBE_FOR_CLIENT=true",
           "SWITCHBOARD_API_KEY=from-env", "SWITCHBOARD_BROKER_HISTORY_META_TTL=2h"});
  // The file sets history_size, the environment history_ttl: the pair is
  // checked once both are applied.
  Config c = loadConfigFromString("[channel]\nhistory_size = 50\n[api]\nkey = \"from-file\"\n", env.get());
  EXPECT_TRUE(c.client.allow_anonymous);
  EXPECT_EQ(c.client.token_hmac_secret, "s3cret");
  EXPECT_EQ(c.client.ping_interval, 5s);
  EXPECT_EQ(c.client.pong_timeout, 2s);
  EXPECT_EQ(c.client.channel_limit, 9);
  EXPECT_TRUE(c.channel.options.presence);
  EXPECT_EQ(c.channel.options.history_size, 50);
  EXPECT_EQ(c.channel.options.history_ttl, 1min);
  EXPECT_EQ(c.channel.max_name_length, 64u);
  EXPECT_EQ(c.channel.options.channel_regex, "^[a-z]+$");
  EXPECT_TRUE(c.channel.options.allow_subscribe_for_client);
  EXPECT_EQ(c.api.key, "from-env");
  EXPECT_EQ(c.broker.history_meta_ttl, 2h);
  // Untouched keys keep their defaults.
  EXPECT_EQ(c.client.command_rate, 100);
  EXPECT_FALSE(c.channel.options.join_leave);
}

TEST(ConfigSections, Ranges) {
  EXPECT_THAT(fileError("[client]\nping_interval = \"0s\"\n"),
              HasSubstr("config: client.ping_interval: expected a duration with a unit, like \"25s\", from 1s to 1h, "
                        "got \"0s\""));
  EXPECT_THAT(fileError("[client]\nping_interval = \"2h\"\n"), HasSubstr("config: client.ping_interval: expected"));
  EXPECT_THAT(fileError("[client]\nping_interval = \"1s500ms\"\n"),
              HasSubstr("config: client.ping_interval: expected whole seconds (clients are told the interval in "
                        "seconds), got \"1s500ms\""));
  EXPECT_THAT(fileError("[client]\npong_timeout = \"0s\"\n"), HasSubstr("config: client.pong_timeout: expected"));
  EXPECT_THAT(fileError("[client]\nconnect_timeout = \"999ms\"\n"),
              HasSubstr("config: client.connect_timeout: expected a duration with a unit, like \"25s\", from 1s to "
                        "1h, got \"999ms\""));
  EXPECT_THAT(fileError("[client]\nchannel_limit = 0\n"),
              HasSubstr("config: client.channel_limit: expected an integer from 1 to 100000, got 0"));
  EXPECT_THAT(envError({"SWITCHBOARD_CLIENT_CHANNEL_LIMIT=100001"}),
              HasSubstr("config: client.channel_limit: expected an integer from 1 to 100000, got \"100001\""));
  EXPECT_THAT(fileError("[client]\nrecovery_max_publications = 100001\n"),
              HasSubstr("config: client.recovery_max_publications: expected an integer from 1 to 100000"));
  EXPECT_THAT(fileError("[client]\nhistory_max_publications = 0\n"),
              HasSubstr("config: client.history_max_publications: expected an integer from 1 to 100000"));
  EXPECT_THAT(fileError("[client]\ncommand_rate = 0\n"),
              HasSubstr("config: client.command_rate: expected a positive integer, got 0"));
  EXPECT_THAT(fileError("[client]\npresence_ttl = \"30s\"\nping_interval = \"10s\"\n[plain]\nheartbeat_interval = \"30s\"\n"),
              HasSubstr("config: client.presence_ttl (30s) must be longer than plain.heartbeat_interval (30s)"));
  EXPECT_THAT(fileError("[client]\npresence_ttl = \"500ms\"\n"),
              HasSubstr("config: client.presence_ttl: expected a duration with a unit, like \"25s\", at least 1s"));
  EXPECT_THAT(fileError("[client]\nexpired_close_delay = \"2h\"\n"),
              HasSubstr("config: client.expired_close_delay: expected"));
  EXPECT_THAT(fileError("[channel]\nmax_name_length = 0\n"),
              HasSubstr("config: channel.max_name_length: expected an integer from 1 to 1024 (bytes), got 0"));
  EXPECT_THAT(fileError("[channel]\nmax_name_length = 1025\n"), HasSubstr("config: channel.max_name_length: expected"));
  EXPECT_THAT(fileError("[channel]\nhistory_size = 1000001\nhistory_ttl = \"1m\"\n"),
              HasSubstr("config: channel.history_size: expected an integer from 0 to 1000000, got 1000001"));
  EXPECT_THAT(fileError("[channel]\nhistory_size = -1\n"), HasSubstr("config: channel.history_size: expected"));
  EXPECT_THAT(fileError("[broker]\nhistory_meta_ttl = \"0s\"\n"),
              HasSubstr("config: broker.history_meta_ttl: expected a duration with a unit, like \"25s\", at least 1s"));
  // The edges themselves are accepted.
  Config c = loadConfigFromString(
      "[client]\nping_interval = \"1h\"\npong_timeout = \"1ms\"\nconnect_timeout = \"1s\"\nchannel_limit = 100000\n"
      "presence_ttl = \"2h\"\n[channel]\nmax_name_length = 1\nhistory_size = 1000000\nhistory_ttl = \"1s\"\n",
      nullptr);
  EXPECT_EQ(c.client.ping_interval, 1h);
  EXPECT_EQ(c.client.pong_timeout, 1ms);
  EXPECT_EQ(c.channel.max_name_length, 1u);
  EXPECT_EQ(c.channel.options.history_size, 1000000);
}

TEST(ConfigSections, BrokerTypeIsAList) {
  EXPECT_EQ(loadConfigFromString("[broker]\ntype = \"memory\"\n", nullptr).broker.type, "memory");
  EXPECT_EQ(loadConfigFromString("[broker]\ntype = \"redis\"\n", nullptr).broker.type, "redis");
  EXPECT_THAT(fileError("[broker]\ntype = \"nats\"\n"),
              HasSubstr("config: broker.type: expected one of memory, redis, got \"nats\""));
  EXPECT_THAT(envError({"SWITCHBOARD_BROKER_TYPE=Memory"}),
              HasSubstr("config: broker.type: expected one of memory, redis, got \"Memory\" (from SWITCHBOARD_BROKER_TYPE)"));
}

TEST(ConfigSections, RedisKeys) {
  Config c = loadConfigFromString(
      "[broker]\ntype = \"redis\"\nredis_address = \"10.0.0.5:6380\"\nredis_password = \"pw\"\nredis_db = 2\n"
      "redis_prefix = \"chat\"\n",
      nullptr);
  EXPECT_EQ(c.broker.redis_address, "10.0.0.5:6380");
  EXPECT_EQ(c.broker.redis_password, "pw");
  EXPECT_EQ(c.broker.redis_db, 2);
  EXPECT_EQ(c.broker.redis_prefix, "chat");
  EXPECT_EQ(Config{}.broker.redis_address, "127.0.0.1:6379");
  EXPECT_EQ(loadConfigFromString("[broker]\nredis_address = \"/run/redis/redis.sock\"\n", nullptr).broker.redis_address,
            "/run/redis/redis.sock");
  EXPECT_THAT(fileError("[broker]\nredis_address = \"redis:port\"\n"),
              HasSubstr("config: broker.redis_address: the port must be a number from 1 to 65535, got \"port\""));
  // Redis Cluster: a list of seeds, each entry checked and named by its index.
  Config cluster = loadConfigFromString(
      "[broker]\nredis_cluster = true\nredis_address = \"127.0.0.1:7000, 127.0.0.1:7001\"\n", nullptr);
  EXPECT_TRUE(cluster.broker.redis_cluster);
  EXPECT_EQ(cluster.broker.redis_address, "127.0.0.1:7000, 127.0.0.1:7001");
  EXPECT_FALSE(Config{}.broker.redis_cluster);
  EXPECT_THAT(fileError("[broker]\nredis_address = \"127.0.0.1:7000,127.0.0.1:x\"\n"),
              HasSubstr("config: broker.redis_address: element 1 of the address list: the port must be a number"));
  EXPECT_THAT(fileError("[broker]\nredis_address = \"127.0.0.1:7000,,127.0.0.1:7001\"\n"),
              HasSubstr("config: broker.redis_address: element 1 of the address list is empty"));
  EXPECT_THAT(fileError("[broker]\nredis_address = \"127.0.0.1:7000,/tmp/redis.sock\"\n"),
              HasSubstr("element 1 of the address list: a cluster node is reached over TCP"));
  // The list as a TOML array: the same list, the same checks.
  Config arr = loadConfigFromString(
      "[broker]\nredis_cluster = true\nredis_address = [\"127.0.0.1:7000\", \"127.0.0.1:7001\"]\n", nullptr);
  EXPECT_EQ(arr.broker.redis_address, "127.0.0.1:7000, 127.0.0.1:7001");
  EXPECT_THAT(fileError("[broker]\nredis_address = [\"127.0.0.1:7000\", \"127.0.0.1:x\"]\n"),
              HasSubstr("config: broker.redis_address: element 1 of the address list: the port must be a number"));
  EXPECT_THAT(fileError("[broker]\nredis_address = [\"127.0.0.1:7000\", 7001]\n"),
              HasSubstr("config: broker.redis_address: expected a string or an array of strings, element 1 is"));
  EXPECT_THAT(fileError("[broker]\nredis_address = [\"a:1, b:2\"]\n"),
              HasSubstr("element 0 (\"a:1, b:2\") holds a comma"));
  EXPECT_THAT(fileError("[broker]\nredis_address = 6379\n"),
              HasSubstr("config: broker.redis_address: expected a string or an array of strings, got"));
  // Other string keys take no array.
  EXPECT_THAT(fileError("[broker]\nredis_prefix = [\"a\"]\n"),
              HasSubstr("config: broker.redis_prefix: expected a string, got an array"));
  EXPECT_THAT(fileError("[broker]\nredis_prefix = \"a{b}\"\n"),
              HasSubstr("config: broker.redis_prefix: '{' and '}' cannot be used"));
  EXPECT_THAT(fileError("[broker]\nredis_db = -1\n"), HasSubstr("config: broker.redis_db"));
}

TEST(ConfigSections, StringChecks) {
  // token_* are not validated here (the token verifier reads them at startup).
  Config c = loadConfigFromString("[client]\ntoken_rsa_public_key = \"not a pem\"\n", nullptr);
  EXPECT_EQ(c.client.token_rsa_public_key, "not a pem");
  EXPECT_THAT(fileError("[channel]\nchannel_regex = \"([a-z\"\n"),
              HasSubstr("config: channel.channel_regex: invalid regular expression \"([a-z\""));
  EXPECT_THAT(fileError("[api]\nkey = \" padded\"\n"),
              HasSubstr("config: api.key: leading or trailing spaces cannot be sent in an HTTP header"));
  EXPECT_THAT(fileError("[api]\nkey = \"a\\nb\"\n"),
              HasSubstr("config: api.key: control characters cannot be sent in an HTTP header"));
}

// ---- string lists (client.allowed_origins) -------------------------------------

TEST(ConfigStringList, FileTakesAnArrayOfStrings) {
  EXPECT_TRUE(loadConfigFromString("[client]\nallowed_origins = []\n", nullptr).client.allowed_origins.empty());
  EXPECT_EQ(loadConfigFromString("[client]\nallowed_origins = [\"*\"]\n", nullptr).client.allowed_origins,
            std::vector<std::string>{"*"});
  EXPECT_THAT(fileError("[client]\nallowed_origins = \"https://example.com\"\n"),
              HasSubstr("config: client.allowed_origins: expected an array of strings, got \"https://example.com\""));
  EXPECT_THAT(fileError("[client]\nallowed_origins = [\"https://example.com\", 5]\n"),
              HasSubstr("config: client.allowed_origins: expected an array of strings, element 1 is 5"));
  EXPECT_THAT(fileErrorWithLines("[client]\nallowed_origins = [\"https://a.example\", \"https://b.example/\"]\n"),
              HasSubstr("config: client.allowed_origins: element 1: expected \"*\""));
  EXPECT_THAT(fileErrorWithLines("[client]\nallowed_origins = [\"https://a.example\", \"https://b.example/\"]\n"),
              HasSubstr("got \"https://b.example/\": an origin has no path, remove the trailing '/' (in "));
}

TEST(ConfigStringList, EnvIsCommaSeparated) {
  auto load = [](std::string var) {
    Env env({std::move(var)});
    return loadConfigFromString("[client]\nallowed_origins = [\"https://file.example\"]\n", env.get())
        .client.allowed_origins;
  };
  EXPECT_EQ(load("SWITCHBOARD_CLIENT_ALLOWED_ORIGINS=https://a.example, https://*.b.example ,http://c:3000"),
            (std::vector<std::string>{"https://a.example", "https://*.b.example", "http://c:3000"}));
  EXPECT_EQ(load("SWITCHBOARD_CLIENT_ALLOWED_ORIGINS=*"), std::vector<std::string>{"*"});
  EXPECT_TRUE(load("SWITCHBOARD_CLIENT_ALLOWED_ORIGINS=").empty());  // clears the file's list
  EXPECT_THAT(envError({"SWITCHBOARD_CLIENT_ALLOWED_ORIGINS=https://a.example,,https://b.example"}),
              HasSubstr("config: client.allowed_origins: expected comma-separated strings, element 1 is empty in "
                        "\"https://a.example,,https://b.example\" (from SWITCHBOARD_CLIENT_ALLOWED_ORIGINS)"));
  EXPECT_THAT(envError({"SWITCHBOARD_CLIENT_ALLOWED_ORIGINS=https://a.example,example.com"}),
              HasSubstr("config: client.allowed_origins: element 1: expected"));
}

TEST(ConfigStringList, GenConfigPrintsATomlArrayThatLoadsBack) {
  Config c;
  c.client.allowed_origins = {"https://example.com", "https://*.example.org", "null"};
  std::string text = sb::config::generateConfig(c);
  EXPECT_THAT(text, HasSubstr("\nallowed_origins = [\"https://example.com\", \"https://*.example.org\", \"null\"]\n"));
  EXPECT_EQ(loadConfigFromString(text, nullptr).client.allowed_origins, c.client.allowed_origins);
  EXPECT_THAT(sb::config::generateDefaultConfig(), HasSubstr("\nallowed_origins = []\n"));
}

TEST(ConfigSections, ApiListen) {
  EXPECT_THAT(fileError("[api]\nlisten = \"8001\"\n"),
              HasSubstr("config: api.listen: invalid listen address \"8001\": missing \":port\""));
  Env env({"SWITCHBOARD_API_LISTEN=[::1]:9001"});
  EXPECT_EQ(loadConfigFromString("", env.get()).api.listen, "[::1]:9001");
  // Not on the main listener's address and port.
  EXPECT_THAT(fileError("[server]\nlisten = \"127.0.0.1:8000\"\n[api]\nlisten = \"127.0.0.1:8000\"\n"),
              HasSubstr("config: api.listen (127.0.0.1:8000) overlaps server.listen (127.0.0.1:8000)"));
  EXPECT_THAT(fileError("[api]\nlisten = \"127.0.0.1:8000\"\n"),  // server.listen is 0.0.0.0:8000
              HasSubstr("overlaps server.listen (0.0.0.0:8000)"));
  Config other = loadConfigFromString(
      "[server]\nlisten = \"10.0.0.1:8000\"\n[api]\nlisten = \"127.0.0.1:8000\"\n", nullptr);
  EXPECT_EQ(other.api.listen, "127.0.0.1:8000");
  EXPECT_EQ(loadConfigFromString("[server]\nlisten = \"127.0.0.1:0\"\n[api]\nlisten = \"127.0.0.1:0\"\n", nullptr)
                .api.listen,
            "127.0.0.1:0");
}

// ---- checks across keys --------------------------------------------------------

TEST(ConfigCrossChecks, PongTimeoutShorterThanPingInterval) {
  EXPECT_THAT(fileError("[client]\nping_interval = \"5s\"\npong_timeout = \"5s\"\n"),
              HasSubstr("config: client.pong_timeout (5s) must be shorter than client.ping_interval (5s)"));
  // Either side may come from the environment.
  EXPECT_THAT(envError({"SWITCHBOARD_CLIENT_PONG_TIMEOUT=30s"}),
              HasSubstr("config: client.pong_timeout (30s) must be shorter than client.ping_interval (25s)"));
  EXPECT_THAT(envError({"SWITCHBOARD_CLIENT_PING_INTERVAL=8s", "SWITCHBOARD_CLIENT_PRESENCE_TTL=1m"}),
              HasSubstr("client.pong_timeout (8s) must be shorter than client.ping_interval (8s)"));
  Config c = loadConfigFromString("[client]\nping_interval = \"5s\"\npong_timeout = \"4s\"\n", nullptr);
  EXPECT_EQ(c.client.pong_timeout, 4s);
}

TEST(ConfigCrossChecks, CommandBurstAtLeastRate) {
  EXPECT_THAT(fileError("[client]\ncommand_rate = 300\n"),
              HasSubstr("config: client.command_burst (200) must be at least client.command_rate (300)"));
  EXPECT_THAT(envError({"SWITCHBOARD_CLIENT_COMMAND_BURST=99"}),
              HasSubstr("config: client.command_burst (99) must be at least client.command_rate (100)"));
  Config c = loadConfigFromString("[client]\ncommand_rate = 300\ncommand_burst = 300\n", nullptr);
  EXPECT_EQ(c.client.command_burst, 300);
}

TEST(ConfigCrossChecks, PresenceTtlOutlivesPingInterval) {
  EXPECT_THAT(fileError("[client]\nping_interval = \"1m\"\npong_timeout = \"10s\"\n"),
              HasSubstr("config: client.presence_ttl (1m) must be longer than client.ping_interval (1m)"));
  Config c = loadConfigFromString("[client]\nping_interval = \"1m\"\npresence_ttl = \"1m1s\"\n", nullptr);
  EXPECT_EQ(c.client.presence_ttl, 61s);
}

TEST(ConfigCrossChecks, HistorySizeAndTtlTogether) {
  EXPECT_THAT(fileError("[channel]\nhistory_size = 10\n"),
              HasSubstr("config: channel: history_size and history_ttl must be set together (only history_size is "
                        "set"));
  EXPECT_THAT(envError({"SWITCHBOARD_CHANNEL_HISTORY_TTL=1m"}),
              HasSubstr("config: channel: history_size and history_ttl must be set together (only history_ttl is set"));
  std::string err = fileErrorWithLines(
      "[[channel.namespace]]\nname = \"ok\"\n\n[[channel.namespace]]\nname = \"chat\"\nhistory_ttl = \"1m\"\n");
  EXPECT_THAT(err, HasSubstr("config: channel.namespace[\"chat\"]: history_size and history_ttl must be set together "
                             "(only history_ttl is set"));
  EXPECT_THAT(err, HasSubstr(", line 4)"));
}

TEST(ConfigCrossChecks, RecoveryAndPositioningNeedHistory) {
  for (std::string key : {"force_recovery", "allow_recovery", "force_positioning", "allow_positioning"}) {
    EXPECT_THAT(fileError("[channel]\n" + key + " = true\n"),
                HasSubstr("config: channel: " + key + " needs history (set history_size and history_ttl)"))
        << key;
    EXPECT_THAT(fileError("[[channel.namespace]]\nname = \"ns\"\n" + key + " = true\n"),
                HasSubstr("config: channel.namespace[\"ns\"]: " + key + " needs history"))
        << key;
    // With history they load.
    Config c = loadConfigFromString(
        "[[channel.namespace]]\nname = \"ns\"\nhistory_size = 5\nhistory_ttl = \"5s\"\n" + key + " = true\n", nullptr);
    EXPECT_TRUE(c.channel.namespaces.at(0).options.historyEnabled()) << key;
  }
  EXPECT_THAT(fileError("[channel]\nforce_push_join_leave = true\n"),
              HasSubstr("config: channel: force_push_join_leave needs join_leave"));
}

TEST(ConfigCrossChecks, HistoryMetaTtlCoversHistoryTtl) {
  EXPECT_THAT(fileError("[channel]\nhistory_size = 1\nhistory_ttl = \"25h\"\n"),
              HasSubstr("config: channel.history_ttl (25h) is longer than broker.history_meta_ttl (24h)"));
  EXPECT_THAT(fileError("[broker]\nhistory_meta_ttl = \"1m\"\n[[channel.namespace]]\nname = \"chat\"\n"
                        "history_size = 1\nhistory_ttl = \"2m\"\n"),
              HasSubstr("config: channel.namespace[\"chat\"].history_ttl (2m) is longer than broker.history_meta_ttl "
                        "(1m)"));
  Config c = loadConfigFromString("[channel]\nhistory_size = 1\nhistory_ttl = \"24h\"\n", nullptr);
  EXPECT_EQ(c.channel.options.history_ttl, 24h);
}

// ---- [[channel.namespace]] ------------------------------------------------------

TEST(ConfigNamespaces, ParseWithOptionsInOrder) {
  Config c = loadConfigFromString(R"(
[channel]
presence = true
allow_publish_for_client = true

[[channel.namespace]]
name = "chat"
presence = true
join_leave = true
force_push_join_leave = true
history_size = 100
history_ttl = "5m"
force_recovery = true
allow_subscribe_for_client = true
allow_publish_for_subscriber = true
channel_regex = "^[0-9]+$"

[[channel.namespace]]
name = "my-ns.v2_"
allow_user_limited_channels = true
)",
                                  nullptr);
  ASSERT_EQ(c.channel.namespaces.size(), 2u);
  const auto& chat = c.channel.namespaces[0];
  EXPECT_EQ(chat.name, "chat");
  EXPECT_TRUE(chat.options.presence);
  EXPECT_TRUE(chat.options.join_leave);
  EXPECT_TRUE(chat.options.force_push_join_leave);
  EXPECT_EQ(chat.options.history_size, 100);
  EXPECT_EQ(chat.options.history_ttl, 5min);
  EXPECT_TRUE(chat.options.force_recovery);
  EXPECT_TRUE(chat.options.allow_subscribe_for_client);
  EXPECT_TRUE(chat.options.allow_publish_for_subscriber);
  EXPECT_EQ(chat.options.channel_regex, "^[0-9]+$");
  EXPECT_FALSE(chat.options.allow_publish_for_client);  // [channel]'s value is not inherited
  EXPECT_FALSE(chat.options.allow_history_for_subscriber);

  const auto& second = c.channel.namespaces[1];
  EXPECT_EQ(second.name, "my-ns.v2_");
  EXPECT_TRUE(second.options.allow_user_limited_channels);
  sb::config::ChannelOptions expected = second.options;
  expected.allow_user_limited_channels = false;
  expectClosed(expected);  // nothing else leaks in, from [channel] or the other namespace

  // [channel] keeps its own options.
  EXPECT_TRUE(c.channel.options.presence);
  EXPECT_TRUE(c.channel.options.allow_publish_for_client);
}

TEST(ConfigNamespaces, NameOnlyIsClosed) {
  Config c = loadConfigFromString("[[channel.namespace]]\nname = \"closed\"\n", nullptr);
  ASSERT_EQ(c.channel.namespaces.size(), 1u);
  EXPECT_EQ(c.channel.namespaces[0].name, "closed");
  expectClosed(c.channel.namespaces[0].options);
}

TEST(ConfigNamespaces, InlineArrayFormAndEmptyArray) {
  Config c = loadConfigFromString("[channel]\nnamespace = [{name = \"a1\", presence = true}, {name = \"b2\"}]\n",
                                  nullptr);
  ASSERT_EQ(c.channel.namespaces.size(), 2u);
  EXPECT_EQ(c.channel.namespaces[0].name, "a1");
  EXPECT_TRUE(c.channel.namespaces[0].options.presence);
  EXPECT_EQ(c.channel.namespaces[1].name, "b2");
  EXPECT_TRUE(loadConfigFromString("[channel]\nnamespace = []\n", nullptr).channel.namespaces.empty());
}

TEST(ConfigNamespaces, NamesAreValidated) {
  std::vector<std::string> badNames{"a", "", "c h", "chat:room", "$chat", "ünï", std::string(65, 'x')};
  for (const std::string& bad : badNames) {
    std::string toml = "[[channel.namespace]]\nname = \"" + bad + "\"\n";
    EXPECT_THAT(fileError(toml), HasSubstr(".name: expected 2 to 64 characters from A-Z, a-z, 0-9, '-', '_' and '.', "
                                           "got \"" + bad + "\""))
        << bad;
  }
  EXPECT_THAT(fileError("[[channel.namespace]]\nname = \"c h\"\n"),
              HasSubstr("config: channel.namespace[\"c h\"].name: expected 2 to 64"));
  EXPECT_EQ(loadConfigFromString("[[channel.namespace]]\nname = \"" + std::string(64, 'x') + "\"\n", nullptr)
                .channel.namespaces.at(0)
                .name.size(),
            64u);
  EXPECT_THAT(fileError("[[channel.namespace]]\nname = 42\n"),
              HasSubstr("config: channel.namespace[0].name: expected a string, got 42"));
}

TEST(ConfigNamespaces, NameIsRequired) {
  EXPECT_THAT(fileError("[[channel.namespace]]\nname = \"ok\"\n[[channel.namespace]]\npresence = true\n"),
              HasSubstr("config: channel.namespace[1]: missing key name (every namespace needs one)"));
}

TEST(ConfigNamespaces, DuplicateNamesAreRefused) {
  std::string err = fileErrorWithLines(
      "[[channel.namespace]]\nname = \"chat\"\n\n[[channel.namespace]]\nname = \"news\"\n\n"
      "[[channel.namespace]]\nname = \"chat\"\npresence = true\n");
  EXPECT_THAT(err, HasSubstr("config: channel.namespace[\"chat\"]: duplicate name \"chat\": namespace names must be "
                             "unique (the first is channel.namespace[0])"));
  EXPECT_THAT(err, HasSubstr(", line 7)"));
}

TEST(ConfigNamespaces, UnknownKeyNamesNamespaceKeyAndLine) {
  std::string path = writeTempFile("switchboard_config_ns.toml",
                                   "[channel]\npresence = true\n\n[[channel.namespace]]\nname = \"chat\"\n"
                                   "presense = true\n");
  std::string err = errorOf([&] { loadConfig(path, nullptr); });
  EXPECT_EQ(err, "config: unknown key channel.namespace[\"chat\"].presense (did you mean presence?) (in " + path +
                     ", line 6)");
  std::remove(path.c_str());

  // Without a name the element is named by its index.
  EXPECT_THAT(fileErrorWithLines("[[channel.namespace]]\nname = \"a1\"\n[[channel.namespace]]\nfrobnicate = 1\n"),
              HasSubstr("config: unknown key channel.namespace[1].frobnicate"));
  EXPECT_THAT(fileErrorWithLines("[[channel.namespace]]\nname = \"a1\"\n[[channel.namespace]]\nfrobnicate = 1\n"),
              HasSubstr(", line 4)"));
  // A [channel]-only key says so.
  EXPECT_THAT(fileError("[[channel.namespace]]\nname = \"a1\"\nmax_name_length = 10\n"),
              HasSubstr("config: unknown key channel.namespace[\"a1\"].max_name_length (it belongs in [channel], "
                        "not in a namespace)"));
  // Nested tables are unknown keys too.
  EXPECT_THAT(fileError("[[channel.namespace]]\nname = \"a1\"\n[channel.namespace.extra]\nx = 1\n"),
              HasSubstr("config: unknown key channel.namespace[\"a1\"].extra"));
}

TEST(ConfigNamespaces, BadValuesNameTheNamespace) {
  std::string err = fileErrorWithLines("[[channel.namespace]]\nname = \"chat\"\nhistory_size = \"ten\"\n");
  EXPECT_THAT(err, HasSubstr("config: channel.namespace[\"chat\"].history_size: expected an integer from 0 to 1000000, "
                             "got \"ten\""));
  EXPECT_THAT(err, HasSubstr(", line 3)"));
  EXPECT_THAT(fileError("[[channel.namespace]]\nname = \"chat\"\nhistory_ttl = \"5\"\n"),
              HasSubstr("config: channel.namespace[\"chat\"].history_ttl: invalid duration \"5\": missing unit"));
  EXPECT_THAT(fileError("[[channel.namespace]]\nname = \"chat\"\nchannel_regex = \"(\"\n"),
              HasSubstr("config: channel.namespace[\"chat\"].channel_regex: invalid regular expression"));
}

TEST(ConfigNamespaces, WrongShapeIsAnError) {
  EXPECT_THAT(fileError("[channel.namespace]\nname = \"chat\"\n"),
              HasSubstr("config: channel.namespace: expected an array of tables ([[channel.namespace]] sections), "
                        "got a table"));
  EXPECT_THAT(fileError("[channel]\nnamespace = \"chat\"\n"),
              HasSubstr("config: channel.namespace: expected an array of tables ([[channel.namespace]] sections), got "
                        "\"chat\""));
  EXPECT_THAT(fileError("[channel]\nnamespace = [1, 2]\n"), HasSubstr("expected an array of tables"));
  // A typo of the array's name is suggested.
  EXPECT_THAT(fileError("[[channel.namespaces]]\nname = \"chat\"\n"),
              HasSubstr("config: unknown key channel.namespaces (did you mean channel.namespace?)"));
  // "name" outside a namespace says where it belongs.
  EXPECT_THAT(fileError("[channel]\nname = \"chat\"\n"),
              HasSubstr("config: unknown key channel.name (it belongs in [[channel.namespace]])"));
}

TEST(ConfigNamespaces, EnvironmentCannotSetThem) {
  for (std::string var : {"SWITCHBOARD_CHANNEL_NAMESPACE=chat", "SWITCHBOARD_CHANNEL_NAMESPACE_CHAT_PRESENCE=true",
                          "SWITCHBOARD_CHANNEL_NAMESPACES=[]", "SWITCHBOARD_CHANNEL_NAMESPACE_0_NAME=chat"}) {
    std::string name = var.substr(0, var.find('='));
    EXPECT_THAT(envError({var}),
                HasSubstr("config: " + name + ": namespaces can only be set in the config file ([[channel.namespace]] "
                          "sections), not by environment variables"))
        << var;
  }
}

// ---- genconfig with the new sections ---------------------------------------------

TEST(GenConfig, DocumentsNamespacesWithACommentedExample) {
  std::string text = sb::config::generateDefaultConfig();
  EXPECT_THAT(text, HasSubstr("\n# [[channel.namespace]]\n# name = \"chat\"\n"));
  EXPECT_THAT(text, HasSubstr("\n# history_size = 100\n# history_ttl = \"5m\"\n"));
  EXPECT_THAT(text, HasSubstr("# allow_subscribe_for_client = true\n"));
  EXPECT_THAT(text, HasSubstr("# allow_publish_for_subscriber = true\n"));
  EXPECT_THAT(text, HasSubstr("Namespaces can only be set in this file"));
  EXPECT_THAT(text, HasSubstr("# channel namespaces ([[channel.namespace]]): they are set in this file only.\n"));
  EXPECT_THAT(text, HasSubstr("\n[client]\n"));
  EXPECT_THAT(text, HasSubstr("ping_interval = \"25s\"\n"));
  EXPECT_THAT(text, HasSubstr("history_meta_ttl = \"24h\"\n"));
  // No live namespace in the defaults: the example is commented out.
  EXPECT_EQ(text.find("\n[[channel.namespace]]"), std::string::npos);
}

TEST(GenConfig, UncommentedExampleLoads) {
  std::string text = sb::config::generateDefaultConfig();
  size_t start = text.find("\n# [[channel.namespace]]\n");
  ASSERT_NE(start, std::string::npos);
  ++start;
  size_t end = text.find("\n\n", start);
  std::string block = text.substr(start, end - start);
  std::string uncommented;
  for (size_t pos = 0; pos < block.size();) {
    size_t nl = block.find('\n', pos);
    std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    ASSERT_EQ(line.rfind("# ", 0), 0u) << line;
    uncommented += line.substr(2) + "\n";
    pos = nl == std::string::npos ? block.size() : nl + 1;
  }
  text.replace(start, end - start, uncommented);
  Config c = loadConfigFromString(text, nullptr);
  ASSERT_EQ(c.channel.namespaces.size(), 1u);
  const auto& chat = c.channel.namespaces[0];
  EXPECT_EQ(chat.name, "chat");
  EXPECT_TRUE(chat.options.presence);
  EXPECT_TRUE(chat.options.join_leave);
  EXPECT_EQ(chat.options.history_size, 100);
  EXPECT_EQ(chat.options.history_ttl, 5min);
  EXPECT_TRUE(chat.options.allow_subscribe_for_client);
  EXPECT_TRUE(chat.options.allow_publish_for_subscriber);
  c.channel.namespaces.clear();
  expectDefaults(c);
}

TEST(GenConfig, RoundTripsAConfigWithTwoNamespaces) {
  Config want;
  want.client.allow_anonymous = true;
  want.client.token_hmac_secret = "se\"cr\\et\n";
  want.client.ping_interval = 10s;
  want.client.pong_timeout = 1500ms;
  want.client.presence_ttl = 90s;
  want.channel.max_name_length = 100;
  want.channel.options.allow_subscribe_for_client = true;
  want.channel.options.channel_regex = "^[a-z]+$";
  want.api.key = "k";
  want.broker.history_meta_ttl = 48h;
  sb::config::NamespaceConfig chat;
  chat.name = "chat";
  chat.options.presence = true;
  chat.options.history_size = 10;
  chat.options.history_ttl = 90s;
  chat.options.allow_recovery = true;
  chat.options.allow_publish_for_anonymous = true;
  sb::config::NamespaceConfig bare;
  bare.name = "bare.ns";
  want.channel.namespaces = {chat, bare};

  std::string text = sb::config::generateConfig(want);
  EXPECT_THAT(text, HasSubstr("\n[[channel.namespace]]\nname = \"chat\"\npresence = true\n"));
  EXPECT_THAT(text, HasSubstr("\n[[channel.namespace]]\nname = \"bare.ns\"\n"));
  Config got = loadConfigFromString(text, nullptr);
  expectSameConfig(got, want);
  ASSERT_EQ(got.channel.namespaces.size(), 2u);
  EXPECT_EQ(got.channel.namespaces[0].options.history_ttl, 90s);
  EXPECT_TRUE(got.channel.namespaces[0].options.allow_publish_for_anonymous);
  EXPECT_EQ(got.channel.namespaces[1].name, "bare.ns");
  expectClosed(got.channel.namespaces[1].options);
  EXPECT_EQ(got.client.token_hmac_secret, "se\"cr\\et\n");

  // And the defaults come back as defaults through the same function.
  expectSameConfig(loadConfigFromString(sb::config::generateConfig(Config{}), nullptr), Config{});
}

TEST(Registry, ChannelOptionKeysAreOneList) {
  // [channel] and [[channel.namespace]] accept the same option keys, in the
  // same order; the namespace adds only its name, [channel] only max_name_length.
  std::vector<std::string> channelKeys, namespaceKeys;
  for (const auto& k : sb::config::keys())
    if (k.section == "channel" && k.key != "max_name_length") channelKeys.emplace_back(k.key);
  const auto& arr = sb::config::arraySections()[0];
  EXPECT_EQ(arr.name(), "channel.namespace");
  EXPECT_EQ(arr.keys[0].key, arr.idKey);
  for (const auto& k : arr.keys) {
    EXPECT_FALSE(k.doc.empty()) << k.key;
    if (k.key != "name") namespaceKeys.emplace_back(k.key);
  }
  EXPECT_EQ(channelKeys, namespaceKeys);
  EXPECT_EQ(channelKeys.size(), 22u);
  // No flat key's variable falls under the namespace prefix.
  for (const auto& k : sb::config::keys()) EXPECT_FALSE(k.envName().starts_with(arr.envPrefix())) << k.name();
  EXPECT_EQ(arr.envPrefix(), "SWITCHBOARD_CHANNEL_NAMESPACE");
}

TEST(Registry, LiftedKeysReachTheirStruct) {
  // Each [channel] option key writes channel.options, each namespace key its element.
  Config c;
  const auto* presence = sb::config::findKey("channel", "presence");
  ASSERT_NE(presence, nullptr);
  EXPECT_EQ(presence->envName(), "SWITCHBOARD_CHANNEL_PRESENCE");
  presence->set(c, true);
  EXPECT_TRUE(c.channel.options.presence);
  EXPECT_TRUE(std::get<bool>(presence->get(c)));

  sb::config::NamespaceConfig ns;
  for (const auto& k : sb::config::arraySections()[0].keys)
    if (k.key == "history_size") k.set(ns, int64_t(42));
  EXPECT_EQ(ns.options.history_size, 42);
  EXPECT_EQ(c.channel.options.history_size, 0);
}

TEST(ConfigPlain, DefaultsValuesAndChecks) {
  Config d = loadConfigFromString("", nullptr);
  EXPECT_EQ(d.plain.heartbeat_interval, std::chrono::seconds(15));
  EXPECT_EQ(d.plain.retry, std::chrono::seconds(3));
  EXPECT_EQ(d.plain.max_channels, 16u);
  EXPECT_EQ(d.plain.poll_timeout, std::chrono::seconds(25));
  EXPECT_EQ(d.plain.poll_max_timeout, std::chrono::seconds(60));
  Config c = loadConfigFromString(
      "[plain]\nheartbeat_interval = \"2s\"\nretry = \"500ms\"\nmax_channels = 4\npoll_timeout = \"0s\"\n", nullptr);
  EXPECT_EQ(c.plain.heartbeat_interval, std::chrono::seconds(2));
  EXPECT_EQ(c.plain.retry, std::chrono::milliseconds(500));
  EXPECT_EQ(c.plain.max_channels, 4u);
  EXPECT_EQ(c.plain.poll_timeout, std::chrono::seconds(0));
  EXPECT_THAT(fileError("[plain]\npoll_timeout = \"2m\"\n"),
              HasSubstr("config: plain.poll_timeout (2m) is longer than plain.poll_max_timeout (1m)"));
  EXPECT_THAT(fileError("[plain]\nheartbeat_interval = \"1500ms\"\n"),
              HasSubstr("config: plain.heartbeat_interval: whole seconds only, got 1s500ms"));
  EXPECT_THAT(fileError("[plain]\nmax_channels = 0\n"), HasSubstr("plain.max_channels"));
  EXPECT_THAT(envError({"SWITCHBOARD_PLAIN_HEARTBEAT_INTERVAL=0s"}), HasSubstr("plain.heartbeat_interval"));
}
