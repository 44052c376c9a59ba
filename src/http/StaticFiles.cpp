#include "http/StaticFiles.h"

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace sb::http {

StaticFiles::StaticFiles(std::string root) {
  if (root.empty()) return;
  char resolved[PATH_MAX];
  if (realpath(root.c_str(), resolved)) root_ = resolved;
}

const char* StaticFiles::contentType(const std::string& path) {
  auto ends = [&](const char* ext) {
    size_t n = std::char_traits<char>::length(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends(".html") || ends(".htm")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json") || ends(".map")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".jpg") || ends(".jpeg")) return "image/jpeg";
  if (ends(".gif")) return "image/gif";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".webp")) return "image/webp";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".txt") || ends(".md")) return "text/plain; charset=utf-8";
  if (ends(".wasm")) return "application/wasm";
  return "application/octet-stream";
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Response StaticFiles::serve(const Request& req) const {
  if (!enabled()) return Response::error(404, "no such path: " + req.path);
  if (req.method != "GET" && req.method != "HEAD") {
    Response r = Response::error(405, "method " + req.method + " not allowed on static files (allowed: GET, HEAD)");
    r.header("Allow", "GET, HEAD");
    return r;
  }
  // Percent-decode, refusing NUL and encoded slashes' tricks alike.
  std::string path;
  for (size_t i = 0; i < req.path.size(); ++i) {
    char c = req.path[i];
    if (c == '%') {
      if (i + 2 >= req.path.size() || hexval(req.path[i + 1]) < 0 || hexval(req.path[i + 2]) < 0)
        return Response::error(400, "bad percent-encoding in path");
      c = char(hexval(req.path[i + 1]) * 16 + hexval(req.path[i + 2]));
      i += 2;
    }
    if (c == '\0' || c == '\\') return Response::error(400, "bad character in path");
    path += c;
  }
  if (path.empty() || path[0] != '/') return Response::error(400, "path must start with /");
  // Refuse any dot-segment outright rather than normalising it.
  for (size_t pos = 0; pos < path.size();) {
    size_t next = path.find('/', pos + 1);
    std::string seg = path.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (seg == ".." || seg == ".") return Response::error(400, "dot-segments are not allowed in paths");
    if (next == std::string::npos) break;
    pos = next;
  }
  if (path.back() == '/') path += "index.html";
  std::string full = root_ + path;
  char resolved[PATH_MAX];
  if (!realpath(full.c_str(), resolved)) return Response::error(404, "no such path: " + req.path);
  std::string real = resolved;
  if (real.compare(0, root_.size(), root_) != 0 || (real.size() > root_.size() && real[root_.size()] != '/'))
    return Response::error(404, "no such path: " + req.path);
  struct stat st;
  if (stat(real.c_str(), &st) != 0) return Response::error(404, "no such path: " + req.path);
  if (S_ISDIR(st.st_mode)) {
    Response r;
    r.status = 301;
    r.header("Location", req.path + "/");
    return r;
  }
  if (!S_ISREG(st.st_mode)) return Response::error(404, "no such path: " + req.path);
  std::ifstream in(real, std::ios::binary);
  if (!in) return Response::error(404, "no such path: " + req.path);
  std::ostringstream ss;
  ss << in.rdbuf();
  Response r;
  r.status = 200;
  r.header("Content-Type", contentType(real));
  r.header("Cache-Control", "no-cache");
  r.header("X-Content-Type-Options", "nosniff");
  r.body = ss.str();
  return r;
}

}  // namespace sb::http
