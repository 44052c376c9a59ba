#pragma once
// Logging: the default spdlog logger on stderr, as text for people or as one
// JSON object per line for log collectors (docs/operations.md, "Logs").
//
// Structured events carry fields next to the message:
//   logging::event(spdlog::level::debug, "client connected",
//                  {{"client", id}, {"user", user}, {"transport", "websocket"}});
// renders as
//   text: 2026-01-02 03:04:05.678 debug client connected client=4b1e… user=alice transport=websocket
//   json: {"time":"2026-01-02T03:04:05.678Z","level":"debug","thread":12,"msg":"client connected",
//          "client":"4b1e…","user":"alice","transport":"websocket"}
// Plain spdlog calls (spdlog::info("…")) work too and have no fields.
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace sb::app {
// Configures the default spdlog logger: stderr, `level` (trace..error),
// `format` "text" or "json" (one JSON object per line).
void setupLogging(const std::string& level, const std::string& format);
// The formatter of `format` ("json", else text), for setupLogging and tests.
std::unique_ptr<spdlog::formatter> makeLogFormatter(const std::string& format);
}  // namespace sb::app

namespace sb::logging {

// One key/value of a structured event: a string, or an integer (a JSON
// number). Keys are short identifiers chosen by the code, never user input.
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), text_(value) {}
  Field(std::string_view key, const char* value) : key_(key), text_(value ? value : "") {}
  Field(std::string_view key, const std::string& value) : key_(key), text_(value) {}
  template <std::integral T>
  Field(std::string_view key, T value) : key_(key), number_(int64_t(value)), isNumber_(true) {}

  std::string_view key() const { return key_; }
  std::string_view text() const { return text_; }
  int64_t number() const { return number_; }
  bool isNumber() const { return isNumber_; }

 private:
  std::string_view key_;
  std::string_view text_;
  int64_t number_ = 0;
  bool isNumber_ = false;
};

// Logs `msg` with `fields` at `level` (nothing is built when the level is off).
void event(spdlog::level::level_enum level, std::string_view msg, std::initializer_list<Field> fields);

// The message and fields of one record as the two formats write them (for
// tests): `payload` is what event() hands to spdlog.
void appendTextMessage(std::string& out, std::string_view payload);
void appendJsonMessage(std::string& out, std::string_view payload);
std::string encodePayload(std::string_view msg, std::initializer_list<Field> fields);

}  // namespace sb::logging
