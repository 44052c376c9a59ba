#include "http_head.h"

#include <algorithm>
#include <cctype>

namespace sbbench {

HttpHeadResult parse_http_response_head(std::string_view buf, int expected_status, std::string_view& fields) {
  HttpHeadResult r;
  auto refuse = [&r](HttpHeadResult::Status status, std::string why) {
    r.status = status;
    r.error = std::move(why);
    return r;
  };
  size_t end = buf.find("\r\n\r\n");
  // Measured on the head alone, so the verdict does not depend on how much
  // of what follows arrived in the same read.
  if ((end == std::string_view::npos && buf.size() >= kMaxResponseHead) ||
      (end != std::string_view::npos && end + 4 > kMaxResponseHead)) {
    return refuse(HttpHeadResult::kBadHeaders, "response head larger than 16 KiB");
  }
  if (end == std::string_view::npos) return r;
  r.consumed = end + 4;
  std::string_view head = buf.substr(0, end);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 101 Switching Protocols"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
    return refuse(HttpHeadResult::kBadHeaders, "malformed status line");
  }
  std::string_view code = status_line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return refuse(HttpHeadResult::kBadHeaders, "malformed status code");
  }
  r.http_status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (r.http_status != expected_status) {
    return refuse(HttpHeadResult::kBadStatus, "HTTP " + std::string(status_line.substr(9)));
  }
  fields = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  r.status = HttpHeadResult::kOk;
  return r;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) {
  for (size_t k = 0; k + needle.size() <= haystack.size(); ++k) {
    if (equals_ignoring_case(haystack.substr(k, needle.size()), needle)) return true;
  }
  return false;
}

bool lists_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (equals_ignoring_case(trim_blanks(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace sbbench
