// Configuration: defaults, file and environment layering, every error naming
// its key, the duration and listen syntaxes, and genconfig round-tripping.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

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
  std::string path = testing::TempDir() + "switchboard_config_test.toml";
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
  std::string path = testing::TempDir() + "switchboard_config_bad.toml";
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
  EXPECT_EQ(names.size(), 16u);
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
    else text = sb::config::formatDuration(std::get<std::chrono::milliseconds>(v));
    vars.push_back(k.envName() + "=" + text);
  }
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  expectDefaults(loadConfig("", envp.data()));
}
