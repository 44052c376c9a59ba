#pragma once
// Serves files below a root directory (the web demo). Paths are
// percent-decoded, dot-segments are refused, and the resolved file must stay
// inside the root even through symlinks.
#include <string>

#include "http/Response.h"
#include "http/Request.h"

namespace sb::http {

class StaticFiles {
 public:
  explicit StaticFiles(std::string root);  // empty root = disabled
  bool enabled() const { return !root_.empty(); }
  const std::string& root() const { return root_; }
  // 200 with the file, 404, 400 for a bad path, 405 for a non-GET/HEAD method.
  Response serve(const Request& req) const;

  static const char* contentType(const std::string& path);

 private:
  std::string root_;  // realpath of the root, without trailing slash
};

}  // namespace sb::http
