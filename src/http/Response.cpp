#include "http/Response.h"

#include <cstdio>

#include "http/Request.h"

namespace sb::http {

const char* statusReason(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.header("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.header("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view message) {
  return json(status, "{\"error\":{\"code\":" + std::to_string(status) + ",\"message\":\"" +
                          jsonEscape(message) + "\"}}\n");
}

std::string Response::serialize(bool keepAlive, bool headOnly) const {
  std::string out;
  out.reserve(128 + body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += statusReason(status);
  out += "\r\n";
  bool hasLength = false;
  for (const auto& [k, v] : headers) {
    if (iequals(k, "Content-Length")) hasLength = true;
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!hasLength && status != 204 && status != 304 && status >= 200) {
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
  }
  out += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "Server: switchboard\r\n\r\n";
  if (!headOnly) out += body;
  return out;
}

}  // namespace sb::http
