// The value syntaxes of the configuration that are more than a TOML type:
// durations ("1m30s") and listen addresses ("[::]:8000"). Kept apart from the
// loader so they stay cheap to reuse and test (the loader pulls in toml++).
#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <limits>

#include "config/Config.h"

namespace sb::config {

namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};
// Largest first: a compound duration must use them in this order.
constexpr std::array<Unit, 4> kUnits{{{"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1}}};

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

[[noreturn]] void badDuration(std::string_view text, std::string_view why) {
  throw ConfigError(fmt::format("invalid duration \"{}\": {} (expected e.g. \"500ms\", \"25s\", \"2m\", \"1h\", \"1m30s\")",
                                text, why));
}

}  // namespace

std::chrono::milliseconds parseDuration(std::string_view text) {
  if (text.empty()) badDuration(text, "empty");
  if (text == "0") return std::chrono::milliseconds{0};  // zero needs no unit
  if (text.front() == '-') badDuration(text, "negative");

  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  size_t nextUnit = 0;  // index into kUnits of the smallest unit still allowed
  size_t i = 0;
  while (i < text.size()) {
    size_t numStart = i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == numStart) {
      if (text[i] == '.') badDuration(text, "fractions are not supported, use a smaller unit");
      badDuration(text, fmt::format("expected a number at \"{}\"", text.substr(numStart)));
    }
    std::string_view digits = text.substr(numStart, i - numStart);
    if (i < text.size() && text[i] == '.') badDuration(text, "fractions are not supported, use a smaller unit");
    size_t unitStart = i;
    while (i < text.size() && isAlpha(text[i])) ++i;
    std::string_view unit = text.substr(unitStart, i - unitStart);
    if (unit.empty()) {
      if (unitStart == text.size()) badDuration(text, "missing unit (ms, s, m or h)");
      badDuration(text, fmt::format("unexpected \"{}\"", text.substr(unitStart)));
    }

    size_t u = 0;
    while (u < kUnits.size() && kUnits[u].name != unit) ++u;
    if (u == kUnits.size()) badDuration(text, fmt::format("unknown unit \"{}\" (use ms, s, m or h)", unit));
    if (u < nextUnit) badDuration(text, "units must go from largest to smallest, each at most once");
    nextUnit = u + 1;

    int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc{} || n > (kMax - total) / kUnits[u].ms) badDuration(text, "too large");
    total += n * kUnits[u].ms;
  }
  return std::chrono::milliseconds{total};
}

std::string formatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {  // not produced by parseDuration, but keep the output truthful
    out = "-";
    ms = -ms;
  }
  for (const auto& unit : kUnits) {
    if (ms >= unit.ms) {
      out += fmt::format("{}{}", ms / unit.ms, unit.name);
      ms %= unit.ms;
    }
  }
  return out;
}

HostPort parseListen(std::string_view text) {
  auto bad = [&](std::string_view why) -> ConfigError {
    return ConfigError(
        fmt::format("invalid listen address \"{}\": {} (expected \"host:port\" or \"[ipv6]:port\", e.g. "
                    "\"0.0.0.0:8000\" or \"[::]:8000\")",
                    text, why));
  };

  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) throw bad("missing ']'");
    host = text.substr(1, close - 1);
    if (host.empty()) throw bad("empty IPv6 address");
    // An address, optionally with a zone ("fe80::1%eth0").
    size_t pct = host.find('%');
    std::string_view addr = host.substr(0, pct);
    for (char c : addr)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        throw bad(fmt::format("invalid character '{}' in IPv6 address", c));
    if (addr.find(':') == std::string_view::npos) throw bad("brackets are for IPv6 addresses");
    if (pct != std::string_view::npos) {
      std::string_view zone = host.substr(pct + 1);
      if (zone.empty()) throw bad("empty IPv6 zone after '%'");
      for (char c : zone)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
          throw bad(fmt::format("invalid character '{}' in IPv6 zone", c));
    }
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') throw bad("missing \":port\" after ']'");
    port = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad("missing \":port\"");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) throw bad("an IPv6 address must be in brackets");
    if (host.empty()) throw bad("missing host (use 0.0.0.0 for all interfaces)");
    for (char c : host)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
        throw bad(fmt::format("invalid character '{}' in host", c));
  }

  if (port.empty()) throw bad("missing port");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (!isDigit(port.front()) || (ec != std::errc{} && ec != std::errc::result_out_of_range) ||
      end != port.data() + port.size())
    throw bad("port must be a number");
  if (ec == std::errc::result_out_of_range || value > 65535) throw bad("port must be at most 65535");
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace sb::config
