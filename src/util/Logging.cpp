#include "util/Logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <charconv>
#include <memory>

#include "http/Response.h"

namespace sb::logging {

namespace {

// Fields travel inside spdlog's message text: after the message, each field
// is kFieldMark, a type byte ('s' string, 'n' number), the key, '=' and the
// value. The mark is a control byte stripped from values, so a field cannot
// be forged by user input inside a value.
constexpr char kFieldMark = '\x1f';

struct Decoded {
  std::string_view msg;
  std::string_view rest;  // the encoded fields, starting at a mark (or empty)
};

Decoded split(std::string_view payload) {
  size_t at = payload.find(kFieldMark);
  if (at == std::string_view::npos) return {payload, {}};
  return {payload.substr(0, at), payload.substr(at)};
}

// Calls fn(type, key, value) for each encoded field.
template <class Fn>
void forEachField(std::string_view rest, Fn&& fn) {
  while (rest.size() > 1 && rest[0] == kFieldMark) {
    size_t end = rest.find(kFieldMark, 1);
    std::string_view field = rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    if (field.size() < 2) continue;
    char type = field[0];
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    fn(type, field.substr(1, eq - 1), field.substr(eq + 1));
  }
}

bool needsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

// "%*" in the text pattern: the message, then ` key=value` per field
// (values quoted when they hold spaces, quotes or control bytes).
class TextMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string out;
    appendTextMessage(out, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<TextMessageFlag>(); }
};

// "%*" in the JSON pattern: "msg":"…" then ,"key":value per field.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string out;
    appendJsonMessage(out, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

std::string encodePayload(std::string_view msg, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(msg.size() + fields.size() * 24);
  for (char c : msg) out.push_back(c == kFieldMark ? '?' : c);
  for (const Field& f : fields) {
    out.push_back(kFieldMark);
    out.push_back(f.isNumber() ? 'n' : 's');
    out += f.key();
    out.push_back('=');
    if (f.isNumber()) {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, f.number());
      out.append(buf, r.ptr);
    } else {
      for (char c : f.text()) out.push_back(c == kFieldMark ? '?' : c);
    }
  }
  return out;
}

void appendTextMessage(std::string& out, std::string_view payload) {
  Decoded d = split(payload);
  out += d.msg;
  forEachField(d.rest, [&](char type, std::string_view key, std::string_view value) {
    out.push_back(' ');
    out += key;
    out.push_back('=');
    if (type == 's' && needsQuotes(value)) {
      out.push_back('"');
      out += http::jsonEscape(value);
      out.push_back('"');
    } else {
      out += value;
    }
  });
}

void appendJsonMessage(std::string& out, std::string_view payload) {
  Decoded d = split(payload);
  out += "\"msg\":\"";
  out += http::jsonEscape(d.msg);
  out.push_back('"');
  forEachField(d.rest, [&](char type, std::string_view key, std::string_view value) {
    out += ",\"";
    out += http::jsonEscape(key);
    out += "\":";
    if (type == 'n') {
      out += value;
    } else {
      out.push_back('"');
      out += http::jsonEscape(value);
      out.push_back('"');
    }
  });
}

void event(spdlog::level::level_enum level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!spdlog::should_log(level)) return;
  std::string payload = encodePayload(msg, fields);
  spdlog::log(level, "{}", payload);
}

}  // namespace sb::logging

namespace sb::app {

std::unique_ptr<spdlog::formatter> makeLogFormatter(const std::string& format) {
  std::unique_ptr<spdlog::pattern_formatter> formatter;
  if (format == "json") {
    // One object per line; "%*" writes the escaped message and the fields.
    formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<logging::JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","thread":%t,%*})");
  } else {
    formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<logging::TextMessageFlag>('*').set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %*");
  }
  return formatter;
}

void setupLogging(const std::string& level, const std::string& format) {
  spdlog::drop("switchboard");  // set up again (tests): replace, do not throw
  auto logger = spdlog::stderr_color_mt("switchboard");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_formatter(makeLogFormatter(format));
}

}  // namespace sb::app
