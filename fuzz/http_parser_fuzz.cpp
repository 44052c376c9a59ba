// Feeds arbitrary bytes, split at a data-chosen point, through HttpParser the
// way HttpSession does (re-offering unconsumed bytes with more appended), and
// checks the adapter's invariants: it never consumes more than it was given,
// errors carry a 4xx status, and completed requests have a method and path.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/HttpParser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t split = data[0] % (size);
  std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  sb::http::HttpParser parser({1024, 4096});
  std::string pending;
  std::string_view parts[2] = {all.substr(0, split), all.substr(std::min(split, all.size()))};
  for (auto part : parts) {
    pending.append(part);
    std::string_view view = pending;
    while (!view.empty()) {
      size_t consumed = 0;
      sb::http::Request req;
      auto r = parser.parse(view, consumed, req);
      if (consumed > view.size()) std::abort();
      view.remove_prefix(consumed);
      if (r == sb::http::HttpParser::Result::Error) {
        int s = parser.errorStatus();
        if (s != 400 && s != 413 && s != 431) std::abort();
        return 0;
      }
      if (r == sb::http::HttpParser::Result::NeedMore) break;
      if (req.method.empty()) std::abort();
      if (req.body.size() > 4096) std::abort();
    }
    pending.assign(view);
  }
  return 0;
}
