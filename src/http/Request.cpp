#include "http/Request.h"

namespace sb::http {

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isTokenChar(c)) return false;
  return true;
}

static std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool headerHasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

bool Request::hasHeader(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return true;
  return false;
}

std::string Request::headerJoined(std::string_view name) const {
  std::string out;
  for (const auto& [k, v] : headers) {
    if (!iequals(k, name)) continue;
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded value: '+' is a space, %XX a byte.
static std::string decodeQueryValue(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '+') {
      out += ' ';
    } else if (raw[i] == '%' && i + 2 < raw.size() &&
               hexval(raw[i + 1]) >= 0 && hexval(raw[i + 2]) >= 0) {
      out += char(hexval(raw[i + 1]) * 16 + hexval(raw[i + 2]));
      i += 2;
    } else {
      out += raw[i];
    }
  }
  return out;
}

// Calls fn(raw value) for every parameter named `name`; stops when fn
// returns false.
template <class Fn>
static void forEachQueryValue(std::string_view q, std::string_view name, Fn&& fn) {
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      if (!fn(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1))) return;
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
}

std::string Request::queryParam(std::string_view name) const {
  std::string out;
  forEachQueryValue(query, name, [&](std::string_view raw) {
    out = decodeQueryValue(raw);
    return false;
  });
  return out;
}

std::vector<std::string> Request::queryParams(std::string_view name) const {
  std::vector<std::string> out;
  forEachQueryValue(query, name, [&](std::string_view raw) {
    out.push_back(decodeQueryValue(raw));
    return true;
  });
  return out;
}

}  // namespace sb::http
