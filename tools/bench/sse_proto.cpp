#include "sse_proto.h"

#include <algorithm>
#include <cctype>

namespace sbbench {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t k = 0; k + needle.size() <= hay.size(); ++k) {
    if (iequals(hay.substr(k, needle.size()), needle)) return true;
  }
  return false;
}

}  // namespace

std::string build_sse_request(const WsUrl& url, std::string_view target, const std::vector<std::string>& extra_headers) {
  std::string req;
  req.reserve(256);
  req += "GET ";
  req += target;
  req += " HTTP/1.1\r\nHost: ";
  req += url.host_header;
  req += "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
  for (const auto& h : extra_headers) {
    req += h;
    req += "\r\n";
  }
  req += "\r\n";
  return req;
}

SseHeadResult parse_sse_response(std::string_view buf) {
  SseHeadResult r;
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > 16384) {
      r.status = SseHeadResult::kBadHeaders;
      r.error = "response head larger than 16 KiB";
    }
    return r;
  }
  r.consumed = end + 4;
  std::string_view head = buf.substr(0, end);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ' ||
      !std::all_of(status_line.begin() + 9, status_line.begin() + 12, [](char c) { return c >= '0' && c <= '9'; })) {
    r.status = SseHeadResult::kBadHeaders;
    r.error = "malformed status line";
    return r;
  }
  r.http_status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  if (r.http_status != 200) {
    r.status = SseHeadResult::kBadStatus;
    r.error = "HTTP " + std::string(status_line.substr(9));
    return r;
  }
  bool event_stream = false;
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    if (iequals(name, "content-type")) event_stream = icontains(value, "text/event-stream");
    else if (iequals(name, "transfer-encoding")) r.chunked = icontains(value, "chunked");
  }
  if (!event_stream) {
    r.status = SseHeadResult::kBadHeaders;
    r.error = "Content-Type is not text/event-stream";
    return r;
  }
  r.status = SseHeadResult::kOk;
  return r;
}

}  // namespace sbbench
