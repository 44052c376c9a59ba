#include "sse_proto.h"

namespace sbbench {

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

HttpHeadResult parse_sse_response(std::string_view buf) {
  std::string_view fields;
  HttpHeadResult r = parse_http_response_head(buf, 200, fields);
  if (r.status != HttpHeadResult::kOk) return r;
  bool event_stream = false;
  for_each_header_field(fields, [&](std::string_view name, std::string_view value) {
    if (equals_ignoring_case(name, "content-type")) event_stream = contains_ignoring_case(value, "text/event-stream");
    else if (equals_ignoring_case(name, "transfer-encoding")) r.chunked = contains_ignoring_case(value, "chunked");
  });
  if (!event_stream) {
    r.status = HttpHeadResult::kBadHeaders;
    r.error = "Content-Type is not text/event-stream";
  }
  return r;
}

}  // namespace sbbench
