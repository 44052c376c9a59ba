// The client side's reading of an HTTP/1.x response head, shared by the
// WebSocket upgrade (ws_proto) and the EventSource request (sse_proto): where
// the head ends, its status code, and its header fields. A head is at most
// 16 KiB, however it arrives (in one read or byte by byte).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sbbench {

constexpr size_t kMaxResponseHead = 16384;  // bytes, the blank line included

struct HttpHeadResult {
  enum Status { kIncomplete, kOk, kBadStatus, kBadHeaders } status = kIncomplete;
  size_t consumed = 0;   // bytes of the response head (body bytes or frames may follow)
  int http_status = 0;
  bool chunked = false;  // event streams: Transfer-Encoding: chunked
  std::string error;
};

// Finds the head at the start of `buf` and checks its status line: kOk when
// it is complete, well formed and has `expected_status` (then `fields` is set
// to its header lines, CRLF-separated, for for_each_header_field); otherwise
// kIncomplete (wait for more bytes), kBadStatus ("HTTP 404 Not Found") or
// kBadHeaders (oversized head, malformed status line).
HttpHeadResult parse_http_response_head(std::string_view buf, int expected_status, std::string_view& fields);

// `s` without leading and trailing spaces and tabs.
inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls on_field(name, value) for each "Name: value" line, the value without
// surrounding blanks; lines without a colon are skipped.
template <class OnField>
void for_each_header_field(std::string_view fields, OnField&& on_field) {
  while (!fields.empty()) {
    size_t eol = fields.find("\r\n");
    std::string_view line = fields.substr(0, eol);
    fields = eol == std::string_view::npos ? std::string_view{} : fields.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    on_field(line.substr(0, colon), trim_blanks(line.substr(colon + 1)));
  }
}

// ASCII case-insensitive comparisons for header names and values.
bool equals_ignoring_case(std::string_view a, std::string_view b);
bool contains_ignoring_case(std::string_view haystack, std::string_view needle);
// Whether a comma-separated header value ("keep-alive, Upgrade") lists `token`.
bool lists_token(std::string_view list, std::string_view token);

}  // namespace sbbench
